"""The run directory: what a run owns in it, its lock, and the staging of a replacement run.

A run directory (``runs/<experiment name>`` or ``--out DIR``) holds the files a run wrote and two
files of its own:

==========================  ================================================================
``.orbitshare-run.json``    the manifest (:data:`MANIFEST`): ``version``, ``finished`` and
                            ``files``, the paths (relative, ``/``-separated) of every file the
                            run wrote or is about to write; written atomically, before the files
``.orbitshare.lock``        held locked (``fcntl.flock``, exclusive) for the lifetime of a run
                            (:data:`LOCK_FILE`): a second run or resume into it is refused
==========================  ================================================================

The rules:

* Only the files the manifest lists (and their temporaries, ``.<name>.*.tmp``) are ever replaced
  or deleted. A directory holding anything else, or holding files but no manifest, is refused
  (:class:`~orbitshare.errors.ResultsError`), even with ``overwrite`` or ``resume``; an empty one
  is used.
* A new run, and a resumed one, is built in place: its checkpoint lies where ``resume`` finds it.
* A run that replaces a FINISHED run (``overwrite``) is built in the staging directory
  ``.orbitshare-staging/`` of the run directory (:data:`STAGING`, a run directory of its own) and
  swapped in only when complete, so an interrupted replacement leaves the old run as it was;
  ``resume`` continues the replacement. The swap rolls forward: the staged run is marked finished
  (the commit), the run directory's manifest lists the old and the new files, the new files are
  moved in (``os.replace``), the old ones not written again are deleted, and the manifest then
  lists the new files only. A swap stopped half-way is completed by the next run into the
  directory. Everything happens inside the run directory, under its lock: its parent is not
  written, and a shell whose working directory it is stays there.
* The writers of a run write into ``.orbitshare-scratch/`` of the directory being built
  (:meth:`RunDirectory.open_scratch`); the files are listed in the manifest, then moved into place
  (:meth:`RunDirectory.adopt`). A write that fails leaves no temporary file behind; what a killed
  process left is swept by the next run (``resume`` or ``overwrite``).
* Before the results are written, the free space of the file system is checked against an
  estimate of their size (:meth:`RunDirectory.check_free_space`); a write that fails for want of
  space all the same is reported as a :class:`~orbitshare.errors.ResultsError`.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     with RunDirectory.open(Path(tmp) / "run", overwrite=False, resume=False) as rd:
...         _ = rd.write_text("notes.txt", "hello")
...         rd.finish()
...     sorted(p.name for p in (Path(tmp) / "run").iterdir())
['.orbitshare-run.json', '.orbitshare.lock', 'notes.txt']
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from orbitshare.atomic import atomic_path
from orbitshare.checkpoint import CHECKPOINT
from orbitshare.errors import ResultsError

if sys.platform != "win32":
    import fcntl

__all__ = [
    "LOCK_FILE",
    "MANIFEST",
    "SCRATCH",
    "STAGING",
    "Manifest",
    "RunDirectory",
    "read_manifest",
]

MANIFEST = ".orbitshare-run.json"
"""The manifest of a run directory: the files the run wrote."""
LOCK_FILE = ".orbitshare.lock"
"""The file a run holds locked (``flock``, exclusive) while it runs."""
SCRATCH = ".orbitshare-scratch"
"""The directory the writers of a run write into before their files are moved into place."""
STAGING = ".orbitshare-staging"
"""The directory, inside a run directory, where a run that replaces its finished run is built."""
MANIFEST_VERSION = 1
_MANIFEST_MAX_BYTES = 1 << 20  # a manifest lists a few dozen names
_CHECKPOINT = CHECKPOINT.as_posix()
_OWN = (MANIFEST, LOCK_FILE, SCRATCH, STAGING)
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# ============================================================================ the manifest
@dataclass
class Manifest:
    """What a run directory holds: ``files`` (relative ``/``-separated paths) and whether the run
    that wrote them ``finished``."""

    finished: bool = False
    files: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The manifest as JSON text."""
        doc = {"orbitshare_run": MANIFEST_VERSION, "finished": self.finished, "files": sorted(set(self.files))}
        return json.dumps(doc, indent=1) + "\n"


