"""orbitshare.epfd: the streamed statistics against NumPy over the kernel's per-step values.

The per-step values themselves are checked against a brute force (every satellite × cell × pointing,
an independent S.1428-1) in tests/kernels/test_epfd.py; here the counts above the Article 22 levels,
the worst pointing, the ratio, the maximum and the margin are re-derived from the full per-step series.
"""

import dataclasses
import math

import numpy as np
import pytest

from orbitshare import article22
from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.walker import walker
from orbitshare.engine import epfd as E
from orbitshare.engine.propagation import propagate
from orbitshare.errors import ParameterError, SystemDefinitionError
from orbitshare.grid import Grid
from orbitshare.kernels import epfd as K
from orbitshare.kernels.antenna import d_over_lambda
from orbitshare.system import System
from orbitshare.timegrid import time_grid

DIAM = (0.6, 1.2, 3.0, 10.0)


@pytest.fixture(scope="module")
def case():
    es = walker(550, 53, 8, 10, 1, "2026-01-01T00:00:00Z")
    sys_a = System("a", es, bands=(("Ku", 10700, 12700),), pfd_dbw_m2_40khz=-158.0)
    tg = time_grid("2026-01-01T00:00:00Z", "2026-01-01T00:07:00Z", 60)
    return sys_a, Grid(5.0), tg


@pytest.fixture(scope="module")
def result(case):
    sys_a, grid, tg = case
    return E.epfd([sys_a, dataclasses.replace(sys_a, name="no-pfd", pfd_dbw_m2_40khz=None)], grid, tg, chunk_steps=3)


@pytest.fixture(scope="module")
def series(case):
    """float64[nt, Ncp, nant] linear EPFD per step (the kernel's one-step values) and the pointing arrays."""
    sys_a, grid, tg = case
    off, npr, wp, base = E.gso_pointings(grid, E.ARC_STEP_DEG, E.GSO_MIN_ELEVATION_DEG)
    freq = 11700.0
    gain = E.gain_tables([d_over_lambda(d, freq) for d in DIAM])
    _, r, _ = propagate(sys_a.elements, tg, frame="itrs")
    sm = np.full(len(sys_a.elements), math.sin(math.radians(sys_a.elevation_mask_deg)))
    pfd = np.full(len(sys_a.elements), 10 ** (sys_a.pfd_dbw_m2_40khz / 10))
    vals = np.stack(
        [K.epfd_step_values(r[:, k], sm, pfd, E._geom(grid), (wp, npr, base), gain) for k in range(len(tg))]
    )
    return vals, off, npr, base


def _worst(ratio, vmax):
    """Index of the worst pointing: largest ratio, then largest max, then the first."""
    order = np.lexsort((-np.arange(len(ratio)), vmax, ratio))
    return int(order[-1])


def test_statistics_match_the_step_series(case, result, series):
    sys_a, grid, tg = case
    vals, off, npr, base = series
    ds = result
    nt = len(tg)
    assert int(ds.n_steps) == nt and ds.attrs["systems"] == "a" and ds.attrs["systems_without_pfd"] == "no-pfd"
    db = np.where(vals > 0, 10 * np.log10(np.where(vals > 0, vals, 1.0)), -np.inf)
    v = {name: ds[name].values for name in ds.data_vars}
    checked = exceeded_cells = 0
    for a, d in enumerate(DIAM):
        mask = article22.epfd_mask(11700.0, d)
        never = article22.never_exceed_level_dbw_m2(mask, grid.lat)
        edges = E._hist_edges(mask.levels_dbw_m2[None, :])[0]
        nlev = len(mask.levels_dbw_m2)
        for i in range(grid.nlat):
            for j in range(grid.nlon):
                if npr[i] == 0:
                    assert np.isnan(v["worst_ratio"][a, i, j]) and v["exceeded"][a, i, j] == 0
                    continue
                cell = db[:, base[i] + j * npr[i] : base[i] + (j + 1) * npr[i], a]  # (step, pointing)
                above = (cell[:, :, None] > mask.levels_dbw_m2[None, None, :]).sum(axis=0)  # (pointing, level)
                exc, ratio = article22.check_epfd(above, nt, mask)
                vmax = cell.max(axis=0)
                over = vmax > never[i]
                ratio = np.where(over, np.inf, ratio)
                p = _worst(ratio, vmax)
                assert v["worst_ratio"][a, i, j] == ratio[p]
                assert v["exceeded"][a, i, j] == int(exc[p] or over[p])
                np.testing.assert_allclose(v["epfd_max_dbw_m2"][a, i, j], vmax[p], rtol=0, atol=1e-9)
                np.testing.assert_allclose(v["epfd_max_any_pointing_dbw_m2"][a, i, j], vmax.max(), rtol=0, atol=1e-9)
                lon = (grid.lon[j] + off[i, p] + 180.0) % 360.0 - 180.0
                assert v["worst_pointing_lon_deg"][a, i, j] == pytest.approx(lon)
                np.testing.assert_array_equal(v["steps_above_limit"][a, :nlev, i, j], above[p])
                # margin: each level exceeded is an upper bound within one bin of the exact one
                srt = np.sort(cell[:, p])[::-1]
                for k, q in enumerate(mask.allowed_fractions):
                    m = int(math.floor(q * nt + 1e-9))
                    exact = srt[m] if m < nt else -np.inf
                    lvl = v["level_exceeded_dbw_m2"][a, k, i, j]
                    if edges[0] < exact < edges[-1] - E.HIST_BIN_DB:
                        assert exact < lvl <= exact + E.HIST_BIN_DB + 1e-9
                    elif exact <= edges[0]:
                        assert lvl <= edges[0] + E.HIST_BIN_DB + 1e-9
                checked += 1
                exceeded_cells += int(v["exceeded"][a, i, j])
    assert checked > 1000 and 0 < exceeded_cells < checked  # both outcomes occur


