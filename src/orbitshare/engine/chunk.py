"""One time chunk of the pass: propagate the satellites (SGP4 → ITRS), then run the chunk kernel.

The unit of work of the CPU backends: this process (:func:`orbitshare.engine.backends.cpu_chunks`,
all systems at once) and each Dask task (:func:`orbitshare.engine.dask_backend.chunk_system_task`,
one system). Written once, so both give the same bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orbitshare.engine.passinputs import GridGeometry
from orbitshare.engine.propagation import propagate_params
from orbitshare.kernels.chunkstate import ChunkState
from orbitshare.kernels.spectrum import SpectrumInputs, spectrum_chunk
from orbitshare.kernels.visibility import accumulate_chunk
from orbitshare.timegrid import TimeGrid

__all__ = ["Buffers", "err_steps", "propagate_and_accumulate", "sharing_sums"]

#: ``(e uint8[nsat, n], r float64[nsat, n, 3], v float64[nsat, n, 3])`` propagation arrays to reuse
Buffers = tuple[np.ndarray, np.ndarray, np.ndarray]


def propagate_and_accumulate(
    params: np.ndarray,
    init_err: np.ndarray,
    times: TimeGrid,
    sat_sys: np.ndarray,
    mask_rad: np.ndarray,
    min_visible: np.ndarray,
    geometry: GridGeometry,
    *,
    keep_counts: bool = False,
    nblocks: int | None = None,
    buffers: Buffers | None = None,
    **options: Any,
) -> tuple[ChunkState, Buffers]:
    """The statistics of one time chunk.

    params, init_err : SGP4 parameters of the satellites (:func:`~orbitshare.engine.propagation.sgp4_params`;
        ``params`` with 0 rows: no satellites)
    times : the chunk's steps; sat_sys : int32[nsat] system index of each satellite
    mask_rad : float64[nsys] elevation masks, rad; min_visible : int32[nsys]
    geometry : the grid (:class:`~orbitshare.engine.passinputs.GridGeometry`)
    keep_counts, nblocks, options (``count_any``, ``capacity_per_sat`` Mbit/s, ``weight``) : as
        :func:`orbitshare.kernels.visibility.accumulate_chunk`; ``spectrum`` (a
        :class:`~orbitshare.kernels.spectrum.SpectrumInputs`, or None) adds the co-frequency sharing sums
        (:func:`orbitshare.kernels.spectrum.spectrum_chunk` on the same positions) and, with an
        ``allocation``, scales each system's beams by the share of its band it has on the cell at each step
    buffers : arrays of the previous chunk to write this one's positions into (same shape only)

    Returns ``(ChunkState, (e, r, v))``: the propagation arrays (ITRS positions in km; velocities
    left in TEME) to pass back as ``buffers`` or read the SGP4 error codes from.
    """
    nsat, n = int(params.shape[0]), len(times)
    if nsat:
        e, r, v = propagate_params(params, init_err, times, "itrs", buffers=buffers, velocities=False)
    else:
        e, r, v = np.zeros((0, n), np.uint8), np.zeros((0, n, 3)), np.zeros((0, n, 3))
    spectrum: SpectrumInputs | None = options.pop("spectrum", None)
    state = accumulate_chunk(
        r,
        sat_sys,
        mask_rad,
        min_visible,
        geometry.pxy,
        geometry.pz,
        geometry.nxy,
        geometry.nz,
        geometry.lon_rad,
        cos_lon=geometry.cos_lon,
        sin_lon=geometry.sin_lon,
        err=e,
        keep_counts=keep_counts,
        nblocks=nblocks,
        sharing=spectrum if options.get("allocation") is not None else None,
        **options,
    )
    if spectrum is not None:
        inl, eff, uni = sharing_sums(r, e, sat_sys, mask_rad, geometry, spectrum)
        state = state._replace(inline_steps=inl, effective_sum=eff, union_sum=uni)
    return state, (e, r, v)


def err_steps(sat_sys: np.ndarray, e: np.ndarray, nsys: int) -> np.ndarray:
    """SGP4 error satellite-steps per system, int64[nsys], from error codes uint8[nsat, nsteps]."""
    return np.bincount(sat_sys, weights=np.count_nonzero(e, axis=1), minlength=nsys).astype(np.int64)


def sharing_sums(
    r: np.ndarray,
    e: np.ndarray,
    sat_sys: np.ndarray,
    mask_rad: np.ndarray,
    geometry: GridGeometry,
    spectrum: SpectrumInputs,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The co-frequency sharing fields of a chunk's :class:`ChunkState`, ``(inline_steps, effective_sum,
    union_sum)``, from its ITRS positions ``r`` (km) and SGP4 error codes ``e``; the time blocks depend on
    the chunk length only (:data:`orbitshare.kernels.spectrum.SPECTRUM_TIME_BLOCKS`), so every backend
    that calls this gets the same bits."""
    sin_mask = np.sin(np.asarray(mask_rad, np.float64))[np.asarray(sat_sys, np.int64)]
    g = geometry
    eff, inl, uni = spectrum_chunk(
        r, sat_sys, sin_mask, g.pxy, g.pz, g.nxy, g.nz, g.lon_rad, g.cos_lon, g.sin_lon, spectrum, err=e
    )
    return inl, eff, uni
