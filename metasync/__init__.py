"""metasync: borrow missing photo metadata from nearby photos of the same event."""
__version__ = "0.1.0"
