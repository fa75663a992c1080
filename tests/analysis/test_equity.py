"""Inequality indices: hand-computed values, closed forms, brute force, replication, PySAL."""

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from orbitshare.analysis.equity import (
    InequalityError,
    Theil,
    ZerosDroppedWarning,
    atkinson,
    gini,
    lorenz,
    palma,
    theil,
)
from orbitshare.errors import OrbitshareError

HYP = settings(max_examples=40, deadline=None)

values = st.one_of(st.just(0.0), st.floats(1e-6, 1e3))
positive = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


def _rows(elem, min_size=1, max_size=12):
    """Lists of (x, integer weight, group) with at least one x > 0."""
    row = st.tuples(elem, st.integers(1, 4), st.integers(0, 2))
    return st.lists(row, min_size=min_size, max_size=max_size).filter(lambda r: any(v > 0 for v, _, _ in r))


def _unpack(rows):
    x = np.array([r[0] for r in rows], dtype=float)
    w = np.array([r[1] for r in rows], dtype=float)
    g = np.array([r[2] for r in rows])
    return x, w, g


def _replicate(x, w, g):
    k = w.astype(int)
    return np.repeat(x, k), np.repeat(g, k)


def _close(a, b, rel=1e-9, abs_=1e-12):
    return a == pytest.approx(b, rel=rel, abs=abs_)


# ---------------------------------------------------------------- hand-computed examples


def test_gini_hand_example():
    # x = [1, 2, 3, 4]: mean 2.5; |xi - xj| over the 16 ordered pairs sums to
    # 2·(1+2+3+1+2+1) = 20, so the mean absolute difference is 20/16 = 1.25 and
    # G = 1.25 / (2·2.5) = 0.25.
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-15)


def test_weighted_gini_hand_example():
    # x = [1, 2], w = [3, 1] is [1, 1, 1, 2]: mean 5/4; 6 ordered pairs differ by 1, so the mean
    # absolute difference is 6/16 and G = (6/16) / (2·5/4) = 0.15.
    assert gini([1, 2], [3, 1]) == pytest.approx(0.15, abs=1e-15)


def test_theil_atkinson_hand_example():
    # x = [1, 3], mean 2:
    # T = ½(½ ln ½ + 3/2 ln 3/2); L = ½(ln 2 + ln 2/3) = ½ ln(4/3).
    t = theil([1, 3])
    assert pytest.approx(0.5 * (0.5 * math.log(0.5) + 1.5 * math.log(1.5)), rel=1e-14) == t.T
    assert pytest.approx(0.5 * math.log(4 / 3), rel=1e-14) == t.L
    assert t.T_between is None and t.L_within is None
    # ε = 1/2: M = ((1 + √3)/2)² = 1 + √3/2, A = 1 − M/2 = 1/2 − √3/4.
    assert atkinson([1, 3], epsilon=0.5) == pytest.approx(0.5 - math.sqrt(3) / 4, rel=1e-13)
    # ε = 1: geometric mean √3, A = 1 − √3/2.  ε = 2: harmonic mean 3/2, A = 1/4.
    assert atkinson([1, 3], epsilon=1) == pytest.approx(1 - math.sqrt(3) / 2, rel=1e-13)
    assert atkinson([1, 3], epsilon=2) == pytest.approx(0.25, rel=1e-13)
    assert atkinson([1, 3], epsilon=0) == 0.0


def test_palma_hand_example():
    # x = [1, 2, 3, 4], each 25 % of the population, shares 0.1, 0.2, 0.3, 0.4.
    # Poorest 40 %: unit 1 (0.25) and 0.15/0.25 = 60 % of unit 2 -> 0.1 + 0.6·0.2 = 0.22.
    # Richest 10 %: 0.1/0.25 = 40 % of unit 4 -> 0.4·0.4 = 0.16.  Palma = 0.16/0.22 = 8/11.
    assert palma([1, 2, 3, 4]) == pytest.approx(8 / 11, rel=1e-13)


