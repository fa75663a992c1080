"""orbitshare.progress: stage bars (tqdm on a terminal, plain lines elsewhere), the task hook, the switches;
orbitshare.log: the verbosity levels."""

import io
import logging

import pytest

from orbitshare import log, progress
from orbitshare.progress import Progress, task


class TTY(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A perf_counter that moves only when told."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", c)
    return c


@pytest.fixture(autouse=True)
def _automatic(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    progress.set_progress(None)
    yield
    progress.set_progress(None)


def test_plain_lines_with_eta_from_the_rate_since_the_start(clock):
    buf = io.StringIO()
    p = Progress(True, stream=buf, interval_s=2.0)
    p.start("coverage pass", total=10, done=2, unit="chunk")  # 2 chunks resumed: not in the rate
    clock.t += 4.0
    p.update(4)  # 2 chunks in 4 s: 6 left take 12 s
    clock.t += 1.0
    p.update(5)  # within interval_s of the last line: not shown
    clock.t += 40.0
    p.update(9)  # 7 chunks in 45 s: the last takes 45 / 7 = 6.4 s
    clock.t += 5.0
    p.update(10)  # the end: the done line says it
    assert p.done("resumed") == 50.0
    lines = buf.getvalue().splitlines()
    assert lines == [
        "orbitshare: coverage pass ...",
        "orbitshare: coverage pass: 4/10 ( 40%) ETA 0:12",
        "orbitshare: coverage pass: 9/10 ( 90%) ETA 0:06",
        "orbitshare: coverage pass: done in 50.0 s (resumed)",
    ]
    assert "\r" not in buf.getvalue()


def test_tqdm_bars_on_a_terminal_and_tasks_inside_a_stage_follow_it():
    buf = TTY()
    p = Progress(True, stream=buf)
    p.start("sweep (3 samples)", total=3, unit="sample")
    with task("geography: countries", total=2, unit="country", delay_s=0) as t:
        t.advance(2)
    p.update(3)
    p.done()
    out = buf.getvalue()
    assert "sweep (3 samples): 100%" in out and "3/3" in out and "sample/s" in out and "done in" in out
    assert "geography: countries:   0%" in out and "/2 " in out and "country/s" in out  # the inner bar, drawn below
    plain = io.StringIO()
    q = Progress(True, stream=plain, interval_s=0.0)
    q.start("geography")
    with task("geography: countries", total=2, delay_s=0) as t:
        t.advance(2)
    q.done()
    assert [line.split(":", 2)[1:] for line in plain.getvalue().splitlines()][1][0] == " geography"
    assert "orbitshare: geography: countries: done in" in plain.getvalue() and "\r" not in plain.getvalue()


def test_a_task_outside_a_run_shows_on_a_terminal_after_its_delay_or_when_asked(monkeypatch, clock):
    pipe = io.StringIO()
    with task("geography", total=3, stream=pipe, delay_s=0) as t:  # not a terminal: silent
        t.advance(3)
    assert pipe.getvalue() == ""
    quick = TTY()
    with task("geography", total=3, stream=quick) as t:  # shorter than its 0.5 s delay: silent
        t.advance(3)
    assert quick.getvalue() == ""
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    forced = io.StringIO()
    with task("geography", total=3, stream=forced, delay_s=0) as t:
        clock.t += 3.0
        t.advance(1)
        t.advance(2)
    assert "orbitshare: geography: 1/3 ( 33%) ETA 0:06" in forced.getvalue()
    assert "orbitshare: geography: done in 3.0 s" in forced.getvalue()
    monkeypatch.setenv(progress.PROGRESS_ENV, "0")  # off, even on a terminal and inside a run
    off = TTY()
    p = Progress(True, stream=off)
    p.start("pass", total=2)
    with task("inner", total=1, delay_s=0) as t:
        t.advance()
    p.update(2)
    p.done()
    assert off.getvalue() == ""
    monkeypatch.delenv(progress.PROGRESS_ENV)
    progress.set_progress(True)
    assert progress.progress_enabled(io.StringIO())
    progress.set_progress(False)
    assert not progress.progress_enabled(TTY())


def test_disabled_progress_prints_nothing():
    silent = TTY()
    q = Progress(False, stream=silent)
    q.start("x", 2)
    q.update(1)
    with task("inner", total=1, delay_s=0) as t:
        t.advance()
    q.done()
    assert silent.getvalue() == ""


@pytest.mark.parametrize(
    ("verbosity", "shown"),
    [(-1, ["WARNING"]), (0, ["INFO", "WARNING"]), (2, ["DEBUG", "INFO", "WARNING"])],
)
def test_logging_levels(verbosity, shown):
    buf = io.StringIO()
    handler = log.configure_logging(verbosity, stream=buf)
    try:
        lg = log.get_logger("test")
        assert lg.name == "orbitshare.test" and log.get_logger("orbitshare.x").name == "orbitshare.x"
        lg.debug("DEBUG")
        lg.info("INFO")
        lg.warning("WARNING")
        lines = buf.getvalue().splitlines()
        assert [line.split()[-1] for line in lines] == shown
        assert lines[-1] == "orbitshare: WARNING: WARNING"
        assert log.configure_logging(verbosity, stream=buf) is not handler  # replaced, not added
        assert sum(isinstance(h, log._StderrHandler) for h in logging.getLogger("orbitshare").handlers) == 1
    finally:
        logging.getLogger("orbitshare").removeHandler(handler)
        for h in list(logging.getLogger("orbitshare").handlers):
            if isinstance(h, log._StderrHandler):
                logging.getLogger("orbitshare").removeHandler(h)
        logging.getLogger("orbitshare").setLevel(logging.NOTSET)
