"""Readers: turn files (tables, DICOM objects, annotations) into the lesion table. Readers never score."""
