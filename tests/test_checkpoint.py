"""orbitshare.checkpoint: fingerprint, atomic write/read round trip, refusals, stale temporaries.

A checkpoint is untrusted input (issue 10, cases 1, 11, 12): its member list is checked before
anything is loaded, then dtypes, shapes and values; symbolic links are never followed; a checkpoint
whose input files changed is refused, naming the file.
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from orbitshare import checkpoint, runner
from orbitshare.checkpoint import (
    STATE_FIELDS,
    Fingerprint,
    check_inputs,
    clear_stale_temporaries,
    config_fingerprint,
    input_records,
    read_checkpoint,
    remove_checkpoint,
    write_checkpoint,
)
from orbitshare.elements.walker import walker
from orbitshare.errors import DataError, ResultsError
from orbitshare.geo.build import geography_cache_dir
from orbitshare.io import file_sha256, read_provenance
from orbitshare.kernels.chunkstate import ChunkState


class _Config:
    def __init__(self, text):
        self.text = text

    def to_toml(self):
        return self.text


def _info(with_counts):
    """A consistent merged state of 10 steps (2 systems, 3 x 4 cells), two chunks of 5 steps."""
    rng = np.random.default_rng(1)
    shape = (2, 3, 4)
    all_gap = rng.integers(0, 2, shape).astype(bool)
    lead = np.where(all_gap, 10, rng.integers(0, 4, shape)).astype(np.int32)
    trail = np.where(all_gap, 10, rng.integers(0, 3, shape)).astype(np.int32)
    inner = np.where(all_gap, 0, rng.integers(0, 2, shape)).astype(np.int32)
    state = ChunkState(
        10,
        rng.integers(0, 50, shape).astype(np.int64),
        np.where(all_gap, 0, rng.integers(1, 4, shape)).astype(np.int32),
        lead,
        trail,
        inner,
        all_gap,
        capacity_sum=rng.uniform(size=shape),
        delivered=rng.uniform(size=(2, 10)),
        offered=rng.uniform(size=(2, 10)),
    )
    counts = rng.integers(0, 30, (2, 10, 3, 4)).astype(np.int16) if with_counts else None
    return {"chunks_done": 2, "chunk_steps": 5, "state": state, "err_steps": np.array([0, 3]), "counts": counts}


FP = Fingerprint("a" * 64, (("systems[0].elements (A)", "/d/els.csv", "1" * 64),), '{"alg": "1", "res": "5.0"}')


@pytest.fixture
def ck(tmp_path):
    """A valid checkpoint of FP in tmp_path/run/checkpoint/state.npz."""
    path = tmp_path / "run" / "checkpoint" / "state.npz"
    write_checkpoint(path, FP, _info(True))
    return path


def _members(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path, drop=(), **changes):
    """Rewrite the checkpoint ``path`` with members changed (``name=array``) or dropped."""
    data = {k: v for k, v in _members(path).items() if k not in drop}
    data.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **data)


def test_fingerprint_ignores_the_first_comment_line():
    a = config_fingerprint(_Config("# from a.toml\n[time]\nstep_s = 60\n"))
    b = config_fingerprint(_Config("# from b.toml\n[time]\nstep_s = 60\n"))
    c = config_fingerprint(_Config("# from a.toml\n[time]\nstep_s = 30\n"))
    assert a == b != c and len(a) == 64


@pytest.mark.parametrize("with_counts", [False, True])
def test_round_trip(tmp_path, with_counts):
    path = tmp_path / "checkpoint" / "state.npz"
    info = _info(with_counts)
    write_checkpoint(path, "f" * 64, info)
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.npz"]  # no temporary left
    got = read_checkpoint(path, "f" * 64)
    assert got["chunks_done"] == 2 and got["chunk_steps"] == 5
    np.testing.assert_array_equal(got["err_steps"], info["err_steps"])
    assert got["state"].nsteps == 10 and got["state"].counts is None and got["state"].steps_any is None
    for k in STATE_FIELDS:
        want = getattr(info["state"], k)
        if want is not None:
            have = getattr(got["state"], k)
            assert have.dtype == want.dtype
            np.testing.assert_array_equal(have, want)
    if with_counts:
        np.testing.assert_array_equal(got["counts"], info["counts"])
    else:
        assert got["counts"] is None
    assert got["inputs"] == Fingerprint("f" * 64)


def test_round_trip_of_the_inputs(ck):
    got = read_checkpoint(ck, FP)  # config, input files and geography all match
    assert got["inputs"] == FP


def test_refusals(tmp_path):
    path = tmp_path / "run" / "checkpoint" / "state.npz"
    write_checkpoint(path, "a" * 64, _info(False))
    with pytest.raises(ResultsError, match=r"another configuration .*experiment\.toml"):
        read_checkpoint(path, "b" * 64)
    path.write_bytes(b"not a zip")
    with pytest.raises(ResultsError, match="unreadable checkpoint"):
        read_checkpoint(path, "a" * 64)


# ---------------------------------------------------------------------------- case 1: inputs
def test_changed_input_is_refused_naming_the_file(ck):
    changed = Fingerprint(FP.config, (("systems[0].elements (A)", "/d/els.csv", "2" * 64),), FP.geography)
    with pytest.raises(ResultsError, match=r"input systems\[0\]\.elements \(A\) \(/d/els\.csv\) changed") as e:
        read_checkpoint(ck, changed)
    assert "\n" not in str(e.value) and "--overwrite" in str(e.value)
    # phase two of the runner: read with the configuration alone, then check the inputs
    resume = read_checkpoint(ck, FP.config)
    with pytest.raises(ResultsError, match="changed since the checkpoint"):
        check_inputs(ck, resume, changed)
    moved = Fingerprint(FP.config, (("systems[0].elements (A)", "/elsewhere/els.csv", "1" * 64),), FP.geography)
    check_inputs(ck, resume, moved)  # the same content elsewhere is the same input


def test_added_removed_input_and_geography_are_refused(ck):
    resume = read_checkpoint(ck, FP.config)
    more = Fingerprint(FP.config, (*FP.inputs, ("geography.population", "/d/pop.asc", "3" * 64)), FP.geography)
    with pytest.raises(ResultsError, match=r"geography\.population \(/d/pop\.asc\) was not an input"):
        check_inputs(ck, resume, more)
    with pytest.raises(ResultsError, match=r"\(/d/els\.csv\) of the checkpointed run is no longer read"):
        check_inputs(ck, resume, Fingerprint(FP.config, (), FP.geography))
    with pytest.raises(ResultsError, match=r"geography changed .*res: '5\.0' -> '2\.0'"):
        check_inputs(ck, resume, Fingerprint(FP.config, FP.inputs, '{"alg": "1", "res": "2.0"}'))


def test_input_records(tmp_path):
    p = tmp_path / "els.csv"
    p.write_bytes(b"abc")
    (r,) = input_records({"systems[0].elements (A)": p})
    assert r == {
        "label": "systems[0].elements (A)",
        "path": str(p.resolve()),
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "bytes": 3,
    }
    assert Fingerprint.of("a" * 64, [r]).inputs == (("systems[0].elements (A)", str(p.resolve()), r["sha256"]),)
    with pytest.raises(DataError, match="is not a regular file"):
        input_records({"x": tmp_path})


# ---------------------------------------------------------------------------- case 11: missing key
@pytest.mark.parametrize("member", ["nsteps", "inputs", "lead_run", "err_steps"])
def test_missing_member_is_a_named_error(ck, member):
    _rewrite(ck, drop=(member,))
    with pytest.raises(ResultsError, match=f"member '{member}' is missing"):
        read_checkpoint(ck, FP)


# ---------------------------------------------------------------------------- case 12: members, dtypes, values
def test_unknown_member_is_refused_before_anything_is_loaded(ck, monkeypatch):
    _rewrite(ck, extra=np.zeros(1000, np.uint8))
    loaded = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda fp, **kw: loaded.append(fp) or real(fp, **kw))
    with pytest.raises(ResultsError, match=r"unknown member 'extra\.npy' \(\d+ bytes\), not loaded"):
        read_checkpoint(ck, FP)
    assert loaded == []


def test_declared_sizes_beyond_the_file_are_refused(ck):
    """A member whose header declares more data than it holds (2.5 GB here) is not allocated."""
    lead = _members(ck)["lead_run"]
    with zipfile.ZipFile(ck) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    head = np.lib.format.header_data_from_array_1_0(lead)
    head["shape"] = (2, 3, 312_500_000)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, head)
    entries["lead_run.npy"] = buf.getvalue() + lead.tobytes()
    with zipfile.ZipFile(ck, "w") as zf:
        for name, raw in entries.items():
            zf.writestr(name, raw)
    with pytest.raises(ResultsError, match=r"member 'lead_run' declares 7500000000 bytes of data, it holds 96"):
        read_checkpoint(ck, FP)


def test_compressed_member_is_refused(ck):
    data = _members(ck)
    with open(ck, "wb") as f:
        np.savez_compressed(f, **data)
    with pytest.raises(ResultsError, match="is compressed"):
        read_checkpoint(ck, FP)


@pytest.mark.parametrize(
    ("member", "value", "match"),
    [
        ("lead_run", lambda a: a.astype(np.float64), r"'lead_run' is float64 .*expected int32"),
        ("sum_visible", lambda a: a.astype(np.int32), r"'sum_visible' is int32 .*expected int64"),
        ("all_gap", lambda a: a.astype(np.int8), r"'all_gap' is int8 .*expected bool"),
        ("counts", lambda a: a.astype(">i2"), r"'counts' is >i2 .*expected int16"),
        ("nsteps", lambda a: np.array([10]), r"'nsteps' is int64 of shape \(1,\), expected int64 with 0"),
        ("fingerprint", lambda a: np.array(7), r"'fingerprint' is int64 .*expected a text scalar"),
    ],
)
def test_wrong_dtypes_are_refused(ck, member, value, match):
    _rewrite(ck, **{member: value(_members(ck)[member])})
    with pytest.raises(ResultsError, match=match):
        read_checkpoint(ck, FP)


def _set(a, value, index=(0, 0, 0)):
    a = a.copy()
    a[index] = value
    return a


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"capacity_sum": lambda m: _set(m["capacity_sum"], np.nan)}, r"'capacity_sum' holds NaN"),
        ({"delivered": lambda m: _set(m["delivered"], np.inf, (1, 2))}, r"'delivered' holds NaN or infinity"),
        (
            {"lead_run": lambda m: _set(m["lead_run"], -3)},
            r"'lead_run' has the value -3; expected step counts in 0 .. 10",
        ),
        ({"max_inner_run": lambda m: _set(m["max_inner_run"], 11)}, r"'max_inner_run' has the value 11"),
        ({"steps_covered": lambda m: _set(m["steps_covered"], -1)}, r"'steps_covered' has the value -1"),
        ({"sum_visible": lambda m: _set(m["sum_visible"], -5)}, r"'sum_visible' has a negative value"),
        ({"err_steps": lambda m: _set(m["err_steps"], -1, 0)}, r"'err_steps' has a negative value"),
        ({"counts": lambda m: _set(m["counts"], -1, (0, 0, 0, 0))}, r"'counts' has a negative value"),
        ({"all_gap": lambda m: np.ones_like(m["all_gap"])}, "cells marked all_gap have gap runs other than 10"),
        ({"chunks_done": lambda m: np.int64(-1)}, r"-1 chunk\(s\) of 5 steps do not hold 10 steps"),
        ({"chunk_steps": lambda m: np.int64(0)}, r"2 chunk\(s\) of 0 steps"),
        ({"nsteps": lambda m: np.int64(4)}, r"2 chunk\(s\) of 5 steps do not hold 4 steps"),
        ({"err_steps": lambda m: np.zeros(3, np.int64)}, r"'err_steps' has shape \(3,\), expected \(2,\)"),
        ({"trail_run": lambda m: m["trail_run"][:, :2]}, r"'trail_run' has shape \(2, 2, 4\), expected \(2, 3, 4\)"),
        ({"counts": lambda m: m["counts"][:, :9]}, r"'counts' has shape \(2, 9, 3, 4\), expected \(2, 10, 3, 4\)"),
        ({"inputs": lambda m: np.array("[1, 2")}, r"member 'inputs' is not the JSON"),
    ],
)
def test_values_out_of_range_are_refused(ck, changes, match):
    m = _members(ck)
    _rewrite(ck, **{k: f(m) for k, f in changes.items()})
    with pytest.raises(ResultsError, match=match) as e:
        read_checkpoint(ck, FP)
    assert "\n" not in str(e.value) and str(ck) in str(e.value)


def test_capacity_members_come_together(ck):
    _rewrite(ck, drop=("offered",))
    with pytest.raises(ResultsError, match="member 'capacity_sum' without offered"):
        read_checkpoint(ck, FP)


# ---------------------------------------------------------------------------- case 12: symbolic links
def test_symlinked_checkpoint_directory_is_not_followed(tmp_path, ck):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "state.npz").write_bytes(ck.read_bytes())
    (outside / ".state.1.tmp.npz").write_bytes(b"not ours")
    run = tmp_path / "run2"
    run.mkdir()
    (run / "checkpoint").symlink_to(outside, target_is_directory=True)
    link = run / checkpoint.CHECKPOINT
    with pytest.raises(ResultsError, match=r"checkpoint directory is a symbolic link .*remove the link"):
        read_checkpoint(link, FP)
    with pytest.raises(ResultsError, match="checkpoint directory is a symbolic link"):
        write_checkpoint(link, FP, _info(False))
    clear_stale_temporaries(link)
    remove_checkpoint(link)
    assert sorted(p.name for p in outside.iterdir()) == [".state.1.tmp.npz", "state.npz"]  # untouched
    assert (outside / "state.npz").read_bytes() == ck.read_bytes()


def test_symlinked_checkpoint_file_is_not_followed(tmp_path, ck):
    outside = tmp_path / "elsewhere.npz"
    outside.write_bytes(ck.read_bytes())
    ck.unlink()
    ck.symlink_to(outside)
    with pytest.raises(ResultsError, match="checkpoint file is a symbolic link"):
        read_checkpoint(ck, FP)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "checkpoint" / "state.npz"
    path.parent.mkdir()
    os.mkfifo(path)
    with pytest.raises(ResultsError, match="not a regular file"):
        read_checkpoint(path, FP)


def test_stale_temporaries_and_removal(tmp_path):
    path = tmp_path / "checkpoint" / "state.npz"
    clear_stale_temporaries(path)  # no directory: nothing to do
    write_checkpoint(path, "a" * 64, _info(False))
    (path.parent / ".state.123.tmp.npz").write_bytes(b"half")
    clear_stale_temporaries(path)
    assert [p.name for p in path.parent.iterdir()] == ["state.npz"]
    remove_checkpoint(path)
    assert not path.parent.exists()
    remove_checkpoint(path)  # twice is fine


# ---------------------------------------------------------------------------- case 1: a real resume
# 24 satellites from an element file (or a fetch cache entry), 60 steps in 12 chunks of 5, 5° grid
INPUT_TOML = """\
[experiment]
name = "inputs"

