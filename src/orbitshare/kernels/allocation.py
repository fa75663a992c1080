"""Capacity allocation of one time step: which satellite serves how much of which cell's demand.

Units: Mbit/s throughout (any one unit works: the problem is linear). Pairs ``p = (s, c)``: satellite s
sees cell c (and may serve it). Served ``x_p ≥ 0`` subject to::

    x_p ≤ P_p                    (one beam of s on c: ``pair_capacity``)
    Σ_{p ∈ s} x_p ≤ S_s          (the satellite's capacity: beams × beam capacity; 0 without a gateway)
    y_c = Σ_{p ∈ c} x_p ≤ min(D_c, K_c)   (the cell's demand and its cap: beams a cell can take)

Rules
-----
``"maxmin"``: max-min fair in the share of demand met ``y_c / D_c``, lexicographically (leximin): the
smallest share as large as possible, then the next, and so on. The feasible ``y`` form a polymatroid (the
flows into the cells of a capacitated network), so the leximin ``y`` is unique, is also a maximum-
throughput allocation (every maximal ``y`` has the same total), and minimises Σ (D_c − y_c)² / D_c.
``"throughput"``: a maximum flow (the total is the LP optimum; how it splits among cells is the solver's
and not unique — use it for totals). ``"proportional"``: the old sharing rule, for comparison only: each
satellite splits S_s among the cells it sees in proportion to their demand, with no pair, cell or demand
cap.

Algorithm (exact up to floating-point rounding)
-----------------------------------------------
The network source → satellite (S_s) → cell (P_p) → sink (u_c). A maximum flow is push-relabel (FIFO,
global relabelling; a global relabelling stops once every node with excess has its exact distance and
gives the nodes not reached a valid lower bound) from the current flow, finished by Dinic's algorithm on
the residual network (which also certifies it: no augmenting path is left) and the caps then held exactly
(flow that passed through a node and back leaves ~1e-16 of it in rounding). ``"maxmin"`` finds the
levels of the leximin (Megiddo 1974, "Optimal flows in networks with multiple sources and sinks";
Fujishige 1980, lexicographically optimal base of a polymatroid) on the parametric minimum cut of the
requests ``u_c(λ) = min(λ D_c, b_c)`` (``b_c`` the most c could get alone): the cells the residual network
cannot reach at λ have levels ≤ λ, and these sets are nested. A divide and conquer (:func:`_levels`)
splits each set of cells at the Newton (Dinkelbach) value of λ, at which its requests equal what it
receives, by one maximum flow, and contracts each side; every flow starts from its parent's, in one
network whose per-satellite and per-cell ranges are partitioned in place for each part.

Independent components of the pair graph are solved one after another (an island's cells never share
a satellite with a continent's). Residual capacities below ``1e-12`` of the component's largest capacity or demand
count as zero; the result agrees with an LP solver to ~1e-9 relative (the tests hold 1e-6).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from orbitshare._jit import njit
from orbitshare.errors import ParameterError

__all__ = ["RULES", "allocate", "allocate_cells", "allocate_step"]

#: The allocation rules, in the order of their integer codes in the kernels.
RULES = ("maxmin", "throughput", "proportional")

_RELATIVE_EPS = 1e-12


# --------------------------------------------------------------------------- maximum flow
# The network of a component is built once: its pairs sorted by satellite (``ps`` nondecreasing:
# :func:`_allocate` sorts them), so each satellite's pairs lie together, with the pair's cell ``sc``,
# capacity ``sP`` and flow ``sx``, and a copy ordered by cell (``cell_ptr``; satellite ``cs``, capacity
# ``cP``, flow ``cx``, stable in the pairs' order) so that the cells scan their pairs in memory order too;
# ``s2c`` and ``c2s`` map a pair's position in one order to the other, and a change of a pair's flow is
# written to both copies. A flow runs on a *task*: a list of satellites, each with the range
# ``[sk0[s], sk1[s])`` of its by-satellite positions in the task, and a list of cells, each with the range
# ``[cell_ptr[c], ck1[c])`` of its by-cell positions (a pair belongs to its cell's task; every satellite with
# a pair there is in the task). The divide and conquer of :func:`_levels` splits a task in place: the
# satellites' and cells' ranges are partitioned (the mirrors follow), so no flow rebuilds a network.
@njit
def _workspace(m):
    """Scratch arrays for the by-cell copy of m pairs (s2c, cs, cP, cx, c2s; fresh memory costs a page fault
    per 4 KiB, so a caller allocates them once)."""
    return (np.empty(m, np.int32), np.empty(m, np.int32), np.empty(m), np.empty(m), np.empty(m, np.int32))


@njit
def _network(ns, nc, ps, pc, P, x, ws):
    """The network of the pairs (ps nondecreasing; see above), its by-cell copy in the workspace ws."""
    m = ps.shape[0]
    sat_ptr = np.zeros(ns + 1, np.int64)
    cell_ptr = np.zeros(nc + 1, np.int64)
    for p in range(m):
        sat_ptr[ps[p] + 1] += 1
        cell_ptr[pc[p] + 1] += 1
    for s in range(ns):
        sat_ptr[s + 1] += sat_ptr[s]
    for c in range(nc):
        cell_ptr[c + 1] += cell_ptr[c]
    fc = cell_ptr[:-1].copy()
    s2c = ws[0][:m]
    cs = ws[1][:m]
    cP = ws[2][:m]
    cx = ws[3][:m]
    c2s = ws[4][:m]
    for p in range(m):  # a counting sort by cell (stable)
        c = pc[p]
        j = fc[c]
        fc[c] += 1
        s2c[p] = j
        cs[j] = ps[p]
        cP[j] = P[p]
        cx[j] = x[p]
        c2s[j] = p
    return (sat_ptr, pc, P, x, s2c, cell_ptr, cs, cP, cx, c2s)


@njit
def _state(ns, nc):
    """Per-node scratch of the flows, indexed by satellite / cell and reused by every flow of a component:
    (h_s, h_c: heights, then BFS levels; e_s, e_c: excess; used, y: flow out of each satellite and into each
    cell; queue; the active ring and its flags; cur_s, cur_c: current arcs; path)."""
    n = ns + nc
    return (np.zeros(ns, np.int64), np.zeros(nc, np.int64), np.zeros(ns), np.zeros(nc), np.zeros(ns),
            np.zeros(nc), np.empty(n, np.int64), np.empty(n + 1, np.int64), np.zeros(n, np.bool_),
            np.zeros(ns, np.int64), np.zeros(nc, np.int64), np.empty(2 * min(ns, nc) + 2, np.int64))  # fmt: skip


@njit
def _bfs(task, net, S, u, st, eps):
    """Levels of the task's residual network from the source (in st's h_s / h_c); returns the level of the
    nearest cell with sink slack (a large number when none: then h ≥ 0 marks exactly the nodes the source
    reaches)."""
    sats, cells, sk0, sk1, ck1 = task
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    lev_s, lev_c, used, y, queue = st[0], st[1], st[4], st[5], st[6]
    ns = lev_s.shape[0]
    big = 1 << 30
    for s in sats:
        lev_s[s] = -1
    for c in cells:
        lev_c[c] = -1
    qn = 0
    for s in sats:
        if S[s] - used[s] > eps:
            lev_s[s] = 0
            queue[qn] = s
            qn += 1
    dist = big
    head = 0
    while head < qn:
        v = queue[head]
        head += 1
        if v < ns:
            lv = lev_s[v]
            if lv + 1 > dist:
                continue
            for k in range(sk0[v], sk1[v]):
                c = sc[k]
                if lev_c[c] < 0 and sP[k] - sx[k] > eps:
                    lev_c[c] = lv + 1
                    if u[c] - y[c] > eps and lv + 1 < dist:
                        dist = lv + 1
                    queue[qn] = ns + c
                    qn += 1
        else:
            c = v - ns
            lv = lev_c[c]
            if lv >= dist:
                continue
            for j in range(cell_ptr[c], ck1[c]):
                s = cs[j]
                if lev_s[s] < 0 and cx[j] > eps:
                    lev_s[s] = lv + 1
                    queue[qn] = s
                    qn += 1
    return dist


@njit
def _augment(task, net, S, u, st, eps):
    """Augment the task's feasible flow (net's flows, used, y) to a maximum flow for the sink capacities u
    (Dinic). On return st's h_s / h_c ≥ 0 mark the nodes the source reaches in the final residual network."""
    sats, cells, sk0, sk1, ck1 = task
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    lev_s, lev_c, used, y, it_s, it_c, path = st[0], st[1], st[4], st[5], st[9], st[10], st[11]
    big = 1 << 30
    while True:
        dist = _bfs(task, net, S, u, st, eps)
        if dist == big:
            return
        for s in sats:
            it_s[s] = sk0[s]
        for c in cells:
            it_c[c] = cell_ptr[c]
        for s0 in sats:
            if lev_s[s0] != 0:
                continue
            while S[s0] - used[s0] > eps:
                # path[d]: a by-satellite position (d even: a forward pair) or a by-cell one (d odd: backward)
                depth = 0
                v = s0
                at_sat = True
                found = False
                while True:
                    if at_sat:
                        adv = False
                        while it_s[v] < sk1[v]:
                            k = it_s[v]
                            c = sc[k]
                            if lev_c[c] == lev_s[v] + 1 and sP[k] - sx[k] > eps:
                                path[depth] = k
                                depth += 1
                                v = c
                                at_sat = False
                                adv = True
                                break
                            it_s[v] += 1
                        if not adv:
                            lev_s[v] = -2  # dead end: out of the level graph
                            if depth == 0:
                                break
                            depth -= 1
                            v = sc[c2s[path[depth]]]  # back over a backward pair: to its cell
                            at_sat = False
                            it_c[v] += 1
                    else:
                        if lev_c[v] == dist and u[v] - y[v] > eps:
                            found = True
                            break
                        adv = False
                        if lev_c[v] < dist:
                            while it_c[v] < ck1[v]:
                                j = it_c[v]
                                s = cs[j]
                                if lev_s[s] == lev_c[v] + 1 and cx[j] > eps:
                                    path[depth] = j
                                    depth += 1
                                    v = s
                                    at_sat = True
                                    adv = True
                                    break
                                it_c[v] += 1
                        if not adv:
                            lev_c[v] = -2
                            depth -= 1
                            v = cs[s2c[path[depth]]]  # back over a forward pair: to its satellite
                            at_sat = True
                            it_s[v] += 1
                if not found:
                    break
                # bottleneck of the path s0 → c_1 → s_1 → … → c_end → sink (pairs alternate forward/backward)
                f = min(S[s0] - used[s0], u[v] - y[v])
                for d in range(depth):
                    q = path[d]
                    r = sP[q] - sx[q] if d % 2 == 0 else cx[q]
                    if r < f:
                        f = r
                for d in range(depth):
                    q = path[d]
                    if d % 2 == 0:
                        sx[q] += f
                        cx[s2c[q]] = sx[q]
                    else:
                        cx[q] = max(cx[q] - f, 0.0)
                        sx[c2s[q]] = cx[q]
                used[s0] += f
                y[v] += f


