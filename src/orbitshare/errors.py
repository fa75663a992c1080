"""Exception hierarchy: every error orbitshare raises on purpose is an OrbitshareError."""


class OrbitshareError(Exception):
    """Base class of all errors raised by orbitshare."""


class ConfigError(OrbitshareError):
    """An experiment configuration key is missing, unknown or out of range."""


class ElementSetError(OrbitshareError, ValueError):
    """A TLE or OMM record is malformed (message names file, line or row, field, expectation)."""


class DataError(OrbitshareError):
    """A data file (ephemeris, Earth orientation, boundaries, population) is missing or bad."""


class BackendError(OrbitshareError):
    """A compute backend (cpu, dask, cuda) is unavailable or failed."""