[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T01:00:00Z
step_s = 60

[grid]
resolution_deg = 5.0

[[systems]]
name = "A"
{source}

[outputs]
datasets = ["coverage"]
files = ["netcdf"]

[compute]
chunk_steps = 5
threads = 1
"""


class _Stop(KeyboardInterrupt):
    pass


def _interrupt_after(out, exp, after, monkeypatch):
    """Run ``exp`` into ``out``, stopped (KeyboardInterrupt) after its ``after``-th checkpoint."""
    real = runner.write_checkpoint
    n = {"k": 0}

    def write(path, fp, info):
        real(path, fp, info)
        n["k"] += 1
        if n["k"] == after:
            raise _Stop()

    monkeypatch.setattr(runner, "write_checkpoint", write)
    with pytest.raises(_Stop):
        runner.run(exp, out, progress=False)
    monkeypatch.setattr(runner, "write_checkpoint", real)


def _elements(altitude_km):
    return walker(altitude_km, 53.0, 4, 6, 1, "2026-01-01T00:00:00Z").to_omm()


@pytest.mark.parametrize("source", ["elements", "fetch"])
def test_resume_with_a_changed_input_file_is_refused(tmp_path, monkeypatch, source):
    """Issue 10, case 1: replacing the element file (or the fetch cache entry) between a stop and
    ``--resume`` mixed 36 steps of the old file with 24 of the new; now refused, naming the file."""
    cache = tmp_path / "cache"
    if source == "fetch":  # a fresh cache entry of the group "grp"; the geography cache stays shared
        cache.mkdir()
        (cache / "geography").symlink_to(geography_cache_dir(), target_is_directory=True)
        monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(cache))
        monkeypatch.setenv("ORBITSHARE_CELESTRAK_URL", "http://127.0.0.1:9/")  # never reached
    els = tmp_path / "els.csv" if source == "elements" else cache / "grp.csv"
    els.write_text(_elements(550.0), newline="")
    exp = tmp_path / "inputs.toml"
    exp.write_text(INPUT_TOML.format(source='elements = "els.csv"' if source == "elements" else 'fetch = "grp"'))
    out = tmp_path / "run"
    _interrupt_after(out, exp, 3, monkeypatch)
    before = (out / checkpoint.CHECKPOINT).read_bytes()

    els.write_text(_elements(800.0), newline="")  # another file, same name
    label = r"systems\[0\]\.elements \(A\)" if source == "elements" else r"systems\[0\]\.fetch \(A\)"
    with pytest.raises(ResultsError, match=rf"input {label} \({els}\) changed since the checkpoint") as e:
        runner.run(exp, out, resume=True, progress=False)
    assert "\n" not in str(e.value)
    assert (out / checkpoint.CHECKPOINT).read_bytes() == before  # left as it was

    els.write_text(_elements(550.0), newline="")  # the inputs that made it: resumes
    res = runner.run(exp, out, resume=True, progress=False)
    assert res.resumed_chunks == 3
    (rec,) = json.loads(read_provenance(out / "results.h5")["input_files"])[-1:]
    assert rec["path"] == str(els.resolve()) and rec["sha256"] == file_sha256(els)