@njit
def _level_for(cells, n, D, b, target):
    """The λ ≥ 0 at which f(λ) = Σ_{c in cells[:n]} min(λ D_c, b_c) = target (piecewise linear, increasing,
    concave). From below, without sorting: λ ← the root of the linear piece b(C) + λ D(not C), C the cells
    capped at λ (b_c ≤ λ D_c). That piece bounds f from above beyond λ, so λ stays ≤ the answer and grows;
    C only grows, and when it stops, λ is exact (at most n + 1 rounds, a few in practice)."""
    if target <= 0.0 or n == 0:
        return 0.0
    lam = 0.0
    top = 0.0
    while True:
        capped = 0.0  # b(C)
        slope = 0.0  # D(not C)
        for q in range(n):
            c = cells[q]
            if b[c] <= lam * D[c]:
                capped += b[c]
            else:
                slope += D[c]
            top = max(top, b[c] / D[c])
        if slope <= 0.0:  # every cell capped: f is at its largest from the last breakpoint on
            return top
        nxt = (target - capped) / slope
        if nxt <= lam:
            return lam
        grew = False  # does a new cell become capped at nxt?
        for q in range(n):
            c = cells[q]
            if lam * D[c] < b[c] <= nxt * D[c]:
                grew = True
                break
        lam = nxt
        if not grew:
            return lam