def test_margin_sign_agrees_with_exceeded_where_resolved(result):
    m = result.margin_db.values
    ex = result.exceeded.values.astype(bool)
    ok = np.isfinite(m) & (np.abs(m) > E.HIST_BIN_DB)
    assert ok.sum() > 100
    np.testing.assert_array_equal(m[ok] < 0, ex[ok])


def test_doubled_satellites_add_3db(case, result):
    sys_a, grid, tg = case
    doubled = dataclasses.replace(sys_a, elements=ElementSet.concat([sys_a.elements, sys_a.elements]))
    two = E.epfd(doubled, grid, tg, margin=False)
    one = result.epfd_max_any_pointing_dbw_m2.values
    fin = np.isfinite(one)
    assert fin.sum() > 1000
    np.testing.assert_array_equal(np.isfinite(two.epfd_max_any_pointing_dbw_m2.values), fin)
    diff = two.epfd_max_any_pointing_dbw_m2.values[fin] - one[fin]
    np.testing.assert_allclose(diff, 10 * math.log10(2), rtol=0, atol=1e-9)


def test_dataset_labels(result):
    ds = result
    assert list(ds.antenna.values) == list(DIAM)
    assert ds.epfd_max_dbw_m2.attrs["units"] == "dB(W/m2) in 40 kHz"
    assert ds.attrs["mask_table"] == "22-1A" and "RR" in ds.attrs["mask_rr_edition"]
    assert ds.attrs["frequency_mhz"] == 11700.0  # centre of the first band
    assert ds.attrs["pfd_dbw_m2_40khz"] == "a: -158"
    np.testing.assert_allclose(ds.limit_level_dbw_m2.sel(antenna=0.6).values[:2], [-175.4, -174.0])
    for name in ds.data_vars:
        assert "long_name" in ds[name].attrs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backend": "cuda"}, "cpu"),
        ({"antenna_diameter_m": (0.3,)}, "antenna_diameter_m"),
        ({"antenna_diameter_m": (1.2, 1.2)}, "distinct"),
        ({"arc_step_deg": 0.0}, "arc_step_deg"),
        ({"gso_min_elevation_deg": 90.0}, "gso_min_elevation_deg"),
        ({"chunk_steps": 0}, "chunk_steps"),
        ({"frequency_mhz": -1.0}, "frequency_mhz"),
    ],
)
def test_bad_arguments(case, kwargs, match):
    sys_a, grid, tg = case
    with pytest.raises(ParameterError, match=match):
        E.epfd(sys_a, grid, tg[:1], **kwargs)


def test_needs_a_system_with_pfd(case):
    sys_a, grid, tg = case
    with pytest.raises(ParameterError, match="pfd_dbw_m2_40khz"):
        E.epfd(dataclasses.replace(sys_a, pfd_dbw_m2_40khz=None), grid, tg[:1])


def test_system_pfd_field_checked():
    es = walker(550, 53, 1, 1, 0, "2026-01-01T00:00:00Z")
    assert System("s", es, pfd_dbw_m2_40khz=-150).pfd_dbw_m2_40khz == -150.0
    for bad in (float("nan"), float("inf"), "x", True):
        with pytest.raises(SystemDefinitionError) as info:
            System("s", es, pfd_dbw_m2_40khz=bad)
        assert info.value.field == "pfd_dbw_m2_40khz"
    assert [e.field for e in System.check_fields(pfd_dbw_m2_40khz=float("nan"))] == ["pfd_dbw_m2_40khz"]


def test_two_systems_add_in_linear_power(case, result):
    """Two systems with the same satellites and PFDs x and y: every per-step EPFD is the first one's times
    1 + 10^((y − x)/10), so is the maximum over steps and pointings."""
    sys_a, grid, tg = case
    sys_b = dataclasses.replace(sys_a, name="b", pfd_dbw_m2_40khz=-163.0, bands=())
    both = E.epfd([sys_a, sys_b], grid, tg, margin=False, pfd_sources={"a": "test value"})
    one = result.epfd_max_any_pointing_dbw_m2.values
    fin = np.isfinite(one)
    diff = both.epfd_max_any_pointing_dbw_m2.values[fin] - one[fin]
    np.testing.assert_allclose(diff, 10 * math.log10(1 + 10 ** (-5.0 / 10)), rtol=0, atol=1e-9)
    assert both.attrs["pfd_sources"] == "a: test value; b: not given"
    assert "margin_db" not in both


def test_exact_gain_within_001_db_of_the_tables(case, result):
    sys_a, grid, tg = case
    ex = E.epfd(sys_a, grid, tg[:3], exact_gain=True)
    tb = E.epfd(sys_a, grid, tg[:3])
    a, b = ex.epfd_max_any_pointing_dbw_m2.values, tb.epfd_max_any_pointing_dbw_m2.values
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    fin = np.isfinite(a)
    assert fin.sum() > 1000 and np.abs(a[fin] - b[fin]).max() <= 0.01
    assert ex.attrs["gain"] == "exact"
