"""orbitshare: how equitably the world shares orbit and spectrum."""

__version__ = "0.1.0"