@njit
def _csr(ns, nc, ps, pc):
    """Pairs grouped by satellite and by cell (counting sort; stable)."""
    npair = ps.shape[0]
    sat_ptr = np.zeros(ns + 1, np.int64)
    cell_ptr = np.zeros(nc + 1, np.int64)
    for p in range(npair):
        sat_ptr[ps[p] + 1] += 1
        cell_ptr[pc[p] + 1] += 1
    for s in range(ns):
        sat_ptr[s + 1] += sat_ptr[s]
    for c in range(nc):
        cell_ptr[c + 1] += cell_ptr[c]
    sat_list = np.empty(npair, np.int64)
    cell_list = np.empty(npair, np.int64)
    fs = sat_ptr[:-1].copy()
    fc = cell_ptr[:-1].copy()
    for p in range(npair):
        sat_list[fs[ps[p]]] = p
        fs[ps[p]] += 1
        cell_list[fc[pc[p]]] = p
        fc[pc[p]] += 1
    return sat_ptr, sat_list, cell_ptr, cell_list


@njit
def _take_off(a, b, mirror, k0, k1, excess):
    """Lower the flows a[k0:k1] (in order; their copies b[mirror[k]] too) by ``excess`` in all: each pair is a
    source-to-sink path, so taking flow off it keeps the rest feasible."""
    for k in range(k0, k1):
        if excess <= 0.0:
            break
        d = min(a[k], excess)
        a[k] -= d
        b[mirror[k]] = a[k]
        excess -= d


@njit
def _global_relabel(task, net, u, st, eps, top):
    """Distances to the sink in the task's residual network (reverse BFS, into st's h_s / h_c). The BFS stops
    at the first level after every node with excess (e_s / e_c > eps) has its exact distance: all nodes up to
    that level have theirs, and the nodes not reached get that level + 1, a valid lower bound. If some node
    with excess cannot reach the sink, the BFS runs to the end and the unreachable nodes get ``top``."""
    sats, cells, sk0, sk1, ck1 = task
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    h_s, h_c, e_s, e_c, y, queue = st[0], st[1], st[2], st[3], st[5], st[6]
    ns = h_s.shape[0]
    need = 0  # nodes with excess not reached yet
    fill = top
    for s in sats:
        h_s[s] = top
        if e_s[s] > eps:
            need += 1
    qn = 0
    for c in cells:
        h_c[c] = top
        if e_c[c] > eps:
            need += 1
        if u[c] - y[c] > eps:
            h_c[c] = 1
            queue[qn] = ns + c
            qn += 1
            if e_c[c] > eps:
                need -= 1
    head = 0
    while head < qn:
        v = queue[head]
        head += 1
        if v >= ns:  # a cell: satellites with a residual pair into it
            c = v - ns
            if need == 0:
                fill = h_c[c] + 1
                break
            for j in range(cell_ptr[c], ck1[c]):
                s = cs[j]
                if h_s[s] == top and cP[j] - cx[j] > eps:
                    h_s[s] = h_c[c] + 1
                    queue[qn] = s
                    qn += 1
                    if e_s[s] > eps:
                        need -= 1
        else:  # a satellite: cells whose flow on the pair could go back to it
            if need == 0:
                fill = h_s[v] + 1
                break
            for k in range(sk0[v], sk1[v]):
                c = sc[k]
                if h_c[c] == top and sx[k] > eps:
                    h_c[c] = h_s[v] + 1
                    queue[qn] = ns + c
                    qn += 1
                    if e_c[c] > eps:
                        need -= 1
    if need == 0 and head < qn:  # stopped early (the nodes in the queue keep their exact distance)
        for s in sats:
            if h_s[s] == top:
                h_s[s] = fill
        for c in cells:
            if h_c[c] == top:
                h_c[c] = fill


