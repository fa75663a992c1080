"""The only place Numba options are set.

``cache=True`` stores compiled machine code on disk so a second run skips compilation;
``nogil=True`` lets threads (and Dask) run kernels concurrently; fastmath stays off, because
NaN marks decayed satellites and SGP4 must match the reference bit for bit in spirit.
"""

from typing import Any

import numba

#: options every orbitshare kernel is compiled with (a keyword argument of njit/pjit overrides one)
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit`` with orbitshare's options (scalar helpers, serial kernels)."""
    opts = dict(JIT_OPTIONS)
    opts.update(kwargs)
    if args and callable(args[0]):
        return numba.njit(**opts)(args[0])
    return numba.njit(*args, **opts)


def pjit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit(parallel=True)`` with orbitshare's options (outermost ``prange`` only)."""
    opts = dict(JIT_OPTIONS)
    opts["parallel"] = True
    opts.update(kwargs)
    if args and callable(args[0]):
        return numba.njit(**opts)(args[0])
    return numba.njit(*args, **opts)
