"""The experiment runner: Python API, checkpoints, and resume after a real SIGTERM / SIGKILL.

A resumed run must give results bit-identical to an uninterrupted one (the chunk partition is the
same, so even the float sums are merged in the same order). The reference is an uninterrupted run
of the same experiment made in this process.
"""

import dataclasses
import fcntl
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from orbitshare import runner
from orbitshare.errors import ConfigError, ResultsError
from orbitshare.experiment import load_experiment
from orbitshare.io import open_results

# 1116 Walker satellites, 200 steps of 60 s in 40 chunks of 5 steps, 5° grid, embedded geography
SMALL_TOML = """\
[experiment]
name = "small"

[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T03:20:00Z
step_s = 60

[grid]
resolution_deg = 5.0

[[systems]]
name = "Shell A"
administration = "USA"
walker = [{ altitude_km = 550, inclination_deg = 53, planes = 24, sats_per_plane = 22 }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
capacity_per_sat_mbps = 20000

[[systems]]
name = "Polar B"
administration = "GBR"
walker = [{ altitude_km = 1200, inclination_deg = 87.9, planes = 12, sats_per_plane = 49, pattern = "star" }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
capacity_per_sat_mbps = 7500

[outputs]
maps = ["covered_fraction"]

[compute]
chunk_steps = 5
"""
NCHUNKS = 40

# 16 Walker satellites, 10 steps in 2 chunks of 5, results.h5 and countries.csv only: about a second
TINY_TOML = """\
[experiment]
name = "tiny"

[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T00:10:00Z
step_s = 60

[grid]
resolution_deg = 5.0

[[systems]]
name = "Shell A"
administration = "USA"
walker = [{ altitude_km = 550, inclination_deg = 53, planes = 4, sats_per_plane = 4 }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
capacity_per_sat_mbps = 20000

[outputs]
datasets = ["coverage", "countries"]
files = ["netcdf", "csv"]

[compute]
chunk_steps = 5
"""
CREATION_ATTRS = ("date_created", "created", "history")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    path = d / "small.toml"
    path.write_text(SMALL_TOML)
    return path


@pytest.fixture(scope="module")
def reference(small):
    """An uninterrupted run (Python API), the reference of every resume test."""
    res = runner.run(small, small.parent / "reference", progress=False)
    return res


def _clean(ds):
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in CREATION_ATTRS}
    return ds


def assert_same_results(path, ref_dir):
    got, want = open_results(path), open_results(ref_dir / "results.h5")
    assert sorted(got) == sorted(want)
    for name in want:
        xr.testing.assert_identical(_clean(got[name]), _clean(want[name]))