@njit
def _push_relabel(task, net, S, u, st, eps):
    """Push-relabel (FIFO, global relabelling) from the task's feasible flow (net's flows, used, y): every
    satellite's slack is pushed towards the cells; what cannot reach the sink goes back to the source.
    Leaves a maximum flow up to rounding (the caller finishes with Dinic)."""
    sats, cells, sk0, sk1, ck1 = task
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    h_s, h_c, e_s, e_c, used, y = st[0], st[1], st[2], st[3], st[4], st[5]
    active, inq, cur_s, cur_c = st[7], st[8], st[9], st[10]
    ns = h_s.shape[0]
    nn = sats.shape[0] + cells.shape[0]
    top = nn + 2
    for s in sats:
        e_s[s] = 0.0
        inq[s] = False
        cur_s[s] = sk0[s]
    for c in cells:
        e_c[c] = 0.0
        inq[ns + c] = False
        cur_c[c] = cell_ptr[c]
    for s in sats:
        e = S[s] - used[s]
        if e > eps:
            e_s[s] = e
    _global_relabel(task, net, u, st, eps, top)
    cap = nn + 1
    qh = 0
    qt = 0
    for s in sats:
        if e_s[s] > eps:
            if h_s[s] < top:
                used[s] = S[s]
                active[qt] = s
                qt = (qt + 1) % cap
                inq[s] = True
            else:
                e_s[s] = 0.0  # (it cannot reach the sink: the slack stays at the source)
    relabels = 0
    while qh != qt:
        v = active[qh]
        qh = (qh + 1) % cap
        inq[v] = False
        if v < ns:
            s = v
            while e_s[s] > eps and h_s[s] < top:
                k = cur_s[s]
                if k == sk1[s]:  # relabel
                    m = top
                    for kk in range(sk0[s], sk1[s]):
                        if sP[kk] - sx[kk] > eps and h_c[sc[kk]] + 1 < m:
                            m = h_c[sc[kk]] + 1
                    h_s[s] = m
                    cur_s[s] = sk0[s]
                    relabels += 1
                    continue
                c = sc[k]
                r = sP[k] - sx[k]
                if r > eps and h_s[s] == h_c[c] + 1:
                    d = min(e_s[s], r)
                    sx[k] += d
                    cx[s2c[k]] = sx[k]
                    e_s[s] -= d
                    e_c[c] += d
                    if not inq[ns + c] and h_c[c] < top:
                        active[qt] = ns + c
                        qt = (qt + 1) % cap
                        inq[ns + c] = True
                else:
                    cur_s[s] = k + 1
        else:
            c = v - ns
            while e_c[c] > eps and h_c[c] < top:
                if h_c[c] == 1 and u[c] - y[c] > eps:  # to the sink
                    d = min(e_c[c], u[c] - y[c])
                    y[c] += d
                    e_c[c] -= d
                    continue
                j = cur_c[c]
                if j == ck1[c]:  # relabel
                    m = top
                    if u[c] - y[c] > eps:
                        m = 1
                    for jj in range(cell_ptr[c], ck1[c]):
                        if cx[jj] > eps and h_s[cs[jj]] + 1 < m:
                            m = h_s[cs[jj]] + 1
                    h_c[c] = m
                    cur_c[c] = cell_ptr[c]
                    relabels += 1
                    continue
                s = cs[j]
                if cx[j] > eps and h_c[c] == h_s[s] + 1:
                    d = min(e_c[c], cx[j])
                    cx[j] -= d
                    sx[c2s[j]] = cx[j]
                    e_c[c] -= d
                    e_s[s] += d
                    if not inq[s] and h_s[s] < top:
                        active[qt] = s
                        qt = (qt + 1) % cap
                        inq[s] = True
                else:
                    cur_c[c] = j + 1
        if 4 * relabels > nn:  # global relabelling: exact heights again (every (ns + nc) / 4 relabels: measured)
            relabels = 0
            _global_relabel(task, net, u, st, eps, top)
            for s in sats:
                cur_s[s] = sk0[s]
                if e_s[s] > eps and h_s[s] < top and not inq[s]:
                    active[qt] = s
                    qt = (qt + 1) % cap
                    inq[s] = True
            for c in cells:
                cur_c[c] = cell_ptr[c]
                if e_c[c] > eps and h_c[c] < top and not inq[ns + c]:
                    active[qt] = ns + c
                    qt = (qt + 1) % cap
                    inq[ns + c] = True
    # what could not reach the sink goes back: a cell's excess off its pairs, then every satellite's excess
    for c in cells:
        e = e_c[c]
        if e > 0.0:
            for j in range(cell_ptr[c], ck1[c]):
                if e <= 0.0:
                    break
                d = min(cx[j], e)
                cx[j] -= d
                sx[c2s[j]] = cx[j]
                e -= d
    for s in sats:
        tot = 0.0
        for k in range(sk0[s], sk1[s]):
            tot += sx[k]
        used[s] = tot
    for c in cells:
        tot = 0.0
        for j in range(cell_ptr[c], ck1[c]):
            tot += cx[j]
        y[c] = tot


@njit
def _flow(task, net, S, u, st, eps, warm):
    """A maximum flow of the task for satellite capacities S and sink capacities u (net's flows; the flow
    into each cell in st's y). With ``warm`` it starts from the flows as they are (feasible but for cells
    above u, which are lowered first: each pair is a source-to-sink path), else from a greedy one (each
    satellite fills its pairs in order). On return st's h_s / h_c ≥ 0 mark the nodes the source reaches in
    the residual network (the source side of the minimum cut)."""
    sats, cells, sk0, sk1, ck1 = task
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    used, y = st[4], st[5]
    if warm:
        for c in cells:
            tot = 0.0
            for j in range(cell_ptr[c], ck1[c]):
                tot += cx[j]
            y[c] = tot
            if tot - u[c] > 0.0:
                _take_off(cx, sx, c2s, cell_ptr[c], ck1[c], tot - u[c])
                y[c] = u[c]
        for s in sats:
            tot = 0.0
            for k in range(sk0[s], sk1[s]):
                tot += sx[k]
            used[s] = tot
    else:
        for c in cells:
            y[c] = 0.0
        for s in sats:
            rem = S[s]
            for k in range(sk0[s], sk1[s]):
                c = sc[k]
                d = min(sP[k], u[c] - y[c], rem)
                if d > 0.0:
                    sx[k] = d
                    y[c] += d
                    rem -= d
                else:
                    sx[k] = 0.0
                cx[s2c[k]] = sx[k]
            used[s] = S[s] - rem
    _push_relabel(task, net, S, u, st, eps)
    _augment(task, net, S, u, st, eps)
    # flow that passed through a node and back leaves rounding (~1e-16 of it): hold every cap exactly
    for s in sats:
        tot = 0.0
        for k in range(sk0[s], sk1[s]):
            tot += sx[k]
        if tot > S[s]:
            _take_off(sx, cx, s2c, sk0[s], sk1[s], tot - S[s])
    for c in cells:
        tot = 0.0
        for j in range(cell_ptr[c], ck1[c]):
            tot += cx[j]
        if tot > u[c]:
            _take_off(cx, sx, c2s, cell_ptr[c], ck1[c], tot - u[c])
            tot = 0.0
            for j in range(cell_ptr[c], ck1[c]):
                tot += cx[j]
        y[c] = tot


@njit
def _maxflow(ns, nc, ps, pc, S, P, u, eps, x):
    """A maximum flow for sink capacities u into x (per pair, from a greedy start); returns y (per cell)."""
    net = _network(ns, nc, ps, pc, P, x, _workspace(ps.shape[0]))
    sat_ptr = net[0]
    task = (np.arange(ns), np.arange(nc), sat_ptr[:-1].copy(), sat_ptr[1:].copy(), net[5][1:].copy())
    st = _state(ns, nc)
    _flow(task, net, S, u, st, eps, np.bool_(False))  # (a typed bool: one compile)
    return st[5].copy()


