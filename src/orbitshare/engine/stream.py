"""The one streaming pass: time chunks from a backend, merged exactly into one state.

Every engine output (coverage, spectrum, capacity) comes from one pass over the time steps:

1. :func:`orbitshare.engine.passinputs.prepare_pass` checks the inputs once and turns the systems
   into the kernel's arrays (:class:`~orbitshare.engine.passinputs.PassInputs`: concatenated
   element sets, the system index of each satellite, masks in rad, the grid's row geometry, and
   optionally the capacity per satellite (Mbit/s) and cell weights);
2. :func:`orbitshare.engine.backends.chunk_source` yields, chunk after chunk in time order, the
   per-chunk :class:`~orbitshare.kernels.chunkstate.ChunkState` computed on this machine's cores
   ("cpu"), on a Dask cluster ("dask") or on a GPU ("cuda");
3. :func:`run_pass` merges them in time order (:func:`~orbitshare.kernels.chunkstate.merge_chunk_states`:
   exact for the integer statistics; the capacity float sums use a time-block partition that depends
   on the chunk length only), resumes from a checkpoint, and reports each finished chunk.

Nothing of size satellites × steps × cells is ever held: memory is one chunk of positions plus the
per-cell state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from orbitshare.engine.backends import chunk_source
from orbitshare.engine.passinputs import PassInputs
from orbitshare.errors import ParameterError
from orbitshare.kernels.chunkstate import ChunkState, empty_chunk_state, merge_chunk_states

__all__ = ["CountsSink", "PassResult", "run_pass"]


class CountsSink(Protocol):
    """Where per-step counts go when they are not kept in memory (e.g. a netCDF file)."""

    def append(self, time: np.ndarray, counts: np.ndarray) -> None: ...


@dataclass
class PassResult:
    """The merged result of a pass.

    state : the merged ChunkState of every step (``counts`` None)
    err_steps : int64[nsys]   satellite-steps skipped because SGP4 returned an error
    counts : int16[nsys, ntime, nlat, nlon] kept in memory, or None
    """

    state: ChunkState
    err_steps: np.ndarray
    counts: np.ndarray | None


_STATE_SHAPED = ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap")


def _resume_point(inputs: PassInputs, resume: Any) -> tuple[int, int, ChunkState, np.ndarray, np.ndarray | None]:
    """(chunks done, steps done, merged state, err_steps, counts done) from a checkpoint, checked."""
    nt, nsys, nlat, nlon = len(inputs.times), inputs.nsys, inputs.grid.nlat, inputs.grid.nlon
    chunks_total = -(-nt // inputs.chunk_steps)
    if resume is None:
        state = empty_chunk_state(
            nsys,
            nlat,
            nlon,
            count_any=inputs.count_any,
            capacity=inputs.float_sums,
            spectrum_bands=inputs.spectrum_bands,
        )
        return 0, 0, state, np.zeros(nsys, np.int64), None
    chunks_done = int(resume["chunks_done"])
    state = resume["state"]
    k0 = min(chunks_done * inputs.chunk_steps, nt)
    if state.nsteps != k0 or not 0 <= chunks_done <= chunks_total:
        raise ParameterError(
            f"resume: {chunks_done} chunk(s) of {inputs.chunk_steps} steps do not match the state's "
            f"{state.nsteps} steps"
        )
    expect = (nsys, nlat, nlon)
    for name in _STATE_SHAPED:
        if np.shape(getattr(state, name)) != expect:
            raise ParameterError(f"resume: state.{name} has shape {np.shape(getattr(state, name))}, expected {expect}")
    if (state.steps_any is None) == inputs.count_any or (state.capacity_sum is None) == inputs.float_sums:
        raise ParameterError("resume: the state was made with other options (count_any / capacity)")
    if (state.effective_sum is None) != (inputs.spectrum is None):
        raise ParameterError(
            "resume: the state was made with other options (co-frequency sharing: bands that overlap or not)"
        )
    err_steps = np.asarray(resume["err_steps"], np.int64).copy()
    return chunks_done, k0, state, err_steps, resume.get("counts") if inputs.keep_counts else None


def run_pass(
    inputs: PassInputs,
    *,
    backend: str = "cpu",
    client: Any = None,
    resume: Any = None,
    on_chunk: Callable[[dict[str, Any]], None] | None = None,
    counts_sink: CountsSink | None = None,
) -> PassResult:
    """Run the streaming pass: chunks from :func:`~orbitshare.engine.backends.chunk_source`, merged in
    time order.

    backend : "cpu" (Numba on this machine), "dask" (with ``client``; "cpu" with a client means
        "dask") or "cuda"; every backend gives the same result (see :mod:`orbitshare.engine.backends`)
    resume : None, or a mapping from an earlier ``on_chunk`` call of the same pass (same inputs and
        ``chunk_steps``): ``chunks_done`` (int), ``state`` (the merged ChunkState of those chunks,
        ``counts`` None), ``err_steps`` (int64[nsys]) and, with counts kept in memory, ``counts``
        (int16[nsys, steps done, nlat, nlon]). The finished chunks are not computed again; the chunk
        partition (and so every float sum) is unchanged, so the result is bit-identical.
    on_chunk : called after each merged chunk with ``chunks_done``, ``chunks_total``, ``chunk_steps``,
        ``steps_done``, ``steps_total``, ``state``, ``err_steps`` and ``counts`` (the in-memory counts
        of the finished steps, or None). The arrays are the pass's own: copy them, do not modify.
    counts_sink : with ``keep_counts``, receives each chunk's counts instead of memory (not with resume)
    """
    nt = len(inputs.times)
    nsys, nlat, nlon = inputs.nsys, inputs.grid.nlat, inputs.grid.nlon
    keep = inputs.keep_counts
    if resume is not None and counts_sink is not None:
        raise ParameterError("resume: not supported with time_series_path")
    chunks_done, k0, state, err_steps, counts_done = _resume_point(inputs, resume)
    chunks_total = -(-nt // inputs.chunk_steps)
    counts_mem: np.ndarray | None = None
    if keep and counts_sink is None:
        counts_mem = np.zeros((nsys, nt, nlat, nlon), np.int16)
        if k0:
            counts_mem[:, :k0] = counts_done
    parts: Iterator = iter(()) if k0 >= nt else chunk_source(backend, inputs, k0, client=client)
    try:
        for chunk, st, inc in parts:
            n = len(chunk)
            err_steps += inc
            if keep:
                if counts_sink is not None:
                    counts_sink.append(chunk.time, st.counts)
                elif counts_mem is not None:
                    counts_mem[:, k0 : k0 + n] = st.counts
                st = st._replace(counts=None)
            state = merge_chunk_states(state, st)
            k0 += n
            chunks_done += 1
            del st
            if on_chunk is not None:
                on_chunk(
                    {
                        "chunks_done": chunks_done,
                        "chunks_total": chunks_total,
                        "chunk_steps": inputs.chunk_steps,
                        "steps_done": k0,
                        "steps_total": nt,
                        "state": state,
                        "err_steps": err_steps,
                        "counts": counts_mem[:, :k0] if counts_mem is not None else None,
                    }
                )
    finally:
        if hasattr(parts, "close"):
            parts.close()  # cancels Dask tasks still in flight on an error
    return PassResult(state=state, err_steps=err_steps, counts=counts_mem)
