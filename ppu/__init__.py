"""ppu: a runtime that treats a laboratory as a coprocessor."""

__version__ = "0.1.0"
