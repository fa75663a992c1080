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
global relabelling) from the current flow, finished by Dinic's algorithm on the residual network (which
also certifies it: no augmenting path is left) and the caps then held exactly (flow that passed through a
node and back leaves ~1e-16 of it in rounding). ``"maxmin"`` finds the levels of the
leximin from the lowest (Megiddo 1974, "Optimal flows in networks with multiple sources and sinks";
Fujishige 1980, lexicographically optimal base of a polymatroid): with the cells not yet fixed ("active")
asking ``u_c(λ) = min(λ D_c, b_c)`` (``b_c`` the most c could get alone), the largest λ at which every
sink can be saturated is found by Newton's (Dinkelbach's) iteration from λ = 1: a maximum flow; if some
sink is short, the cells the residual network cannot reach form the deficient set A of the minimum cut,
and λ is lowered to the value at which A's requests equal the flow A actually receives. At the level λ*
the active cells the residual network cannot reach (and those at their own bound) are fixed at
``u_c(λ*)``; the loop goes on with the rest. Lowering a request only takes flow off that cell's pairs
(every pair is a source-to-sink path), so every maximum flow starts from the previous one.

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


# --------------------------------------------------------------------------- maximum flow (Dinic)
# A flow's pairs come sorted by satellite (``ps`` nondecreasing: :func:`_allocate` sorts them, and every
# subproblem keeps their order), so each satellite's pairs lie together: ``sat_ptr``, with the pair's cell
# ``sc = pc``, capacity ``sP = P`` and flow ``sx = x`` (the arrays themselves). A copy ordered by cell
# (``cell_ptr``; satellite ``cs``, capacity ``cP``, flow ``cx``, stable in the pairs' order) lets the cells
# scan their pairs in memory order too; ``s2c`` and ``c2s`` map a pair's position in one order to the
# other, and a change of a pair's flow is written to both copies.
@njit
def _workspace(m):
    """Scratch arrays for the flows of up to m pairs, reused (fresh memory costs a page fault per 4 KiB):
    the network's (s2c, cs, cP, cx, c2s) and a subproblem's (lps, lpc, lP)."""
    return (np.empty(m, np.int32), np.empty(m, np.int32), np.empty(m), np.empty(m), np.empty(m, np.int32),
            np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m))  # fmt: skip


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
def _bfs(ns, nc, net, S, u, used, y, eps, lev_s, lev_c, queue):
    """Levels of the residual network from the source; returns the level of the nearest cell with sink
    slack (a large number when none: then lev_* ≥ 0 marks exactly the nodes the source reaches)."""
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    big = 1 << 30
    for s in range(ns):
        lev_s[s] = -1
    for c in range(nc):
        lev_c[c] = -1
    qn = 0
    for s in range(ns):
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
            for k in range(sat_ptr[v], sat_ptr[v + 1]):
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
            for j in range(cell_ptr[c], cell_ptr[c + 1]):
                s = cs[j]
                if lev_s[s] < 0 and cx[j] > eps:
                    lev_s[s] = lv + 1
                    queue[qn] = s
                    qn += 1
    return dist