def _cli(*args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    script = Path(sys.executable).parent / "orbitshare"
    head = [str(script)] if script.is_file() else [sys.executable, "-m", "orbitshare.cli"]
    return [*head, *map(str, args)], env


def _stop_after_checkpoint(small, out, sig):
    """Start a slowed-down CLI run, wait for its first checkpoint, send ``sig``; return the process."""
    cmd, env = _cli("run", small, "--out", out, "--quiet", env_extra={runner._DELAY_ENV: "0.1"})
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ck = out / runner.CHECKPOINT
    deadline = time.monotonic() + 60
    while not ck.exists():
        assert proc.poll() is None, f"the run ended before a checkpoint: {proc.communicate()}"
        assert time.monotonic() < deadline, "no checkpoint within 60 s"
        time.sleep(0.02)
    time.sleep(0.3)  # a few more chunks
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr


def _chunks_done(out):
    with np.load(out / runner.CHECKPOINT) as z:
        return int(z["chunks_done"])


def _lorenz_png(exp) -> str:
    """The Lorenz figure of a run: of the rate served per subscriber under an allocation rule (issue 12)."""
    alloc = exp.capacity_rule in ("maxmin", "throughput")
    return "lorenz_served_per_subscriber.png" if alloc else "lorenz_capacity_per_person.png"


def test_api_run_returns_results(reference, small):
    res = reference
    assert isinstance(res, runner.Results)
    assert res.out_dir == small.parent / "reference"
    for name in ("coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz"):
        assert isinstance(getattr(res, name), xr.Dataset), name
    assert res.gso is None  # not asked for
    assert list(res.datasets) == ["coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz"]
    assert set(res.coverage["system"].values) == {"Shell A", "Polar B"}
    for f in res.files:
        assert Path(f).is_file(), f
    names = {Path(f).name for f in res.files}
    assert {
        "experiment.toml",
        "results.h5",
        "countries.csv",
        "groups.csv",
        "equity.csv",
        "report.md",
        "report.html",
        _lorenz_png(res.experiment),
    } <= names
    assert not (res.out_dir / "checkpoint").exists()
    # the saved datasets are the returned ones; the resolved config reloads to the same experiment
    saved = open_results(res.out_dir / "results.h5")
    xr.testing.assert_identical(saved["capacity"], res.capacity)
    assert load_experiment(res.out_dir / "experiment.toml") == load_experiment(small)


def test_resume_after_sigterm(small, reference, tmp_path):
    out = tmp_path / "run"
    rc, _, stderr = _stop_after_checkpoint(small, out, signal.SIGTERM)
    assert rc == 130, stderr
    assert "--resume" in stderr
    done = _chunks_done(out)
    assert 0 < done < NCHUNKS
    assert not (out / "results.h5").exists()
    # without --resume (or --overwrite) the interrupted run is not touched
    cmd, env = _cli("run", small, "--out", out, "--quiet")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--resume" in p.stderr
    assert _chunks_done(out) == done
    cmd, env = _cli("run", small, "--out", out, "--resume")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert f"resumed after {done} chunk(s)" in p.stderr
    assert not (out / "checkpoint").exists()
    assert_same_results(out / "results.h5", reference.out_dir)


def test_resume_after_sigkill(small, reference, tmp_path):
    out = tmp_path / "run"
    rc, _, _ = _stop_after_checkpoint(small, out, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    done = _chunks_done(out)
    assert 0 < done < NCHUNKS
    res = runner.run(small, out, resume=True, progress=False)
    assert res.resumed_chunks == done
    assert not (out / "checkpoint").exists()
    assert_same_results(out / "results.h5", reference.out_dir)


class _Stop(KeyboardInterrupt):
    pass


def _interrupted_run(exp, out, after, monkeypatch, **kw):
    """Run in this process (``kw``: overwrite, resume), interrupted (KeyboardInterrupt) after
    ``after`` checkpoints."""
    real = runner.write_checkpoint
    n = {"k": 0}

    def write(path, fp, info):
        real(path, fp, info)
        n["k"] += 1
        if n["k"] == after:
            raise _Stop()

    monkeypatch.setattr(runner, "write_checkpoint", write)
    with pytest.raises(_Stop):
        runner.run(exp, out, progress=False, **kw)
    monkeypatch.setattr(runner, "write_checkpoint", real)


def test_checkpoint_of_another_config_is_refused(small, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    _interrupted_run(small, out, 7, monkeypatch)
    assert _chunks_done(out) == 7
    other = tmp_path / "other.toml"
    other.write_text(SMALL_TOML.replace("altitude_km = 550", "altitude_km = 560"))
    with pytest.raises(ResultsError, match="another configuration"):
        runner.run(other, out, resume=True, progress=False)
    assert _chunks_done(out) == 7  # left as it was
    # the right configuration resumes, to the same results
    res = runner.run(small, out, resume=True, progress=False)
    assert res.resumed_chunks == 7
    assert_same_results(out / "results.h5", reference.out_dir)


def test_run_dir_rules(small, reference, tmp_path):
    # the same experiment again: up to date, read back from disk, nothing computed or written
    before = {p: p.stat().st_mtime_ns for p in reference.out_dir.iterdir()}
    again = runner.run(small, reference.out_dir, progress=False)
    assert again.up_to_date and not reference.up_to_date
    assert set(again.datasets) == set(reference.datasets)
    for name, ds in reference.datasets.items():
        xr.testing.assert_identical(again.datasets[name], ds)
    assert {p: p.stat().st_mtime_ns for p in reference.out_dir.iterdir()} == before
    # another experiment into that directory: refused
    other = tmp_path / "other.toml"
    other.write_text(SMALL_TOML.replace("altitude_km = 550", "altitude_km = 560"))
    with pytest.raises(ResultsError, match="--overwrite"):
        runner.run(other, reference.out_dir, progress=False)
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="not empty"):
        runner.run(small, out, progress=False)
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(ResultsError, match="no results.h5"):
        runner.compare_runs(reference.out_dir, out)


def test_default_out_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    exp = load_experiment(None)
    assert runner.default_out_dir(exp) == tmp_path / "runs" / "default"


def test_fingerprint_ignores_the_source_line(small, tmp_path):
    exp = load_experiment(small)
    copy = tmp_path / "copy.toml"
    copy.write_text(exp.to_toml())
    assert runner.config_fingerprint(load_experiment(copy)) == runner.config_fingerprint(exp)
    other = tmp_path / "other.toml"
    other.write_text(SMALL_TOML.replace("chunk_steps = 5", "chunk_steps = 6"))
    assert runner.config_fingerprint(load_experiment(other)) != runner.config_fingerprint(exp)


def test_progress_without_tty_has_no_carriage_returns():
    import io

    buf = io.StringIO()
    p = runner.Progress(True, stream=buf, interval_s=0.0)
    p.start("stage", total=4)
    for k in range(1, 5):
        p.update(k)
    p.done()
    text = buf.getvalue()
    assert "\r" not in text and "stage: done in" in text and "ETA" in text
    silent = io.StringIO()
    q = runner.Progress(False, stream=silent)
    q.start("x", 2)
    q.update(1)
    q.done()
    assert silent.getvalue() == ""


def test_dask_backend_run_equals_local_run(small, reference, tmp_path):
    """`[compute] backend = "dask"` (a 2-process LocalCluster) gives the same Datasets as the local run."""
    path = tmp_path / "small_dask.toml"
    path.write_text(
        SMALL_TOML.replace(
            "[compute]\nchunk_steps = 5\n", '[compute]\nchunk_steps = 5\nbackend = "dask"\nworkers = 2\n'
        )
    )
    res = runner.run(path, tmp_path / "dask", progress=False)
    got, want = open_results(res.out_dir / "results.h5"), open_results(reference.out_dir / "results.h5")
    assert sorted(got) == sorted(want)
    drop = CREATION_ATTRS + ("configuration", "input_files")
    for name in want:
        a, b = got[name].copy(), want[name].copy()
        a.attrs = {k: v for k, v in a.attrs.items() if k not in drop}
        b.attrs = {k: v for k, v in b.attrs.items() if k not in drop}
        xr.testing.assert_identical(a, b)


# ============================================================================ issue 10: the run directory
@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


def _files(directory):
    """name → bytes of the files of ``directory`` (recursively, relative paths)."""
    d = Path(directory)
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", ".hidden", "a/b", "x" * 101, "tab\there", "nul\u0000"])
def test_experiment_name_must_be_a_safe_name(tmp_path, name):
    """Issue 10 case 2: `name = "../../x"` or an absolute path wrote the run there."""
    path = tmp_path / "bad.toml"
    path.write_text(TINY_TOML.replace('name = "tiny"', f"name = {json.dumps(name)}"))
    with pytest.raises(ConfigError, match=r"experiment\.name: expected a name of 1 to 100 letters, digits"):
        load_experiment(path)


def test_the_default_run_directory_stays_under_runs(tiny, tmp_path, monkeypatch):
    """Issue 10 case 2, defence in depth: an Experiment made in code with a name that leads elsewhere."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    exp = load_experiment(tiny)
    for name in ("../escaped", str(tmp_path / "escaped"), ".", "a/b"):
        bad = dataclasses.replace(exp, experiment=dataclasses.replace(exp.experiment, name=name))
        with pytest.raises(ConfigError, match=r"experiment\.name: .* would put the run directory outside"):
            runner.run(bad, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["tiny.toml", "work"] and os.listdir(work) == []
    # with an explicit out_dir (--out) the name only names the run
    res = runner.run(bad, tmp_path / "chosen", progress=False)
    assert res.out_dir == tmp_path / "chosen" and (tmp_path / "chosen" / "results.h5").is_file()


@pytest.mark.parametrize("flags", [{"overwrite": True}, {"resume": True}])
def test_overwrite_and_resume_leave_a_folder_that_is_not_a_run(tiny, tmp_path, flags):
    """Issue 10 case 3: `--out . --overwrite` in a project folder removed checkpoint/ (with the
    user's epoch10.pt), map_*.png and report.md."""
    project = tmp_path / "project"
    (project / "checkpoint").mkdir(parents=True)
    (project / "checkpoint" / "epoch10.pt").write_bytes(b"weights")
    (project / "map_world.png").write_bytes(b"png")
    (project / "report.md").write_text("# my notes")
    before = _files(project)
    with pytest.raises(ResultsError, match="is not empty: holds .* no orbitshare run manifest"):
        runner.run(tiny, project, progress=False, **flags)
    assert _files(project) == before


def test_an_interrupted_overwrite_leaves_the_finished_run(tiny, tmp_path, monkeypatch):
    """Issue 10 case 3: an interrupted --overwrite lost the previous finished run. The new run is
    built beside it and swapped in when complete; --overwrite --resume continues it."""
    out = tmp_path / "run"
    runner.run(tiny, out, progress=False)
    before = _files(out)
    (tmp_path / "first").mkdir()
    shutil.copy(out / "results.h5", tmp_path / "first" / "results.h5")
    _interrupted_run(tiny, out, 1, monkeypatch, overwrite=True)
    staged = {k for k in _files(out) if k.startswith(".orbitshare-staging/")}
    assert ".orbitshare-staging/checkpoint/state.npz" in staged
    assert {k: v for k, v in _files(out).items() if k not in staged} == before
    with pytest.raises(ResultsError, match="interrupted --overwrite waits in .*--overwrite --resume"):
        runner.run(tiny, out, progress=False)
    res = runner.run(tiny, out, overwrite=True, resume=True, progress=False)
    assert res.resumed_chunks == 1 and res.out_dir == out
    assert [p.parent for p in res.files] == [out] * len(res.files) and all(p.is_file() for p in res.files)
    assert sorted(os.listdir(out)) == sorted([".orbitshare-run.json", ".orbitshare.lock", *(p.name for p in res.files)])
    assert sorted(json.loads((out / ".orbitshare-run.json").read_text())["files"]) == sorted(p.name for p in res.files)
    assert_same_results(out / "results.h5", tmp_path / "first")


def test_overwrite_deletes_the_files_of_the_replaced_run_only(tiny, tmp_path):
    out = tmp_path / "run"
    runner.run(tiny, out, progress=False)
    assert (out / "countries.csv").is_file()
    netcdf_only = tmp_path / "netcdf_only.toml"
    netcdf_only.write_text(TINY_TOML.replace('files = ["netcdf", "csv"]', 'files = ["netcdf"]'))
    res = runner.run(netcdf_only, out, overwrite=True, progress=False)
    assert not (out / "countries.csv").exists()  # the old run's, not written again
    assert {p.name for p in res.files} == {"experiment.toml", "results.h5", "report.md", "report.html"}


def test_a_second_run_into_a_locked_run_directory_is_refused(tiny, tmp_path, monkeypatch):
    """Issue 10 case 9: two concurrent runs (or resumes) into one directory both exited 0 and mixed
    their files. The directory is locked for the run's lifetime."""
    out = tmp_path / "run"
    # while a run goes on, a second one is refused (tried here between two of its chunks)
    real = runner.write_checkpoint
    refused = []

    def write(path, fp, info):
        real(path, fp, info)
        with pytest.raises(ResultsError, match="another orbitshare run is using this run directory") as err:
            runner.run(tiny, out, resume=True, progress=False)
        refused.append(str(err.value))

    monkeypatch.setattr(runner, "write_checkpoint", write)
    runner.run(tiny, out, progress=False)
    monkeypatch.setattr(runner, "write_checkpoint", real)
    assert len(refused) == 2
    # a lock held by another process (flock on its own open file description) counts the same
    fd = os.open(out / ".orbitshare.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for flags in ({}, {"resume": True}, {"overwrite": True}):
            with pytest.raises(ResultsError, match="another orbitshare run is using this run directory"):
                runner.run(tiny, out, progress=False, **flags)
    finally:
        os.close(fd)
    assert sorted(os.listdir(tmp_path)) == ["run", "tiny.toml"]  # no staging directory made


def test_results_are_not_written_without_the_space_for_them(tiny, tmp_path, monkeypatch):
    """Issue 10 case 7: a full disk made h5py segfault and left .results.h5.*.tmp; the free space is
    now checked against an estimate first, and the checkpoint stays for --resume."""
    out = tmp_path / "run"
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=100_000))
    with pytest.raises(ResultsError, match=r"run: 0\.1 MB free on its file system, the results need about \d+\.\d MB"):
        runner.run(tiny, out, progress=False)
    monkeypatch.setattr(shutil, "disk_usage", real)
    assert not (out / "results.h5").exists() and (out / runner.CHECKPOINT).is_file()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or "scratch" in p.name]
    res = runner.run(tiny, out, resume=True, progress=False)
    assert res.resumed_chunks == 2 and (out / "results.h5").is_file()


def test_resume_sweeps_the_temporaries_a_killed_write_left(tiny, tmp_path, monkeypatch):
    """Issue 10 case 7: a SIGKILL while writing left .results.h5.*.tmp behind for good."""
    out = tmp_path / "run"
    _interrupted_run(tiny, out, 1, monkeypatch)
    (out / ".experiment.toml.k1ll3d00.tmp").write_bytes(b"half")
    (out / runner.CHECKPOINT.parent / ".state.999.tmp.npz").write_bytes(b"half")
    (out / ".orbitshare-scratch").mkdir()  # where the writers write (results.h5, tables, figures, report)
    (out / ".orbitshare-scratch" / ".results.h5.k1ll3d00.tmp").write_bytes(b"half")
    with pytest.raises(ResultsError, match="unfinished run"):  # and compare refuses it meanwhile
        runner.compare_runs(out, out)
    res = runner.run(tiny, out, resume=True, progress=False)
    assert res.resumed_chunks == 1
    assert sorted(os.listdir(out)) == sorted([".orbitshare-run.json", ".orbitshare.lock", *(p.name for p in res.files)])


# ------------------------------------------------------------------ allocation rules (issue 12)
def _fake_allocation(real_service, calls):
    """A stand-in for engine.service.service under rule "maxmin": the real pass, then a capacity Dataset
    of an allocation with the brief's variables (each system serves half of its cells' demand where it
    delivers any capacity). Records the keyword arguments of each call in ``calls``."""

    def fake(systems, grid, times, geography, *, weighting="population", rule="maxmin", demand=None, **kw):
        calls.append({"rule": rule, "demand": demand})
        if "rule" in inspect.signature(real_service).parameters:
            kw["rule"] = "proportional"  # the capacity_mbps this stand-in starts from
        svc = real_service(systems, grid, times, geography, weighting=weighting, **kw)
        cap = svc["capacity"]
        names = [str(s) for s in cap["system"].values]
        nsys = len(names)
        busy, adoption = 2.0, 0.1
        pop = geography["population"].values
        subs = pop * adoption
        dem = subs * busy
        some = cap["capacity_mbps"].transpose("system", "lat", "lon").values > 0
        served = np.where(some, 0.5 * dem[None] / nsys, 0.0)
        total = served.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            met = np.where(dem > 0, total / dem, np.nan)
            per = np.where(subs > 0, total / subs, np.nan)
        ncountry = geography.sizes["country"]
        alloc = xr.Dataset(
            {
                "subscribers": (("lat", "lon"), subs),
                "demand_mbps": (("lat", "lon"), dem),
                "system_demand_mbps": (("system", "lat", "lon"), np.broadcast_to(dem / nsys, served.shape).copy()),
                "served_mbps": (("system", "lat", "lon"), served),
                "demand_met_fraction": (("lat", "lon"), met),
                "served_per_subscriber_mbps": (("lat", "lon"), per),
                "adoption": ("country", np.full(ncountry, adoption)),
                "demand_share": (("system", "country"), np.full((nsys, ncountry), 1.0 / nsys)),
                "offered_mbps": ("system", np.full(nsys, 1e6)),
                "delivered_mbps": ("system", served.sum(axis=(1, 2))),
                "satellite_utilisation": ("system", served.sum(axis=(1, 2)) / 1e6),
            },
            coords={
                "system": names,
                "lat": cap["lat"],
                "lon": cap["lon"],
                "country": geography["country"].values,
                "beams": ("system", np.full(nsys, 8)),
                "beam_capacity_mbps": ("system", np.full(nsys, 2500.0)),
            },
            attrs={"rule": "maxmin", "busy_hour_mbps": busy, "thresholds_mbps": [0.5, 1.0, 2.0], "model": "x"},
        )
        return {**svc, "capacity": alloc}

    return fake


def test_allocation_outputs_are_routed(tmp_path, monkeypatch):
    """Under an allocation rule the accounts, equity, Lorenz curves, CSV, maps and report follow the
    served quantities; a capacity_per_person_mbps map asked for is drawn as served per subscriber and the
    report says so."""
    calls: list = []
    monkeypatch.setattr(runner, "service", _fake_allocation(runner.service, calls))
    toml = TINY_TOML.replace(
        'datasets = ["coverage", "countries"]',
        'datasets = ["coverage", "capacity", "countries", "groups", "equity", "lorenz"]\n'
        'maps = ["capacity_per_person_mbps", "capacity_mbps"]',
    )
    path = tmp_path / "alloc.toml"
    path.write_text(toml)
    exp = load_experiment(path)
    res = runner.run(exp, tmp_path / "run", progress=False)
    assert calls and calls[0]["rule"] == getattr(exp, "capacity_rule", "proportional")
    assert calls[0]["demand"] is getattr(exp, "demand", None)
    c = res.countries
    assert c is not None and "served_per_subscriber_mbps" in c and "capacity_per_person_mbps" not in c
    assert res.equity is not None and list(res.equity["quantity"].values) == ["served_per_subscriber", "mhz_available"]
    assert res.lorenz is not None and sorted(res.lorenz.data_vars) == ["lorenz_served_share", "lorenz_subscriber_share"]
    names = {p.name for p in res.files}
    assert {"map_served_per_subscriber_Shell_A.png", "map_served_mbps_Shell_A.png"} <= names
    assert "lorenz_served_per_subscriber.png" in names and "map_capacity_per_person_Shell_A.png" not in names
    header = (tmp_path / "run" / "countries.csv").read_text().splitlines()[0].split(",")
    assert {"served_per_subscriber_mbps", "demand_met_fraction", "share_population_at_least_0.5mbps"} <= set(header)
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## Capacity as delivered" in md and 'capacity rule "maxmin"' in md
    assert "capacity\\_per\\_person\\_mbps as served\\_per\\_subscriber\\_mbps (the rate served per subscriber)" in md
    # a cell served half its demand: half the busy-hour rate per subscriber, in every served country
    sps = c["served_per_subscriber_mbps"].values
    ok = np.isfinite(sps) & (c["served_total_mbps"].values > 0)
    assert ok.any()
    dm = c["demand_met_fraction"].values[ok]
    np.testing.assert_allclose(sps[ok], 2.0 * dm, rtol=1e-9)


def test_allocation_kwargs_follow_the_experiment(monkeypatch):
    class Spectrum:
        inline_angle_deg = 7.5
        split = "priority"

    class Exp:
        capacity_rule = "throughput"
        capacity_band_sharing = False
        demand = object()
        spectrum = Spectrum()

    def svc(systems, grid, times, geography, *, rule="maxmin", demand=None, inline_angle_deg=10.0, split="equal",
            band_sharing=True):  # fmt: skip
        return None  # the engine's signature

    monkeypatch.setattr(runner, "service", svc)
    kw = runner._allocation_kwargs(Exp())
    assert kw == {"rule": "throughput", "band_sharing": False, "demand": Exp.demand, "inline_angle_deg": 7.5,
                  "split": "priority"}  # fmt: skip
    assert set(kw) <= set(inspect.signature(svc).parameters)


def test_maxmin_run_end_to_end(tmp_path):
    """A tiny experiment under capacity.rule = "maxmin" through run(): the accounts agree with the engine's
    capacity Dataset (subscribers and served rates conserved), no country is served above its demand, and
    the report explains the model."""
    toml = TINY_TOML.replace(
        'datasets = ["coverage", "countries"]',
        'datasets = ["coverage", "capacity", "countries", "groups", "equity", "lorenz"]\n'
        'maps = ["capacity_per_person_mbps"]',
    )
    toml = toml.replace("capacity_per_sat_mbps = 20000", "capacity_per_sat_mbps = 20000\nbeams = 8")
    toml += (
        '\n[capacity]\nrule = "maxmin"\n\n[demand]\nadoption = 0.05\nbusy_hour_mbps = 2.0\nthresholds_mbps = [1, 2]\n'
    )
    path = tmp_path / "maxmin.toml"
    path.write_text(toml)
    res = runner.run(path, tmp_path / "run", progress=False)
    cap, c, g = res.capacity, res.countries, res.groups
    assert cap is not None and c is not None and g is not None
    assert cap.attrs["rule"] == "maxmin" and c.attrs["rule"] == "maxmin"
    np.testing.assert_allclose(float(c["subscribers"].sum()), float(cap["subscribers"].sum()), rtol=1e-6)
    served = float(cap["served_mbps"].sum())
    assert float(c["served_total_mbps"].sum()) + c.attrs["served_unassigned_mbps"] == pytest.approx(served, rel=1e-9)
    assert abs(c.attrs["served_unassigned_mbps"]) <= 1e-6 * max(served, 1.0)
    dm = c["demand_met_fraction"].values
    assert np.nanmax(dm) <= 1 + 1e-9 and np.nanmin(dm) >= 0
    assert np.nanmax(c["served_per_subscriber_mbps"].values) <= 2.0 * (1 + 1e-9)
    assert float(g["subscribers"].sel(group="world")) == pytest.approx(float(c["subscribers"].sum()), rel=1e-12)
    for t in ("1", "2"):
        v = c[f"share_population_at_least_{t}mbps"].values
        assert np.nanmin(v) >= 0 and np.nanmax(v) <= 1
    names = {p.name for p in res.files}
    assert "map_served_per_subscriber_Shell_A.png" in names and "lorenz_served_per_subscriber.png" in names
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## Capacity as delivered" in md and "2 Mbit/s per subscriber" in md
