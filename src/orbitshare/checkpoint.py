"""Checkpoints of a run: the merged accumulator state of the finished time chunks, on disk.

After each finished time chunk :mod:`orbitshare.runner` writes the merged state of the streaming
pass (the integer arrays and float sums of :class:`~orbitshare.kernels.chunkstate.ChunkState`, the
SGP4 error counts, the kept time series if any, the number of finished chunks and the chunk
length) to ``<run>/checkpoint/state.npz`` (:data:`CHECKPOINT`), atomically (temporary file,
fsync, ``os.replace``), with the run's :class:`Fingerprint`: the configuration's fingerprint
(:func:`config_fingerprint`), the sha256 of every input file the pass reads
(:func:`input_records`: element files, fetch cache entries, boundaries, population raster) and the
geography's cache key. :func:`read_checkpoint` gives back the ``resume`` mapping of the streaming
pass; a checkpoint of another configuration, or whose inputs have changed since
(:func:`check_inputs`), is refused with :class:`~orbitshare.errors.ResultsError`.

A checkpoint is untrusted input: before anything is loaded its member list is checked (no unknown,
duplicate, compressed or missing member, every declared size within the file's size), then each
member's dtype and shape from its ``.npy`` header, then the values (no NaN or infinity, run lengths
and counts within ``0 .. nsteps``, chunk counts that fit together); arrays are read with
``allow_pickle=False``. A ``checkpoint`` directory or ``state.npz`` that is a symbolic link is
refused (never followed out of the run directory).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from orbitshare.errors import DataError, ResultsError
from orbitshare.io import file_sha256
from orbitshare.kernels.chunkstate import ChunkState

__all__ = [
    "CHECKPOINT",
    "STATE_FIELDS",
    "Fingerprint",
    "check_inputs",
    "clear_stale_temporaries",
    "config_fingerprint",
    "input_records",
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
    "inline_steps",
    "effective_sum",
    "union_sum",
)
"""The array fields of :class:`~orbitshare.kernels.chunkstate.ChunkState` a checkpoint stores (those
that are not None); ``nsteps`` is stored apart, ``counts`` (the time series) comes from the pass."""

_TMP_GLOB = ".state*.tmp*"
_AGAIN = "pass --overwrite to start over"

# member -> (dtype, number of dimensions); "U": a unicode scalar of any length
_MEMBERS: dict[str, tuple[str, int]] = {
    "fingerprint": ("U", 0),
    "inputs": ("U", 0),
    "chunks_done": ("int64", 0),
    "chunk_steps": ("int64", 0),
    "nsteps": ("int64", 0),
    "err_steps": ("int64", 1),
    "sum_visible": ("int64", 3),
    "steps_covered": ("int32", 3),
    "lead_run": ("int32", 3),
    "trail_run": ("int32", 3),
    "max_inner_run": ("int32", 3),
    "all_gap": ("bool", 3),
    "steps_any": ("int32", 3),
    "capacity_sum": ("float64", 3),
    "delivered": ("float64", 2),
    "offered": ("float64", 2),
    "inline_steps": ("int32", 3),
    "effective_sum": ("float64", 4),
    "union_sum": ("float64", 2),
    "counts": ("int16", 4),
}
_CAPACITY = ("capacity_sum", "delivered", "offered")  # capacity sums: all three or none
_SHARING = ("inline_steps", "effective_sum", "union_sum")  # co-frequency sharing: all three or none
_OPTIONAL = ("steps_any", *_CAPACITY, *_SHARING, "counts")
_RUNS = ("steps_covered", "lead_run", "trail_run", "max_inner_run", "steps_any")  # each in 0 .. nsteps


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


def input_records(files: Mapping[str, str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """``{"label", "path", "sha256", "bytes"}`` of each input file of ``files`` (label → path), in
    order: ``path`` resolved (absolute), ``sha256`` 64 hex digits of the file's bytes, ``bytes`` its
    size. The same records go into a run's provenance (``input_files``) and its :class:`Fingerprint`.
    Raises :class:`~orbitshare.errors.DataError` when a path is not a regular file.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "els.csv"
    ...     _ = p.write_bytes(b"abc")
    ...     [(r["label"], r["sha256"][:12], r["bytes"]) for r in input_records({"elements": p})]
    [('elements', 'ba7816bf8f01', 3)]
    """
    out = []
    for label, p in files.items():
        path = Path(p)
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError:
            regular = False
        if not regular:
            raise DataError(f"{path}: input {label} is not a regular file")
        out.append(
            {"label": label, "path": str(path.resolve()), "sha256": file_sha256(path), "bytes": path.stat().st_size}
        )
    return out


@dataclass(frozen=True)
class Fingerprint:
    """What a checkpoint must match to be resumed.

    config : :func:`config_fingerprint` of the resolved configuration (64 hex digits)
    inputs : ``(label, path, sha256)`` of every input file the pass reads (see :func:`input_records`)
    geography : the geography's cache key (text; "" when unknown)

    >>> fp = Fingerprint.of("0" * 64, [{"label": "elements", "path": "/d/els.csv", "sha256": "ab" * 32, "bytes": 3}])
    >>> fp.inputs
    (('elements', '/d/els.csv', 'abababababababababababababababababababababababababababababababab'),)
    """

    config: str
    inputs: tuple[tuple[str, str, str], ...] = ()
    geography: str = ""

    @classmethod
    def of(cls, config: str, records: Iterable[Mapping[str, Any]] = (), geography: str = "") -> Fingerprint:
        """The fingerprint of ``config`` (64 hex digits), the :func:`input_records` ``records`` and the
        ``geography`` cache key."""
        inputs = tuple((str(r["label"]), str(r["path"]), str(r["sha256"])) for r in records)
        return cls(str(config), inputs, str(geography))

    def inputs_json(self) -> str:
        """The inputs and geography key as the JSON text a checkpoint stores (member ``inputs``)."""
        files = [{"label": a, "path": p, "sha256": h} for a, p, h in self.inputs]
        return json.dumps({"files": files, "geography": self.geography}, sort_keys=True)


# ============================================================================ reading
def _bad(path: Path, what: str) -> ResultsError:
    """The one-line refusal of the checkpoint ``path``: ``what`` is wrong (newlines folded)."""
    return ResultsError(f"{path}: {' '.join(what.split())}; {_AGAIN}")


def _refuse_links(path: Path) -> None:
    """A symbolic link as the checkpoint directory or file is never followed."""
    for p, what in ((path.parent, "directory"), (path, "file")):
        if p.is_symlink():
            raise ResultsError(
                f"{p}: the checkpoint {what} is a symbolic link (to {os.readlink(p)}); a checkpoint is read and "
                "written only inside the run directory: remove the link, or choose another --out"
            )


def _open_regular(path: Path) -> tuple[IO[bytes], int]:
    """``path`` opened for reading without following a link or blocking on a FIFO; (file, bytes)."""
    _refuse_links(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _bad(path, f"unreadable checkpoint ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _bad(path, "the checkpoint is not a regular file")
    return os.fdopen(fd, "rb"), st.st_size


def _member_headers(path: Path, zf: zipfile.ZipFile, size: int) -> dict[str, tuple[zipfile.ZipInfo, np.dtype, tuple]]:
    """member → (zip entry, dtype, shape), from the ``.npy`` headers, every member checked."""
    infos = zf.infolist()
    seen: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if name not in _MEMBERS:
            raise _bad(
                path,
                f"unknown member {info.filename!r} ({info.file_size} bytes), not loaded; a checkpoint holds "
                f"only {', '.join(_MEMBERS)}",
            )
        if name in seen:
            raise _bad(path, f"member {name!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise _bad(path, f"member {name!r} is compressed; a checkpoint is written uncompressed")
        seen[name] = info
    missing = [m for m in _MEMBERS if m not in seen and m not in _OPTIONAL]
    if missing:
        raise _bad(
            path, f"member {missing[0]!r} is missing; expected {', '.join(m for m in _MEMBERS if m not in _OPTIONAL)}"
        )
    total = sum(i.file_size for i in seen.values())
    if total > size:
        raise _bad(path, f"the members declare {total} bytes, more than the file's {size}")
    out = {}
    for name, info in seen.items():
        kind, ndim = _MEMBERS[name]
        try:
            with zf.open(info) as fp:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"npy format version {version}")
                offset = fp.tell()
        except Exception as exc:
            raise _bad(path, f"member {name!r} has no readable array header ({exc})") from None
        if (dtype.kind != "U" if kind == "U" else dtype != np.dtype(kind)) or len(shape) != ndim:
            want = "a text scalar" if kind == "U" else f"{kind} with {ndim} dimension(s)"
            raise _bad(path, f"member {name!r} is {dtype} of shape {shape}, expected {want}")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise _bad(path, f"member {name!r} declares {nbytes} bytes of data, it holds {info.file_size - offset}")
        out[name] = (info, dtype, tuple(shape))
    return out


def _check_shapes(path: Path, shapes: dict[str, tuple], nsteps: int) -> None:
    """Every array fits the state's (nsys, nlat, nlon) and ``nsteps``."""
    cells = shapes["sum_visible"]
    nsys = cells[0]
    expect: dict[str, tuple] = {"err_steps": (nsys,), "delivered": (nsys, nsteps), "offered": (nsys, nsteps)}
    expect["counts"] = (nsys, nsteps, *cells[1:])
    expect["union_sum"] = cells[1:]
    if "effective_sum" in shapes:  # (nsys, nband, nlat, nlon): the band count is the state's own
        expect["effective_sum"] = (nsys, shapes["effective_sum"][1], *cells[1:])
    for name, shape in shapes.items():
        want = cells if _MEMBERS[name][1] == 3 else expect.get(name, shape)
        if shape != want:
            raise _bad(path, f"member {name!r} has shape {shape}, expected {want}")
    for group in (_CAPACITY, _SHARING):
        have = [m for m in group if m in shapes]
        if have and len(have) != len(group):
            raise _bad(path, f"member {have[0]!r} without {', '.join(m for m in group if m not in shapes)}")