@njit
def _subproblem(pairs, scap_of, ps, pc, P, smap, cmap, lps, lpc, lP):
    """Local indices of a set of pairs (global ids): (lps, lpc, lP, lS, sats, cells); smap/cmap are scratch
    maps (−1 everywhere on entry and on return). scap_of[s] is the capacity of global satellite s here;
    lps, lpc, lP: arrays of at least m values to write the local pairs into (views of them are returned)."""
    m = pairs.shape[0]
    lps = lps[:m]
    lpc = lpc[:m]
    lP = lP[:m]
    sats = np.empty(m, np.int64)
    cells = np.empty(m, np.int64)
    ns = 0
    nc = 0
    for q in range(m):
        p = pairs[q]
        s = ps[p]
        c = pc[p]
        if smap[s] < 0:
            smap[s] = ns
            sats[ns] = s
            ns += 1
        if cmap[c] < 0:
            cmap[c] = nc
            cells[nc] = c
            nc += 1
        lps[q] = smap[s]
        lpc[q] = cmap[c]
        lP[q] = P[p]
    lS = np.empty(ns)
    for i in range(ns):
        lS[i] = scap_of[sats[i]]
        smap[sats[i]] = -1
    for i in range(nc):
        cmap[cells[i]] = -1
    return lps, lpc, lP, lS, sats[:ns], cells[:nc]


@njit
def _part_blocks(net, sats, sk0, sk1, reached_c, nk_s, into_s, tmp_c, tmp_P, tmp_x, tmp_m):
    """For each satellite s of ``sats``: partition its by-satellite positions [sk0[s], sk1[s]) stably, pairs
    into reached cells first (the mirrors c2s follow); their number into nk_s[s], the capacity of the pairs
    into the unreached cells into into_s[s]."""
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    for s in sats:
        k0 = sk0[s]
        k1 = sk1[s]
        nup = 0
        into = 0.0
        mixed = False  # a pair into a reached cell after one into an unreached cell: something moves
        for k in range(k0, k1):
            if reached_c[sc[k]] >= 0:
                nup += 1
                mixed = mixed or nup < k - k0 + 1
            else:
                into += sP[k]
        nk_s[s] = nup
        into_s[s] = into
        if not mixed:
            continue
        w = k0
        nl = 0
        for k in range(k0, k1):
            c = sc[k]
            if reached_c[c] >= 0:
                if w != k:
                    sc[w] = c
                    sP[w] = sP[k]
                    sx[w] = sx[k]
                    s2c[w] = s2c[k]
                    c2s[s2c[w]] = w
                w += 1
            else:
                tmp_c[nl] = c
                tmp_P[nl] = sP[k]
                tmp_x[nl] = sx[k]
                tmp_m[nl] = s2c[k]
                nl += 1
        for i in range(nl):
            sc[w] = tmp_c[i]
            sP[w] = tmp_P[i]
            sx[w] = tmp_x[i]
            s2c[w] = tmp_m[i]
            c2s[tmp_m[i]] = w
            w += 1


@njit
def _part_cells(net, cells, ck1, reached_s, tmp_s, tmp_P, tmp_x, tmp_m):
    """For each cell c of ``cells``: partition its by-cell positions [cell_ptr[c], ck1[c]) stably, pairs of
    reached satellites first (the mirrors s2c follow), and end ck1[c] after them."""
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    for c in cells:
        j0 = cell_ptr[c]
        j1 = ck1[c]
        nup = 0
        mixed = False  # a pair of a reached satellite after one of an unreached satellite: something moves
        for j in range(j0, j1):
            if reached_s[cs[j]] >= 0:
                nup += 1
                mixed = mixed or nup < j - j0 + 1
        ck1[c] = j0 + nup
        if not mixed:
            continue
        w = j0
        nl = 0
        for j in range(j0, j1):
            s = cs[j]
            if reached_s[s] >= 0:
                if w != j:
                    cs[w] = s
                    cP[w] = cP[j]
                    cx[w] = cx[j]
                    c2s[w] = c2s[j]
                    s2c[c2s[w]] = w
                w += 1
            else:
                tmp_s[nl] = s
                tmp_P[nl] = cP[j]
                tmp_x[nl] = cx[j]
                tmp_m[nl] = c2s[j]
                nl += 1
        for i in range(nl):
            cs[w] = tmp_s[i]
            cP[w] = tmp_P[i]
            cx[w] = tmp_x[i]
            c2s[w] = tmp_m[i]
            s2c[tmp_m[i]] = w
            w += 1