@njit
def _augment(ns, nc, net, S, u, used, y, eps, lev_s, lev_c, queue, it_s, it_c, path):
    """Augment the feasible flow (net's flows, used, y) to a maximum flow for the sink capacities u (Dinic).

    On return lev_s / lev_c ≥ 0 mark the nodes the source reaches in the final residual network."""
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    big = 1 << 30
    while True:
        dist = _bfs(ns, nc, net, S, u, used, y, eps, lev_s, lev_c, queue)
        if dist == big:
            return
        for s in range(ns):
            it_s[s] = sat_ptr[s]
        for c in range(nc):
            it_c[c] = cell_ptr[c]
        for s0 in range(ns):
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
                        while it_s[v] < sat_ptr[v + 1]:
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
                            while it_c[v] < cell_ptr[v + 1]:
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
    """The λ ≥ 0 at which Σ_{c in cells[:n]} min(λ D_c, b_c) = target (piecewise linear, increasing)."""
    if target <= 0.0 or n == 0:
        return 0.0
    t = np.empty(n)
    for q in range(n):
        c = cells[q]
        t[q] = b[c] / D[c]
    order = np.argsort(t)
    capped = 0.0  # Σ b of the cells whose breakpoint is below λ
    slope = 0.0
    for q in range(n):
        slope += D[cells[q]]
    for q in range(n):
        c = cells[order[q]]
        # up to this breakpoint the function is capped + λ · slope
        if capped + t[order[q]] * slope >= target:
            return (target - capped) / slope
        capped += b[c]
        slope -= D[c]
    return t[order[n - 1]]


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
def _global_relabel(ns, nc, net, u, y, eps, h_s, h_c, queue, top):
    """Exact distances to the sink in the residual network (reverse BFS); unreachable nodes get ``top``."""
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    for s in range(ns):
        h_s[s] = top
    for c in range(nc):
        h_c[c] = top
    qn = 0
    for c in range(nc):
        if u[c] - y[c] > eps:
            h_c[c] = 1
            queue[qn] = ns + c
            qn += 1
    head = 0
    while head < qn:
        v = queue[head]
        head += 1
        if v >= ns:  # a cell: satellites with a residual pair into it
            c = v - ns
            for j in range(cell_ptr[c], cell_ptr[c + 1]):
                s = cs[j]
                if h_s[s] == top and cP[j] - cx[j] > eps:
                    h_s[s] = h_c[c] + 1
                    queue[qn] = s
                    qn += 1
        else:  # a satellite: cells whose flow on the pair could go back to it
            for k in range(sat_ptr[v], sat_ptr[v + 1]):
                c = sc[k]
                if h_c[c] == top and sx[k] > eps:
                    h_c[c] = h_s[v] + 1
                    queue[qn] = ns + c
                    qn += 1


@njit
def _push_relabel(ns, nc, ps, pc, net, S, u, used, y, eps):
    """Push-relabel (FIFO, global relabelling) from the feasible flow (net's flows, used, y): every
    satellite's slack is pushed towards the cells; what cannot reach the sink goes back to the source.
    Leaves a maximum flow up to rounding (the caller finishes with Dinic)."""
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    top = ns + nc + 2
    h_s = np.empty(ns, np.int64)
    h_c = np.empty(nc, np.int64)
    e_s = np.zeros(ns)
    e_c = np.zeros(nc)
    queue = np.empty(ns + nc, np.int64)
    active = np.empty(ns + nc + 1, np.int64)  # a ring buffer of active nodes
    inq = np.zeros(ns + nc, np.bool_)
    cur_s = sat_ptr[:-1].copy()
    cur_c = cell_ptr[:-1].copy()
    _global_relabel(ns, nc, net, u, y, eps, h_s, h_c, queue, top)
    cap = ns + nc + 1
    qh = 0
    qt = 0
    for s in range(ns):
        e = S[s] - used[s]
        if e > eps and h_s[s] < top:
            e_s[s] = e
            used[s] = S[s]
            active[qt] = s
            qt = (qt + 1) % cap
            inq[s] = True
    relabels = 0
    while qh != qt:
        v = active[qh]
        qh = (qh + 1) % cap
        inq[v] = False
        if v < ns:
            s = v
            while e_s[s] > eps and h_s[s] < top:
                k = cur_s[s]
                if k == sat_ptr[s + 1]:  # relabel
                    m = top
                    for kk in range(sat_ptr[s], sat_ptr[s + 1]):
                        if sP[kk] - sx[kk] > eps and h_c[sc[kk]] + 1 < m:
                            m = h_c[sc[kk]] + 1
                    h_s[s] = m
                    cur_s[s] = sat_ptr[s]
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
                if j == cell_ptr[c + 1]:  # relabel
                    m = top
                    if u[c] - y[c] > eps:
                        m = 1
                    for jj in range(cell_ptr[c], cell_ptr[c + 1]):
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
        if 4 * relabels > ns + nc:  # global relabelling: exact heights again (every (ns + nc) / 4 relabels: measured)
            relabels = 0
            _global_relabel(ns, nc, net, u, y, eps, h_s, h_c, queue, top)
            for s in range(ns):
                cur_s[s] = sat_ptr[s]
                if e_s[s] > eps and h_s[s] < top and not inq[s]:
                    active[qt] = s
                    qt = (qt + 1) % cap
                    inq[s] = True
            for c in range(nc):
                cur_c[c] = cell_ptr[c]
                if e_c[c] > eps and h_c[c] < top and not inq[ns + c]:
                    active[qt] = ns + c
                    qt = (qt + 1) % cap
                    inq[ns + c] = True
    # what could not reach the sink goes back: a cell's excess off its pairs, then every satellite's excess
    for c in range(nc):
        e = e_c[c]
        if e > 0.0:
            for j in range(cell_ptr[c], cell_ptr[c + 1]):
                if e <= 0.0:
                    break
                d = min(cx[j], e)
                cx[j] -= d
                sx[c2s[j]] = cx[j]
                e_s[cs[j]] += d
                e -= d
    for s in range(ns):
        used[s] = 0.0
    for p in range(ps.shape[0]):
        used[ps[p]] += sx[p]
    for c in range(nc):
        y[c] = 0.0
    for p in range(ps.shape[0]):
        y[pc[p]] += sx[p]


