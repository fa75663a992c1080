"""The inputs of the streaming pass, checked once: systems as kernel arrays, grid geometry, chunking.

:func:`prepare_pass` is the one place where the pass's inputs are validated (time grid, capacity
per satellite and cell weights, chunk length); every backend then reads the same
:class:`PassInputs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numba
import numpy as np

from orbitshare.elements.elementset import ElementSet
from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.grid import Grid
from orbitshare.kernels.spectrum import SpectrumInputs
from orbitshare.kernels.visibility import ALLOCATION_TIME_BLOCKS, CAPACITY_TIME_BLOCKS, AllocationInputs
from orbitshare.system import System, as_systems
from orbitshare.timegrid import TimeGrid

__all__ = [
    "COUNTS_BYTES_PER_CHUNK",
    "GridGeometry",
    "MIN_CHUNKS",
    "MIN_CHUNK_STEPS",
    "SAT_STEPS_PER_CHUNK",
    "PassInputs",
    "check_capacity_inputs",
    "default_chunk_steps",
    "prepare_pass",
    "step_seconds",
    "time_blocks",
]

#: Default propagation budget per time chunk, satellite-steps (49 bytes each: r, v, e).
SAT_STEPS_PER_CHUNK = 4_000_000
#: Default budget per chunk for kept per-step counts, bytes (int16 per system, step and cell).
COUNTS_BYTES_PER_CHUNK = 128 * 2**20
#: A run of many steps is cut into at least this many chunks (of at least MIN_CHUNK_STEPS steps), so that it
#: checkpoints (a stopped run loses at most 1/8 of its pass) and reports its progress while it runs; each
#: chunk costs ~0.2 s of set-up, which short runs (tests, sweep samples) do not pay.
MIN_CHUNKS = 8
MIN_CHUNK_STEPS = 32


class GridGeometry(NamedTuple):
    """What the visibility kernel needs of a :class:`~orbitshare.grid.Grid` (small, picklable)."""

    pxy: np.ndarray
    pz: np.ndarray
    nxy: np.ndarray
    nz: np.ndarray
    lon_rad: np.ndarray
    cos_lon: np.ndarray
    sin_lon: np.ndarray

    @classmethod
    def from_grid(cls, grid) -> GridGeometry:
        """From a :class:`~orbitshare.grid.Grid` (or a resolution in degrees), exactly as the driver."""
        if not isinstance(grid, Grid):
            grid = Grid(grid)
        pxy, pz, nxy, nz = grid.row_geometry()
        return cls(
            *(
                np.ascontiguousarray(a, dtype=np.float64)
                for a in (pxy, pz, nxy, nz, np.array(grid.lon_rad), np.array(grid.cos_lon), np.array(grid.sin_lon))
            )
        )

    @property
    def nlat(self) -> int:
        return int(self.pxy.shape[0])

    @property
    def nlon(self) -> int:
        return int(self.lon_rad.shape[0])


def default_chunk_steps(
    nsat: int,
    ntime: int,
    *,
    ncells: int = 0,
    nsys: int = 1,
    keep_time_series: bool = False,
    nthreads: int | None = None,
) -> int:
    """Steps per chunk: ``SAT_STEPS_PER_CHUNK // nsat`` (and, with kept counts, at most
    ``COUNTS_BYTES_PER_CHUNK`` of int16 counts), at most ``ceil(ntime / MIN_CHUNKS)`` (a run checkpoints and
    reports progress at least that often) unless that is below ``MIN_CHUNK_STEPS``, at least the thread count,
    at most ``ntime``."""
    nthreads = numba.get_num_threads() if nthreads is None else nthreads
    c = SAT_STEPS_PER_CHUNK // max(int(nsat), 1)
    if keep_time_series and ncells:
        c = min(c, COUNTS_BYTES_PER_CHUNK // (2 * max(nsys, 1) * ncells))
    c = min(c, max(MIN_CHUNK_STEPS, -(-int(ntime) // MIN_CHUNKS)))
    c = max(c, nthreads, 1)
    return int(max(1, min(c, ntime)))


def time_blocks(n: int, capacity: bool, allocation: bool) -> int | None:
    """The chunk kernel's time blocks for a chunk of n steps: with float sums a number that depends on n
    only (``CAPACITY_TIME_BLOCKS``, ``ALLOCATION_TIME_BLOCKS``), so that no thread count changes a bit;
    otherwise None (the kernel's choice: the integer statistics do not depend on it)."""
    if allocation:
        return min(ALLOCATION_TIME_BLOCKS, int(n))
    if capacity:
        return min(CAPACITY_TIME_BLOCKS, int(n))
    return None


def step_seconds(times: TimeGrid) -> float:
    """The step of a regularly spaced TimeGrid, s (NaN for a single step).

    Raises ParameterError when the steps are not regular and increasing."""
    t = np.asarray(times.time, dtype="datetime64[ns]").astype(np.int64)
    if t.size < 2:
        return math.nan
    d = np.diff(t)
    if d[0] <= 0 or np.any(d != d[0]):
        raise ParameterError(
            "times: expected regularly spaced, increasing steps (max_gap_s is a number of "
            "steps times the step); build the grid with orbitshare.time_grid(start, stop, step_s)"
        )
    return float(d[0]) / 1e9


def check_capacity_inputs(capacity: Any, nsys: int, nlat: int, nlon: int) -> tuple[np.ndarray, np.ndarray]:
    """The pass's capacity inputs, checked: ``(cap_mbps float64[nsys], weight float64[nsys, nlat, nlon])``.

    capacity : ``(cap_mbps, weight)`` with one capacity per system (Mbit/s per satellite) and the
        cell weights of each system, shape ``(nsys, nlat, nlon)`` or ``(nlat, nlon)`` (broadcast to
        every system). Raises ParameterError naming ``capacity`` otherwise."""
    cap_sys, weight = capacity
    cap_sys = np.asarray(cap_sys, np.float64)
    if cap_sys.shape != (nsys,):
        raise ParameterError(f"capacity: expected one capacity per system ({nsys}), got shape {cap_sys.shape}")
    weight = np.asarray(weight, np.float64)
    if weight.ndim == 2:
        weight = np.broadcast_to(weight, (nsys, *weight.shape))
    if weight.ndim != 3 or weight.shape[0] != nsys:
        raise ParameterError(
            f"capacity: expected weights of shape (nsys, nlat, nlon) or (nlat, nlon), got {weight.shape}"
        )
    if weight.shape[1:] != (nlat, nlon):
        raise ParameterError(f"capacity: weights of shape {weight.shape[1:]} do not fit the grid ({nlat}, {nlon})")
    return cap_sys, np.ascontiguousarray(weight, dtype=np.float64)


@dataclass(frozen=True)
class PassInputs:
    """Everything one streaming pass needs, checked once by :func:`prepare_pass`.

    systems : the systems, in the order of the ``system`` axis
    grid, times : the grid and the (regular) time steps; ``step_s`` their step, s (NaN for one step)
    elements : every system's element sets, concatenated (nsat)
    sat_sys : int32[nsat]          system index of each satellite
    mask_rad : float64[nsys]       elevation masks, rad
    min_visible : int32[nsys]      satellites needed for a covered step
    geometry : the grid's per-row geometry and cell-centre longitudes (:class:`GridGeometry`)
    chunk_steps : int              time steps per chunk
    keep_counts : bool             keep the per-step int16 counts
    count_any : bool               also count the steps with at least one satellite visible
    capacity : None, or ``(cap_mbps float64[nsys], weight float64[nsys, nlat, nlon])``
    allocation : None, or the capacity allocation's inputs (:class:`~orbitshare.kernels.visibility.AllocationInputs`;
        instead of ``capacity``)
    spectrum : None, or the co-frequency sharing pass's inputs (:class:`~orbitshare.kernels.spectrum.SpectrumInputs`;
        only when two systems' bands overlap)
    """

    systems: tuple[System, ...]
    grid: Grid
    times: TimeGrid
    step_s: float
    elements: ElementSet
    sat_sys: np.ndarray
    mask_rad: np.ndarray
    min_visible: np.ndarray
    geometry: GridGeometry
    chunk_steps: int
    keep_counts: bool
    count_any: bool
    capacity: tuple[np.ndarray, np.ndarray] | None
    allocation: AllocationInputs | None = None
    spectrum: SpectrumInputs | None = None

    @property
    def nsys(self) -> int:
        return len(self.systems)

    @property
    def nsat(self) -> int:
        return len(self.elements)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.systems]

    def kernel_options(self) -> dict[str, Any]:
        """Keyword arguments of the chunk kernels for ``count_any`` and capacity (per satellite)."""
        kw: dict[str, Any] = {}
        if self.count_any:
            kw["count_any"] = True
        if self.capacity is not None:
            cap_sys, weight = self.capacity
            kw["capacity_per_sat"] = np.ascontiguousarray(cap_sys[self.sat_sys])
            kw["weight"] = weight
        if self.allocation is not None:
            kw["allocation"] = self.allocation
        if self.spectrum is not None:
            kw["spectrum"] = self.spectrum
        return kw

    @property
    def spectrum_bands(self) -> int | None:
        """The number of bands of the sharing sums (None without the sharing pass)."""
        return None if self.spectrum is None else int(self.spectrum.in_band.shape[1])

    @property
    def float_sums(self) -> bool:
        """True when the chunk kernel sums floats (capacity or allocation): then its time-block partition
        must depend on the chunk length only (:func:`time_blocks`)."""
        return self.capacity is not None or self.allocation is not None


