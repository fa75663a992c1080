"""The Dask backend of the streaming pass (``[compute] backend = "dask"``).

The pass (:func:`orbitshare.engine.stream.run_pass`) goes over the time steps in chunks; each chunk's
statistics (:class:`~orbitshare.kernels.chunkstate.ChunkState`) are merged in time order with the
exact :func:`~orbitshare.kernels.chunkstate.merge_chunk_states`. The systems never interact in the
kernel (every accumulator is indexed by the satellite's system, and the satellites of one system are
visited in the same order whether or not other systems are present), so one chunk's state is the
concatenation, along the system axis, of the states of each system alone. Here the work is split into
one Dask task per (time chunk × system):

* the task propagates only that system's satellites (SGP4 parameters initialised once on the client,
  sent once to every worker) over that chunk's :class:`~orbitshare.timegrid.TimeGrid` slice, in ITRS,
  and calls the chunk kernel with one system (:func:`orbitshare.engine.chunk.propagate_and_accumulate`);
* :func:`dask_chunk_states` collects the tasks of each chunk, concatenates them
  (:func:`stack_system_states`) and yields the chunks strictly in time order, with at most
  ``max_chunks_ahead`` chunks in flight, so memory stays bounded and the driver merges exactly as in
  a local run.

With overlapping bands (co-frequency sharing, :mod:`orbitshare.kernels.spectrum`) the systems do interact:
each chunk then has one more task, :func:`sharing_task`, which propagates every satellite of the pass (the
driver's concatenated SGP4 parameters) and computes the sharing sums with the driver's own
:func:`orbitshare.engine.chunk.sharing_sums`; they are attached to the chunk's stacked state.

With the allocation and overlapping bands whose sharing scales the beams (``band_sharing``), one system's
allocation depends on the others' serving satellites: a chunk is then one task for every system,
:func:`coupled_task` (the local chunk computation itself, sharing sums included).

The results are identical to the single-process run: the integer statistics do not depend on the
partition at all, and the capacity float sums use the driver's time-block rule
(:func:`orbitshare.engine.passinputs.time_blocks`), which depends on the chunk length only — so they are
bit-identical too. Tasks are pure: a worker that dies is replaced, and the scheduler reruns its tasks
(``retries`` also covers exceptions). ``distributed`` is imported lazily: install the ``dask`` extra
(``pip install "orbitshare[dask]"``).

Workers should run one thread each (``dask worker --nthreads 1``; :func:`get_client` does that for a
local cluster) and let Numba use the cores; with more threads per worker the kernels of one process are
serialised by a lock (Numba's default threading layer does not allow concurrent parallel launches).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from orbitshare.engine.chunk import err_steps, propagate_and_accumulate, sharing_sums
from orbitshare.engine.passinputs import GridGeometry, PassInputs, check_capacity_inputs, time_blocks
from orbitshare.engine.propagation import propagate_params, sgp4_params
from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.kernels.chunkstate import ChunkState
from orbitshare.kernels.spectrum import SpectrumInputs
from orbitshare.kernels.visibility import AllocationInputs
from orbitshare.timegrid import TimeGrid

__all__ = [
    "CoupledInput",
    "SharingInput",
    "SystemInput",
    "capacity_nblocks",
    "chunk_system_task",
    "coupled_input",
    "coupled_task",
    "dask_chunk_states",
    "dask_pass_chunks",
    "get_client",
    "sharing_input",
    "sharing_task",
    "stack_system_states",
    "system_inputs",
]

# one Numba kernel launch at a time per worker process (see the module docstring)
_KERNEL_LOCK = threading.Lock()


class SystemInput(NamedTuple):
    """One system's share of the work: its SGP4 parameters and coverage rule (picklable).

    params : float64[nsat, NPARAM], init_err : uint8[nsat]   from :func:`orbitshare.engine.propagation.sgp4_params`
    mask_rad : float              elevation mask, rad
    min_visible : int             satellites needed for a covered step
    capacity_mbps : float or None capacity of each satellite (with capacity)
    weight : float64[1, nlat, nlon] or None   the system's cell weights (with capacity)
    """

    params: np.ndarray
    init_err: np.ndarray
    mask_rad: float
    min_visible: int
    capacity_mbps: float | None = None
    weight: np.ndarray | None = None
    allocation: AllocationInputs | None = None


class SharingInput(NamedTuple):
    """The co-frequency sharing task's inputs (picklable): every satellite of the pass.

    params, init_err : the driver's SGP4 parameters of the concatenated element sets; sat_sys : int32[nsat];
    mask_rad : float64[nsys] (rad); spectrum : :class:`~orbitshare.kernels.spectrum.SpectrumInputs`
    """

    params: np.ndarray
    init_err: np.ndarray
    sat_sys: np.ndarray
    mask_rad: np.ndarray
    spectrum: SpectrumInputs


def _pass_params(inputs: PassInputs) -> tuple[np.ndarray, np.ndarray]:
    """The driver's SGP4 parameters and initialisation errors of every satellite of the pass (contiguous)."""
    if inputs.nsat:
        params, init_err = sgp4_params(inputs.elements)
    else:
        params, init_err = np.zeros((0, 1)), np.zeros(0, np.uint8)
    return np.ascontiguousarray(params, np.float64), np.ascontiguousarray(init_err)