@njit
def _maxflow(ns, nc, ps, pc, S, P, u, eps, x, warm, lev_s, lev_c, ws):
    """A maximum flow for sink capacities u into x (per pair); returns y (per cell). With ``warm`` the flow
    starts from x as given (a feasible flow but for cells above u, which are lowered first: each pair is a
    source-to-sink path), else from a greedy one (each satellite fills its pairs in order). On return
    lev_s / lev_c ≥ 0 mark the nodes the source reaches in the residual network (the source side of the
    minimum cut). ws: a workspace of at least as many pairs (:func:`_workspace`)."""
    net = _network(ns, nc, ps, pc, P, x, ws)
    sat_ptr, sc, sP, sx, s2c, cell_ptr, cs, cP, cx, c2s = net
    used = np.zeros(ns)
    y = np.zeros(nc)
    if warm:
        for p in range(ps.shape[0]):
            y[pc[p]] += x[p]
        for c in range(nc):
            if y[c] - u[c] > 0.0:
                _take_off(cx, sx, c2s, cell_ptr[c], cell_ptr[c + 1], y[c] - u[c])
                y[c] = u[c]
        for p in range(ps.shape[0]):
            used[ps[p]] += sx[p]
    else:
        for s in range(ns):
            rem = S[s]
            for k in range(sat_ptr[s], sat_ptr[s + 1]):
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
    _push_relabel(ns, nc, ps, pc, net, S, u, used, y, eps)
    queue = np.empty(ns + nc, np.int64)
    it_s = np.empty(ns, np.int64)
    it_c = np.empty(nc, np.int64)
    path = np.empty(2 * min(ns, nc) + 2, np.int64)
    _augment(ns, nc, net, S, u, used, y, eps, lev_s, lev_c, queue, it_s, it_c, path)
    # flow that passed through a node and back leaves rounding (~1e-16 of it): hold every cap exactly
    for s in range(ns):
        tot = 0.0
        for k in range(sat_ptr[s], sat_ptr[s + 1]):
            tot += sx[k]
        _take_off(sx, cx, s2c, sat_ptr[s], sat_ptr[s + 1], tot - S[s])
    for c in range(nc):
        tot = 0.0
        for j in range(cell_ptr[c], cell_ptr[c + 1]):
            tot += cx[j]
        _take_off(cx, sx, c2s, cell_ptr[c], cell_ptr[c + 1], tot - u[c])
        y[c] = 0.0
        for j in range(cell_ptr[c], cell_ptr[c + 1]):
            y[c] += cx[j]
    return y


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
def _flow_at(lam, pairs, x0, scap_of, ps, pc, P, D, b, eps, smap, cmap, ws):
    """Max flow of a subproblem with the cells asking u_c(λ) = min(λ D_c, b_c), starting from the flow x0
    (per pair of ``pairs``; feasible but for cells above their request) or, when x0 is empty, from a greedy
    flow. Returns (sats, cells, y per local cell, reached per local sat, reached per local cell, x per pair)."""
    lps, lpc, lP, lS, sats, cells = _subproblem(pairs, scap_of, ps, pc, P, smap, cmap, ws[5], ws[6], ws[7])
    ns = sats.shape[0]
    nc = cells.shape[0]
    u = np.empty(nc)
    for i in range(nc):
        c = cells[i]
        u[i] = min(lam * D[c], b[c])
    warm = x0.shape[0] == pairs.shape[0]
    x = x0.copy() if warm else np.zeros(pairs.shape[0])
    lev_s = np.empty(ns, np.int64)
    lev_c = np.empty(nc, np.int64)
    y = _maxflow(ns, nc, lps, lpc, lS, lP, u, eps, x, warm, lev_s, lev_c, ws)
    return sats, cells, y, lev_s >= 0, lev_c >= 0, x


