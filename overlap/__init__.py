"""overlap: which fine-tuning examples has the base model already seen, and which are new."""

__version__ = "0.1.0"