def test_palma_ten_units_brute_force():
    rng = np.random.default_rng(1)
    for n in (10, 20, 50):
        x = rng.lognormal(size=n)
        s = np.sort(x)
        expected = s[-n // 10 :].sum() / s[: 4 * n // 10].sum()
        assert palma(x) == pytest.approx(expected, rel=1e-12)


def test_theil_group_hand_example():
    # Groups {1, 1} and {4}; weights 1: μ = 2, μ_A = 1, μ_B = 4; s_A = 1/3, s_B = 2/3.
    # T_between = ⅓ ln ½ + ⅔ ln 2 = ⅓ ln 2; T_within = 0 (A is equal, B a single unit).
    # L_between = ⅔ ln 2 + ⅓ ln ½ = ⅓ ln 2; L_within = 0.
    t = theil([1, 1, 4], groups=["A", "A", "B"])
    assert t.T_between == pytest.approx(math.log(2) / 3, rel=1e-14)
    assert t.L_between == pytest.approx(math.log(2) / 3, rel=1e-14)
    assert t.T_within == pytest.approx(0, abs=1e-15)
    assert t.L_within == pytest.approx(0, abs=1e-15)
    assert pytest.approx(math.log(2) / 3, rel=1e-14) == t.T


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("w", [None, [1.0, 2.0, 0.5, 7.0]])
def test_equal_values_give_zero(w):
    x = np.full(4, 3.7)
    assert gini(x, w) == 0.0
    t = theil(x, w, groups=[0, 1, 1, 0])
    assert t == Theil(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for eps in (0.5, 1.0, 2.0):
        assert atkinson(x, w, eps) == 0.0
    assert palma(x, w) == 0.25  # 10 % hold 10 %, 40 % hold 40 %: 0.1/0.4


@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_one_holder_gini(n):
    x = np.zeros(n)
    x[-1] = 5.0
    assert gini(x) == pytest.approx(1 - 1 / n, abs=1e-14)


def test_gini_equals_one_minus_twice_lorenz_area():
    rng = np.random.default_rng(2)
    x, w = rng.lognormal(size=30), rng.uniform(0.1, 5, size=30)
    p, lz = lorenz(x, w)
    area = np.sum(np.diff(p) * (lz[1:] + lz[:-1]) / 2)
    assert gini(x, w) == pytest.approx(1 - 2 * area, rel=1e-12)


@HYP
@given(_rows(values))
def test_weighted_gini_matches_pairwise_brute_force(rows):
    x, w, _ = _unpack(rows)
    mu = np.dot(w, x) / w.sum()
    expected = (w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])).sum() / (2 * w.sum() ** 2 * mu)
    assert _close(gini(x, w), expected)


# ---------------------------------------------------------------- replication / scale


