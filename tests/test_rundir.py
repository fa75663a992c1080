"""The run directory (orbitshare.rundir): manifest, lock, staging and swap, sweeping of temporaries.

No computation here: runs are made of a few text files written through the RunDirectory API. The
runner's use of it (a real run, resume, an interrupted --overwrite) is in tests/test_runner.py.
"""

import fcntl
import json
import os
from pathlib import Path

import pytest

from orbitshare.errors import ResultsError
from orbitshare.rundir import LOCK_FILE, MANIFEST, SCRATCH, STAGING, Manifest, RunDirectory, read_manifest


def make_run(out, names=("experiment.toml", "results.h5"), *, text="old", finish=True, **kw):
    """A run in ``out`` that wrote ``names`` (each holding ``text``), finished or not."""
    with RunDirectory.open(out, overwrite=kw.get("overwrite", False), resume=kw.get("resume", False)) as rd:
        for n in names:
            rd.write_text(n, text)
        if finish:
            rd.finish()
    return out


def tree(directory):
    """Every file under ``directory`` (relative paths) → its text."""
    d = Path(directory)
    return {p.relative_to(d).as_posix(): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()}


def test_a_new_run_lists_what_it_wrote(tmp_path):
    out = make_run(tmp_path / "runs" / "x")
    m = read_manifest(out)
    assert m.finished and m.files == ["experiment.toml", "results.h5"]
    doc = json.loads((out / MANIFEST).read_text())
    assert doc == {"orbitshare_run": 1, "finished": True, "files": ["experiment.toml", "results.h5"]}
    assert sorted(os.listdir(out)) == sorted([MANIFEST, LOCK_FILE, "experiment.toml", "results.h5"])


@pytest.mark.parametrize("flags", [{}, {"overwrite": True}, {"resume": True}, {"overwrite": True, "resume": True}])
def test_a_directory_with_other_content_is_refused_and_left_alone(tmp_path, flags):
    """Issue 10 case 3: `--out . --overwrite` in a project folder deleted checkpoint/epoch10.pt,
    map_*.png and report.md of the user's."""
    out = tmp_path / "project"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "epoch10.pt").write_text("weights")
    (out / "map_mine.png").write_text("png")
    (out / "report.md").write_text("# mine")
    before = tree(out)
    with pytest.raises(ResultsError, match="not empty.*no orbitshare run manifest"):
        RunDirectory.open(out, **{"overwrite": False, "resume": False, **flags})
    assert tree(out) == before
    assert not (out / MANIFEST).exists()


def test_a_run_with_a_file_added_by_the_user_is_refused(tmp_path):
    out = make_run(tmp_path / "run")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="'notes.txt' that no orbitshare run wrote"):
        RunDirectory.open(out, overwrite=True, resume=False)
    (out / "notes.txt").unlink()
    (out / "checkpoint").mkdir()
    (out / "checkpoint" / "epoch10.pt").write_text("weights")  # the run's checkpoint directory, not its file
    with pytest.raises(ResultsError, match="'checkpoint' that no orbitshare run wrote"):
        RunDirectory.open(out, overwrite=True, resume=False)
    assert (out / "checkpoint" / "epoch10.pt").read_text() == "weights"


def test_a_symlink_in_the_run_is_refused(tmp_path):
    out = make_run(tmp_path / "run")
    target = tmp_path / "elsewhere.h5"
    target.write_text("precious")
    (out / "results.h5").unlink()
    (out / "results.h5").symlink_to(target)
    with pytest.raises(ResultsError, match="'results.h5' that no orbitshare run wrote"):
        RunDirectory.open(out, overwrite=True, resume=False)
    assert target.read_text() == "precious"


@pytest.mark.parametrize("bad", ["../victim.txt", "/etc/passwd", "a/b/c", "./x", "", 3, ".orbitshare.lock"])
def test_a_manifest_listing_a_path_outside_is_refused(tmp_path, bad):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = make_run(tmp_path / "run")
    doc = json.loads((out / MANIFEST).read_text())
    doc["files"].append(bad)
    (out / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match="files: expected a relative path"):
        RunDirectory.open(out, overwrite=True, resume=False)
    assert victim.read_text() == "precious"


def test_a_manifest_that_is_not_one_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / MANIFEST).write_text("[" * 100_000)
    with pytest.raises(ResultsError, match="not an orbitshare run manifest"):
        RunDirectory.open(out, overwrite=True, resume=False)
    (out / MANIFEST).write_text('{"files": []}')
    with pytest.raises(ResultsError, match="expected an orbitshare run manifest"):
        RunDirectory.open(out, overwrite=True, resume=False)