def _check_values(path: Path, data: dict[str, Any], nsteps: int) -> None:
    """Counts and run lengths within ``0 .. nsteps``, float sums finite, gap runs consistent."""
    for name in ("err_steps", "sum_visible", "counts"):
        a = data.get(name)
        if a is not None and a.size and a.min() < 0:
            raise _bad(path, f"member {name!r} has a negative value ({a.min()}); expected counts >= 0")
    for name in (*_RUNS, "inline_steps"):
        a = data.get(name)
        if a is not None and a.size and (a.min() < 0 or a.max() > nsteps):
            bad = a.min() if a.min() < 0 else a.max()
            raise _bad(path, f"member {name!r} has the value {bad}; expected step counts in 0 .. {nsteps}")
    for name in (*_CAPACITY, "effective_sum", "union_sum"):
        a = data.get(name)
        if a is not None and not np.isfinite(a).all():
            raise _bad(path, f"member {name!r} holds NaN or infinity; expected finite sums")
    allg = data["all_gap"]
    full = (data["lead_run"] == nsteps) & (data["trail_run"] == nsteps) & (data["max_inner_run"] == 0)
    if not np.array_equal(allg, allg & full):
        raise _bad(path, f"cells marked all_gap have gap runs other than {nsteps} steps")


def _check_scalars(path: Path, data: dict[str, Any], want: Fingerprint, config_file: Path | None) -> int:
    """The configuration fingerprint, then chunks_done, chunk_steps and nsteps fitting together; nsteps."""
    fp = str(data["fingerprint"])
    if fp != want.config:
        made_by = config_file if config_file is not None else path.parent.parent / "experiment.toml"
        raise ResultsError(
            f"{path}: the checkpoint was made by another configuration (fingerprint {fp[:12]} != "
            f"{want.config[:12]}); resume with the experiment that made it "
            f"({made_by}), or {_AGAIN}"
        )
    chunks_done, chunk_steps, nsteps = (int(data[k]) for k in ("chunks_done", "chunk_steps", "nsteps"))
    last_chunk = (chunks_done - 1) * chunk_steps < nsteps <= chunks_done * chunk_steps
    if chunk_steps < 1 or chunks_done < 0 or not (last_chunk or chunks_done == nsteps == 0):
        raise _bad(
            path,
            f"{chunks_done} chunk(s) of {chunk_steps} steps do not hold {nsteps} steps; expected "
            "chunk_steps >= 1, chunks_done >= 0 and the last step in the last chunk",
        )
    return nsteps


