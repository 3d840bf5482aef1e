"""Command line of irrecist (installed as the package ``irrecist_cli``): parsing and printing only."""