def sharing_input(inputs: PassInputs) -> SharingInput | None:
    """The pass's :class:`SharingInput` (None without overlapping bands)."""
    if inputs.spectrum is None:
        return None
    return SharingInput(
        *_pass_params(inputs),
        inputs.sat_sys,
        inputs.mask_rad,
        inputs.spectrum,
    )


class CoupledInput(NamedTuple):
    """Every satellite of the pass with the allocation and the sharing (picklable), for :func:`coupled_task`.

    params, init_err : the driver's SGP4 parameters; sat_sys : int32[nsat]; mask_rad : float64[nsys] (rad);
    min_visible : int32[nsys]; allocation : the pass's AllocationInputs; spectrum : SpectrumInputs
    """

    params: np.ndarray
    init_err: np.ndarray
    sat_sys: np.ndarray
    mask_rad: np.ndarray
    min_visible: np.ndarray
    allocation: AllocationInputs
    spectrum: SpectrumInputs


def coupled_input(inputs: PassInputs) -> CoupledInput | None:
    """The pass's :class:`CoupledInput` when the sharing scales the allocation's beams, else None."""
    a = inputs.allocation
    if a is None or inputs.spectrum is None or not a.band_sharing:
        return None
    return CoupledInput(
        *_pass_params(inputs),
        inputs.sat_sys,
        inputs.mask_rad,
        inputs.min_visible,
        a,
        inputs.spectrum,
    )


def coupled_task(
    inp: CoupledInput,
    geom: GridGeometry,
    times: TimeGrid,
    count_any: bool = False,
    keep_counts: bool = False,
    nblocks: int | None = None,
) -> tuple[ChunkState, np.ndarray]:
    """One time chunk of every system (allocation with shared beams, and the sharing sums), as the local
    pass computes it. Returns ``(ChunkState [nsys, ...], SGP4 error satellite-steps int64[nsys])``. Pure."""
    nsys = int(np.asarray(inp.mask_rad).shape[0])
    with _KERNEL_LOCK:
        st, (e, _r, _v) = propagate_and_accumulate(
            inp.params,
            inp.init_err,
            times,
            inp.sat_sys,
            inp.mask_rad,
            inp.min_visible,
            geom,
            keep_counts=keep_counts,
            nblocks=nblocks,
            count_any=count_any,
            allocation=inp.allocation,
            spectrum=inp.spectrum,
        )
    return st, err_steps(inp.sat_sys, e, nsys)


