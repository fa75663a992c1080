"""The one backend dispatch of the streaming pass: ``cpu`` | ``dask`` | ``cuda``.

:func:`chunk_source` is where the engine chooses how each time chunk is computed; whichever it is,
it yields ``(chunk TimeGrid, ChunkState, err_steps int64[nsys])`` for the chunks in time order, and
:func:`orbitshare.engine.stream.run_pass` merges them the same way:

* ``"cpu"`` — this process: SGP4 → ITRS for all satellites of the chunk, then the Numba chunk kernel
  over the machine's cores (:func:`orbitshare.engine.chunk.propagate_and_accumulate`, the
  propagation arrays reused from chunk to chunk);
* ``"dask"`` — one task per (time chunk × system) on a Dask cluster
  (:mod:`orbitshare.engine.dask_backend`; each task the same ``propagate_and_accumulate``), stacked
  along the system axis: identical bits;
* ``"cuda"`` — SGP4, ITRS and the footprint statistics on the GPU (:mod:`orbitshare.kernels.cuda`),
  the same integer statistics and capacity sums to 1e-12 relative. It refuses, in one line, the
  capacity allocation (:data:`ALLOCATION_NOT_ON_CUDA`) and the co-frequency sharing pass that
  overlapping bands need (:data:`INLINE_NOT_ON_CUDA`).

With overlapping bands (``inputs.spectrum``) each chunk also carries the sharing sums of
:mod:`orbitshare.kernels.spectrum` (:func:`orbitshare.engine.chunk.sharing_sums`, all systems at once).

To add a backend: a generator here with the same contract, a name in :data:`BACKENDS`, and a test
that compares its merged state with the CPU's (``tests/engine``'s ``assert_backends_equal``).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numba
import numpy as np

from orbitshare.engine.chunk import err_steps, propagate_and_accumulate
from orbitshare.engine.passinputs import PassInputs, time_blocks
from orbitshare.engine.propagation import sgp4_params
from orbitshare.errors import BackendError, ParameterError
from orbitshare.kernels.chunkstate import ChunkState
from orbitshare.kernels.frames import itrs_rotations
from orbitshare.timegrid import TimeGrid

__all__ = [
    "ALLOCATION_NOT_ON_CUDA",
    "INLINE_NOT_ON_CUDA",
    "BACKENDS",
    "check_backend",
    "chunk_source",
    "cpu_chunks",
    "cuda_chunks",
]

#: The backends of the streaming pass.
BACKENDS = ("cpu", "dask", "cuda")

Chunks = Iterator[tuple[TimeGrid, ChunkState, np.ndarray]]


def check_backend(backend: str, client: Any = None) -> str:
    """The backend a pass will use: ``backend`` checked against ``client``.

    "cpu" with a Dask ``client`` means "dask"; "dask" needs a client; "cuda" runs in this process
    (no client) and needs a CUDA device. Raises ParameterError for an unknown name and BackendError
    (with the reason) when the backend cannot run here."""
    if backend not in BACKENDS:
        raise ParameterError(f"backend: expected 'cpu', 'dask' (with a client) or 'cuda', got {backend!r}")
    if backend == "dask" and client is None:
        raise BackendError("backend = 'dask' needs a Dask client (orbitshare.engine.dask_backend.get_client)")
    if backend == "cpu":
        return "dask" if client is not None else "cpu"
    if backend == "cuda":
        if client is not None:
            raise BackendError("backend = 'cuda' runs in this process: pass client=None (no Dask client)")
        _cuda_kernels()
    return backend


#: The one line with which the CUDA backend refuses the capacity allocation (not ported yet).
ALLOCATION_NOT_ON_CUDA = (
    "compute.backend = 'cuda': the capacity allocation (capacity.rule = 'maxmin' or 'throughput') has no CUDA "
    "port yet; use backend = 'cpu' or 'dask', or capacity.rule = 'proportional'"
)


#: The one line with which the CUDA backend refuses the co-frequency sharing pass (not ported yet).
INLINE_NOT_ON_CUDA = (
    "compute.backend = 'cuda': the co-frequency sharing of overlapping bands (the in-line test of [spectrum]) has "
    "no CUDA port yet; use backend = 'cpu' or 'dask', or systems whose bands do not overlap"
)


def _cuda_kernels() -> ModuleType:
    """The CUDA kernels module, imported only when a device is there (BackendError otherwise)."""
    from orbitshare.kernels.cuda_env import cuda_available

    ok, why = cuda_available()
    if not ok:
        raise BackendError(f"compute.backend = 'cuda': CUDA is not available ({why}); use backend = 'cpu' or 'dask'")
    from orbitshare.kernels import cuda as cuda_kernels

    return cuda_kernels


def cpu_chunks(inputs: PassInputs, times: TimeGrid) -> Chunks:
    """The pass's chunks of ``times`` computed in this process (Numba threads), all systems at once;
    the propagation arrays are reused from chunk to chunk."""
    nsys, nsat = inputs.nsys, inputs.nsat
    options = inputs.kernel_options()
    params, init_err = sgp4_params(inputs.elements) if nsat else (np.zeros((0, 1)), np.zeros(0, np.uint8))
    buffers = None
    for chunk in times.chunks(inputs.chunk_steps):
        n = len(chunk)
        # integer statistics do not depend on the blocks; capacity's float sums must not depend on the
        # thread count, so their partition depends on the chunk length only
        nblocks = time_blocks(n, inputs.capacity is not None, inputs.allocation is not None) or min(
            numba.get_num_threads(), n
        )
        st, buffers = propagate_and_accumulate(
            params,
            init_err,
            chunk,
            inputs.sat_sys,
            inputs.mask_rad,
            inputs.min_visible,
            inputs.geometry,
            keep_counts=inputs.keep_counts,
            nblocks=nblocks,
            buffers=buffers,
            **options,
        )
        yield chunk, st, err_steps(inputs.sat_sys, buffers[0], nsys)


def cuda_chunks(inputs: PassInputs, times: TimeGrid) -> Chunks:
    """The pass's chunks of ``times`` on the GPU: SGP4 → ITRS → footprints fused, positions never leave
    the device (:func:`orbitshare.kernels.cuda.cuda_coverage`)."""
    if inputs.allocation is not None:
        raise BackendError(ALLOCATION_NOT_ON_CUDA)
    if inputs.spectrum is not None:
        raise BackendError(INLINE_NOT_ON_CUDA)
    cuda_kernels = _cuda_kernels()
    nsys, nsat = inputs.nsys, inputs.nsat
    options = inputs.kernel_options()
    if not nsat:  # nothing to propagate: the CPU kernel gives each chunk's (empty) statistics
        yield from cpu_chunks(inputs, times)
        return
    params = sgp4_params(inputs.elements)[0]
    for chunk in times.chunks(inputs.chunk_steps):
        m, w, thd = itrs_rotations(
            *(
                np.ascontiguousarray(a, dtype=np.float64)
                for a in (chunk.ut1_jd, chunk.ut1_fr, chunk.xp, chunk.yp, chunk.sprime)
            )
        )
        st, e = cuda_kernels.cuda_coverage(
            params,
            chunk.jd,
            chunk.fr,
            m,
            w,
            thd,
            inputs.sat_sys,
            inputs.mask_rad,
            inputs.min_visible,
            *inputs.geometry[:5],
            cos_lon=inputs.geometry.cos_lon,
            sin_lon=inputs.geometry.sin_lon,
            keep_counts=inputs.keep_counts,
            **options,
        )
        inc = err_steps(inputs.sat_sys, e, nsys)
        del e
        yield chunk, st, inc


def chunk_source(backend: str, inputs: PassInputs, start: int = 0, *, client: Any = None) -> Chunks:
    """The chunks of the pass from step ``start`` on, computed by ``backend`` (see the module docstring).

    backend : "cpu", "dask" (with ``client``) or "cuda" (checked by :func:`check_backend`)
    inputs : the checked pass inputs; start : first step still to do (resume)
    client : a ``distributed.Client`` for "dask"
    """
    backend = check_backend(backend, client)
    times = inputs.times[start:] if start else inputs.times
    if backend == "dask":
        from orbitshare.engine.dask_backend import dask_pass_chunks

        return dask_pass_chunks(inputs, start, client=client)
    if backend == "cuda":
        return cuda_chunks(inputs, times)
    return cpu_chunks(inputs, times)
