"""irrecist: tumour-response calls (irRECIST, RECIST 1.1) from radiologists' lesion measurements."""

__version__ = "0.1.0"
