"""The allocation kernel against an LP solver (scipy's HiGHS): throughput = the LP optimum, maxmin = the
leximin of iterated LPs, caps never exceeded, hand-computed small cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog  # a [test] dependency: the LP reference

from orbitshare.errors import ParameterError
from orbitshare.kernels.allocation import allocate


# --------------------------------------------------------------------------- an independent LP reference
def _constraints(ps, pc, S, D, P, K):
    """A_ub x ≤ b_ub for the satellite and cell caps; bounds 0 ≤ x ≤ P (x is the pair vector)."""
    npair, ns, nc = len(ps), len(S), len(D)
    a_sat = np.zeros((ns, npair))
    a_sat[ps, np.arange(npair)] = 1.0
    a_cell = np.zeros((nc, npair))
    a_cell[pc, np.arange(npair)] = 1.0
    return a_sat, a_cell, np.minimum(D, K)


def lp_throughput(ps, pc, S, D, P, K):
    a_sat, a_cell, cap = _constraints(ps, pc, S, D, P, K)
    res = linprog(
        -np.ones(len(ps)),
        A_ub=np.vstack([a_sat, a_cell]),
        b_ub=np.concatenate([S, cap]),
        bounds=list(zip(np.zeros(len(ps)), P, strict=True)),
        method="highs",
    )
    assert res.status == 0
    return -res.fun


def lp_leximin(ps, pc, S, D, P, K, tol=1e-9):
    """Cell totals y of the leximin in y_c / D_c by iterated LPs (maximise the common level t, then fix
    every cell that cannot exceed it)."""
    a_sat, a_cell, cap = _constraints(ps, pc, S, D, P, K)
    npair, nc = len(ps), len(D)
    fixed = {c: 0.0 for c in range(nc) if D[c] <= 0}
    active = [c for c in range(nc) if D[c] > 0]
    bounds = [*zip(np.zeros(npair), P, strict=True), (0, None)]

    def rows(t_fixed=None):
        a = [np.hstack([a_sat, np.zeros((len(S), 1))]), np.hstack([a_cell, np.zeros((nc, 1))])]
        b = [S, cap]
        for c in active:  # t·D_c − y_c ≤ 0
            r = np.zeros(npair + 1)
            r[:npair] = -a_cell[c]
            r[npair] = D[c]
            a.append(r[None])
            b.append([0.0])
        for c, v in fixed.items():  # y_c ≥ v
            r = np.zeros(npair + 1)
            r[:npair] = -a_cell[c]
            a.append(r[None])
            b.append([-v * (1 - tol)])
        return np.vstack(a), np.concatenate(b)

    while active:
        a, b = rows()
        obj = np.zeros(npair + 1)
        obj[npair] = -1.0
        res = linprog(obj, A_ub=a, b_ub=b, bounds=bounds, method="highs")
        assert res.status == 0
        t = res.x[npair]
        newly = []
        for c in active:
            obj = np.zeros(npair + 1)
            obj[:npair] = -a_cell[c]
            bt = [*bounds[:npair], (t * (1 - tol), None)]
            r = linprog(obj, A_ub=a, b_ub=b, bounds=bt, method="highs")
            assert r.status == 0
            if -r.fun <= t * D[c] * (1 + 1e-7) + 1e-9 * D.max():
                newly.append(c)
        if not newly:  # numerically every cell can still grow a little: fix the one with least room
            newly = [active[0]]
        for c in newly:
            fixed[c] = t * D[c]
            active.remove(c)
    return np.array([fixed[c] for c in range(nc)])


def random_instance(rng, ns, nc, density=0.5, caps=True):
    pairs = [(s, c) for s in range(ns) for c in range(nc) if rng.random() < density]
    if not pairs:
        pairs = [(0, 0)]
    ps = np.array([p[0] for p in pairs])
    pc = np.array([p[1] for p in pairs])
    S = rng.uniform(1, 10, ns) * (rng.random(ns) > 0.1)
    D = rng.uniform(0.5, 12, nc) * (rng.random(nc) > 0.1)
    P = rng.uniform(1, 6, len(ps)) if caps else np.full(len(ps), np.inf)
    K = rng.uniform(2, 15, nc) if caps else np.full(nc, np.inf)
    return ps, pc, S, D, P, K


def cell_totals(pc, x, nc):
    return np.bincount(pc, weights=x, minlength=nc)


def check_caps(ps, pc, S, D, P, K, x):
    scale = max(S.max(), D.max())
    assert np.all(x >= 0)
    assert np.all(x <= P + 1e-9 * scale)
    assert np.all(np.bincount(ps, weights=x, minlength=len(S)) <= S + 1e-9 * scale)
    y = cell_totals(pc, x, len(D))
    assert np.all(y <= np.minimum(D, K) + 1e-9 * scale)


# --------------------------------------------------------------------------- against the LP
@pytest.mark.parametrize("seed", range(40))
def test_throughput_equals_the_lp_optimum(seed):
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, int(rng.integers(1, 9)), int(rng.integers(1, 12)), rng.uniform(0.2, 0.8))
    x = allocate(*inst[:4], pair_capacity=inst[4], cell_capacity=inst[5], rule="throughput")
    check_caps(*inst, x)
    assert x.sum() == pytest.approx(lp_throughput(*inst), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_maxmin_equals_the_iterated_lp_leximin(seed):
    rng = np.random.default_rng(1000 + seed)
    inst = random_instance(rng, int(rng.integers(1, 9)), int(rng.integers(1, 12)), rng.uniform(0.2, 0.8))
    ps, pc, S, D, P, K = inst
    x = allocate(ps, pc, S, D, pair_capacity=P, cell_capacity=K, rule="maxmin")
    check_caps(*inst, x)
    y = cell_totals(pc, x, len(D))
    ref = lp_leximin(*inst)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6 * D.max())
    # a polymatroid: the leximin is also a maximum-throughput allocation
    assert y.sum() == pytest.approx(lp_throughput(*inst), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_maxmin_without_pair_or_cell_caps(seed):
    rng = np.random.default_rng(2000 + seed)
    inst = random_instance(rng, int(rng.integers(2, 7)), int(rng.integers(2, 9)), 0.4, caps=False)
    ps, pc, S, D, P, K = inst
    y = cell_totals(pc, allocate(ps, pc, S, D, rule="maxmin"), len(D))
    np.testing.assert_allclose(y, lp_leximin(*inst), rtol=1e-6, atol=1e-6 * D.max())


def test_a_larger_instance_against_the_lp():
    rng = np.random.default_rng(7)
    inst = random_instance(rng, 25, 40, 0.15)
    ps, pc, S, D, P, K = inst
    x = allocate(ps, pc, S, D, pair_capacity=P, cell_capacity=K)
    check_caps(*inst, x)
    np.testing.assert_allclose(cell_totals(pc, x, len(D)), lp_leximin(*inst), rtol=1e-6, atol=1e-6 * D.max())


# --------------------------------------------------------------------------- hand-computed cases
def test_one_satellite_shares_by_water_filling():
    # S = 9 among demands 2, 5, 10 with no caps: ratio levels — cell 0 fully served? leximin in y/D:
    # common ratio t with 17 t = 9 -> t = 9/17: y = 18/17, 45/17, 90/17
    x = allocate([0, 0, 0], [0, 1, 2], [9.0], [2.0, 5.0, 10.0])
    np.testing.assert_allclose(x, [18 / 17, 45 / 17, 90 / 17], rtol=1e-12)


def test_a_cell_cap_moves_capacity_to_the_others():
    # the same with cell 2 capped at 1: cell 2 gets 1, the others share 8 at t = 8/7
    # -> capped at demand (t <= 1): y0 = 2, y1 = 5, and 2 Mbit/s stay unused
    x = allocate([0, 0, 0], [0, 1, 2], [9.0], [2.0, 5.0, 10.0], cell_capacity=[np.inf, np.inf, 1.0])
    np.testing.assert_allclose(x, [2.0, 5.0, 1.0], rtol=1e-12)


def test_the_shared_satellite_serves_the_cell_the_other_cannot_reach():
    # cell 0 seen by both, cell 1 only by satellite 0: leximin gives both 6 (ratio 0.5)
    x = allocate([0, 0, 1], [0, 1, 0], [8.0, 4.0], [12.0, 12.0])
    y = cell_totals(np.array([0, 1, 0]), x, 2)
    np.testing.assert_allclose(y, [6.0, 6.0], rtol=1e-12)


def test_no_cell_is_served_above_its_demand():
    # a huge satellite over a small cell (the Tristan da Cunha case): served = demand, the rest unused
    x = allocate([0, 0], [0, 1], [1.48e6], [0.5, 3.0e3])
    np.testing.assert_allclose(x, [0.5, 3.0e3], rtol=1e-12)


def test_proportional_is_the_old_sharing_rule():
    x = allocate([0, 0, 1], [0, 1, 1], [10.0, 4.0], [1.0, 3.0], rule="proportional")
    np.testing.assert_allclose(x, [2.5, 7.5, 4.0], rtol=1e-12)


def test_empty_problem_and_zero_capacity():
    assert allocate(np.zeros(0, int), np.zeros(0, int), [], []).shape == (0,)
    np.testing.assert_array_equal(allocate([0], [0], [0.0], [5.0]), [0.0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pair_sat": [0, 3]}, "pair_sat"),
        ({"pair_cell": [0, -1]}, "pair_cell"),
        ({"sat_capacity": [-1.0]}, "sat_capacity"),
        ({"cell_demand": [np.nan, 1.0]}, "cell_demand"),
        ({"pair_capacity": [1.0]}, "pair_capacity"),
        ({"rule": "fair"}, "rule"),
    ],
)
def test_bad_input_names_the_argument(kwargs, field):
    args = {"pair_sat": [0, 0], "pair_cell": [0, 1], "sat_capacity": [1.0], "cell_demand": [1.0, 1.0]}
    args.update(kwargs)
    rule = args.pop("rule", "maxmin")
    pcap = args.pop("pair_capacity", np.inf)
    with pytest.raises(ParameterError, match=field):
        allocate(
            args["pair_sat"],
            args["pair_cell"],
            args["sat_capacity"],
            args["cell_demand"],
            pair_capacity=pcap,
            rule=rule,
        )


@pytest.mark.parametrize("seed", range(12))
def test_maxmin_with_unlimited_beams_and_many_levels(seed):
    # no pair caps (inf), tight satellites: many leximin levels, satellites joined to the source unlimited
    rng = np.random.default_rng(3000 + seed)
    ns, nc = int(rng.integers(4, 9)), int(rng.integers(6, 13))
    ps, pc, S, D, P, K = random_instance(rng, ns, nc, 0.35, caps=False)
    S = S * 0.3
    y = cell_totals(pc, allocate(ps, pc, S, D, pair_capacity=P, cell_capacity=K), len(D))
    np.testing.assert_allclose(y, lp_leximin(ps, pc, S, D, P, K), rtol=1e-6, atol=1e-6 * D.max())


# --------------------------------------------------------------------------- larger instances: a certificate
def starlink_like_instance(rng, ns, nc, seen=6):
    """Satellites of 16 beams (S = 16 P) over cells of log-normal demand, each cell seen by ~``seen``
    satellites, a cap of 8 beams per cell: the real steps' shape, small enough for the LP."""
    beam = 1250.0
    ps, pc = [], []
    for c in range(nc):
        for s in rng.choice(ns, size=min(ns, int(rng.integers(1, 2 * seen))), replace=False):
            ps.append(int(s))
            pc.append(c)
    ps, pc = np.array(ps), np.array(pc)
    order = np.argsort(ps, kind="stable")
    ps, pc = ps[order], pc[order]
    S = np.full(ns, 16 * beam) * (rng.random(ns) > 0.05)
    D = np.exp(rng.normal(np.log(3000.0), 1.5, nc))
    P = beam * rng.uniform(0.9, 1.1, len(ps))
    K = np.full(nc, 8 * beam)
    return ps, pc, S, D, P, K