@njit
def _levels(ns, nc, ps, pc, S, P, D, b, eps):
    """The leximin level λ_c ∈ [0, 1] of every cell (y_c = min(λ_c D_c, b_c)), by divide and conquer on the
    parametric minimum cut (the cells the source cannot reach at λ have λ_c ≤ λ; these sets are nested).

    A task is a set of cells (with their pairs), its satellites with their capacity in it, and a range
    (lo, hi] holding the levels of its cells. The first task is every cell at hi = 1: a max flow; the cells
    still reached are at 1, the rest form the next task. A task's Newton (Dinkelbach) value λ_m, at which
    its requests equal what it receives at hi, splits it by a max flow at λ_m into the unreached (levels in
    (lo, λ_m]; the reached nodes join the source: a reached satellite keeps just its pairs into them, at
    full pair capacity) and the reached (levels in [λ_m, hi); the unreached nodes join the sink: unreached
    satellites leave, with their pairs into the reached cells, whose flow is below eps; reached satellites
    lose the capacity of their pairs into the unreached). What a
    task receives at its hi is the capacity of the cut with all its cells on the sink side (the parent's
    minimum cut at λ_m leaves them there, and contracting the parent's other side keeps that cut minimal):
    no flow is needed for it. Every flow after the first starts from its parent's (the flows stay in one
    network, whose satellite and cell ranges are partitioned per task: no network is built twice)."""
    lam = np.zeros(nc)
    npair = ps.shape[0]
    first = np.empty(npair, np.int64)
    m0 = 0
    for p in range(npair):
        c = pc[p]
        if D[c] > 0.0 and b[c] > eps and P[p] > 0.0 and S[ps[p]] > 0.0:
            first[m0] = p
            m0 += 1
    if m0 == 0:
        return lam
    lps = np.empty(m0, np.int64)
    lpc = np.empty(m0, np.int64)
    lP = np.empty(m0)
    for q in range(m0):
        lps[q] = ps[first[q]]
        lpc[q] = pc[first[q]]
        lP[q] = P[first[q]]
    net = _network(ns, nc, lps, lpc, lP, np.zeros(m0), _workspace(m0))
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    st = _state(ns, nc)
    h_s, h_c = st[0], st[1]
    u = np.zeros(nc)
    scap = S.copy()  # the capacity of each satellite in the task at hand
    sk0 = sat_ptr[:-1].copy()  # and its by-satellite positions in it
    sk1 = sat_ptr[1:].copy()
    ck1 = cell_ptr[1:].copy()  # the end of each cell's pairs in its task (those of satellites left are after)
    maxdeg = 1
    for s in range(ns):
        maxdeg = max(maxdeg, sat_ptr[s + 1] - sat_ptr[s])
    for c in range(nc):
        maxdeg = max(maxdeg, cell_ptr[c + 1] - cell_ptr[c])
    tmp_c = np.empty(maxdeg, np.int64)
    tmp_P = np.empty(maxdeg)
    tmp_x = np.empty(maxdeg)
    tmp_m = np.empty(maxdeg, np.int32)
    nk_s = np.zeros(ns, np.int64)  # a split's pairs of each satellite into reached cells
    into_s = np.zeros(ns)  # and the capacity of its pairs into the unreached
    # pending tasks (a stack): their cells are segments of cpool (a task's children split its segment in
    # place); their satellites are entries (id, capacity, k0, k1) of a stack pool that grows when needed
    cpool = np.empty(nc, np.int64)
    ctmp = np.empty(nc, np.int64)
    nroot = 0
    for c in range(nc):
        if cell_ptr[c + 1] > cell_ptr[c]:
            cpool[nroot] = c
            nroot += 1
    tsat = np.empty(ns, np.int64)
    nst = 0
    for s in range(ns):
        if sat_ptr[s + 1] > sat_ptr[s]:
            tsat[nst] = s
            nst += 1
    esz = ns + 1  # (grows by doubling when needed: the first split already grows it, so every test exercises it)
    e_id = np.empty(esz, np.int64)
    e_cap = np.empty(esz)
    e_k0 = np.empty(esz, np.int64)
    e_k1 = np.empty(esz, np.int64)
    low_id = np.empty(ns, np.int64)  # a split's entries of the lower task, before they go on the pool
    low_cap = np.empty(ns)
    low_k0 = np.empty(ns, np.int64)
    t_c0 = np.empty(nc + 1, np.int64)
    t_c1 = np.empty(nc + 1, np.int64)
    t_e0 = np.empty(nc + 1, np.int64)
    t_e1 = np.empty(nc + 1, np.int64)
    t_lo = np.empty(nc + 1)
    t_hi = np.empty(nc + 1)
    for i in range(nst):  # the first task: every cell with a pair, every satellite at its capacity
        s = tsat[i]
        e_id[i] = s
        e_cap[i] = S[s]
        e_k0[i] = sat_ptr[s]
        e_k1[i] = sat_ptr[s + 1]
    t_c0[0], t_c1[0], t_e0[0], t_e1[0], t_lo[0], t_hi[0] = 0, nroot, 0, nst, 0.0, 1.0
    ntask = 1
    root = True
    while ntask > 0:
        ntask -= 1
        c0, c1, e0, e1, lo, hi = t_c0[ntask], t_c1[ntask], t_e0[ntask], t_e1[ntask], t_lo[ntask], t_hi[ntask]
        nst = e1 - e0
        flow_t = 0.0  # what the cells receive at hi: the cut with all of them on the sink side
        for i in range(nst):
            s = e_id[e0 + i]
            tsat[i] = s
            scap[s] = e_cap[e0 + i]
            sk0[s] = e_k0[e0 + i]
            sk1[s] = e_k1[e0 + i]
            if not root:
                psum = 0.0
                for k in range(sk0[s], sk1[s]):
                    psum += sP[k]
                flow_t += min(scap[s], psum)
        etop = e0  # (the task's entries are free again)
        cells = cpool[c0:c1]
        if root:
            lam_m = hi
        else:
            ask = 0.0
            for c in cells:
                ask += min(hi * D[c], b[c])
            flow_t = min(flow_t, ask)  # (equal in exact arithmetic; both bound the flow)
            lam_m = min(max(_level_for(cells, c1 - c0, D, b, flow_t), lo), hi)
        for c in cells:
            u[c] = min(lam_m * D[c], b[c])
        _flow((tsat[:nst], cells, sk0, sk1, ck1), net, scap, u, st, eps, np.bool_(not root))
        nlow = 0
        for c in cells:
            if h_c[c] < 0:
                nlow += 1
        if nlow == 0 or (nlow == c1 - c0 and not root):
            for c in cells:  # one level (or rounding): every cell of the task at λ_m
                lam[c] = lam_m
            root = False
            continue
        # split: the reached cells first in the segment, then the unreached
        nup = 0
        nl = 0
        for c in cells:
            if h_c[c] >= 0:
                cpool[c0 + nup] = c
                nup += 1
            else:
                ctmp[nl] = c
                nl += 1
        for i in range(nl):
            cpool[c0 + nup + i] = ctmp[i]
        if etop + 2 * nst > esz:  # grow the entry pool
            esz = 2 * (etop + 2 * nst)
            e_id = np.concatenate((e_id[:etop], np.empty(esz - etop, np.int64)))
            e_cap = np.concatenate((e_cap[:etop], np.empty(esz - etop)))
            e_k0 = np.concatenate((e_k0[:etop], np.empty(esz - etop, np.int64)))
            e_k1 = np.concatenate((e_k1[:etop], np.empty(esz - etop, np.int64)))
        eu0 = etop
        nlo = 0
        _part_blocks(net, tsat[:nst], sk0, sk1, h_c, nk_s, into_s, tmp_c, tmp_P, tmp_x, tmp_m)
        for i in range(nst):
            s = tsat[i]
            k0 = sk0[s]
            k1 = sk1[s]
            nk = nk_s[s]
            into_low = into_s[s]
            if nk > 0 and not root and h_s[s] >= 0:  # the upper task (the first task's reached cells are final)
                e_id[etop] = s
                # (an unlimited satellite, joined to the source with infinite pair capacities, stays so)
                e_cap[etop] = np.inf if scap[s] == np.inf else max(scap[s] - into_low, 0.0)
                e_k0[etop] = k0
                e_k1[etop] = k0 + nk
                etop += 1
            elif nk > 0:  # an unreached satellite leaves the reached cells (its flow into them is below eps)
                for k in range(k0, k0 + nk):
                    sx[k] = 0.0
                    cx[s2c[k]] = 0.0
            if nk < k1 - k0:  # the lower task
                low_id[nlo] = s
                low_cap[nlo] = into_low if h_s[s] >= 0 else scap[s]
                low_k0[nlo] = k0 + nk
                nlo += 1
        if root:
            for c in cells[:nup]:
                lam[c] = lam_m
        else:
            _part_cells(net, cells[:nup], ck1, h_s, tmp_c, tmp_P, tmp_x, tmp_m)  # pairs of satellites left: after
            t_c0[ntask], t_c1[ntask], t_e0[ntask], t_e1[ntask] = c0, c0 + nup, eu0, etop
            t_lo[ntask], t_hi[ntask] = lam_m, hi
            ntask += 1
        el0 = etop
        for i in range(nlo):
            s = low_id[i]
            e_id[etop] = s
            e_cap[etop] = low_cap[i]
            e_k0[etop] = low_k0[i]
            e_k1[etop] = sk1[s]
            etop += 1
        t_c0[ntask], t_c1[ntask], t_e0[ntask], t_e1[ntask] = c0 + nup, c1, el0, etop
        t_lo[ntask], t_hi[ntask] = lo, lam_m
        ntask += 1
        root = False
    return lam


