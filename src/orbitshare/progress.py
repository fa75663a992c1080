"""Progress of long steps: ``tqdm.auto`` bars (a widget in Jupyter) on a terminal or in a notebook, plain
lines elsewhere, nothing when switched off.

Two levels:

* :class:`Progress` — the stages of a run or a sweep (``start`` / ``update`` / ``done``), as the runner
  and :func:`orbitshare.sweep` use it: a bar per stage with a count, a rate and an ETA.
* :func:`task` — one bar for a loop inside a stage, the hook of library code such as the geography
  build::

      from orbitshare.progress import task

      with task("geography: countries", total=len(countries), unit="country") as bar:
          for c in countries:
              ...
              bar.advance()

  Inside a stage of an enabled :class:`Progress` (a run), a task shows on the same stream, below the
  stage's bar (plain lines when the stage has them). Called from Python outside any run, a task shows
  a bar only on a terminal or in a notebook (:func:`progress_enabled`), only once it has run
  ``delay_s`` seconds (0.5 s: quick builds stay silent), and never when ``ORBITSHARE_PROGRESS=0``.

Where bars are drawn: ``tqdm.auto`` when the stream is a terminal or the code runs in a Jupyter kernel
(:func:`in_notebook`). Elsewhere (a pipe, a log file, CI) an enabled progress writes plain lines
without carriage returns: ``orbitshare: <name> ...`` when it starts, ``orbitshare: <name>: 3/10 (30%)
ETA 0:05`` at most every ``interval_s`` seconds, ``orbitshare: <name>: done in 1.2 s`` at the end.
Without the ``tqdm`` package everything falls back to those plain lines.

``ORBITSHARE_PROGRESS``: ``0`` switches every bar and line off, ``1`` draws them even on a stream that
is not a terminal; :func:`set_progress` does the same from Python (``None``: back to automatic).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
import time
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

try:  # the [project] dependency; plain lines without it
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency
    _tqdm = None

__all__ = ["Progress", "Task", "task", "progress_enabled", "set_progress", "in_notebook", "PROGRESS_ENV"]

#: environment variable: "0" no progress at all, "1" progress even when stderr is not a terminal
PROGRESS_ENV = "ORBITSHARE_PROGRESS"

_SETTING: dict[str, bool | None] = {"enabled": None}
# the settings of the stage now running (enabled, stream, bars): tasks inside it follow them
_ACTIVE: contextvars.ContextVar[tuple[bool, IO[str], bool] | None] = contextvars.ContextVar(
    "orbitshare_progress", default=None
)


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session, where ``tqdm.auto`` draws a widget."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _width(stream: IO[str]) -> int | None:
    """None when the terminal of ``stream`` has a size (tqdm follows it), else 100 columns."""
    try:
        size = os.get_terminal_size(stream.fileno())
        if size.columns > 0 and size.lines > 0:
            return None
    except (AttributeError, OSError, ValueError):
        pass
    return 100


def set_progress(enabled: bool | None) -> None:
    """Switch progress on (``True``: even on a stream that is not a terminal) or off (``False``) for this
    process, or back to automatic (``None``); ``ORBITSHARE_PROGRESS`` wins over it."""
    _SETTING["enabled"] = None if enabled is None else bool(enabled)


def progress_enabled(stream: IO[str] | None = None) -> bool:
    """Whether a :func:`task` called outside any run shows progress on ``stream`` (default stderr):
    ``ORBITSHARE_PROGRESS`` when set ("0" no, anything else yes), else :func:`set_progress`'s choice, else
    yes on a terminal or in a notebook."""
    env = os.environ.get(PROGRESS_ENV, "").strip()
    if env:
        return env not in ("0", "false", "no", "off")
    if _SETTING["enabled"] is not None:
        return bool(_SETTING["enabled"])
    return _isatty(sys.stderr if stream is None else stream) or in_notebook()


def _env_off() -> bool:
    return os.environ.get(PROGRESS_ENV, "").strip() in ("0", "false", "no", "off")


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    s = int(round(seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:d}:{s % 60:02d}"


class Task:
    """One progress bar (see :func:`task`): ``update(done)`` sets the units done, ``advance(n)`` adds
    ``n``, ``close(note)`` ends it and returns its duration, s. A context manager (closes on exit)."""

    def __init__(
        self,
        name: str,
        total: int | None = None,
        *,
        unit: str = "it",
        done: int = 0,
        enabled: bool = True,
        stream: IO[str] | None = None,
        bars: bool | None = None,
        interval_s: float = 2.0,
        delay_s: float = 0.0,
        leave: bool = True,
    ) -> None:
        self.name, self.total, self.unit = name, (None if total is None else int(total)), unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(enabled) and not _env_off()
        self.bars = (_isatty(self.stream) or in_notebook()) if bars is None else bool(bars)
        self.interval_s, self.done_units, self._done0 = interval_s, int(done), int(done)
        self._t0 = self._last = time.perf_counter()
        self._delay_s = float(delay_s)
        self._closed = self._shown = False
        self._bar: Any = None
        if not self.enabled:
            return
        if self.bars and _tqdm is not None:
            fmt = None if self.total is not None else "{desc}: {elapsed}{postfix}"
            width = _width(self.stream)  # a terminal of unknown size (0 x 0) would hide the bar
            self._bar = _tqdm(
                total=self.total,
                initial=self.done_units,
                desc=name,
                unit=unit,
                file=self.stream,
                delay=delay_s,
                leave=leave,
                dynamic_ncols=width is None,
                ncols=width,
                nrows=None if width is None else 20,
                bar_format=fmt,
            )
        elif delay_s <= 0:
            self._write(f"orbitshare: {name} ...")

    # ---------------------------------------------------------------- plain lines
    def _write(self, line: str) -> None:
        self._shown = True
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # pragma: no cover - a closed stream
            pass

    def status(self) -> str:
        """``done/total (pct%) ETA m:ss`` (``done`` alone without a total); the ETA from the rate since
        the start (units done before it, e.g. resumed chunks, left out)."""
        done, total = self.done_units, self.total
        if not total:
            return f"{done} {self.unit}"
        rate_done = done - self._done0
        elapsed = time.perf_counter() - self._t0
        eta = elapsed / rate_done * (total - done) if rate_done > 0 else math.nan
        return f"{done}/{total} ({100.0 * done / total:3.0f}%) ETA {_clock(eta)}"

    # ---------------------------------------------------------------- progress
    def update(self, done: int) -> None:
        """``done`` units are finished (plain lines: shown at most every ``interval_s``)."""
        if self._closed:
            return
        step = int(done) - self.done_units
        self.done_units = int(done)
        if not self.enabled:
            return
        if self._bar is not None:
            if step:
                self._bar.update(step)
            return
        now = time.perf_counter()
        if self.total is not None and self.done_units >= self.total:
            due = False  # the end: the line of close() says it
        elif not self._shown:  # the first line once delay_s has passed
            due = now - self._t0 >= self._delay_s
        else:
            due = now - self._last >= self.interval_s and now - self._t0 >= self.interval_s
        if due:
            self._last = now
            self._write(f"orbitshare: {self.name}: {self.status()}")

    def advance(self, n: int = 1) -> None:
        """``n`` more units are finished."""
        self.update(self.done_units + int(n))

    def close(self, note: str = "") -> float:
        """End the bar (``note`` in parentheses after the time); return its duration, s."""
        dt = time.perf_counter() - self._t0
        if self._closed:
            return dt
        self._closed = True
        extra = f" ({note})" if note else ""
        if self.enabled:
            if self._bar is not None:
                self._bar.set_postfix_str(f"done in {dt:.1f} s{extra}", refresh=False)
                self._bar.close()
            elif self._shown or dt >= self._delay_s:  # said to have started or ran past the delay
                self._write(f"orbitshare: {self.name}: done in {dt:.1f} s{extra}")
        return dt

    def __enter__(self) -> Task:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close("interrupted" if exc_type is not None else "")


def task(
    name: str,
    total: int | None = None,
    *,
    unit: str = "it",
    done: int = 0,
    delay_s: float = 0.5,
    enabled: bool | None = None,
    stream: IO[str] | None = None,
) -> Task:
    """A progress bar for a loop of ``total`` units (None: a count without a bar) named ``name``.

    Inside a stage of an enabled :class:`Progress` it follows that stage's stream and style and does not
    stay on screen when closed; elsewhere it shows when :func:`progress_enabled` (``enabled`` True/False
    overrides), on ``stream`` (default stderr), once ``delay_s`` seconds have passed.
    """
    active = _ACTIVE.get()
    if active is not None and enabled is None and stream is None:
        on, out, bars = active
        return Task(name, total, unit=unit, done=done, enabled=on, stream=out, bars=bars, delay_s=delay_s, leave=False)
    out = sys.stderr if stream is None else stream
    on = progress_enabled(out) if enabled is None else enabled
    return Task(name, total, unit=unit, done=done, enabled=on, stream=out, delay_s=delay_s)


class Progress:
    """The stages of a run or a sweep on a stream (stderr): one :class:`Task` per stage.

    On a terminal or in a notebook: a ``tqdm.auto`` bar per stage with a count, percentage, rate and ETA,
    left on screen with its time when done. Otherwise plain lines (no ``\\r``): the stage start, at most
    one update every ``interval_s`` seconds, the end. ``enabled=False`` prints nothing. While a stage runs,
    :func:`task` bars of the code it calls (the geography build) follow the same settings.
    """

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None, interval_s: float = 2.0) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(enabled)
        self.tty = _isatty(self.stream)
        self.bars = self.tty or in_notebook()
        self.interval_s = interval_s
        self._task: Task | None = None
        self._token: contextvars.Token[tuple[bool, IO[str], bool] | None] | None = None

    def start(self, name: str, total: int | None = None, done: int = 0, unit: str = "it") -> None:
        """Begin the stage ``name`` of ``total`` units (None: no bar), ``done`` of them already."""
        if self._task is not None:
            self.done()
        self._task = Task(
            name,
            total,
            unit=unit,
            done=done,
            enabled=self.enabled,
            stream=self.stream,
            bars=self.bars,
            interval_s=self.interval_s,
        )
        self._token = _ACTIVE.set((self.enabled, self.stream, self.bars))

    def update(self, done: int) -> None:
        """``done`` units of the current stage are finished."""
        if self._task is not None:
            self._task.update(done)

    def done(self, note: str = "") -> float:
        """End the current stage (``note`` in parentheses); return its duration, s."""
        if self._task is None:
            return 0.0
        t, self._task = self._task, None
        if self._token is not None:
            with contextlib.suppress(ValueError):  # reset from another context: leave it
                _ACTIVE.reset(self._token)
            self._token = None
        return t.close(note)

    @contextlib.contextmanager
    def stage(self, name: str, total: int | None = None, done: int = 0, unit: str = "it") -> Iterator[Task]:
        """``with progress.stage(name, total) as t: ...``: :meth:`start`, then :meth:`done` on exit."""
        self.start(name, total, done, unit)
        assert self._task is not None
        try:
            yield self._task
        finally:
            self.done()