def read_checkpoint(path: Path, fingerprint: str | Fingerprint, *, config_file: Path | None = None) -> dict[str, Any]:
    """The ``resume`` mapping of the streaming pass stored in the checkpoint ``path``.

    Returns ``chunks_done`` (int), ``chunk_steps`` (int, time steps per chunk), ``state`` (the merged
    :class:`~orbitshare.kernels.chunkstate.ChunkState`, ``counts`` None), ``err_steps`` (int64[nsys]),
    ``counts`` (int16[nsys, steps done, nlat, nlon] or None) and ``inputs`` (the stored
    :class:`Fingerprint`, for :func:`check_inputs`). Raises :class:`~orbitshare.errors.ResultsError`
    when the file is a symbolic link (or in one), cannot be read, has an unknown, missing or
    ill-typed member or values out of range (module docstring), or was written by a configuration
    of another ``fingerprint`` (``config_file``, default ``<run>/experiment.toml``, is named as the
    experiment that made it); with a :class:`Fingerprint` also when an input changed
    (:func:`check_inputs`).
    """
    path = Path(path)
    want = fingerprint if isinstance(fingerprint, Fingerprint) else Fingerprint(str(fingerprint))
    f, size = _open_regular(path)
    data: dict[str, Any] = {}
    try:
        with f, zipfile.ZipFile(f) as zf:
            headers = _member_headers(path, zf, size)

            def load(names: Iterable[str]) -> None:
                for name in names:
                    with zf.open(headers[name][0]) as member:
                        data[name] = np.lib.format.read_array(member, allow_pickle=False)

            load(m for m in headers if _MEMBERS[m][1] == 0)  # the scalars first: checked before any array
            nsteps = _check_scalars(path, data, want, config_file)
            stored = _stored_fingerprint(path, want.config, str(data["inputs"]))
            _check_shapes(path, {k: v[2] for k, v in headers.items()}, nsteps)
            load(m for m in headers if _MEMBERS[m][1] > 0)
    except ResultsError:
        raise
    except Exception as exc:
        raise _bad(path, f"unreadable checkpoint ({exc})") from None
    _check_values(path, data, nsteps)
    fields: dict[str, Any] = {k: data.get(k) for k in STATE_FIELDS}
    state = ChunkState(nsteps, counts=None, **fields)
    resume = {
        "chunks_done": int(data["chunks_done"]),
        "chunk_steps": int(data["chunk_steps"]),
        "state": state,
        "err_steps": data["err_steps"],
        "counts": data.get("counts"),
        "inputs": stored,
    }
    if isinstance(fingerprint, Fingerprint):
        check_inputs(path, resume, fingerprint)
    return resume