def prepare_pass(
    systems: Any,
    grid: Grid | float,
    times: TimeGrid,
    *,
    keep_time_series: bool = False,
    chunk_steps: int | None = None,
    count_any: bool = False,
    capacity: Any = None,
    allocation: AllocationInputs | None = None,
    spectrum: SpectrumInputs | None = None,
) -> PassInputs:
    """Check the pass's inputs once and build :class:`PassInputs`.

    systems : System | ElementSet | sequence of them (see :func:`orbitshare.system.as_systems`)
    grid : Grid, or a resolution in degrees
    times : a regularly spaced TimeGrid (``orbitshare.time_grid``), at least one step
    keep_time_series : keep per-step counts; chunk_steps : steps per chunk (default
        :func:`default_chunk_steps`); count_any, capacity, allocation, spectrum : see :class:`PassInputs`
    """
    syslist = as_systems(systems)
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    if not isinstance(times, TimeGrid):
        raise ParameterTypeError(
            f"times: expected a TimeGrid (orbitshare.time_grid(start, stop, step_s)), got {type(times).__name__}"
        )
    nt = len(times)
    if nt == 0:
        raise ParameterError("times: expected at least one time step")
    step_s = step_seconds(times)
    nsys, nlat, nlon = len(syslist), grid.nlat, grid.nlon
    elements = ElementSet.concat([s.elements for s in syslist])
    sat_sys = np.concatenate([np.full(len(s.elements), i, np.int32) for i, s in enumerate(syslist)])
    checked_capacity = None if capacity is None else check_capacity_inputs(capacity, nsys, nlat, nlon)
    if allocation is not None and capacity is not None:
        raise ParameterError("allocation: given with capacity (one capacity model at a time)")
    if chunk_steps is None:
        chunk_steps = default_chunk_steps(
            len(elements), nt, ncells=nlat * nlon, nsys=nsys, keep_time_series=keep_time_series
        )
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, int | np.integer) or chunk_steps < 1:
        raise ParameterError(f"chunk_steps: expected an integer >= 1, got {chunk_steps!r}")
    return PassInputs(
        systems=tuple(syslist),
        grid=grid,
        times=times,
        step_s=step_s,
        elements=elements,
        sat_sys=sat_sys,
        mask_rad=np.radians(np.array([s.elevation_mask_deg for s in syslist], np.float64)),
        min_visible=np.array([s.min_visible for s in syslist], np.int32),
        geometry=GridGeometry.from_grid(grid),
        chunk_steps=int(chunk_steps),
        keep_counts=bool(keep_time_series),
        count_any=bool(count_any),
        capacity=checked_capacity,
        allocation=allocation,
        spectrum=_checked_spectrum(spectrum, nsys, nlat, nlon),
    )


def _checked_spectrum(spectrum: SpectrumInputs | None, nsys: int, nlat: int, nlon: int) -> SpectrumInputs | None:
    """The sharing inputs, their shapes checked against the systems and the grid."""
    if spectrum is not None and (spectrum.in_band.shape[0] != nsys or spectrum.share.shape != (nsys, nlat, nlon)):
        raise ParameterError(
            f"spectrum: inputs for {spectrum.in_band.shape[0]} systems and cells {spectrum.share.shape[1:]} do not "
            f"fit {nsys} systems on ({nlat}, {nlon})"
        )
    return spectrum
