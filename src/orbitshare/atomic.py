"""Atomic files: write next to the target, fsync, then move into place (nothing half-written).

Every file orbitshare writes (results, tables, figures, reports, caches, downloads) goes through
:func:`atomic_path`, so an interrupted or failed write leaves the previous file, or none.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orbitshare.errors import ResultsError

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = False, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and move it to ``path``.

    Refuses an existing ``path`` unless ``overwrite`` (``FileExistsError`` naming it), both before
    and at the moment of the move (a no-clobber hard link when not overwriting), and a ``path``
    whose directory does not exist (:class:`~orbitshare.errors.ResultsError`). On any exception
    the temporary file is deleted and ``path`` is left as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(_exists_message(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ResultsError(f"{path}: directory {directory} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # writers (HDF5) create the file themselves
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"{path}: nothing was written")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(_exists_message(path)) from None
            except OSError:  # no hard links on this file system: check, then replace
                if path.exists():
                    raise FileExistsError(_exists_message(path)) from None
                os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _exists_message(path: Path) -> str:
    return f"{path}: file exists; pass overwrite=True to replace it, or choose another path"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