def _stored_fingerprint(path: Path, config: str, text: str) -> Fingerprint:
    """The :class:`Fingerprint` of the member ``inputs`` (JSON text)."""
    try:
        obj = json.loads(text)
        files = [(str(d["label"]), str(d["path"]), str(d["sha256"])) for d in obj["files"]]
        return Fingerprint(config, tuple(files), str(obj["geography"]))
    except Exception as exc:
        raise _bad(path, f"member 'inputs' is not the JSON of the input files ({type(exc).__name__}: {exc})") from None


def _key_changes(old: str, new: str) -> str:
    """The top-level keys in which two geography cache keys (JSON objects) differ, or both texts."""
    try:
        a, b = json.loads(old), json.loads(new)
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys)
    except Exception:
        return f"{old!r} -> {new!r}"


def check_inputs(path: Path, resume: Mapping[str, Any], fingerprint: Fingerprint) -> None:
    """Refuse (:class:`~orbitshare.errors.ResultsError`, naming the file) a checkpoint ``resume`` (from
    :func:`read_checkpoint` of ``path``) whose input files or geography differ from ``fingerprint``'s:
    a file with another sha256, one read now but not then, or the other way round. Files are matched
    by label; a moved file of the same content is the same input."""
    stored: Fingerprint = resume["inputs"]
    then = {label: (p, h) for label, p, h in stored.inputs}
    now = {label: (p, h) for label, p, h in fingerprint.inputs}
    for label, (p, h) in now.items():
        if label not in then:
            raise ResultsError(
                f"{path}: input {label} ({p}) was not an input of the checkpointed run; resume with the "
                f"inputs that made it, or {_AGAIN}"
            )
        if then[label][1] != h:
            raise ResultsError(
                f"{path}: input {label} ({p}) changed since the checkpoint was written (sha256 "
                f"{then[label][1][:12]} != {h[:12]}); resume with the inputs that made it, or {_AGAIN}"
            )
    for label, (p, _) in then.items():
        if label not in now:
            raise ResultsError(
                f"{path}: input {label} ({p}) of the checkpointed run is no longer read; resume with the "
                f"inputs that made it, or {_AGAIN}"
            )
    if stored.geography != fingerprint.geography:
        raise ResultsError(
            f"{path}: the geography changed since the checkpoint was written "
            f"({_key_changes(stored.geography, fingerprint.geography)}); {_AGAIN}"
        )