# --------------------------------------------------------------------------- one connected problem
@njit
def _solve(ns, nc, ps, pc, S, D, P, K, rule, eps, x, y, pairs):
    """Allocate one problem (local indices): the served amount of each cell into ``y`` and, with ``pairs``
    (always for "throughput" and "proportional"), of each pair into ``x``."""
    for p in range(ps.shape[0]):
        x[p] = 0.0
    if rule == 2:  # proportional: S_s split by demand among the cells s sees, no caps
        sat_ptr, sat_list, _, _ = _csr(ns, nc, ps, pc)
        for s in range(ns):
            w = 0.0
            for k in range(sat_ptr[s], sat_ptr[s + 1]):
                w += D[pc[sat_list[k]]]
            if w > 0.0:
                for k in range(sat_ptr[s], sat_ptr[s + 1]):
                    p = sat_list[k]
                    x[p] = S[s] * (D[pc[p]] / w)
        for c in range(nc):
            y[c] = 0.0
        for p in range(ps.shape[0]):
            y[pc[p]] += x[p]
        return
    # the most each cell could receive alone
    b = np.zeros(nc)
    for p in range(ps.shape[0]):
        b[pc[p]] += min(P[p], S[ps[p]])
    for c in range(nc):
        b[c] = min(D[c], K[c], b[c])
    u = b.copy()
    if rule == 0:  # maxmin: each cell's leximin level, then one flow that meets exactly those amounts
        lam = _levels(ns, nc, ps, pc, S, P, D, b, eps)
        for c in range(nc):
            u[c] = min(lam[c] * D[c], b[c])
            y[c] = u[c]
        if not pairs:
            return  # the cells' amounts are the leximin's (unique); a flow would only split them by pair
    yf = _maxflow(ns, nc, ps, pc, S, P, u, eps, x)
    if rule == 1:
        for c in range(nc):
            y[c] = yf[c]


# --------------------------------------------------------------------------- components and driver
@njit
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit
def allocate_step(ps, pc, ns, nc, S, D, P, K, rule):
    """Allocate one step (the kernel of :func:`allocate`; no checks): served Mbit/s per pair, float64[npair].

    ps, pc : int64[npair] satellite (0..ns−1) and cell (0..nc−1) of each pair; S float64[ns]; D, K
    float64[nc]; P float64[npair]; rule : 0 maxmin, 1 throughput, 2 proportional. Each connected
    component of the pair graph is solved on its own."""
    return _allocate(ps, pc, ns, nc, S, D, P, K, rule, np.bool_(True))[0]  # (typed bools: one compiled _allocate)


@njit
def allocate_cells(ps, pc, ns, nc, S, D, P, K, rule):
    """As :func:`allocate_step`, the served Mbit/s per CELL, float64[nc] (under "maxmin" without the final
    flow that would split the cells' unique amounts among pairs: what the pass needs)."""
    return _allocate(ps, pc, ns, nc, S, D, P, K, rule, np.bool_(False))[1]


@njit
def _counting_order(key, nkey):
    """The stable sort order of int64 keys in [0, nkey) (a counting sort: O(n + nkey))."""
    start = np.zeros(nkey + 1, np.int64)
    for q in range(key.shape[0]):
        start[key[q] + 1] += 1
    for v in range(nkey):
        start[v + 1] += start[v]
    order = np.empty(key.shape[0], np.int64)
    for q in range(key.shape[0]):
        order[start[key[q]]] = q
        start[key[q]] += 1
    return order