def test_palma_zeros_on_the_40_percent_boundary_is_infinite_with_any_weights():
    """Zeros holding exactly 40 % of the weight: the poorest 40 % hold nothing, so the ratio is inf —
    also when the weight shares carry rounding (1, 3, 1, 1, 3, 1 scale to thirds: the knot lands at
    0.39999999999999997). Found by Hypothesis (replication gave inf, the weights ~1.8e15)."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    w = np.array([1.0, 3.0, 1.0, 1.0, 3.0, 1.0])
    assert palma(x, w, zeros="keep") == math.inf
    assert palma(np.repeat(x, w.astype(int)), zeros="keep") == math.inf
    with pytest.raises(InequalityError, match="Palma is infinite"):
        palma(x, w)
    # just inside the boundary the ratio is finite and continuous: top 10 % hold 1/6 of the total
    w2 = w.copy()
    w2[1] = 2.999
    assert 1e3 < palma(x, w2) < 1e6


@HYP
@given(_rows(values))
def test_integer_weights_equal_replication_zeros_allowed(rows):
    x, w, g = _unpack(rows)
    xr_, gr = _replicate(x, w, g)
    assert _close(gini(x, w), gini(xr_))
    assert _close(atkinson(x, w, 0.5), atkinson(xr_, epsilon=0.5))
    tw = theil(x, w, groups=g, zeros="keep")
    tr = theil(xr_, groups=gr, zeros="keep")
    for a, b in zip(tw, tr, strict=True):
        assert (math.isinf(a) and math.isinf(b)) or _close(a, b)
    pw, pr = palma(x, w, zeros="keep"), palma(xr_, zeros="keep")
    assert (math.isinf(pw) and math.isinf(pr)) or _close(pw, pr)
    grid = np.linspace(0, 1, 41)
    lw, lr = lorenz(x, w), lorenz(xr_)
    np.testing.assert_allclose(np.interp(grid, *lw), np.interp(grid, *lr), rtol=1e-9, atol=1e-12)


@HYP
@given(_rows(positive), st.sampled_from([0.5, 1.0, 2.0, 3.5]))
def test_integer_weights_equal_replication_positive(rows, eps):
    x, w, g = _unpack(rows)
    xr_, gr = _replicate(x, w, g)
    assert _close(atkinson(x, w, eps), atkinson(xr_, epsilon=eps))
    for a, b in zip(theil(x, w, g), theil(xr_, groups=gr), strict=True):
        assert _close(a, b)


@HYP
@given(_rows(positive), st.floats(1e-6, 1e6))
def test_scale_invariance(rows, c):
    x, w, g = _unpack(rows)
    assert _close(gini(c * x, w), gini(x, w))
    assert _close(palma(c * x, w), palma(x, w))
    for eps in (0.5, 1.0, 2.0):
        assert _close(atkinson(c * x, w, eps), atkinson(x, w, eps))
    for a, b in zip(theil(c * x, w, g), theil(x, w, g), strict=True):
        assert _close(a, b, abs_=1e-11)


# ---------------------------------------------------------------- Theil decomposition


@HYP
@given(st.lists(st.tuples(positive, st.floats(0.01, 1e4), st.sampled_from("abcd")), min_size=1, max_size=30))
def test_theil_between_plus_within_is_total(rows):
    x, w, g = _unpack(rows)
    t = theil(x, w, groups=g)
    tol = 1e-12 * max(1.0, t.T, t.L)
    assert abs(t.T_between + t.T_within - t.T) <= tol
    assert abs(t.L_between + t.L_within - t.L) <= tol
    assert min(t) >= 0
    # the unweighted total ignores the grouping
    assert _close(t.T, theil(x, w).T) and _close(t.L, theil(x, w).L)


def test_theil_decomposition_with_zeros_kept():
    # T allows zeros: a group of zeros contributes nothing (s_g = 0); L is infinite.
    t = theil([0, 0, 1, 3], groups=[0, 0, 1, 1], zeros="keep")
    ref = theil([1, 3], [1, 1])
    # total x = 4 over 4 units: μ = 1; group 1 has μ_1 = 2, s_1 = 1
    assert t.T_between == pytest.approx(math.log(2), rel=1e-14)
    assert t.T_within == pytest.approx(ref.T, rel=1e-14)
    assert pytest.approx(t.T_between + t.T_within, rel=1e-14) == t.T
    assert math.isinf(t.L) and math.isinf(t.L_between) and math.isinf(t.L_within)
    assert not any(math.isnan(v) for v in t)


# ---------------------------------------------------------------- PySAL `inequality`


@pytest.fixture(scope="module")
def pysal():
    return pytest.importorskip("inequality")


def test_agrees_with_pysal(pysal):
    from inequality.atkinson import atkinson as pysal_atkinson
    from inequality.gini import Gini
    from inequality.theil import Theil as PTheil
    from inequality.theil import TheilD

    rng = np.random.default_rng(3)
    for n in (2, 7, 50):
        x = rng.lognormal(sigma=1.2, size=n)
        groups = rng.integers(0, 3, size=n)
        assert gini(x) == pytest.approx(Gini(x).g, rel=1e-12)
        ours = theil(x, groups=groups)
        # PySAL's Theil is Theil T; TheilD splits T into bg (between) and wg (within).
        assert pytest.approx(float(PTheil(x).T), rel=1e-12) == ours.T
        d = TheilD(x, groups)
        assert ours.T_between == pytest.approx(float(np.squeeze(d.bg)), rel=1e-10, abs=1e-14)
        assert ours.T_within == pytest.approx(float(np.squeeze(d.wg)), rel=1e-10, abs=1e-14)
        for eps in (0.5, 1.0, 2.0):
            assert atkinson(x, epsilon=eps) == pytest.approx(pysal_atkinson(x, eps), rel=1e-12)


def test_gini_with_zeros_agrees_with_pysal(pysal):
    from inequality.gini import Gini

    x = np.array([0, 0, 1, 5, 0, 2.5])
    assert gini(x) == pytest.approx(Gini(x).g, rel=1e-13)


# ---------------------------------------------------------------- zeros


def test_zeros_allowed_where_defined():
    x = [0, 0, 1, 4, 5]  # the two zeros are exactly the poorest 40 %
    assert 0 < gini(x) < 1
    assert 0 < atkinson(x, epsilon=0.5) < 1
    # Theil T with 0·ln 0 = 0: μ = 2, T = (1/5)(½ ln ½ + 2 ln 2 + 2.5 ln 2.5)
    expected_t = (0.5 * math.log(0.5) + 2 * math.log(2) + 2.5 * math.log(2.5)) / 5
    assert pytest.approx(expected_t, rel=1e-14) == theil(x, zeros="keep").T
    # [0, 1, 2, 4, 5], 20 % each, total 12: poorest 40 % hold 1/12, richest 10 % half of the 5
    assert palma([0, 1, 2, 4, 5]) == pytest.approx((2.5 / 12) / (1 / 12), rel=1e-13)
    with pytest.raises(InequalityError, match="poorest 40 % of the weight hold 0"):
        palma(x)
    p, lz = lorenz(x)
    assert lz[1] == lz[2] == 0 and p[2] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "call, index",
    [
        (lambda z: theil([0, 1, 2, 0], zeros=z), "Theil L"),
        (lambda z: atkinson([0, 1, 2, 0], epsilon=1, zeros=z), "Atkinson (epsilon=1)"),
        (lambda z: atkinson([0, 1, 2, 0], epsilon=2.5, zeros=z), "Atkinson (epsilon=2.5)"),
        (lambda z: palma([0, 1, 2, 0], zeros=z), "Palma"),
    ],
)
def test_zeros_raise_by_default_with_clear_message(call, index):
    with pytest.raises(InequalityError) as info:
        call("raise")
    msg = str(info.value)
    assert index in msg and "2 of 4 entries are 0" in msg and "zeros='drop'" in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, OrbitshareError)


def test_zeros_keep_gives_limits_not_nan():
    t = theil([0, 1, 2], zeros="keep")
    assert math.isfinite(t.T) and math.inf == t.L
    assert atkinson([0, 1, 2], epsilon=1, zeros="keep") == 1.0
    assert atkinson([0, 1, 2], epsilon=3, zeros="keep") == 1.0
    assert palma([0, 0, 0, 1], zeros="keep") == math.inf


def test_zeros_drop_reports_and_excludes():
    x, w = np.array([0, 1, 2, 0, 5.0]), np.array([1, 2, 3, 4, 5.0])
    with pytest.warns(ZerosDroppedWarning, match=r"excluded 2 of 5 units .*33\.3% of the weight"):
        t = theil(x, w, zeros="drop")
    assert t == theil(x[x > 0], w[x > 0])
    with pytest.warns(ZerosDroppedWarning):
        assert atkinson(x, w, 1, zeros="drop") == atkinson(x[x > 0], w[x > 0], 1)
    with pytest.warns(ZerosDroppedWarning):
        assert gini(x, w, zeros="drop") == gini(x[x > 0], w[x > 0])


def test_zeros_floor():
    x = np.array([0, 2, 4.0])
    assert theil(x, zeros="floor") == theil([1, 2, 4.0])  # default: half the smallest positive
    assert atkinson(x, epsilon=1, zeros="floor", floor=0.5) == atkinson([0.5, 2, 4], epsilon=1)
    with pytest.raises(InequalityError, match="floor"):
        theil(x, floor=0.5)  # floor without zeros='floor'
    with pytest.raises(InequalityError, match="floor"):
        theil(x, zeros="floor", floor=-1)


def test_zero_weight_units_are_ignored():
    # even a zero x with zero weight does not make Theil L undefined
    assert theil([0, 1, 3], [0, 1, 1]) == theil([1, 3])
    assert gini([7, 1, 3], [0, 1, 1]) == gini([1, 3])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("f", [gini, palma, atkinson, lambda x, w=None, **k: theil(x, w, **k), lorenz])
def test_bad_input_errors(f):
    with pytest.raises(InequalityError, match="every x is 0"):
        f([0, 0, 0])
    with pytest.raises(InequalityError, match="negative"):
        f([1, -2, 3])
    with pytest.raises(InequalityError, match="NaN"):
        f([1, np.nan, 3], skipna=False)
    with pytest.raises(InequalityError, match="every x or w is NaN"):
        f([np.nan, np.nan])
    with pytest.raises(InequalityError, match="negative"):
        f([1, 2, 3], [1, -1, 1])
    with pytest.raises(InequalityError, match="sum to 0"):
        f([1, 2, 3], [0, 0, 0])
    with pytest.raises(InequalityError, match="NaN"):
        f([1, 2, 3], [1, np.inf, 1])
    with pytest.raises(InequalityError, match="shape"):
        f([1, 2, 3], [1, 1])
    with pytest.raises(InequalityError, match="empty"):
        f([])
    with pytest.raises(InequalityError, match="real numbers"):
        f(["a", "b"])


def test_bad_options():
    with pytest.raises(InequalityError, match="zeros must be one of"):
        gini([1, 2], zeros="ignore")
    with pytest.raises(InequalityError, match="epsilon"):
        atkinson([1, 2], epsilon=-1)
    with pytest.raises(InequalityError, match="groups has shape"):
        theil([1, 2], groups=[0])
    with pytest.raises(InequalityError, match="dim= needs an xarray"):
        gini(np.ones((2, 2)), dim="x")


# ---------------------------------------------------------------- Lorenz


@HYP
@given(_rows(values))
def test_lorenz_endpoints_and_monotone(rows):
    x, w, _ = _unpack(rows)
    p, lz = lorenz(x, w)
    assert p[0] == 0 and lz[0] == 0 and p[-1] == 1 and lz[-1] == 1
    assert p.shape == lz.shape == (x.size + 1,)
    assert np.all(np.diff(p) >= 0) and np.all(np.diff(lz) >= 0)
    assert np.all(lz <= p + 1e-12)  # below the equality line


# ---------------------------------------------------------------- xarray


@pytest.fixture
def capacity():
    rng = np.random.default_rng(4)
    countries = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
    x = xr.DataArray(
        rng.lognormal(size=(3, 6)),
        dims=("time", "country"),
        coords={
            "time": np.array(["2025-01-01T00", "2025-01-01T01", "2025-01-01T02"], "datetime64[ns]"),
            "country": countries,
            "itu_region": ("country", [1, 1, 2, 2, 3, 3]),
        },
        name="capacity_per_person",
        attrs={"units": "Mbps", "long_name": "capacity per person"},
    )
    pop = xr.DataArray([5.0, 1.0, 30.0, 2.0, 8.0, 0.5], dims="country", coords={"country": countries})
    return x, pop


def test_xarray_1d_gives_float(capacity):
    x, pop = capacity
    row = x.isel(time=0)
    g = gini(row, pop)
    assert type(g) is float and g == gini(row.values, pop.values)
    assert type(theil(row, pop).T) is float
    p, _ = lorenz(row, pop)
    assert isinstance(p, np.ndarray) and p.size == 7
    zero_d = gini(row, pop, dim="country")  # like xarray reductions: a 0-d DataArray
    assert isinstance(zero_d, xr.DataArray) and zero_d.ndim == 0 and zero_d.item() == g


def test_xarray_dim_reduces_one_dimension(capacity):
    x, pop = capacity
    for func, kwargs in [(gini, {}), (palma, {}), (atkinson, {"epsilon": 1.5})]:
        out = func(x, pop, dim="country", **kwargs)
        assert isinstance(out, xr.DataArray) and out.dims == ("time",)
        assert out.attrs["units"] == "1" and "capacity per person" in out.attrs["long_name"]
        np.testing.assert_array_equal(out["time"], x["time"])
        for i in range(3):
            assert out[i].item() == func(x.values[i], pop.values, **kwargs)
    # all dims at once: a float, population broadcast over time
    assert gini(x, pop) == gini(x.values.ravel(), np.tile(pop.values, 3))


def test_xarray_theil_groups_from_coordinate(capacity):
    x, pop = capacity
    t = theil(x, pop, groups="itu_region", dim="country")
    assert isinstance(t.T_between, xr.DataArray) and t.T_between.dims == ("time",)
    xr.testing.assert_allclose(t.T_between + t.T_within, t.T.rename("theil_T_between"), rtol=1e-12)
    ref = theil(x.values[1], pop.values, groups=x["itu_region"].values)
    assert t.L_within[1].item() == ref.L_within
    assert theil(x, pop, dim="country").L_between is None


def test_xarray_errors_name_the_row(capacity):
    x, pop = capacity
    x = x.copy()
    x[1, :3] = 0.0
    with pytest.raises(InequalityError, match=r"Theil L at time=2025-01-01T01.*3 of 6 entries"):
        theil(x, pop, dim="country")
    with pytest.raises(InequalityError, match="no dimension 'region'"):
        gini(x, pop, dim="region")
    bad_pop = pop.assign_coords(country=["AAA", "BBB", "CCC", "DDD", "EEE", "ZZZ"])
    with pytest.raises(InequalityError, match="coordinates of w"):
        gini(x, bad_pop, dim="country")
    with pytest.raises(InequalityError, match="dimensions"):
        gini(x.isel(time=0), pop.expand_dims(band=2))


def test_xarray_drop_warns_once_per_call(capacity):
    x, pop = capacity
    x = x.copy()
    x[0, 0] = 0.0
    x[2, 1] = 0.0
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = theil(x, pop, dim="country", zeros="drop")
    assert len(rec) == 1 and rec[0].category is ZerosDroppedWarning
    assert "2 rows" in str(rec[0].message) and "time=2025-01-01T00" in str(rec[0].message)
    assert rec[0].filename == __file__
    assert out.L[0].item() == theil(x.values[0, 1:], pop.values[1:]).L


def test_extreme_magnitudes_do_not_overflow_or_nan():
    x = np.array([1e300, 3e300, 0.5e300])
    w = np.array([1e300, 1e300, 2e300])
    assert gini(x, w) == pytest.approx(gini([2, 6, 1], [1, 1, 2]), rel=1e-12)
    for a, b in zip(theil(x, w, [0, 1, 1]), theil([2, 6, 1], [1, 1, 2], [0, 1, 1]), strict=True):
        assert a == pytest.approx(b, rel=1e-12)
    with pytest.raises(InequalityError, match="orders of magnitude"):
        gini([0, 1], [1, 1e-305])  # the only holder weighs 1e-305 of the other unit


def test_group_labels_must_be_usable():
    with pytest.raises(InequalityError, match="NaN labels"):
        theil([1, 2, 3], groups=[0.0, np.nan, 1.0])


# ---------------------------------------------------------------- skipna (like xarray)


@pytest.mark.parametrize("f", [gini, palma, atkinson, lambda x, w=None, **k: theil(x, w, **k).T])
def test_skipna_leaves_out_nan_units_like_dropping_them(f):
    x = np.array([1.0, np.nan, 3.0, 4.0, 2.0, np.nan])
    w = np.array([2.0, 5.0, 1.0, np.nan, 3.0, 0.0])
    keep = np.isfinite(x) & np.isfinite(w)
    assert f(x, w) == f(x[keep], w[keep])  # exactly: the same units in the same order
    assert f(x) == f(x[np.isfinite(x)])


def test_skipna_counts_in_the_attributes_and_strict_mode():
    x = xr.DataArray([[1.0, np.nan, 3.0, 2.0], [2.0, 2.0, np.nan, 1.0]], dims=("time", "country"))
    w = xr.DataArray([10.0, 0.0, 5.0, 0.0], dims="country")
    g = gini(x, w, dim="country")
    # row 0: NaN x at country 1 left out (its weight is 0 anyway); zero weight at country 3
    # row 1: NaN x at country 2; zero weights at countries 1 and 3
    assert g.attrs["units_left_out_nan"] == 2
    assert g.attrs["units_left_out_zero_weight"] == 3
    # by hand: row 0 keeps (1, w 10), (3, w 5): mean 5/3, Σ w_i w_j |x_i − x_j| = 2·10·5·2 = 200,
    # G = 200 / (2 · 15² · 5/3) = 0.26666…; row 1 keeps (2, w 10) only: 0
    assert g.values.tolist() == pytest.approx([200 / (2 * 225 * 5 / 3), 0.0], abs=1e-15)
    with pytest.raises(InequalityError, match="NaN"):
        gini(x, w, dim="country", skipna=False)