# ============================================================================ writing
def write_checkpoint(path: Path, fingerprint: str | Fingerprint, info: dict[str, Any]) -> None:
    """Write the ``on_chunk`` mapping ``info`` of the streaming pass (``state``, ``counts``,
    ``chunks_done``, ``chunk_steps``, ``err_steps``) to ``path`` with ``fingerprint`` (a
    :class:`Fingerprint`, or the configuration's alone), atomically: a temporary file in the same
    directory (created if needed), fsync'ed, then ``os.replace``; a killed write leaves the previous
    checkpoint. Raises :class:`~orbitshare.errors.ResultsError` when the checkpoint directory is a
    symbolic link or the file cannot be written (disk full, ...), no temporary file left behind."""
    path = Path(path)
    fp = fingerprint if isinstance(fingerprint, Fingerprint) else Fingerprint(str(fingerprint))
    state = info["state"]
    arrays = {k: getattr(state, k) for k in STATE_FIELDS if getattr(state, k) is not None}
    if info.get("counts") is not None:
        arrays["counts"] = info["counts"]
    _refuse_links(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"{path.parent}: cannot make the checkpoint directory ({exc.strerror or exc})") from None
    _refuse_links(path)  # a link made between the first check and mkdir
    tmp = path.parent / f".state.{os.getpid()}.tmp.npz"
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                fingerprint=np.array(fp.config),
                inputs=np.array(fp.inputs_json()),
                chunks_done=np.int64(info["chunks_done"]),
                chunk_steps=np.int64(info["chunk_steps"]),
                nsteps=np.int64(state.nsteps),
                err_steps=np.asarray(info["err_steps"], np.int64),
                **arrays,
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot write the checkpoint ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def clear_stale_temporaries(path: Path) -> None:
    """Remove the temporary files a killed :func:`write_checkpoint` of ``path`` left behind (nothing
    when the checkpoint directory is a symbolic link: it is not followed)."""
    directory = Path(path).parent
    if directory.is_symlink() or not directory.is_dir():
        return
    for p in directory.glob(_TMP_GLOB):
        if p.is_file() or p.is_symlink():
            with contextlib.suppress(OSError):
                p.unlink()


def remove_checkpoint(path: Path) -> None:
    """Remove the checkpoint ``path`` and its directory when that is then empty (a finished run);
    a checkpoint directory that is a symbolic link is left alone (not followed)."""
    path = Path(path)
    if path.parent.is_symlink():
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()
