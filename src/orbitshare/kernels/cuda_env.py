"""CUDA backend environment: availability detection, a NumPy compatibility shim, ``orbitshare info`` line.

Nothing here imports ``numba.cuda`` at module import time, so ``import orbitshare.kernels.cuda_env`` is
free on machines without CUDA. :func:`import_numba_cuda` is the one place the CUDA backend imports it.

The NumPy shim
--------------
numba-cuda (0.30.x) registers an overload for ``np.row_stack`` when its array support is first
loaded, which happens at the first kernel compilation. NumPy 2.5 removed ``np.row_stack`` (deprecated
since 2.0 in favour of ``np.vstack``), so the first compile fails with
``AttributeError: module 'numpy' has no attribute 'row_stack'``. :func:`install_numpy_shim` sets
``np.row_stack = np.vstack`` *only* when the attribute is missing, and it is called only when the CUDA
backend is imported (never by ``import orbitshare``), so CPU-only users see an unmodified NumPy.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from types import ModuleType

import numpy as np

from orbitshare.errors import BackendError

__all__ = [
    "cuda_available",
    "cuda_info",
    "import_numba_cuda",
    "install_numpy_shim",
    "numpy_shim_status",
    "simulator_enabled",
]

_SHIM_INSTALLED = False
#: The NumPy attribute the shim restores, named through a variable: written as an attribute access,
#: ruff's NPY201 fix would rewrite it to ``np.vstack`` (and did once, turning the shim into a no-op).
_ROW_STACK = "row_stack"


def install_numpy_shim() -> bool:
    """Give NumPy ≥ 2.5 back ``np.row_stack`` (= ``np.vstack``) for numba-cuda; True if installed now
    or earlier by this function, False when NumPy still has its own ``row_stack`` (nothing done)."""
    global _SHIM_INSTALLED
    if _SHIM_INSTALLED:
        return True
    if not hasattr(np, _ROW_STACK):
        # numba-cuda overloads np.row_stack at its first compile; NumPy 2.5 removed it. The two are the
        # same function (NumPy's own deprecation note), so aliasing is exact. Installed only by the
        # CUDA backend.
        setattr(np, _ROW_STACK, np.vstack)
        _SHIM_INSTALLED = True
    return _SHIM_INSTALLED


def numpy_shim_status() -> str:
    """``"installed"`` (np.row_stack aliased to np.vstack), ``"not needed"`` or ``"not installed"``."""
    if _SHIM_INSTALLED:
        return "installed"
    return "not needed" if hasattr(np, _ROW_STACK) else "not installed"


def simulator_enabled() -> bool:
    """True when Numba's CUDA simulator is selected (``NUMBA_ENABLE_CUDASIM=1``; read by numba.cuda at
    its import, so it must be set before that)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip() not in ("", "0")


def import_numba_cuda() -> ModuleType:
    """Install the NumPy shim and import ``numba.cuda``; returns the module.

    Raises :class:`orbitshare.errors.BackendError` with a fix when numba-cuda is missing."""
    install_numpy_shim()
    try:
        from numba import cuda
    except Exception as exc:  # pragma: no cover - depends on the installation
        raise BackendError(
            f"compute.backend = 'cuda': numba.cuda cannot be imported ({exc.__class__.__name__}: {exc}); "
            "install the CUDA extra: pip install 'orbitshare[cuda]' (numba-cuda)"
        ) from exc
    return cuda


def cuda_available() -> tuple[bool, str]:
    """(available, reason or device description). Never raises."""
    try:
        cuda = import_numba_cuda()
    except Exception as exc:
        return False, f"numba.cuda not importable ({exc.__class__.__name__}: {exc})"
    try:
        if simulator_enabled():
            return True, "Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1; for tests, not speed)"
        if not cuda.is_available():
            return False, "no CUDA driver or GPU found"
        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        cc = ".".join(str(c) for c in dev.compute_capability)
        return True, f"{name} (compute capability {cc})"
    except Exception as exc:
        return False, f"{exc.__class__.__name__}: {exc}"


def _numba_cuda_version() -> str:
    try:
        return version("numba-cuda")
    except Exception:  # missing (PackageNotFoundError) or unreadable metadata: say so, never raise
        return "not installed"


def cuda_info() -> str:
    """One line for ``orbitshare info``: availability (and why not), device, numba-cuda version, shim."""
    ok, what = cuda_available()
    head = f"cuda available: {what}" if ok else f"cuda not available: {what}"
    return f"{head}; numba-cuda {_numba_cuda_version()}; numpy.row_stack shim {numpy_shim_status()}"