def sharing_task(inp: SharingInput, geom: GridGeometry, times: TimeGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's co-frequency sharing sums ``(inline_steps, effective_sum, union_sum)``: every
    satellite propagated over ``times`` (ITRS), then :func:`orbitshare.engine.chunk.sharing_sums`. Pure."""
    n = len(times)
    with _KERNEL_LOCK:
        if inp.params.shape[0]:
            e, r, _v = propagate_params(inp.params, inp.init_err, times, "itrs", velocities=False)
        else:
            e, r = np.zeros((0, n), np.uint8), np.zeros((0, n, 3))
        return sharing_sums(r, e, inp.sat_sys, inp.mask_rad, geom, inp.spectrum)


def _system_allocation(a: AllocationInputs, i: int, first: int, nsat: int) -> AllocationInputs:
    """System i's part of the pass's allocation inputs (its satellites first .. first + nsat − 1 of the
    pass, numbered from 0 here). Systems never share a cell's demand, so each system's task allocates
    exactly what the whole pass would."""
    g0, g1 = int(a.gw_ptr[i]), int(a.gw_ptr[i + 1])
    return AllocationInputs(
        a.rule,
        np.ascontiguousarray(a.sat_cap[first : first + nsat]),
        np.ascontiguousarray(a.pair_cap[i : i + 1]),
        np.ascontiguousarray(a.cell_cap[i : i + 1]),
        np.ascontiguousarray(a.demand[i : i + 1]),
        np.ascontiguousarray(a.next_demand[i : i + 1]),
        np.ascontiguousarray(a.gw_free[i : i + 1]),
        np.array([0, g1 - g0], np.int64),
        np.ascontiguousarray(a.gw_pos[g0:g1]),
        np.ascontiguousarray(a.gw_up[g0:g1]),
        np.ascontiguousarray(a.gw_mask_rad[i : i + 1]),
    )


def system_inputs(
    systems, capacity=None, geometry: GridGeometry | None = None, allocation: AllocationInputs | None = None
) -> list[SystemInput]:
    """One :class:`SystemInput` per system, with the driver's conversions.

    systems : the driver's list of :class:`~orbitshare.system.System` (anything with ``elements``,
        ``elevation_mask_deg`` and ``min_visible``)
    capacity : None, or the driver's ``(cap_mbps float64[nsys], weight float64[nsys, nlat, nlon] or
        [nlat, nlon])``
    geometry : checks the weight's shape against the grid when given
    allocation : None, or the pass's allocation inputs (split per system)
    """
    systems = list(systems)
    nsys = len(systems)
    cap_sys = weight = None
    if capacity is not None:
        nlat, nlon = (geometry.nlat, geometry.nlon) if geometry is not None else np.shape(capacity[1])[-2:]
        cap_sys, weight = check_capacity_inputs(capacity, nsys, nlat, nlon)
    out = []
    first = 0
    for i, s in enumerate(systems):
        params, init_err = sgp4_params(s.elements)
        nsat = len(s.elements)
        out.append(
            SystemInput(
                np.ascontiguousarray(params, np.float64),
                np.ascontiguousarray(init_err),
                float(np.radians(np.float64(s.elevation_mask_deg))),
                int(s.min_visible),
                None if cap_sys is None else float(cap_sys[i]),
                None if weight is None else np.ascontiguousarray(weight[i : i + 1], dtype=np.float64),
                None if allocation is None else _system_allocation(allocation, i, first, nsat),
            )
        )
        first += nsat
    return out


def capacity_nblocks(n: int, capacity: bool, allocation: bool = False) -> int | None:
    """The driver's time-block rule (:func:`orbitshare.engine.passinputs.time_blocks`): with float sums
    (capacity, allocation) a partition that depends on the chunk length only; otherwise None (the
    worker's Numba thread count: the integer statistics do not depend on it)."""
    return time_blocks(n, capacity, allocation)


def chunk_system_task(
    inp: SystemInput,
    geom: GridGeometry,
    times: TimeGrid,
    count_any: bool = False,
    keep_counts: bool = False,
    nblocks: int | None = None,
):
    """One (time chunk × system) task: propagate the system over ``times`` (ITRS) and accumulate.

    Returns ``(ChunkState with leading dimension 1, SGP4 error satellite-steps int)``. Pure: running
    it again gives the same bits (Dask reruns it when a worker is lost).
    """
    nsat = int(inp.params.shape[0])
    cap_kw: dict[str, Any] = {}
    if inp.capacity_mbps is not None:
        cap_kw["capacity_per_sat"] = np.full(nsat, inp.capacity_mbps, np.float64)
        cap_kw["weight"] = inp.weight
    if inp.allocation is not None:
        cap_kw["allocation"] = inp.allocation
    with _KERNEL_LOCK:
        st, (e, _r, _v) = propagate_and_accumulate(
            inp.params,
            inp.init_err,
            times,
            np.zeros(nsat, np.int32),
            np.array([inp.mask_rad], np.float64),
            np.array([inp.min_visible], np.int32),
            geom,
            keep_counts=keep_counts,
            nblocks=nblocks,
            count_any=count_any,
            **cap_kw,
        )
    return st, int(np.count_nonzero(e))


def stack_system_states(states: Sequence[ChunkState]) -> ChunkState:
    """Concatenate the states of the same chunk for systems 0..k−1 along the system axis.

    Every array field has the system axis first (``counts`` [nsys, nsteps, nlat, nlon], ``delivered``
    and ``offered`` [nsys, nsteps], the rest [nsys, nlat, nlon]); an optional field is kept only if
    every state has it (as :func:`merge_chunk_states`). All states must cover the same steps.
    """
    states = list(states)
    if not states:
        raise ParameterError("stack_system_states: expected at least one state")
    nsteps = int(states[0].nsteps)
    if any(int(s.nsteps) != nsteps for s in states):
        raise ParameterError(f"stack_system_states: states of different lengths {[s.nsteps for s in states]}")
    fields: dict[str, Any] = {"nsteps": nsteps}
    for name in ChunkState._fields[1:]:
        parts = [getattr(s, name) for s in states]
        if any(p is None for p in parts):
            fields[name] = None
        else:
            fields[name] = np.concatenate(parts, axis=0)
    return ChunkState(**fields)


def _n_workers(client) -> int:
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # pragma: no cover - an unusual client
        return 1


def dask_chunk_states(
    systems_inputs,
    times: TimeGrid,
    chunk_steps: int,
    grid_geometry,
    *,
    client,
    count_any: bool = False,
    capacity=None,
    keep_counts: bool = False,
    nblocks_for: Callable[[int], int | None] | None = None,
    max_chunks_ahead: int | None = None,
    retries: int = 2,
    sharing: SharingInput | None = None,
    coupled: CoupledInput | None = None,
) -> Iterator[tuple[int, int, ChunkState, np.ndarray]]:
    """Per-chunk states of the streaming pass computed on a Dask cluster, in time order.

    systems_inputs : list of :class:`SystemInput` (from :func:`system_inputs`), or the driver's list
        of systems (then converted here with ``capacity``)
    times : the TimeGrid to cover (the driver's ``rest``); chunks are ``times.chunks(chunk_steps)``
    grid_geometry : :class:`GridGeometry`, or a Grid
    client : a ``distributed.Client`` (see :func:`get_client`)
    count_any, keep_counts : as the driver (``keep_counts`` sends int16 counts back: bandwidth!)
    capacity : the driver's ``(cap_mbps, weight)`` when ``systems_inputs`` are systems; with
        SystemInputs it may be None (their capacity fields decide) or must agree with them
    nblocks_for : ``n_steps -> nblocks`` (default :func:`capacity_nblocks`, the driver's rule)
    max_chunks_ahead : chunks submitted beyond the one being collected (default 2 × workers, ≥ 2)
    retries : Dask retries of a failing task (a lost worker's tasks are rescheduled regardless)
    sharing : the co-frequency sharing task's inputs (:func:`sharing_input`), or None: one more task per
        chunk, whose sums are attached to the chunk's state
    coupled : :func:`coupled_input`, or None: one task per chunk for every system (then ``sharing`` is not
        used; the per-system inputs only give the time-block rule)

    Yields ``(chunk_index, n_steps, ChunkState [nsys, ...], err_steps int64[nsys])`` for chunk 0, 1, …
    of ``times``; merging them in that order with ``merge_chunk_states`` gives the local result bit for
    bit. Closing the generator early cancels the tasks still in flight.
    """
    from distributed import wait  # noqa: F401  (fail early, with a clear message, without distributed)

    if not isinstance(times, TimeGrid):
        raise ParameterTypeError(f"times: expected a TimeGrid, got {type(times).__name__}")
    chunk_steps = int(chunk_steps)
    if chunk_steps < 1:
        raise ParameterError(f"chunk_steps: expected an integer >= 1, got {chunk_steps}")
    geom = grid_geometry if isinstance(grid_geometry, GridGeometry) else GridGeometry.from_grid(grid_geometry)
    inputs = list(systems_inputs)
    if not inputs:
        raise ParameterError("systems_inputs: expected at least one system")
    if not all(isinstance(s, SystemInput) for s in inputs):
        inputs = system_inputs(inputs, capacity, geom)
    has_cap = {s.capacity_mbps is not None for s in inputs}
    if len(has_cap) != 1:
        raise ParameterError("systems_inputs: capacity given for some systems only")
    do_cap = has_cap.pop()
    if capacity is not None and not do_cap:
        raise ParameterError("capacity: given, but the SystemInputs were built without it")
    for s in inputs:
        if do_cap and (s.weight is None or s.weight.shape != (1, geom.nlat, geom.nlon)):
            raise ParameterError(f"SystemInput.weight: expected shape (1, {geom.nlat}, {geom.nlon})")
    if nblocks_for is None:
        do_alloc = any(s.allocation is not None for s in inputs)

        def nblocks_for(n):
            return capacity_nblocks(n, do_cap, do_alloc)

    nsys = len(inputs)
    ahead = int(max_chunks_ahead) if max_chunks_ahead is not None else max(2, 2 * _n_workers(client))
    ahead = max(1, ahead)

    # The inputs go to every worker once (a copy survives the loss of any one worker). Unique keys
    # (hash=False): a re-used content-hashed key can be lost to the release race of an earlier run.
    # Should every copy be lost anyway, the chunks in flight are resubmitted with fresh copies.
    from concurrent.futures import CancelledError

    scattered = {}

    def scatter_inputs():
        scattered["inp"] = client.scatter(inputs, broadcast=True, hash=False)
        scattered["geom"] = client.scatter([geom], broadcast=True, hash=False)[0]
        if sharing is not None:
            scattered["sharing"] = client.scatter([sharing], broadcast=True, hash=False)[0]
        if coupled is not None:
            scattered["coupled"] = client.scatter([coupled], broadcast=True, hash=False)[0]

    chunk_iter = enumerate(times.chunks(chunk_steps))
    pending: deque = deque()  # [ci, n, chunk TimeGrid, futures]

    def submit(ci, chunk):
        nb = nblocks_for(len(chunk))
        tag = uuid.uuid4().hex[:12]
        if coupled is not None:
            return [
                client.submit(
                    coupled_task,
                    scattered["coupled"],
                    scattered["geom"],
                    chunk,
                    bool(count_any),
                    bool(keep_counts),
                    nb,
                    key=f"orbitshare-coupled-{tag}-{ci}",
                    priority=-ci,
                    retries=retries,
                    pure=False,
                )
            ]
        extra = []
        if sharing is not None:
            extra.append(
                client.submit(
                    sharing_task,
                    scattered["sharing"],
                    scattered["geom"],
                    chunk,
                    key=f"orbitshare-sharing-{tag}-{ci}",
                    priority=-ci,
                    retries=retries,
                    pure=False,
                )
            )
        return [
            client.submit(
                chunk_system_task,
                scattered["inp"][s],
                scattered["geom"],
                chunk,
                bool(count_any),
                bool(keep_counts),
                nb,
                key=f"orbitshare-chunk-{tag}-{ci}-{s}",
                priority=-ci,
                retries=retries,
                pure=False,
            )
            for s in range(nsys)
        ] + extra

    def submit_next() -> bool:
        item = next(chunk_iter, None)
        if item is None:
            return False
        ci, chunk = item
        pending.append([ci, len(chunk), chunk, submit(ci, chunk)])
        return True

    try:
        scatter_inputs()
        for _ in range(ahead + 1):
            if not submit_next():
                break
        while pending:
            head = pending.popleft()
            submit_next()
            for attempt in itertools.count():
                try:
                    parts = client.gather(head[3])
                    break
                except CancelledError:  # lost dependencies: every copy of the inputs is gone
                    if attempt >= retries:
                        raise
                    for item in [head, *pending]:
                        client.cancel(item[3])
                    scatter_inputs()
                    for item in [head, *pending]:
                        item[3] = submit(item[0], item[2])
            ci, n, _chunk, futs = head
            for f in futs:
                f.release()
            del futs, head
            if coupled is not None:
                st, err = parts[0]
            else:
                st = stack_system_states([p[0] for p in parts[:nsys]])
                if sharing is not None:
                    inl, eff, uni = parts[nsys]
                    st = st._replace(inline_steps=inl, effective_sum=eff, union_sum=uni)
                err = np.array([p[1] for p in parts[:nsys]], np.int64)
            if st.nsteps != n:  # pragma: no cover - a broken worker environment
                raise RuntimeError(f"chunk {ci}: expected {n} steps, got {st.nsteps}")
            del parts
            yield ci, n, st, err
    finally:
        for item in pending:
            client.cancel(item[3])
        pending.clear()
        scattered.clear()  # the scattered inputs are released with their last reference


def dask_pass_chunks(
    inputs: PassInputs, start: int = 0, *, client: Any, **kwargs: Any
) -> Iterator[tuple[TimeGrid, ChunkState, np.ndarray]]:
    """The pass's chunks from step ``start`` on, computed on a Dask cluster: yields ``(chunk TimeGrid,
    state [nsys, ...], err_steps int64[nsys])`` in time order, as the CPU source does. Other keywords
    go to :func:`dask_chunk_states`."""
    times = inputs.times[start:] if start else inputs.times
    chunk_steps = inputs.chunk_steps
    geom = inputs.geometry
    for ci, n, st, err in dask_chunk_states(
        system_inputs(inputs.systems, inputs.capacity, geom, inputs.allocation),
        times,
        chunk_steps,
        geom,
        client=client,
        count_any=inputs.count_any,
        keep_counts=inputs.keep_counts,
        sharing=sharing_input(inputs),
        coupled=coupled_input(inputs),
        **kwargs,
    ):
        k = ci * chunk_steps
        yield times[k : k + n], st, err


@contextlib.contextmanager
def get_client(scheduler=None, workers=None, **cluster_kwargs):
    """A ``distributed.Client``, as a context manager that closes what it created.

    scheduler : address of a running scheduler (``"tcp://host:8786"``), or an existing Client (used
        as is, not closed)
    workers : otherwise, the number of worker processes of a LocalCluster (one thread each; default:
        Dask's choice); ``cluster_kwargs`` go to LocalCluster (e.g. ``memory_limit``)
    """
    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        raise ParameterError("get_client: give either scheduler (an existing cluster) or workers (a local one)")
    if scheduler is not None:
        if isinstance(scheduler, Client):
            yield scheduler
            return
        client = Client(str(scheduler))
        try:
            yield client
        finally:
            client.close()
        return
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        raise ParameterError(f"workers: expected an integer >= 1, got {workers!r}")
    kw = {"threads_per_worker": 1, "processes": True, "dashboard_address": None}
    if workers is not None:
        kw["n_workers"] = int(workers)
    kw.update(cluster_kwargs)
    cluster = LocalCluster(**kw)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
