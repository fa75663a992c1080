"""The ``orbitshare`` command end to end, in subprocesses, on a small experiment; exit codes in process."""

import csv
import fcntl
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from orbitshare import cli, runner
from orbitshare._version import __version__
from orbitshare.errors import ConfigError, DataError, ElementSetWarning
from orbitshare.experiment import load_experiment
from orbitshare.io import open_results, read_provenance
from orbitshare.report.document import GROUP_LABELS
from test_runner import SMALL_TOML, TINY_TOML


def orbitshare(*args, cwd=None, timeout=180):
    script = Path(sys.executable).parent / "orbitshare"
    head = [str(script)] if script.is_file() else [sys.executable, "-m", "orbitshare.cli"]
    return subprocess.run(
        [*head, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=dict(os.environ)
    )


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    exp = d / "small.toml"
    exp.write_text(SMALL_TOML)
    p = orbitshare("run", exp, "--out", d / "run", cwd=d)
    assert p.returncode == 0, p.stderr
    return d, exp, d / "run", p


def test_run_writes_the_run_directory(small_run):
    d, exp, run, p = small_run
    printed = [Path(line) for line in p.stdout.splitlines()]
    assert all(x.is_file() for x in printed), p.stdout
    names = {x.name for x in printed}
    for name in (
        "experiment.toml",
        "results.h5",
        "countries.csv",
        "groups.csv",
        "equity.csv",
        "report.md",
        "report.html",
        "lorenz_served_per_subscriber.png",  # the default capacity rule "maxmin"
        "map_covered_fraction_Shell_A.png",
        "map_covered_fraction_Polar_B.png",
    ):
        assert name in names and (run / name).is_file(), name
    assert not (run / "checkpoint").exists()
    assert "\r" not in p.stderr  # not a TTY: plain lines
    assert load_experiment(run / "experiment.toml") == load_experiment(exp)
    prov = read_provenance(run / "results.h5")
    assert '"sha256"' in prov["input_files"] and str(exp) in prov["input_files"]
    assert "Shell A" in prov["element_epochs"]
    assert tomllib.loads(prov["configuration"])["experiment"]["name"] == "small"
    groups = open_results(run / "results.h5")
    assert sorted(groups) == sorted(["coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz"])


def test_countries_csv_equals_the_results_file(small_run):
    _, _, run, _ = small_run
    countries = open_results(run / "results.h5", "countries")
    with open(run / "countries.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["country"] for r in rows] == [str(c) for c in countries["country"].values]
    for col, var, sel in (
        ("population", "population", {}),
        ("served_total_mbps", "served_total_mbps", {}),
        ("served_mbps[Shell A]", "served_mbps", {"system": "Shell A"}),
        ("served_per_subscriber_mbps", "served_per_subscriber_mbps", {}),
        ("population_covered[Polar B]", "population_covered", {"system": "Polar B"}),
    ):
        got = np.array([float(r[col]) if r[col] not in ("", "nan") else np.nan for r in rows])
        want = countries[var].sel(**sel).values.astype(float)
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True, err_msg=col)
        np.testing.assert_allclose(np.nansum(got), np.nansum(want), rtol=1e-12)


def test_report_names_every_group(small_run):
    _, _, run, _ = small_run
    groups = open_results(run / "results.h5", "groups")
    md = (run / "report.md").read_text()
    for g in groups["group"].values:
        assert f"| {GROUP_LABELS.get(str(g), str(g))} |" in md, g
    assert "<html" in (run / "report.html").read_text().lower()


def test_second_run_is_up_to_date_and_another_experiment_exits_2(small_run):
    d, exp, run, _ = small_run
    before = (run / "results.h5").stat().st_mtime_ns
    p = orbitshare("run", exp, "--out", run, cwd=d)  # the same experiment again: up to date, nothing written
    assert p.returncode == 0, p.stderr
    assert "up to date" in p.stderr and "--overwrite" in p.stderr
    assert (run / "results.h5").stat().st_mtime_ns == before
    other = d / "other.toml"
    other.write_text(exp.read_text().replace('name = "small"', 'name = "small"\ndescription = "another"'))
    assert other.read_text() != exp.read_text()
    p = orbitshare("run", other, "--out", run, cwd=d)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(run) in lines[0] and "--overwrite" in lines[0] and "--out" in lines[0]
    assert "Traceback" not in p.stderr
    assert (run / "results.h5").stat().st_mtime_ns == before


def test_validate_broken_file_prints_the_problem_lines(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SMALL_TOML.replace("resolution_deg = 5.0", "resolution_deg = -1").replace(
            "step_s = 60", "step_s = 60\nstep = 30"
        )
    )
    with pytest.raises(ConfigError) as err:
        load_experiment(bad, deep=True)
    problems = err.value.problems
    assert len(problems) >= 2
    p = orbitshare("validate", bad, cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.splitlines() == problems
    assert p.stdout == ""
    # the same lines from `run`
    p = orbitshare("run", bad, "--out", tmp_path / "never", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.splitlines() == problems
    assert not (tmp_path / "never").exists()


def test_validate_good_file_prints_the_resolved_config(small_run):
    d, exp, _, _ = small_run
    p = orbitshare("validate", exp, cwd=d)
    assert p.returncode == 0, p.stderr
    assert p.stdout == load_experiment(exp).to_toml()
    assert tomllib.loads(p.stdout)["compute"]["chunk_steps"] == 5


def test_usage_errors_exit_2(tmp_path):
    p = orbitshare("run", tmp_path / "missing.toml", cwd=tmp_path)
    assert p.returncode == 2 and "not found" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = orbitshare("frobnicate", cwd=tmp_path)
    assert p.returncode == 2


def test_info_exits_0():
    p = orbitshare("info")
    assert p.returncode == 0, p.stderr
    for word in ("orbitshare", "numpy", "numba", "threads", "threading layer", "cuda"):
        assert word in p.stdout


def test_compare(small_run, tmp_path):
    d, _, run, _ = small_run
    p = orbitshare("compare", run, run, "--out", tmp_path, cwd=d)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "compare.csv").is_file()
    assert " 0 of " in p.stdout.splitlines()[0]
    with open(tmp_path / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["dataset"] for r in rows} >= {"countries", "equity"}
    p = orbitshare("compare", run, tmp_path / "nowhere", cwd=tmp_path)
    assert p.returncode == 2


def test_compare_csv_never_writes_a_formula(monkeypatch, tmp_path, capsys):
    # issue 10, case 8: text from the runs (labels of a system named "=HYPERLINK(...)") went verbatim into
    # compare.csv, and a CR in a label split the row, so that its rest began a row of its own
    nan = float("nan")
    row = {"dataset": "equity", "variable": "gini", "a": -1.5, "b": float("-inf"), "diff": nan, "rel_diff": nan}
    rows = [
        {**row, "where": '=HYPERLINK("http://x","y")', "equal": False},
        {**row, "where": "x\r+cmd|' /C calc'!A0", "equal": True},
    ]
    monkeypatch.setattr(cli, "compare_runs", lambda a, b: rows)
    assert cli.main(["compare", "a", "b", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    with open(tmp_path / "compare.csv", newline="", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert [r["where"] for r in got] == ["'" + rows[0]["where"], rows[1]["where"]]  # the CR row stays one row
    assert [(r["a"], r["b"], r["diff"]) for r in got] == [("-1.5", "-inf", "nan")] * 2  # numbers stay numbers


# ----------------------------------------------------------------------------- exit codes, in process
def _raising(exc):
    def cmd(args):
        raise exc

    return cmd


def test_orbitshare_error_exits_2_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, "cmd_info", _raising(DataError("somewhere.bsp: missing\n  (twice)")))
    assert cli.main(["info"]) == 2
    err = capsys.readouterr().err
    assert err == "orbitshare: error: somewhere.bsp: missing (twice)\n"


@pytest.mark.parametrize("exc", [RuntimeError("boom"), ValueError("a bug, not a usage error")])
def test_internal_error_exits_1_and_writes_the_traceback(monkeypatch, capsys, tmp_path, exc):
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "cmd_info", _raising(exc))
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "internal error" in err and type(exc).__name__ in err
    assert "Traceback" not in err
    written = list((tmp_path / "tracebacks").iterdir())
    assert len(written) == 1 and str(written[0]) in err
    text = written[0].read_text()
    assert "Traceback (most recent call last)" in text and f"{type(exc).__name__}: {exc}" in text
    assert "command: orbitshare info" in text


def test_debug_prints_the_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "cmd_info", _raising(RuntimeError("boom")))
    assert cli.main(["--debug", "info"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: boom" in err
    assert not (tmp_path / "tracebacks").exists()
    monkeypatch.setattr(cli, "cmd_info", _raising(DataError("bad data")))
    assert cli.main(["--debug", "info"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("orbitshare: error: bad data\n")


def test_interrupt_exits_130(monkeypatch, capsys):
    monkeypatch.setattr(cli, "cmd_info", _raising(KeyboardInterrupt()))
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err == "orbitshare: interrupted\n"


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"orbitshare {__version__}\n"
    p = orbitshare("--version")
    assert p.returncode == 0 and p.stdout == f"orbitshare {__version__}\n"


def test_missing_input_files_exit_2(tmp_path, capsys):
    assert cli.main(["elements", "info", str(tmp_path / "none.tle")]) == 2
    err = capsys.readouterr().err
    assert err == f"orbitshare: error: {tmp_path / 'none.tle'}: element file not found\n"
    assert cli.main(["frobnicate"]) == 2


def test_run_into_a_locked_run_directory_exits_2(tmp_path, capsys):
    """Issue 10 case 9: a second run (or resume) into the directory of a run going on is refused."""
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_TOML)
    out = tmp_path / "run"
    out.mkdir()
    fd = os.open(out / ".orbitshare.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the run going on (another process) holds it
        assert cli.main(["run", str(exp), "--out", str(out), "--resume", "--quiet"]) == 2
    finally:
        os.close(fd)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "another orbitshare run is using this run directory" in lines[0]
    assert os.listdir(out) == [".orbitshare.lock"]


def test_run_with_a_name_leading_out_of_runs_exits_2(tmp_path, monkeypatch, capsys):
    """Issue 10 case 2: `name = "../../x"` wrote the run two levels up."""
    work = tmp_path / "a" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    exp = work / "bad.toml"
    exp.write_text(TINY_TOML.replace('name = "tiny"', 'name = "../../escaped"'))
    assert cli.main(["run", str(exp), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{exp}: experiment.name: expected a name of 1 to 100 letters, digits, '.', '_' or '-', not starting "
        "with '.', got '../../escaped'"
    ]
    assert sorted(os.listdir(tmp_path)) == ["a"] and sorted(os.listdir(work)) == ["bad.toml"]


ISS_TLE = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
)


def test_elements_convert_failure_keeps_the_destination(tmp_path, capsys, monkeypatch):
    tle, js, dest = tmp_path / "iss.tle", tmp_path / "iss.json", tmp_path / "dest.csv"
    tle.write_text(ISS_TLE)
    assert cli.main(["elements", "convert", str(tle), str(js), "--format", "json"]) == 0
    js.write_text(js.read_text().replace("ISS (ZARYA)", "ISS \\ud800"))  # valid JSON, invalid Unicode text
    dest.write_text("precious\n")
    capsys.readouterr()
    assert cli.main(["elements", "convert", str(js), str(dest), "--format", "csv"]) == 2  # was 1, dest emptied
    assert "record 1: field 'OBJECT_NAME': expected valid Unicode text" in capsys.readouterr().err
    assert dest.read_text() == "precious\n"

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert cli.main(["elements", "convert", str(tle), str(dest), "--format", "csv"]) == 2
    assert capsys.readouterr().err == f"orbitshare: error: {dest}: cannot write: No space left on device\n"
    assert dest.read_text() == "precious\n" and sorted(os.listdir(tmp_path)) == ["dest.csv", "iss.json", "iss.tle"]


def test_elements_info_skip_on_a_file_of_bad_records_reports_zero(tmp_path, capsys):
    bad = tmp_path / "bad.tle"
    bad.write_text("junk\n1 bad\n2 bad\n")
    with pytest.warns(ElementSetWarning, match="skipped 1 malformed record"):
        assert cli.main(["elements", "info", str(bad), "--errors", "skip"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{bad}: 0 element sets, no epochs, 1 skipped, 0 duplicates dropped\n  skipped: ")
    assert cli.main(["elements", "info", str(bad)]) == 2
    assert capsys.readouterr().err == f"orbitshare: error: {bad}:2: TLE line 1 is 5 characters long, expected 69\n"


def test_verbosity_options(tmp_path, capsys):
    """-q: nothing on stderr; default: the stages and the end; -v: also each stage's time (before or after
    the sub-command; --quiet is -q)."""
    exp = tmp_path / "tiny.toml"
    exp.write_text(TINY_TOML)
    assert cli.main(["run", str(exp), "--out", str(tmp_path / "a"), "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "results.h5" in out
    assert cli.main(["-v", "run", str(exp), "--out", str(tmp_path / "b")]) == 0
    _, err = capsys.readouterr()
    assert "orbitshare: geography ..." in err and "orbitshare: tiny: finished in" in err
    assert "orbitshare: tiny: stages: geography" in err  # -v: the debug line of the stage times
    assert f"orbitshare: tiny: {36 * 72} cells, 10 steps, 16 satellites; estimated peak memory" in err  # and sizes
    assert cli.main(["run", str(exp), "--out", str(tmp_path / "b")]) == 0  # up to date: said at INFO
    _, err = capsys.readouterr()
    assert "up to date" in err and "stages:" not in err
    assert cli.main(["--quiet", "run", str(exp), "--out", str(tmp_path / "b")]) == 0
    assert capsys.readouterr().err == ""
    for argv, verbosity in ((["-v", "sweep", "x.toml", "-q", "-q"], -1), (["sweep", "x.toml", "-vv"], 2), (["run"], 0)):
        assert cli._verbosity(cli.build_parser().parse_args(argv)) == verbosity, argv


def test_dry_run_prints_the_sizes_and_writes_nothing(small_run, tmp_path, monkeypatch, capsys):
    """``run --dry-run`` and ``estimate``: exit 0, nothing written; the sizes of SMALL_TOML by hand (5° grid,
    200 one-minute steps, 24 x 22 + 12 x 49 Walker satellites); the satellite-cell pairs in view per step
    against the pairs the small run saw (sum over cells of the mean satellites visible); the expected time
    against the small run's measured time, within the stated factor."""
    _, exp, run_dir, p = small_run
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(exp), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # not even runs/
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["cells"].startswith(f"{(180 // 5) * (360 // 5):,} (36 x 72 of 5 deg)")
    assert lines["steps"].startswith("200 of 60 s (2026-01-01T00:00:00Z to 2026-01-01T03:20:00Z)")
    assert lines["satellites"] == f"{24 * 22 + 12 * 49:,}"
    assert lines["systems"] == f"2 (Shell A: {24 * 22:,}, Polar B: {12 * 49:,} satellites)"
    assert lines["pass"].startswith("40 chunks of 5 steps")
    assert lines["run directory"] == str(tmp_path / "runs" / "small")
    assert cli.main(["estimate", str(exp), "--out", str(tmp_path / "x")]) == 0
    again = capsys.readouterr().out.splitlines()  # the same but the run directory (and the memory limit, which
    want = out.replace(str(tmp_path / "runs" / "small"), str(tmp_path / "x")).splitlines()  # is of the moment)
    assert [x for x in again if not x.startswith("memory:")] == [x for x in want if not x.startswith("memory:")]
    assert list(tmp_path.iterdir()) == []
    est = runner.dry_run(exp)
    cov = open_results(run_dir / "results.h5", "coverage")
    seen = float(cov["mean_visible"].sum())  # (satellite, cell) pairs in view, mean over the steps
    assert 0.6 < est.pairs_per_step / seen < 1.5, (est.pairs_per_step, seen)  # 0.71 measured (DryRun)
    measured = float(p.stderr.split("finished in ")[1].split(" s")[0])
    # the rates are stated to within 2-3x; a quiet machine with warm caches runs faster than the calibration
    # (load 3-7) and a loaded one slower: a factor of 6 either way still catches a wrong unit or formula
    assert 1 / 6 < measured / est.seconds < 6, (measured, est.stage_seconds)
