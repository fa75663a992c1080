"""Inequality kernels: population-weighted Gini, Theil T/L (with group decomposition), Atkinson,
Palma and the Lorenz curve on plain 1-D NumPy arrays.

Contract (the wrappers in :mod:`orbitshare.analysis.equity` enforce it; these functions do not check):

* the weighted mean of ``x`` is a normal float64 (> ~1e-300); the wrappers scale ``x`` and ``w``
  to a maximum of 1 first, which all these indices are invariant to;
* ``x : float64[n]`` — finite, ``x ≥ 0``, not all zero (e.g. capacity per person, Mbps);
* ``w : float64[n]`` — finite, ``w > 0`` (units with zero weight are removed by the wrapper),
  e.g. population;
* ``codes : int64[n]`` — group index of each unit in ``0 .. ngroups−1``.

Every index here is replication invariant: a unit with integer weight ``k`` gives exactly what
``k`` copies of it with weight 1 give (up to rounding), because each is written either through
weighted means or through the piecewise-linear weighted Lorenz curve, on which replicated units
are collinear points.

These are NumPy, not Numba, functions: the work is one sort (Gini, Palma, Lorenz) or a few
weighted sums, which NumPy already does at full speed; a Numba version would add compile time
and nothing else. Like the Numba kernels they take arrays in and give new arrays/floats out,
with no xarray, I/O or globals.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "atkinson_index",
    "gini_sorted",
    "lorenz_curve",
    "palma_shares",
    "theil_decomposed",
    "theil_tl",
]


def _all_equal(x: np.ndarray) -> bool:
    return bool(x[0] == x[-1]) if x.size == 1 else bool(x.min() == x.max())


def lorenz_curve(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Lorenz curve.

    Returns ``(p, l)``, both ``float64[n + 1]``: ``p`` the cumulative population (weight) share and
    ``l`` the cumulative share of total ``x·w``, units sorted by ascending ``x``; both start at
    exactly 0 and end at exactly 1, and are non-decreasing. The curve between the points is the
    straight line (fractional units), so ties in ``x`` give the same curve in any order.
    """
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ws = w[order]
    cw = np.cumsum(ws)
    cy = np.cumsum(ws * xs)
    p = np.empty(x.size + 1)
    lc = np.empty(x.size + 1)
    p[0] = 0.0
    lc[0] = 0.0
    p[1:] = np.minimum(cw / cw[-1], 1.0)
    lc[1:] = np.minimum(cy / cy[-1], 1.0)
    p[-1] = 1.0
    lc[-1] = 1.0
    return p, lc


def gini_sorted(x: np.ndarray, w: np.ndarray) -> float:
    """Population-weighted Gini index, exactly, in O(n log n).

    With units sorted by ascending ``x``, ``P_i`` the cumulative weight through unit ``i``
    (``P_0 = 0``), ``W = P_n`` and ``Y = Σ w_i x_i``::

        G = (1 / Y) · Σ_i w_i x_i · ((P_{i−1} + P_i) / W − 1)

    This is 1 − 2·(area under the piecewise-linear Lorenz curve), i.e. the weighted mean absolute
    difference ``Σ_ij w_i w_j |x_i − x_j| / W²`` divided by twice the mean, and it is the
    "n" (not "n − 1") form: one holder among ``n`` equal-weight units gives ``1 − 1/n``.
    """
    if _all_equal(x):
        return 0.0
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ws = w[order]
    cw = np.cumsum(ws)
    total_w = cw[-1]
    y = ws * xs
    centred = ((cw - ws) + cw - total_w) / total_w  # (P_{i-1} + P_i)/W - 1, in (-1, 1)
    g = float(np.dot(y, centred) / y.sum())
    return min(max(g, 0.0), 1.0)


