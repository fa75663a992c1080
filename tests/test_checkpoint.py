"""orbitshare.checkpoint: fingerprint, atomic write/read round trip, refusals, stale temporaries."""

import numpy as np
import pytest

from orbitshare.checkpoint import (
    STATE_FIELDS,
    clear_stale_temporaries,
    config_fingerprint,
    read_checkpoint,
    remove_checkpoint,
    write_checkpoint,
)
from orbitshare.errors import ResultsError
from orbitshare.kernels.chunkstate import ChunkState


class _Config:
    def __init__(self, text):
        self.text = text

    def to_toml(self):
        return self.text


def _info(with_counts):
    rng = np.random.default_rng(1)
    shape = (2, 3, 4)
    state = ChunkState(
        10,
        rng.integers(0, 50, shape).astype(np.int64),
        rng.integers(0, 10, shape).astype(np.int32),
        rng.integers(0, 10, shape).astype(np.int32),
        rng.integers(0, 10, shape).astype(np.int32),
        rng.integers(0, 10, shape).astype(np.int32),
        rng.integers(0, 2, shape).astype(bool),
        capacity_sum=rng.uniform(size=shape),
        delivered=rng.uniform(size=(2, 10)),
        offered=rng.uniform(size=(2, 10)),
    )
    counts = rng.integers(0, 30, (2, 10, 3, 4)).astype(np.int16) if with_counts else None
    return {"chunks_done": 2, "chunk_steps": 5, "state": state, "err_steps": np.array([0, 3]), "counts": counts}


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


def test_refusals(tmp_path):
    path = tmp_path / "run" / "checkpoint" / "state.npz"
    write_checkpoint(path, "a" * 64, _info(False))
    with pytest.raises(ResultsError, match=r"another configuration .*experiment\.toml"):
        read_checkpoint(path, "b" * 64)
    path.write_bytes(b"not a zip")
    with pytest.raises(ResultsError, match="unreadable checkpoint"):
        read_checkpoint(path, "a" * 64)


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