@njit
def _allocate(ps, pc, ns, nc, S, D, P, K, rule, pairs):
    npair = ps.shape[0]
    x = np.zeros(npair)
    y = np.zeros(nc)
    if npair == 0:
        return x, y
    # union-find over satellites (0..ns−1) and cells (ns..ns+nc−1)
    parent = np.arange(ns + nc)
    for p in range(npair):
        a = _find(parent, ps[p])
        b = _find(parent, ns + pc[p])
        if a != b:
            parent[a] = b
    root = np.empty(npair, np.int64)
    for p in range(npair):
        root[p] = _find(parent, ps[p])
    # by component, and within one by satellite (the flows need each satellite's pairs together); both
    # sorts are stable, so pairs already sorted by satellite (the pass's) keep their order and skip the first
    sat_sorted = True
    for p in range(1, npair):
        if ps[p] < ps[p - 1]:
            sat_sorted = False
            break
    if sat_sorted:
        order = _counting_order(root, ns + nc)
    else:
        by_sat = _counting_order(ps, ns)
        order = by_sat[_counting_order(root[by_sat], ns + nc)]
    smap = np.full(ns, -1, np.int64)
    cmap = np.full(nc, -1, np.int64)
    q0 = 0
    while q0 < npair:
        r = root[order[q0]]
        q1 = q0
        while q1 < npair and root[order[q1]] == r:
            q1 += 1
        m = q1 - q0
        lps, lpc, lp, ls, sats, cells = _subproblem(order[q0:q1], S, ps, pc, P, smap, cmap, np.empty(m, np.int64),
                                                    np.empty(m, np.int64), np.empty(m))  # fmt: skip
        nls = sats.shape[0]
        nlc = cells.shape[0]
        ld = np.empty(nlc)
        lk = np.empty(nlc)
        for i in range(nlc):
            ld[i] = D[cells[i]]
            lk[i] = K[cells[i]]
        scale = 0.0  # per component: a component's result does not depend on what else is in the step
        for i in range(nls):
            scale = max(scale, ls[i])
        for i in range(nlc):
            scale = max(scale, ld[i])
        eps = _RELATIVE_EPS * scale
        lx = np.empty(m)
        ly = np.empty(nlc)
        _solve(nls, nlc, lps, lpc, ls, ld, lp, lk, rule, eps, lx, ly, pairs)
        for q in range(m):
            x[order[q0 + q]] = lx[q]
        for i in range(nlc):
            y[cells[i]] = ly[i]
        q0 = q1
    return x, y


def _vector(name: str, a: ArrayLike | float, n: int, *, allow_inf: bool) -> np.ndarray:
    """``a`` as float64[n] (a scalar broadcast), checked ≥ 0 (and finite unless allow_inf)."""
    v = np.asarray(a, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n, float(v))
    if v.shape != (n,):
        raise ParameterError(f"{name}: expected a number or {n} values, got shape {v.shape}")
    ok = (v >= 0) & (np.isfinite(v) | (allow_inf & (v == math.inf)))
    if not np.all(ok):
        bad = int(np.flatnonzero(~ok)[0])
        limit = "finite numbers >= 0 or inf" if allow_inf else "finite numbers >= 0"
        raise ParameterError(f"{name}: expected {limit} (Mbit/s), got {v[bad]!r} at index {bad}")
    return np.ascontiguousarray(v)


def _indices(name: str, a: ArrayLike, n: int, npair: int) -> np.ndarray:
    v = np.asarray(a)
    if v.shape != (npair,) or (npair and v.dtype.kind not in "iu"):
        raise ParameterError(f"{name}: expected {npair} integer indices, got shape {v.shape} of {v.dtype}")
    if npair and (v.min() < 0 or v.max() >= n):
        raise ParameterError(f"{name}: indices must lie in [0, {n - 1}], got {v.min()}..{v.max()}")
    return np.ascontiguousarray(v, dtype=np.int64)


def allocate(
    pair_sat: ArrayLike,
    pair_cell: ArrayLike,
    sat_capacity: ArrayLike,
    cell_demand: ArrayLike,
    *,
    pair_capacity: ArrayLike | float = math.inf,
    cell_capacity: ArrayLike | float = math.inf,
    rule: str = "maxmin",
) -> np.ndarray:
    """Served Mbit/s of each (satellite, cell) pair at one step (module docstring for the model).

    pair_sat, pair_cell : int[npair]  the satellite and the cell of each pair (a satellite sees the cell)
    sat_capacity : float64[nsat]      S_s, Mbit/s (≥ 0; 0 for a satellite without a gateway)
    cell_demand : float64[ncell]      D_c, Mbit/s (≥ 0)
    pair_capacity : float or float64[npair]   P_p, Mbit/s (one beam; inf: no limit)
    cell_capacity : float or float64[ncell]   K_c, Mbit/s (beams a cell can take; inf: no limit)
    rule : "maxmin" (leximin in y_c / D_c), "throughput" (a maximum flow) or "proportional"
    Returns float64[npair] ≥ 0 with the caps held (to ~1e-12 of the largest capacity).

    Examples
    --------
    >>> x = allocate([0, 0, 1], [0, 1, 1], [10.0, 4.0], [8.0, 8.0], pair_capacity=6.0)
    >>> [round(float(v), 9) for v in x]
    [6.0, 4.0, 4.0]
    >>> round(float(allocate([0, 0], [0, 1], [10.0], [20.0, 5.0]).sum()), 9)
    10.0
    """
    if rule not in RULES:
        raise ParameterError(f"rule: expected one of {', '.join(map(repr, RULES))}, got {rule!r}")
    sat = np.asarray(sat_capacity)
    dem = np.asarray(cell_demand)
    if sat.ndim != 1 or dem.ndim != 1:
        raise ParameterError("sat_capacity, cell_demand: expected one-dimensional arrays (one value each)")
    ns, nc = sat.shape[0], dem.shape[0]
    npair = np.asarray(pair_sat).shape[0] if np.ndim(pair_sat) == 1 else -1
    if npair < 0:
        raise ParameterError("pair_sat: expected a one-dimensional array of satellite indices")
    ps = _indices("pair_sat", pair_sat, ns, npair)
    pc = _indices("pair_cell", pair_cell, nc, npair)
    S = _vector("sat_capacity", sat, ns, allow_inf=False)
    D = _vector("cell_demand", dem, nc, allow_inf=False)
    P = _vector("pair_capacity", pair_capacity, npair, allow_inf=True)
    K = _vector("cell_capacity", cell_capacity, nc, allow_inf=True)
    return allocate_step(ps, pc, ns, nc, S, D, P, K, RULES.index(rule))