def theil_tl(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Population-weighted Theil T and Theil L.

    ``T = (1/W) Σ w_i (x_i/μ) ln(x_i/μ)`` with ``0·ln 0 = 0``;
    ``L = (1/W) Σ w_i ln(μ/x_i)``, which is ``+inf`` if any ``x_i = 0`` (the wrapper decides
    whether that is allowed). ``μ = Σ w_i x_i / W``.
    """
    if _all_equal(x):
        return 0.0, 0.0
    total_w = w.sum()
    total_y = np.dot(w, x)
    mu = total_y / total_w
    pos = x > 0
    q = (w[pos] * x[pos]) / total_y  # income shares of the positive units
    log_mu = math.log(mu)
    t = float(np.dot(q, np.log(x[pos]) - log_mu))
    theil_l = float(-np.dot(w / total_w, np.log(x) - log_mu)) if pos.all() else math.inf
    return max(t, 0.0), max(theil_l, 0.0)


def theil_decomposed(
    x: np.ndarray, w: np.ndarray, codes: np.ndarray, ngroups: int
) -> tuple[float, float, float, float, float, float]:
    """Theil T and L with their exact between/within group decomposition.

    Returns ``(T, L, T_between, T_within, L_between, L_within)`` where, with group means
    ``μ_g``, income shares ``s_g = Y_g/Y`` and population shares ``p_g = W_g/W``::

        T_between = Σ_g s_g ln(μ_g/μ)      T_within = Σ_g s_g T_g = (1/Y) Σ_i w_i x_i ln(x_i/μ_g(i))
        L_between = Σ_g p_g ln(μ/μ_g)      L_within = Σ_g p_g L_g = (1/W) Σ_i w_i ln(μ_g(i)/x_i)

    ``T`` and ``L`` are computed directly (not as the sums), so ``between + within − total`` is
    pure rounding (~1e-15). Groups with zero total ``x`` contribute 0 to the T parts
    (``s_g = 0``). With a zero ``x``, ``L`` and ``L_within`` are ``+inf`` and ``L_between`` is
    ``+inf`` if some group mean is 0 (never NaN).
    """
    t, theil_l = theil_tl(x, w)
    if _all_equal(x):
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    total_w = w.sum()
    y = w * x
    total_y = y.sum()
    log_mu = math.log(total_y / total_w)
    w_g = np.bincount(codes, weights=w, minlength=ngroups)
    y_g = np.bincount(codes, weights=y, minlength=ngroups)
    present = w_g > 0
    # group means from within-group weight shares, not Y_g / W_g: no underflow to 0 when a
    # group's weights are tiny next to the largest weight
    mu_g = np.bincount(codes, weights=(w / w_g[codes]) * x, minlength=ngroups)
    s_g = y_g / total_y
    p_g = w_g / total_w

    pos = x > 0
    gpos = mu_g > 0
    log_mu_g = np.zeros(ngroups)
    log_mu_g[gpos] = np.log(mu_g[gpos])
    log_mu_i = log_mu_g[codes]
    log_x = np.zeros_like(x)
    log_x[pos] = np.log(x[pos])
    t_within = float(np.dot(y[pos] / total_y, log_x[pos] - log_mu_i[pos]))
    t_between = float(np.dot(s_g[gpos], log_mu_g[gpos] - log_mu))

    l_within = float(np.dot(w / total_w, log_mu_i - log_x)) if pos.all() else math.inf
    l_between = float(np.dot(p_g[present], log_mu - log_mu_g[present])) if gpos[present].all() else math.inf
    return (
        t,
        theil_l,
        max(t_between, 0.0),
        max(t_within, 0.0),
        max(l_between, 0.0),
        max(l_within, 0.0),
    )


def atkinson_index(x: np.ndarray, w: np.ndarray, epsilon: float) -> float:
    """Population-weighted Atkinson index ``A = 1 − M_{1−ε}/μ``.

    ``M_{1−ε}`` is the weighted generalized (power) mean of order ``1 − ε``; for ``ε = 1`` the
    weighted geometric mean. Computed on ``x/μ`` in log space (log-sum-exp), so it neither
    overflows for large ``ε`` nor depends on the scale of ``x``. For ``ε ≥ 1`` and any
    ``x_i = 0`` the mean is 0 and ``A = 1`` (the limit; the wrapper decides whether that is
    allowed). ``ε = 0`` gives 0.
    """
    if epsilon == 0.0 or _all_equal(x):
        return 0.0
    p = w / w.sum()
    mu = np.dot(p, x)
    pos = x > 0
    if epsilon >= 1.0 and not pos.all():
        return 1.0
    lr = np.log(x[pos]) - math.log(mu)
    with np.errstate(divide="ignore"):  # a weight share that underflows to 0 adds exp(-inf) = 0
        lp = np.log(p[pos])
    if epsilon == 1.0:
        log_m = float(np.dot(p, lr))
    else:
        e = 1.0 - epsilon
        z = lp + e * lr
        zmax = z.max()
        log_m = (zmax + math.log(float(np.exp(z - zmax).sum()))) / e
    a = 1.0 - math.exp(log_m)
    return min(max(a, 0.0), 1.0)


def palma_shares(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Share of total ``x·w`` held by the richest 10 % and by the poorest 40 % of the weight.

    Read off the piecewise-linear weighted Lorenz curve ``L``: ``top = 1 − L(0.9)``,
    ``bottom = L(0.4)``, so the unit straddling a boundary is split in proportion to its weight
    (replication invariant). Equal ``x`` gives exactly ``(0.1, 0.4)``.
    """
    if _all_equal(x):
        return 0.1, 0.4
    p, lc = lorenz_curve(x, w)
    bottom = _lorenz_at(p, lc, 0.4)
    top = 1.0 - _lorenz_at(p, lc, 0.9)
    return top, bottom


#: cumulative weight shares this close to a Palma boundary (0.4, 0.9) count as on it
_BOUNDARY_TOL = 1e-12


def _lorenz_at(p: np.ndarray, lc: np.ndarray, q: float) -> float:
    """L(q) on the polyline (p, lc). A knot within :data:`_BOUNDARY_TOL` of ``q`` is taken as lying on
    it: the shares p carry the rounding of the weight sums (weights 1, 3, 1, 1, 3, 1 scaled by 1/3 put
    the knot at 0.39999999999999997), and when the poorest 40 % hold exactly nothing, interpolating
    past such a knot would turn the exact 0 into ~1e-16 and the Palma ratio into ~1e15 instead of inf."""
    i = int(np.searchsorted(p, q))
    for j in (i - 1, i):
        if 0 <= j < p.size and abs(p[j] - q) <= _BOUNDARY_TOL:
            return float(lc[j])
    return float(np.interp(q, p, lc))