def _check_listed(path: Path, name: Any) -> str:
    """``name`` if it is a path a run may write (a file, or a file in a sub-directory), else ResultsError."""
    expected = "a relative path (a file, or a file in a sub-directory) that is not the directory's own"
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise ResultsError(f"{path}: files: expected {expected}, got {name!r}")
    p = PurePosixPath(name)
    bad_part = any(part in ("", ".", "..") for part in p.parts)
    if p.is_absolute() or len(p.parts) > 2 or bad_part or p.as_posix() != name or p.parts[0] in _OWN:
        raise ResultsError(f"{path}: files: expected {expected}, got {name!r}")
    return name


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of the run directory ``directory``, or None when it has none.

    Raises :class:`~orbitshare.errors.ResultsError` for a manifest that is not a regular file, is
    larger than 1 MiB, is not JSON, or lists a path outside the directory.
    """
    path = Path(directory) / MANIFEST
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror})") from None
    if not os.path.isfile(path) or os.path.islink(path):
        raise ResultsError(f"{path}: is not a regular file; not an orbitshare run manifest")
    if st.st_size > _MANIFEST_MAX_BYTES:
        raise ResultsError(f"{path}: {st.st_size} bytes, more than a manifest holds; not an orbitshare run manifest")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ResultsError(f"{path}: not an orbitshare run manifest ({type(exc).__name__}: {exc})") from None
    if (
        not isinstance(doc, dict)
        or doc.get("orbitshare_run") != MANIFEST_VERSION
        or not isinstance(doc.get("finished"), bool)
        or not isinstance(doc.get("files"), list)
    ):
        raise ResultsError(
            f"{path}: expected an orbitshare run manifest (version {MANIFEST_VERSION}, 'finished', 'files'); "
            "move the directory away or choose another --out"
        )
    return Manifest(finished=doc["finished"], files=[_check_listed(path, n) for n in doc["files"]])


def _write_manifest(directory: Path, manifest: Manifest) -> None:
    with atomic_path(directory / MANIFEST, overwrite=True) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(manifest.to_json())


def _fsync_dir(directory: Path) -> None:
    """Make the renames in ``directory`` durable (where the platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ============================================================================ what a run owns
def _is_temporary(name: str, listed: Iterable[str]) -> bool:
    """Whether ``name`` is a temporary file of one of the files ``listed`` (names in one directory):
    ``.<name>.<random>.tmp`` (:func:`~orbitshare.atomic.atomic_path`) or ``.<stem>.<id>.tmp<suffix>``
    (the checkpoint's)."""
    for n in listed:
        stem, suffix = os.path.splitext(n)
        if name.startswith(f".{n}.") and name.endswith(".tmp") and len(name) > len(n) + 6:
            return True
        if suffix and name.startswith(f".{stem}.") and name.endswith(f".tmp{suffix}"):
            return True
    return False


def _foreign(directory: Path, manifest: Manifest | None, *, staging: bool = True) -> list[str]:
    """The entries of ``directory`` (relative paths) that no run listed in ``manifest`` wrote.

    The directory's own entries (lock file, manifest, scratch directory and, with ``staging``, the
    staging directory) do not count; the staging directory's content is checked apart.
    """
    listed = set(manifest.files) if manifest is not None else set()
    top = {n for n in listed if "/" not in n} | {MANIFEST}  # (without a manifest: its temporaries)
    own_dirs = ({SCRATCH, STAGING} if staging else {SCRATCH}) if manifest is not None else set()
    subdirs: dict[str, set[str]] = {}
    for n in listed:
        if "/" in n:
            d, f = n.split("/", 1)
            subdirs.setdefault(d, set()).add(f)
    found: list[str] = []
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise ResultsError(f"{directory}: cannot be listed ({exc.strerror})") from None
    for e in entries:
        name = e.name
        if e.is_symlink():
            found.append(name)
        elif name == LOCK_FILE:
            if not e.is_file():
                found.append(name)
        elif name in own_dirs:
            if not e.is_dir():
                found.append(name)
        elif e.is_file() and (name in top or _is_temporary(name, top)):
            continue
        elif e.is_dir() and name in subdirs:
            own = subdirs[name]
            for s in sorted(os.scandir(e.path), key=lambda x: x.name):
                if s.is_symlink() or not s.is_file() or not (s.name in own or _is_temporary(s.name, own)):
                    found.append(f"{name}/{s.name}")
        else:
            found.append(name)
    return found


def _refuse_foreign(directory: Path, found: list[str], manifest: Manifest | None) -> None:
    if not found:
        return
    what = repr(found[0]) + (f" and {len(found) - 1} more" if len(found) > 1 else "")
    why = "that no orbitshare run wrote" if manifest is not None else f"and no orbitshare run manifest ({MANIFEST})"
    raise ResultsError(
        f"{directory}: exists and is not empty: holds {what} {why}; a run replaces only the files of a "
        "run (--overwrite, --resume): move them away, or pass --out with a new or empty directory"
    )


def _unlink(path: Path) -> None:
    """Remove the file ``path`` (a link itself, never its target; never a directory)."""
    with contextlib.suppress(FileNotFoundError):
        if not os.path.islink(path) and os.path.isdir(path):
            return
        os.unlink(path)


def _sweep(directory: Path, manifest: Manifest) -> None:
    """Remove the temporaries of the listed files and the scratch directory (after :func:`_foreign`)."""
    scratch = directory / SCRATCH
    if scratch.is_dir() and not scratch.is_symlink():
        shutil.rmtree(scratch, ignore_errors=True)
    groups: dict[str, set[str]] = {"": {MANIFEST}}
    for n in manifest.files:
        d, _, f = n.rpartition("/")
        groups.setdefault(d, set()).add(f)
    for d, names in groups.items():
        where = directory / d if d else directory
        if not where.is_dir() or where.is_symlink():
            continue
        for e in os.scandir(where):
            if e.is_file(follow_symlinks=False) and _is_temporary(e.name, names):
                _unlink(Path(e.path))


def _clear(directory: Path, manifest: Manifest) -> None:
    """Delete the files ``manifest`` lists and their temporaries; remove the sub-directories left empty."""
    _sweep(directory, manifest)
    for n in manifest.files:
        _unlink(directory / n)
    for n in manifest.files:
        if "/" in n:
            with contextlib.suppress(OSError):
                (directory / n).parent.rmdir()


def _has_output(directory: Path, manifest: Manifest) -> bool:
    return any(os.path.lexists(directory / n) for n in manifest.files)


# ============================================================================ staging
def _read_stage(out: Path) -> Manifest | None:
    """The manifest of the run staged in ``out`` (None: none); refuses a staging directory holding
    anything else, removes an empty one."""
    stage = out / STAGING
    if not stage.is_dir() or stage.is_symlink():  # (a symlink was refused as foreign)
        return None
    manifest = read_manifest(stage)
    _refuse_foreign(stage, _foreign(stage, manifest, staging=False), manifest)
    if manifest is None:
        _sweep(stage, Manifest())
        _unlink(stage / LOCK_FILE)
        with contextlib.suppress(OSError):
            stage.rmdir()
    return manifest


def _remove_stage(out: Path, staged: Manifest) -> None:
    """Delete the run staged in ``out`` (its listed files, temporaries, manifest) and its directory."""
    stage = out / STAGING
    _clear(stage, staged)
    _unlink(stage / MANIFEST)
    with contextlib.suppress(OSError):
        stage.rmdir()


def _swap_in(out: Path, old: Manifest, staged: Manifest) -> Manifest:
    """Move the finished run staged in ``out`` into ``out`` in place of the run ``old``; return the
    new manifest of ``out``. Rolls forward: run again after a stop half-way, it completes the swap."""
    stage = out / STAGING
    new = set(staged.files)
    _write_manifest(out, Manifest(finished=False, files=sorted(set(old.files) | new)))
    for n in sorted(new):
        if os.path.lexists(stage / n):
            (out / n).parent.mkdir(exist_ok=True)
            os.replace(stage / n, out / n)
    _fsync_dir(out)
    _clear(out, Manifest(files=[n for n in old.files if n not in new]))
    manifest = Manifest(finished=True, files=sorted(new))
    _write_manifest(out, manifest)
    _remove_stage(out, staged)
    return manifest


# ============================================================================ the lock
def _lock(directory: Path) -> int | None:
    """Lock ``directory`` for this process (``flock`` on its :data:`LOCK_FILE`); return the open
    descriptor (closing it releases the lock), None where ``flock`` does not exist (Windows)."""
    if sys.platform == "win32":  # pragma: no cover
        return None
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot open the run directory's lock file ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ResultsError(
            f"{directory}: another orbitshare run is using this run directory (it holds {LOCK_FILE} locked); "
            "wait for it to finish, or pass --out with another directory"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise ResultsError(f"{path}: cannot lock the run directory ({exc.strerror})") from None
    # the file locked must still be the one at the path (not unlinked by a run refused meanwhile)
    mine = os.fstat(fd)
    try:
        now = os.stat(path, follow_symlinks=False)
        same = (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        raise ResultsError(f"{directory}: its lock file was replaced while being locked; try again")
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


@contextlib.contextmanager
def locked(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the run directory's lock (an existing directory) for a read of its finished run;
    :class:`~orbitshare.errors.ResultsError` when another run holds it."""
    fd = _lock(Path(directory))
    try:
        yield
    finally:
        _unlock(fd)


# ============================================================================ the run directory
class RunDirectory:
    """A run directory locked by this process, and where its run is built (module docstring).

    ``out``: the run directory; ``build``: where the files go until :meth:`finish` (``out``, or
    its staging directory when a finished run is being replaced); ``resume``: True when an
    unfinished run is continued (its checkpoint, if any, is in ``build``). Open with :meth:`open`;
    use as a context manager, or call :meth:`close`, to release the lock.
    """

    def __init__(self, out: Path, build: Path, manifest: Manifest, lock: int | None, *, resume: bool) -> None:
        self.out = out
        self.build = build
        self._origin = build
        self.manifest = manifest
        self.resume = resume
        self.written: set[str] = set()
        self._lock = lock

    @property
    def staged(self) -> bool:
        """True while the run is built in the staging directory (it replaces a finished run)."""
        return self.build != self.out

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, out: str | os.PathLike[str], *, overwrite: bool, resume: bool) -> RunDirectory:
        """Lock the run directory ``out`` (created if needed) and decide where the run is built.

        A new or empty directory: a new run, in place. An unfinished run: refused, unless
        ``resume`` (continued in place) or ``overwrite`` (its files deleted, a new run in place). A
        finished run: refused, unless ``overwrite`` (a new run in the staging directory) or
        ``resume`` with an interrupted replacement staged (continued). Anything else in the
        directory is refused. Raises :class:`~orbitshare.errors.ResultsError` naming the directory.
        """
        out = Path(os.path.abspath(out))
        if os.path.lexists(out) and not out.is_dir():
            raise ResultsError(f"{out}: exists and is not a directory; choose another --out")
        new_dir = not out.is_dir()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"{out}: cannot create the run directory ({exc.strerror})") from None
        new_lock = not os.path.lexists(out / LOCK_FILE)
        lock = _lock(out)
        try:
            return cls._open_locked(out, lock, overwrite=overwrite, resume=resume)
        except BaseException:
            if new_lock:  # refused: leave the directory as it was (still locked while unlinking)
                _unlink(out / LOCK_FILE)
            _unlock(lock)
            if new_dir:
                with contextlib.suppress(OSError):
                    out.rmdir()
            raise

    @classmethod
    def _open_locked(cls, out: Path, lock: int | None, *, overwrite: bool, resume: bool) -> RunDirectory:
        manifest = read_manifest(out)
        _refuse_foreign(out, _foreign(out, manifest), manifest)
        if manifest is None:  # empty (but for the temporary of a first manifest, killed)
            _sweep(out, Manifest())
            return cls._fresh(out, out, lock)
        staged = _read_stage(out)
        if staged is not None and staged.finished:  # a swap stopped half-way: complete it
            manifest, staged = _swap_in(out, manifest, staged), None
        if not manifest.finished:
            if staged is not None:  # (a staged run replaces a finished run only)
                _remove_stage(out, staged)
            return cls._open_unfinished(out, manifest, lock, overwrite=overwrite, resume=resume)
        stage = out / STAGING
        if resume and staged is not None:  # an interrupted replacement
            _sweep(stage, staged)
            return cls(out, stage, staged, lock, resume=True)
        if not overwrite:
            hint = (
                f" (an interrupted --overwrite waits in {stage}: pass --overwrite --resume to continue it)"
                if staged is not None
                else ""
            )
            raise ResultsError(
                f"{out}: holds a finished run; pass --overwrite to replace it, or --out DIR to write elsewhere{hint}"
            )
        if staged is not None:
            _remove_stage(out, staged)
        stage.mkdir(exist_ok=True)
        return cls._fresh(out, stage, lock)

    @classmethod
    def _open_unfinished(
        cls, out: Path, manifest: Manifest, lock: int | None, *, overwrite: bool, resume: bool
    ) -> RunDirectory:
        if resume:
            _sweep(out, manifest)
            return cls(out, out, manifest, lock, resume=True)
        if overwrite or not _has_output(out, manifest):
            _clear(out, manifest)
            return cls._fresh(out, out, lock)
        if (out / CHECKPOINT).exists():
            raise ResultsError(
                f"{out}: holds an interrupted run ({CHECKPOINT}); pass --resume to continue it, "
                "or --overwrite to start over"
            )
        raise ResultsError(
            f"{out}: exists and is not empty (an unfinished run); pass --overwrite to replace its "
            "contents, --resume to continue a run stopped before its first checkpoint, or --out DIR "
            "to write elsewhere"
        )

    @classmethod
    def _fresh(cls, out: Path, build: Path, lock: int | None) -> RunDirectory:
        manifest = Manifest(finished=False, files=[_CHECKPOINT])
        _write_manifest(build, manifest)
        return cls(out, build, manifest, lock, resume=False)

    # ------------------------------------------------------------------ writing
    def record(self, names: Iterable[str]) -> None:
        """List ``names`` (relative paths) in the manifest, before they are written."""
        new = [_check_listed(self.build / MANIFEST, n) for n in names]
        self.written.update(new)
        if set(new) - set(self.manifest.files):
            self.manifest.files = sorted(set(self.manifest.files) | set(new))
            _write_manifest(self.build, self.manifest)

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` (UTF-8) to the file ``name`` of the run, atomically; return its path."""
        self.record([name])
        path = self.build / name
        path.parent.mkdir(exist_ok=True)
        with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        return path

    def check_free_space(self, nbytes: int) -> None:
        """:class:`~orbitshare.errors.ResultsError` unless the file system of the run has ``nbytes``
        bytes free (the estimated size of the files about to be written)."""
        free = shutil.disk_usage(self.build).free
        if free < nbytes:
            raise ResultsError(
                f"{self.out}: {free / 1e6:.1f} MB free on its file system, the results need about "
                f"{nbytes / 1e6:.1f} MB; free some space, then pass --resume to continue from the checkpoint"
            )

    def open_scratch(self) -> Path:
        """A new, empty scratch directory for the writers; their files go into the run with
        :meth:`adopt`. Leaving the ``with`` block with an exception removes it, with whatever a
        failed write left in it."""
        path = self.build / SCRATCH
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        path.mkdir()
        return path

    def adopt(self, paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
        """Move files written into :meth:`open_scratch` into the run (listed in the manifest first);
        return their new paths. A file of that name that the run does not own is refused."""
        scratch = self.build / SCRATCH
        names = [Path(p).resolve().relative_to(scratch.resolve()).as_posix() for p in paths]
        for n in names:
            if "/" in n:
                raise ResultsError(f"{scratch / n}: a run writes files, not directories")
            target = self.build / n
            if os.path.lexists(target) and (n not in self.manifest.files or target.is_symlink()):
                raise ResultsError(f"{target}: appeared during the run and was not written by it; left as it is")
        self.record(names)
        for n in names:
            os.replace(scratch / n, self.build / n)
        _fsync_dir(self.build)
        with contextlib.suppress(OSError):
            scratch.rmdir()
        return [self.build / n for n in names]

    # ------------------------------------------------------------------ the end
    def finish(self) -> None:
        """The run is complete: delete the files listed by an earlier attempt and not written by
        this run, mark the manifest finished, and swap a staged run into place."""
        stale = [n for n in self.manifest.files if n not in self.written]
        _clear(self.build, Manifest(files=stale))
        self.manifest = Manifest(finished=True, files=sorted(self.written))
        _write_manifest(self.build, self.manifest)  # for a staged run: the commit of the swap
        if self.staged:
            old = read_manifest(self.out)
            _refuse_foreign(self.out, _foreign(self.out, old), old)  # what appeared meanwhile stays
            self.manifest = _swap_in(self.out, old or Manifest(), self.manifest)
            self.build = self.out

    def final(self, path: str | os.PathLike[str]) -> Path:
        """Where the file ``path`` of the run being built is once the run has finished."""
        return self.out / Path(path).relative_to(self._origin)

    def close(self) -> None:
        """Release the lock."""
        _unlock(self._lock)
        self._lock = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:  # the temporaries of a failed write
            scratch = self.build / SCRATCH
            if scratch.is_dir() and not scratch.is_symlink():
                shutil.rmtree(scratch, ignore_errors=True)
        self.close()
        if isinstance(exc, OSError) and (exc.errno in _NO_SPACE or "No space left" in str(exc)):
            raise ResultsError(
                f"{self.out}: its file system is full ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "free some space, then pass --resume to continue from the checkpoint"
            ) from exc
