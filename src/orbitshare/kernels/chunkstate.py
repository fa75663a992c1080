"""Per-cell statistics of a chunk of time steps (:class:`ChunkState`) and their exact merge.

A chunk kernel (:func:`orbitshare.kernels.visibility.accumulate_chunk`, or the CUDA backend's
``cuda_accumulate_chunk``) returns one :class:`ChunkState` per chunk of consecutive steps; the
drivers merge them in time order with :func:`merge_chunk_states` and finish with
:func:`longest_gap`. The statistics (arrays [nsys, nlat, nlon]):

* ``sum_visible``   int64: satellites visible, summed over steps
* ``steps_covered`` int32: steps with count ≥ ``min_visible[system]``
* gap runs (a "gap" step has count < min_visible): ``lead_run`` (gap steps at the start of the
  chunk), ``trail_run`` (at its end), ``max_inner_run`` (longest gap touching neither end) and
  ``all_gap`` (every step a gap; then lead_run = trail_run = nsteps, max_inner_run = 0).

All of them merge exactly (integers); only ``capacity_sum`` (Mbps, summed over steps) and the
co-frequency sharing sums ``effective_sum`` / ``union_sum`` (MHz, summed over steps;
:mod:`orbitshare.kernels.spectrum`) are a float addition per cell.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import prange
from numpy.typing import ArrayLike

from orbitshare._jit import njit, pjit

__all__ = [
    "ChunkState",
    "empty_chunk_state",
    "longest_gap",
    "merge_chunk_states",
    "merge_gap_scalar",
    "merge_gap_states",
]


# --------------------------------------------------------------------------- gap-run merge
@njit
def merge_gap_scalar(lead1, trail1, inner1, all1, lead2, trail2, inner2, all2):
    """Merge the gap-run state of a chunk with that of the chunk that follows it (exact).

    Returns (lead, trail, inner, all_gap)."""
    if all1 and all2:
        return lead1 + lead2, trail1 + trail2, 0, True
    if all1:
        return lead1 + lead2, trail2, inner2, False
    if all2:
        return lead1, trail1 + trail2, inner1, False
    inner = inner1
    if inner2 > inner:
        inner = inner2
    m = trail1 + lead2
    if m > inner:
        inner = m
    return lead1, trail2, inner, False


@pjit  # lost in 7e1c4d7 (the loop then ran in Python, ~1 s per merge at 1°): integers, so the same bits
def _merge_gap_arrays(lead1, trail1, inner1, all1, lead2, trail2, inner2, all2):
    """Elementwise :func:`merge_gap_scalar` over flat arrays (int32, int32, int32, bool each)."""
    n = lead1.shape[0]
    lead = np.empty(n, np.int32)
    trail = np.empty(n, np.int32)
    inner = np.empty(n, np.int32)
    allg = np.empty(n, np.bool_)
    for q in prange(n):
        a, b, c, d = merge_gap_scalar(lead1[q], trail1[q], inner1[q], all1[q], lead2[q], trail2[q], inner2[q], all2[q])
        lead[q] = a
        trail[q] = b
        inner[q] = c
        allg[q] = d
    return lead, trail, inner, allg


# --------------------------------------------------------------------------- Python API
class ChunkState(NamedTuple):
    """Per-cell statistics of one chunk of consecutive time steps (arrays [nsys, nlat, nlon]).

    nsteps : int                 steps in the chunk
    sum_visible : int64          satellites visible, summed over steps
    steps_covered : int32        steps with count ≥ min_visible[system]
    lead_run : int32             gap steps at the start of the chunk (nsteps when all_gap)
    trail_run : int32            gap steps at the end of the chunk (nsteps when all_gap)
    max_inner_run : int32        longest gap run touching neither end of the chunk (0 if none)
    all_gap : bool               every step was a gap
    counts : int16[nsys, nsteps, nlat, nlon] or None   per-step counts (saturate at 32767)
    steps_any : int32 or None    steps with count ≥ 1 (with ``count_any``)
    capacity_sum : float64 or None   capacity delivered to the cell, Mbps, summed over steps
    delivered : float64[nsys, nsteps] or None   capacity delivered over all cells at each step, Mbps
    offered : float64[nsys, nsteps] or None     capacity of the satellites that see a cell of
                                 positive weight at each step, Mbps (= delivered, up to rounding)
    inline_steps : int32 or None steps at which the system is in line with another system
                                 (:mod:`orbitshare.kernels.spectrum`; only when bands overlap)
    effective_sum : float64[nsys, nband, nlat, nlon] or None   effective MHz of each band, summed over steps
    union_sum : float64[nlat, nlon] or None    width of the union of the bands in view, MHz, summed over steps
    """

    nsteps: int
    sum_visible: np.ndarray
    steps_covered: np.ndarray
    lead_run: np.ndarray
    trail_run: np.ndarray
    max_inner_run: np.ndarray
    all_gap: np.ndarray
    counts: np.ndarray | None = None
    steps_any: np.ndarray | None = None
    capacity_sum: np.ndarray | None = None
    delivered: np.ndarray | None = None
    offered: np.ndarray | None = None
    inline_steps: np.ndarray | None = None
    effective_sum: np.ndarray | None = None
    union_sum: np.ndarray | None = None


def empty_chunk_state(
    nsys: int,
    nlat: int,
    nlon: int,
    keep_counts: bool = False,
    *,
    count_any: bool = False,
    capacity: bool = False,
    spectrum_bands: int | None = None,
) -> ChunkState:
    """The state of zero steps: the identity of :func:`merge_chunk_states` (``count_any``/``capacity``:
    with zero ``steps_any`` / ``capacity_sum``, ``delivered`` and ``offered``; ``spectrum_bands``, the
    number of bands: with zero sharing sums)."""
    shape = (nsys, nlat, nlon)
    sp = spectrum_bands is not None
    return ChunkState(
        0,
        np.zeros(shape, np.int64),
        np.zeros(shape, np.int32),
        np.zeros(shape, np.int32),
        np.zeros(shape, np.int32),
        np.zeros(shape, np.int32),
        np.ones(shape, np.bool_),
        np.zeros((nsys, 0, nlat, nlon), np.int16) if keep_counts else None,
        np.zeros(shape, np.int32) if count_any else None,
        np.zeros(shape, np.float64) if capacity else None,
        np.zeros((nsys, 0), np.float64) if capacity else None,
        np.zeros((nsys, 0), np.float64) if capacity else None,
        np.zeros(shape, np.int32) if sp else None,
        np.zeros((nsys, int(spectrum_bands or 0), nlat, nlon)) if sp else None,
        np.zeros((nlat, nlon)) if sp else None,
    )


def merge_gap_states(
    lead1: ArrayLike,
    trail1: ArrayLike,
    inner1: ArrayLike,
    all1: ArrayLike,
    lead2: ArrayLike,
    trail2: ArrayLike,
    inner2: ArrayLike,
    all2: ArrayLike,
) -> tuple[np.ndarray, ...]:
    """Elementwise exact merge of two consecutive chunks' gap-run states (any equal shapes).

    Returns (lead_run int32, trail_run int32, max_inner_run int32, all_gap bool), same shape."""
    shape = np.shape(lead1)
    flat = [
        np.ascontiguousarray(np.asarray(a).reshape(-1), dtype=dt)
        for a, dt in (
            (lead1, np.int32),
            (trail1, np.int32),
            (inner1, np.int32),
            (all1, np.bool_),
            (lead2, np.int32),
            (trail2, np.int32),
            (inner2, np.int32),
            (all2, np.bool_),
        )
    ]
    out = _merge_gap_arrays(*flat)
    return tuple(o.reshape(shape) for o in out)


def merge_chunk_states(a: ChunkState, b: ChunkState) -> ChunkState:
    """State of chunk ``a`` followed by chunk ``b`` (``counts``, ``steps_any``, the capacity and the sharing
    fields kept only if both have them). Exact, except ``capacity_sum``, ``effective_sum`` and ``union_sum``:
    one float addition per cell."""
    lead, trail, inner, allg = merge_gap_states(
        a.lead_run, a.trail_run, a.max_inner_run, a.all_gap, b.lead_run, b.trail_run, b.max_inner_run, b.all_gap
    )

    def both(x, y, f):
        return None if x is None or y is None else f(x, y)

    def cat(x, y):
        return np.concatenate([x, y], axis=1)

    return ChunkState(
        a.nsteps + b.nsteps,
        a.sum_visible + b.sum_visible,
        a.steps_covered + b.steps_covered,
        lead,
        trail,
        inner,
        allg,
        both(a.counts, b.counts, cat),
        both(a.steps_any, b.steps_any, np.add),
        both(a.capacity_sum, b.capacity_sum, np.add),
        both(a.delivered, b.delivered, cat),
        both(a.offered, b.offered, cat),
        both(a.inline_steps, b.inline_steps, np.add),
        both(a.effective_sum, b.effective_sum, np.add),
        both(a.union_sum, b.union_sum, np.add),
    )


def longest_gap(state: ChunkState) -> np.ndarray:
    """Longest run of consecutive gap steps per cell, int32[nsys, nlat, nlon] (finaliser)."""
    return np.maximum(np.maximum(state.lead_run, state.trail_run), state.max_inner_run).astype(np.int32)
