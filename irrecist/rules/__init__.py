"""Response criteria: pure functions of the lesion table and a criterion configuration (no file access)."""