@njit
def _levels(ns, nc, ps, pc, S, P, D, b, eps):
    """The leximin level λ_c ∈ [0, 1] of every cell (y_c = min(λ_c D_c, b_c)), by divide and conquer on the
    parametric minimum cut (the cells the source cannot reach at λ have λ_c ≤ λ; these sets are nested).

    A task is a set of pairs, the capacity of each satellite in it, a flow to start from and a range
    (lo, hi] holding the levels of its cells. A max flow at hi: the cells still reached are at hi (only for
    the first task: a task split off knows that none is, and what they receive at hi is a cut's capacity).
    For the rest, T, the Newton (Dinkelbach) value λ_m, at which T's
    requests equal what T receives, splits T by a max flow at λ_m into the unreached (levels in (lo, λ_m];
    the reached nodes join the source: a reached satellite keeps just its pairs into them, at full pair
    capacity) and the reached (levels in [λ_m, hi); the unreached nodes join the sink: unreached satellites
    leave, reached ones lose the capacity of their pairs into the unreached). Every flow after the first
    starts from its parent's."""
    lam = np.zeros(nc)
    smap = np.full(ns, -1, np.int64)
    cmap = np.full(nc, -1, np.int64)
    scap = S.copy()  # the capacity of each satellite in the task at hand (set from the task's own arrays)
    inT = np.zeros(nc, np.bool_)
    reached = np.zeros(ns, np.bool_)
    npair = ps.shape[0]
    first = np.empty(npair, np.int64)
    m0 = 0
    for p in range(npair):
        c = pc[p]
        if D[c] > 0.0 and b[c] > eps and P[p] > 0.0 and S[ps[p]] > 0.0:
            first[m0] = p
            m0 += 1
    none = np.zeros(0)
    # (pairs, satellites, their capacities, start flow per pair, lo, hi, known: all unreached at hi)
    ws = _workspace(m0)  # every task's pairs are a subset of the first's
    psum = np.zeros(ns)  # per satellite: the capacity of its pairs in the task at hand (zero between tasks)
    stack = [(first[:m0].copy(), np.arange(ns), S.copy(), none, 0.0, 1.0, False)]
    while len(stack) > 0:
        pairs, tsats, tcap, x0, lo, hi, known = stack.pop()
        if pairs.shape[0] == 0:
            continue
        for i in range(tsats.shape[0]):
            scap[tsats[i]] = tcap[i]
        if known:
            # A task split off a parent: none of its cells is reached at hi (the parent's minimum cut at hi,
            # or at λ_m = hi, leaves them all on the sink side, and contracting the parent's other side keeps
            # that cut minimal). So the most they receive at hi is the cut with every cell on the sink side:
            # each satellite sends min(its capacity here, its pairs' capacity); no flow needed.
            tp = pairs
            xt = x0
            for q in range(tp.shape[0]):
                psum[ps[tp[q]]] += P[tp[q]]
            flow_t = 0.0
            for i in range(tsats.shape[0]):
                sg = tsats[i]
                flow_t += min(scap[sg], psum[sg])
                psum[sg] = 0.0
            nct = np.int64(0)  # (not a literal 0: one compiled _level_for)
            tcells = np.empty(tp.shape[0], np.int64)
            ask = 0.0
            for q in range(tp.shape[0]):
                c = pc[tp[q]]
                if not inT[c]:
                    inT[c] = True
                    tcells[nct] = c
                    nct += 1
                    ask += min(hi * D[c], b[c])
            flow_t = min(flow_t, ask)  # (equal in exact arithmetic; both bound the flow)
            for i in range(nct):
                inT[tcells[i]] = False
        else:
            sats, cells, y, rs, rc, x = _flow_at(hi, pairs, x0, scap, ps, pc, P, D, b, eps, smap, cmap, ws)
            nct = np.int64(0)  # (not a literal 0: one compiled _level_for)
            flow_t = 0.0
            tcells = np.empty(cells.shape[0], np.int64)
            for i in range(cells.shape[0]):
                if rc[i]:
                    lam[cells[i]] = hi
                else:
                    tcells[nct] = cells[i]
                    nct += 1
                    flow_t += y[i]
            if nct == 0:
                continue
            # T's subproblem: the pairs into T; a reached satellite keeps exactly those pairs' capacity
            for i in range(nct):
                inT[tcells[i]] = True
            for i in range(sats.shape[0]):
                reached[sats[i]] = rs[i]
            tp = np.empty(pairs.shape[0], np.int64)
            xt = np.empty(pairs.shape[0])
            m = 0
            for q in range(pairs.shape[0]):
                p = pairs[q]
                if inT[pc[p]]:
                    tp[m] = p
                    xt[m] = x[q]
                    m += 1
            tp = tp[:m]
            xt = xt[:m]
            for i in range(sats.shape[0]):
                if rs[i]:
                    scap[sats[i]] = 0.0
            for q in range(m):
                p = tp[q]
                if reached[ps[p]]:
                    scap[ps[p]] += P[p]
            for i in range(nct):
                inT[tcells[i]] = False
            for i in range(sats.shape[0]):
                reached[sats[i]] = False
        lam_m = min(max(_level_for(tcells, nct, D, b, flow_t), lo), hi)
        sats2, cells2, y2, rs2, rc2, x2 = _flow_at(lam_m, tp, xt, scap, ps, pc, P, D, b, eps, smap, cmap, ws)
        nlow = 0
        for i in range(cells2.shape[0]):
            if not rc2[i]:
                nlow += 1
        if nlow == 0 or nlow == cells2.shape[0]:
            for i in range(cells2.shape[0]):  # one level (or rounding): every cell of T at λ_m
                lam[cells2[i]] = lam_m
            continue
        # split: pairs into the unreached cells go down; pairs of reached satellites into reached cells go up
        for i in range(cells2.shape[0]):
            inT[cells2[i]] = not rc2[i]
        for i in range(sats2.shape[0]):
            smap[sats2[i]] = i
        m = tp.shape[0]
        lp_ = np.empty(m, np.int64)
        lx = np.empty(m)
        up_ = np.empty(m, np.int64)
        ux = np.empty(m)
        into_low = np.zeros(sats2.shape[0])
        nl = 0
        nu = 0
        for q in range(m):
            p = tp[q]
            if inT[pc[p]]:
                lp_[nl] = p
                lx[nl] = x2[q]
                nl += 1
                into_low[smap[ps[p]]] += P[p]
            elif rs2[smap[ps[p]]]:
                up_[nu] = p
                ux[nu] = x2[q]
                nu += 1
        lcap = np.empty(sats2.shape[0])
        ucap = np.empty(sats2.shape[0])
        for i in range(sats2.shape[0]):
            sg = sats2[i]
            smap[sg] = -1
            if rs2[i]:
                lcap[i] = into_low[i]
                # (an unlimited satellite, joined to the source with infinite pair capacities, stays so)
                ucap[i] = scap[sg] if scap[sg] == np.inf else max(scap[sg] - into_low[i], 0.0)
            else:
                lcap[i] = scap[sg]
                ucap[i] = 0.0
        for i in range(cells2.shape[0]):
            inT[cells2[i]] = False
        stack.append((up_[:nu].copy(), sats2, ucap, ux[:nu].copy(), lam_m, hi, True))
        stack.append((lp_[:nl].copy(), sats2, lcap, lx[:nl].copy(), lo, lam_m, True))
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
    lev_s = np.empty(ns, np.int64)
    lev_c = np.empty(nc, np.int64)
    ws = _workspace(ps.shape[0])
    yf = _maxflow(ns, nc, ps, pc, S, P, u, eps, x, np.bool_(False), lev_s, lev_c, ws)  # (a typed bool: one compile)
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