def assert_leximin_certificate(ps, pc, S, D, P, K, y, rtol=1e-7):
    """Fujishige's optimality condition of the lexicographically optimal base (weights D): for every level t
    of y_c / D_c, the cells at or below t receive the most the network can bring them alone (the LP)."""
    scale = max(S.max(), D.max())
    r = y / D
    levels = np.unique(np.round(r, 9))
    for t in levels:
        below = r <= t + 1e-9
        rank = lp_throughput(ps, pc, S, np.where(below, D, 0.0), P, np.where(below, K, 0.0))
        assert y[below].sum() == pytest.approx(rank, rel=rtol, abs=rtol * scale), t
    return len(levels)


@pytest.mark.parametrize("seed", range(6))
def test_maxmin_levels_are_tight_on_starlink_like_instances(seed):
    # many levels (tens), satellites both saturated and with slack: the divide and conquer's every branch
    rng = np.random.default_rng(4000 + seed)
    inst = starlink_like_instance(rng, int(rng.integers(30, 60)), int(rng.integers(150, 300)))
    ps, pc, S, D, P, K = inst
    x = allocate(ps, pc, S, D, pair_capacity=P, cell_capacity=K)
    check_caps(*inst, x)
    y = cell_totals(pc, x, len(D))
    assert assert_leximin_certificate(*inst, y) >= 10


def test_the_certificate_rejects_a_non_leximin_allocation():
    # the check can fail: 1 % of the worst-off cell's share moved to the best-off one (same total)
    rng = np.random.default_rng(4100)
    inst = starlink_like_instance(rng, 30, 150)
    ps, pc, S, D, P, K = inst
    y = cell_totals(pc, allocate(ps, pc, S, D, pair_capacity=P, cell_capacity=K), len(D))
    low, high = np.argmin(np.where(y > 0, y / D, np.inf)), np.argmax(y / D)
    y[low], y[high] = 0.99 * y[low], y[high] + 0.01 * y[low]
    with pytest.raises(AssertionError):
        assert_leximin_certificate(*inst, y)
