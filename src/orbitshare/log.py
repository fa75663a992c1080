"""Logging of orbitshare: the ``orbitshare`` logger and the command line's ``-v`` / ``-q``.

Every module logs under ``orbitshare`` (``logging.getLogger("orbitshare.<module>")``, or
:func:`get_logger`). The library adds a ``NullHandler`` only, as libraries should: a Python caller sees
the warnings and, after ``logging.basicConfig(level=logging.INFO)``, the information messages.
The ``orbitshare`` command calls :func:`configure_logging` once with its verbosity:

=============  ==========  =========================================================
verbosity      level       what stderr shows
=============  ==========  =========================================================
-1 (``-q``)    WARNING     warnings and errors only (and no progress)
0 (default)    INFO        the stages, their times, where the files went
1 (``-v``)     DEBUG       also the sizes, the chunking, each stage's timings
=============  ==========  =========================================================

Messages read ``orbitshare: <message>`` (``orbitshare: <LEVEL>: <message>`` for warnings and errors).
"""

from __future__ import annotations

import logging
import sys
from typing import IO

__all__ = ["LOGGER_NAME", "get_logger", "configure_logging", "verbosity_level"]

LOGGER_NAME = "orbitshare"

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``orbitshare`` logger, or its child ``orbitshare.<name>`` (a name already starting
    ``orbitshare`` is taken as it is)."""
    if not name:
        return logging.getLogger(LOGGER_NAME)
    return logging.getLogger(name if name.split(".")[0] == LOGGER_NAME else f"{LOGGER_NAME}.{name}")


def verbosity_level(verbosity: int) -> int:
    """The logging level of a verbosity: below 0 WARNING, 0 INFO, above 0 DEBUG."""
    return logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            msg = f"{record.levelname}: {msg}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return f"orbitshare: {msg}" + (f"\n{record.exc_text}" if record.exc_text else "")


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to the ``sys.stderr`` of the moment (a test may swap it), or ``stream``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> IO[str]:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:  # logging.StreamHandler.__init__ assigns it
        pass


def configure_logging(verbosity: int = 0, stream: IO[str] | None = None) -> logging.Handler:
    """Send the ``orbitshare`` logger's messages at :func:`verbosity_level` ``(verbosity)`` and above to
    ``stream`` (default: ``sys.stderr`` at the time of each message), one line each; return the handler.

    Calling it again replaces the handler it installed before (never a handler of the caller's).
    """
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        if isinstance(h, _StderrHandler):
            logger.removeHandler(h)
    handler = _StderrHandler(stream)
    handler.setFormatter(_Formatter())
    level = verbosity_level(verbosity)
    handler.setLevel(level)
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
