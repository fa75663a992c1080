"""Every exception and warning orbitshare raises on purpose.

All errors derive from :class:`OrbitshareError`; the command line turns one into exit status 2 with
its one-line message, and anything else into an internal error (exit 1). Classes that signal bad
input also derive from the built-in they refine (``ValueError``, ``TypeError``) so that callers who
catch those keep working.
"""

from __future__ import annotations

from collections.abc import Iterable


class OrbitshareError(Exception):
    """Base class of all errors raised by orbitshare."""


class ParameterError(OrbitshareError, ValueError):
    """An argument of a public function has a value out of range or of the wrong form (the message
    names the argument or field and what was expected)."""


class ParameterTypeError(OrbitshareError, TypeError):
    """An argument of a public function has the wrong type (the message names it)."""


class SystemDefinitionError(ParameterError):
    """A :class:`~orbitshare.system.System` or :class:`~orbitshare.system.Band` field is invalid.

    ``field`` is the field's name as written in an experiment file (``elevation_mask_deg``,
    ``bands``, ``bands[1]``, ...), so a configuration reader can report it under its own key."""

    def __init__(self, message: str, *, field: str = "", system: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.system = system


class WalkerParameterError(ParameterError):
    """A Walker-constellation parameter is out of range (the message names it).

    ``field`` is the parameter's name, ``expected`` what it must be (a phrase such as "an integer
    >= 1") and ``value`` what was given, so an experiment reader can report it under its own key."""

    def __init__(self, message: str, *, field: str = "", expected: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.value = value


class InequalityError(ParameterError):
    """Input an inequality index cannot use (negative/NaN values, bad weights, undefined zeros)."""


class ConfigError(OrbitshareError, ValueError):
    """An experiment configuration key is missing, unknown or out of range.

    ``problems`` holds one line per problem (``file: key.path: message``); the exception's message
    joins them."""

    def __init__(self, message: str = "", problems: Iterable[str] | None = None) -> None:
        self.problems: list[str] = list(problems) if problems is not None else ([message] if message else [])
        super().__init__(message or "\n".join(self.problems))


class ElementSetError(OrbitshareError, ValueError):
    """A TLE or OMM record is malformed (message names file, line or row, field, expectation)."""


class DataError(OrbitshareError):
    """A data file (ephemeris, Earth orientation, boundaries, population) is missing or bad."""


class BackendError(OrbitshareError):
    """A compute backend (cpu, dask, cuda) is unavailable or failed."""


class ResultsError(OrbitshareError, ValueError):
    """A results file or run directory cannot be written or read as asked (exists, wrong group, ...)."""


class OrbitshareWarning(UserWarning):
    """Base class of the warnings orbitshare issues."""


class ElementSetWarning(OrbitshareWarning):
    """Records were skipped (``errors="skip"``) or duplicate NORAD numbers dropped."""


class ZerosDroppedWarning(OrbitshareWarning):
    """``zeros="drop"`` removed units with ``x == 0``; the message says how many."""
