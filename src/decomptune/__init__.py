"""decomptune: fine-tune LMs to turn decompiled pseudo-C back into C source."""
__version__ = "0.1.0"