def test_an_empty_directory_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    make_run(out)
    assert read_manifest(out).finished
    killed = tmp_path / "killed"  # during the write of its first manifest
    killed.mkdir()
    (killed / LOCK_FILE).write_text("")
    (killed / f".{MANIFEST}.a1b2c3d4.tmp").write_text("{")
    make_run(killed)
    assert sorted(os.listdir(killed)) == [MANIFEST, LOCK_FILE, "experiment.toml", "results.h5"]


def test_overwrite_of_an_unfinished_run_deletes_only_its_files(tmp_path):
    out = make_run(tmp_path / "run", ("experiment.toml", "old.csv"), finish=False)
    with pytest.raises(ResultsError, match="--overwrite"):
        RunDirectory.open(out, overwrite=False, resume=False)
    make_run(out, ("experiment.toml", "results.h5"), text="new", overwrite=True)
    assert tree(out) == {
        MANIFEST: (out / MANIFEST).read_text(),
        LOCK_FILE: "",
        "experiment.toml": "new",
        "results.h5": "new",
    }
    assert read_manifest(out).files == ["experiment.toml", "results.h5"]


def test_resume_forgets_the_files_it_did_not_write_again(tmp_path):
    out = make_run(tmp_path / "run", ("experiment.toml", "map_old.png"), finish=False)
    make_run(out, ("experiment.toml", "map_new.png"), text="new", resume=True)
    assert not (out / "map_old.png").exists()
    assert read_manifest(out).files == ["experiment.toml", "map_new.png"]


def test_a_replacement_is_staged_and_swapped_in_when_complete(tmp_path):
    out = make_run(tmp_path / "run", ("experiment.toml", "results.h5", "old.csv"))
    with pytest.raises(ResultsError, match="holds a finished run; pass --overwrite"):
        RunDirectory.open(out, overwrite=False, resume=False)
    stage = out / STAGING
    with RunDirectory.open(out, overwrite=True, resume=False) as rd:
        assert rd.staged and rd.build == stage
        path = rd.write_text("results.h5", "new")
        assert path == stage / "results.h5"
        assert (out / "results.h5").read_text() == "old"  # untouched until the end
        rd.finish()
        assert rd.final(path) == out / "results.h5"
    assert (out / "results.h5").read_text() == "new"
    assert not (out / "old.csv").exists() and not (out / "experiment.toml").exists()
    assert sorted(os.listdir(out)) == [MANIFEST, LOCK_FILE, "results.h5"]
    assert read_manifest(out) == Manifest(finished=True, files=["results.h5"])


def test_an_interrupted_replacement_leaves_the_old_run_and_can_be_resumed(tmp_path):
    """Issue 10 case 3: an interrupted --overwrite lost the previous finished run."""
    out = make_run(tmp_path / "run")
    before = tree(out)
    with pytest.raises(KeyboardInterrupt), RunDirectory.open(out, overwrite=True, resume=False) as rd:
        rd.write_text("experiment.toml", "new")
        raise KeyboardInterrupt
    stage = out / STAGING
    assert {k: v for k, v in tree(out).items() if not k.startswith(STAGING)} == before
    assert not read_manifest(stage).finished
    with pytest.raises(ResultsError, match=r"interrupted --overwrite waits in .*--overwrite --resume"):
        RunDirectory.open(out, overwrite=False, resume=False)
    with RunDirectory.open(out, overwrite=True, resume=True) as rd:
        assert rd.resume and rd.build == stage
        assert (stage / "experiment.toml").read_text() == "new"
        rd.write_text("experiment.toml", "newer")
        rd.finish()
    assert (out / "experiment.toml").read_text() == "newer"
    assert not (out / "results.h5").exists() and not stage.exists()


def test_overwrite_starts_an_interrupted_replacement_over(tmp_path):
    out = make_run(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt), RunDirectory.open(out, overwrite=True, resume=False) as rd:
        rd.write_text("partial.csv", "half")
        raise KeyboardInterrupt
    with RunDirectory.open(out, overwrite=True, resume=False) as rd:
        assert not rd.resume and not (rd.build / "partial.csv").exists()
        rd.write_text("results.h5", "new")
        rd.finish()
    assert sorted(os.listdir(out)) == [MANIFEST, LOCK_FILE, "results.h5"]


@pytest.mark.parametrize("moved", [0, 1, 2])
def test_a_swap_stopped_half_way_is_completed_by_the_next_run(tmp_path, moved):
    out = make_run(tmp_path / "run", ("experiment.toml", "results.h5", "old.csv"), text="old")
    stage = out / STAGING
    stage.mkdir()
    make_run(stage, ("experiment.toml", "results.h5"), text="new")  # finished: the commit
    os.unlink(stage / LOCK_FILE)
    # the swap: the manifest lists old and new, then files move in; the process was killed here
    union = ["experiment.toml", "old.csv", "results.h5"]
    (out / MANIFEST).write_text(Manifest(finished=False, files=union).to_json())
    for n in ("experiment.toml", "results.h5")[:moved]:
        os.replace(stage / n, out / n)
    with pytest.raises(ResultsError, match="holds a finished run"):  # completed first, then refused
        RunDirectory.open(out, overwrite=False, resume=False)
    assert tree(out) == {
        MANIFEST: Manifest(finished=True, files=["experiment.toml", "results.h5"]).to_json(),
        LOCK_FILE: "",
        "experiment.toml": "new",
        "results.h5": "new",
    }


