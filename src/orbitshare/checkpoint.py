"""Checkpoints of a run: the merged accumulator state of the finished time chunks, on disk.

After each finished time chunk :mod:`orbitshare.runner` writes the merged state of the streaming
pass (the integer arrays and float sums of :class:`~orbitshare.kernels.chunkstate.ChunkState`, the
SGP4 error counts, the kept time series if any, the number of finished chunks and the chunk
length) to ``<run>/checkpoint/state.npz`` (:data:`CHECKPOINT`), atomically (temporary file,
fsync, ``os.replace``), with the configuration's fingerprint (:func:`config_fingerprint`).
:func:`read_checkpoint` gives back the ``resume`` mapping of the streaming pass; a checkpoint of
another configuration is refused with :class:`~orbitshare.errors.ResultsError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from orbitshare.errors import ResultsError
from orbitshare.kernels.chunkstate import ChunkState

__all__ = [
    "CHECKPOINT",
    "STATE_FIELDS",
    "clear_stale_temporaries",
    "config_fingerprint",
    "read_checkpoint",
    "remove_checkpoint",
    "write_checkpoint",
]

CHECKPOINT = Path("checkpoint") / "state.npz"
"""Where a run directory holds its checkpoint, relative to the run directory."""

STATE_FIELDS = (
    "sum_visible",
    "steps_covered",
    "lead_run",
    "trail_run",
    "max_inner_run",
    "all_gap",
    "steps_any",
    "capacity_sum",
    "delivered",
    "offered",
)
"""The array fields of :class:`~orbitshare.kernels.chunkstate.ChunkState` a checkpoint stores (those
that are not None); ``nsteps`` is stored apart, ``counts`` (the time series) comes from the pass."""

_TMP_GLOB = ".state*.tmp*"


class _Configuration(Protocol):
    def to_toml(self) -> str: ...


def config_fingerprint(experiment: _Configuration) -> str:
    """sha256 (64 hex digits) of the resolved configuration, ``to_toml()`` without its first
    (comment) line, which names the file the configuration came from.

    >>> class Config:
    ...     def __init__(self, source):
    ...         self.source = source
    ...     def to_toml(self):
    ...         return f"# from {self.source}\\n[time]\\nstep_s = 60\\n"
    >>> config_fingerprint(Config("a.toml")) == config_fingerprint(Config("copy/b.toml"))
    True
    >>> len(config_fingerprint(Config("a.toml")))
    64
    """
    text = experiment.to_toml()
    lines = text.split("\n")
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def read_checkpoint(path: Path, fingerprint: str, *, config_file: Path | None = None) -> dict[str, Any]:
    """The ``resume`` mapping of the streaming pass stored in the checkpoint ``path``.

    Returns ``chunks_done`` (int), ``chunk_steps`` (int, time steps per chunk), ``state`` (the merged
    :class:`~orbitshare.kernels.chunkstate.ChunkState`, ``counts`` None), ``err_steps`` (int64[nsys])
    and ``counts`` (int16[nsys, steps done, nlat, nlon] or None). Raises
    :class:`~orbitshare.errors.ResultsError` when the file cannot be read or was written by a
    configuration of another ``fingerprint`` (``config_file``, default
    ``<run>/experiment.toml``, is named as the experiment that made it).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ResultsError(f"{path}: unreadable checkpoint ({exc}); pass --overwrite to start over") from None
    fp = str(data["fingerprint"])
    if fp != fingerprint:
        made_by = config_file if config_file is not None else path.parent.parent / "experiment.toml"
        raise ResultsError(
            f"{path}: the checkpoint was made by another configuration (fingerprint {fp[:12]} != "
            f"{fingerprint[:12]}); resume with the experiment that made it "
            f"({made_by}), or pass --overwrite to start over"
        )
    fields: dict[str, Any] = {k: data.get(k) for k in STATE_FIELDS}
    state = ChunkState(int(data["nsteps"]), counts=None, **fields)
    return {
        "chunks_done": int(data["chunks_done"]),
        "chunk_steps": int(data["chunk_steps"]),
        "state": state,
        "err_steps": data["err_steps"],
        "counts": data.get("counts"),
    }


def write_checkpoint(path: Path, fingerprint: str, info: dict[str, Any]) -> None:
    """Write the ``on_chunk`` mapping ``info`` of the streaming pass (``state``, ``counts``,
    ``chunks_done``, ``chunk_steps``, ``err_steps``) to ``path`` with ``fingerprint``, atomically:
    a temporary file in the same directory (created if needed), fsync'ed, then ``os.replace``; a
    killed write leaves the previous checkpoint."""
    path = Path(path)
    state = info["state"]
    arrays = {k: getattr(state, k) for k in STATE_FIELDS if getattr(state, k) is not None}
    if info.get("counts") is not None:
        arrays["counts"] = info["counts"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".state.{os.getpid()}.tmp.npz"
    try:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                fingerprint=np.array(fingerprint),
                chunks_done=np.int64(info["chunks_done"]),
                chunk_steps=np.int64(info["chunk_steps"]),
                nsteps=np.int64(state.nsteps),
                err_steps=info["err_steps"],
                **arrays,
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def clear_stale_temporaries(path: Path) -> None:
    """Remove the temporary files a killed :func:`write_checkpoint` of ``path`` left behind."""
    directory = Path(path).parent
    if not directory.is_dir():
        return
    for p in directory.glob(_TMP_GLOB):
        with contextlib.suppress(OSError):
            p.unlink()


def remove_checkpoint(path: Path) -> None:
    """Remove the checkpoint ``path`` and its directory when that is then empty (a finished run)."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()
