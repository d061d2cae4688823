"""pinnit's version; the same string as ``version`` in pyproject.toml."""
__version__ = "0.1.0"