def test_the_lock_refuses_a_second_run(tmp_path):
    """Issue 10 case 9: two runs into one directory both ran and mixed their files."""
    out = tmp_path / "run"
    with RunDirectory.open(out, overwrite=False, resume=False) as first:
        first.write_text("experiment.toml", "first")
        for flags in ({"overwrite": True, "resume": False}, {"overwrite": False, "resume": True}):
            with pytest.raises(ResultsError, match="another orbitshare run is using this run directory"):
                RunDirectory.open(out, **flags)
        # a lock taken by another process (flock, on another open file description) counts the same
    assert (out / "experiment.toml").read_text() == "first"
    fd = os.open(out / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ResultsError, match="another orbitshare run"):
            RunDirectory.open(out, overwrite=False, resume=True)
    finally:
        os.close(fd)
    with RunDirectory.open(out, overwrite=False, resume=True) as rd:  # released: fine
        rd.finish()


def test_stale_temporaries_of_the_runs_files_are_swept(tmp_path):
    """Issue 10 case 7: a SIGKILL during a write left .results.h5.*.tmp behind for good."""
    out = make_run(tmp_path / "run", ("experiment.toml", "results.h5", "checkpoint/state.npz"), finish=False)
    (out / ".results.h5.a1b2c3d4.tmp").write_text("half")
    (out / "..orbitshare-run.json.zz9_8y7x.tmp").write_text("half")
    (out / "checkpoint" / ".state.1234.tmp.npz").write_text("half")
    (out / SCRATCH).mkdir()
    (out / SCRATCH / ".map_x.png.qwertyui.tmp").write_text("half")
    with RunDirectory.open(out, overwrite=False, resume=True) as rd:
        assert rd.resume
        assert sorted(os.listdir(out)) == sorted([MANIFEST, LOCK_FILE, "experiment.toml", "results.h5", "checkpoint"])
        assert os.listdir(out / "checkpoint") == ["state.npz"]
    # a temporary-looking file of a name the run does not own is the user's: refused, kept
    (out / ".notes.txt.a1b2c3d4.tmp").write_text("mine")
    with pytest.raises(ResultsError, match="notes.txt"):
        RunDirectory.open(out, overwrite=True, resume=False)


def test_a_failed_write_leaves_no_scratch(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"), RunDirectory.open(out, overwrite=False, resume=False) as rd:
        scratch = rd.open_scratch()
        (scratch / ".results.h5.a1b2c3d4.tmp").write_text("half")
        raise RuntimeError("boom")
    assert not (out / SCRATCH).exists()
    # a full disk: a ResultsError naming the directory (exit 2), not an internal error
    match = r"run: its file system is full \(OSError: \[Errno 28\] No space left on device\); free some space"
    with pytest.raises(ResultsError, match=match), RunDirectory.open(out, overwrite=False, resume=True) as rd:
        (rd.open_scratch() / ".results.h5.a1b2c3d4.tmp").write_text("half")
        raise OSError(28, "No space left on device")
    assert not (out / SCRATCH).exists()


def test_adopt_moves_the_writers_files_in_and_lists_them(tmp_path):
    out = tmp_path / "run"
    with RunDirectory.open(out, overwrite=False, resume=False) as rd:
        scratch = rd.open_scratch()
        (scratch / "a.csv").write_text("a")
        (scratch / "b.png").write_text("b")
        assert rd.adopt([scratch / "a.csv", scratch / "b.png"]) == [out / "a.csv", out / "b.png"]
        assert not scratch.exists()
        assert set(read_manifest(out).files) >= {"a.csv", "b.png"}
        scratch = rd.open_scratch()
        (scratch / "c.csv").write_text("c")
        (out / "c.csv").write_text("mine")  # appeared meanwhile: not replaced
        with pytest.raises(ResultsError, match="not written by it"):
            rd.adopt([scratch / "c.csv"])
        assert (out / "c.csv").read_text() == "mine"


def test_free_space_is_checked(tmp_path):
    out = tmp_path / "run"
    with RunDirectory.open(out, overwrite=False, resume=False) as rd:
        rd.check_free_space(1000)
        with pytest.raises(
            ResultsError, match=r"run: [0-9.]+ MB free on its file system, the results need about 1000000000\.0 MB"
        ):
            rd.check_free_space(10**15)


def test_not_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ResultsError, match="exists and is not a directory"):
        RunDirectory.open(f, overwrite=True, resume=False)
