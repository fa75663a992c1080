"""Visibility kernel against a NumPy brute force, Skyfield, closed forms, and hand-computed gap runs."""

import math

import numba
import numpy as np
import pytest

from orbitshare._jit import njit
from orbitshare.constants import WGS84_A_KM, WGS84_E2
from orbitshare.errors import ParameterError
from orbitshare.grid import Grid
from orbitshare.kernels.chunkstate import (
    empty_chunk_state,
    longest_gap,
    merge_chunk_states,
    merge_gap_scalar,
    merge_gap_states,
)
from orbitshare.kernels.footprint import (
    acos_approx,
    cell_visible_exact,
    footprint_fast,
    footprint_rows,
    row_cos_threshold,
)
from orbitshare.kernels.visibility import accumulate_chunk
from reference import assert_state_equal, brute_force_counts, geodetic_to_itrs, random_positions, stats_from_counts

GEO_R_KM = 42164.0


# --------------------------------------------------------------------------- helpers
def run_kernel(grid, r, system, mask_rad=None, min_visible=None, sat_mask_rad=None, **kw):
    pxy, pz, nxy, nz = grid.row_geometry()
    nsys = int(np.max(system)) + 1 if min_visible is None else len(min_visible)
    if mask_rad is None:
        mask_rad = np.zeros(nsys)
    if min_visible is None:
        min_visible = np.ones(nsys, np.int32)
    return accumulate_chunk(
        r,
        system,
        mask_rad,
        min_visible,
        pxy,
        pz,
        nxy,
        nz,
        grid.lon_rad,
        cos_lon=grid.cos_lon,
        sin_lon=grid.sin_lon,
        sat_mask_rad=sat_mask_rad,
        **kw,
    )


def run_reference(grid, r, system, nsys, sin_mask, err=None):
    pxy, pz, nxy, nz = grid.row_geometry()
    return brute_force_counts(r, system, nsys, sin_mask, pxy, pz, nxy, nz, grid.cos_lon, grid.sin_lon, err=err)


# --------------------------------------------------------------------------- vs brute force
@pytest.mark.parametrize(
    "res,seed,nt",
    [(5.0, 0, 3), (5.0, 1, 3), (5.0, 2, 3), (2.0, 3, 3), (2.0, 4, 3), (1.0, 5, 2), (1.0, 6, 2), (0.5, 7, 1)],
)
def test_counts_equal_brute_force(res, seed, nt):
    rng = np.random.default_rng(seed)
    g = Grid(res)
    nsat = 60
    r = random_positions(rng, nsat, nt, res)
    system = rng.integers(0, 3, nsat).astype(np.int32)
    mask = np.deg2rad(rng.uniform(0, 40, nsat))
    mask[rng.random(nsat) < 0.15] = 0.0
    mask[rng.random(nsat) < 0.1] = np.deg2rad(-rng.uniform(0, 10))  # negative masks too
    min_visible = np.array([1, 2, 3], np.int32)
    st = run_kernel(g, r, system, min_visible=min_visible, sat_mask_rad=mask, keep_counts=True)
    ref = run_reference(g, r, system, 3, np.sin(mask))
    assert ref.sum() > 0
    np.testing.assert_array_equal(st.counts, ref)
    exp = stats_from_counts(ref, min_visible)
    for f in ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap"):
        np.testing.assert_array_equal(getattr(st, f), exp[f], err_msg=f)
    np.testing.assert_array_equal(longest_gap(st), exp["longest"])


def test_small_footprints_near_poles_and_row_edges():
    """Low satellites with high masks (footprints smaller than a cell), near the poles and on row
    boundaries: the row walk must not stop early."""
    rng = np.random.default_rng(11)
    g = Grid(5.0)
    nsat = 600
    lat = np.deg2rad(np.clip(np.round(rng.uniform(-90, 90, nsat) / 5) * 5 + rng.normal(0, 0.01, nsat), -90, 90))
    lat[:200] = np.deg2rad(rng.uniform(-90, 90, 200))
    lat[200:260] = np.deg2rad(rng.choice([-1, 1], 60) * rng.uniform(84, 90, 60))
    lon = rng.uniform(-np.pi, np.pi, nsat)
    r = geodetic_to_itrs(lat, lon, rng.uniform(300, 2000, nsat))[:, None, :]
    mask = np.deg2rad(rng.uniform(20, 60, nsat))
    system = np.zeros(nsat, np.int32)
    st = run_kernel(g, r, system, sat_mask_rad=mask, keep_counts=True)
    np.testing.assert_array_equal(st.counts, run_reference(g, r, system, 1, np.sin(mask)))


def test_special_positions():
    """Exactly over the poles, exactly at ±180°, on the equator at GEO, at cell corners, masks 0,
    negative and large; plus satellites with error codes."""
    g = Grid(2.0)
    pts = []
    for h in (300.0, 1200.0, 20000.0, 40000.0):
        pts += [geodetic_to_itrs(np.pi / 2, 0.0, h), geodetic_to_itrs(-np.pi / 2, 1.0, h)]
        for lon in (-180.0, 180.0, 179.0, -179.0, 0.0, 1.0, 90.0):
            for lat in (0.0, 1.0, 2.0, 60.0, 89.0, -89.0, -45.0):
                pts.append(geodetic_to_itrs(np.deg2rad(lat), np.deg2rad(lon), h))
    r = np.array(pts)
    r[:2, 0:2] = 0.0
    nsat = len(r)
    r = np.ascontiguousarray(r[:, None, :])
    system = np.zeros(nsat, np.int32)
    for mdeg in (0.0, -0.0, 10.0, 40.0, -5.0, -30.0, 80.0):
        mask = np.full(nsat, np.deg2rad(mdeg))
        err = np.zeros((nsat, 1), np.uint8)
        err[::7] = 1
        st = run_kernel(g, r, system, sat_mask_rad=mask, keep_counts=True, err=err)
        ref = run_reference(g, r, system, 1, np.sin(mask), err=err)
        np.testing.assert_array_equal(st.counts, ref, err_msg=f"mask {mdeg}")


@njit
def _both_walks(r, sm, pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, dlon, dlat):
    """Per satellite, the footprint of footprint_fast and of footprint_rows (diff, full, touched, records)
    and whether they differ: int64[nsat] (0 = equal)."""
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    c1 = nxy * pxy + nz * pz
    tp = 2.0 * pxy
    bad = np.zeros(r.shape[0], np.int64)
    da = np.zeros((1, nlat, nlon + 1), np.int32)
    db = np.zeros((1, nlat, nlon + 1), np.int32)
    sdiff = np.zeros((1, nlat, nlon + 1), np.int64)
    fa = np.zeros((1, nlat), np.int32)
    fb = np.zeros((1, nlat), np.int32)
    ta = np.zeros((1, nlat), np.bool_)
    tb = np.zeros((1, nlat), np.bool_)
    ra = np.zeros((nlat, 4), np.int64)
    rb = np.zeros((nlat, 4), np.int64)
    pred = np.empty((3, nlat))
    for q in range(r.shape[0]):
        x, y, z = r[q, 0], r[q, 1], r[q, 2]
        na = footprint_fast(x, y, z, sm[q], 0, pxy, pz, nxy, nz, c1, tp, cos_lon, sin_lon, lon0, dlon, dlat,
                            da, sdiff, fa, ta, ra, True)  # fmt: skip
        nb = footprint_rows(x, y, z, sm[q], 0, pxy, pz, nxy, nz, c1, tp, cos_lon, sin_lon, lon0, dlon, dlat,
                            db, fb, tb, rb, True, pred)  # fmt: skip
        if na != nb or not (np.array_equal(da, db) and np.array_equal(fa, fb) and np.array_equal(ta, tb)):
            bad[q] = 1
        elif not np.array_equal(ra[:na], rb[:nb]):
            bad[q] = 2
        da[:] = 0
        db[:] = 0
        fa[:] = 0
        fb[:] = 0
        ta[:] = False
        tb[:] = False
    return bad


@pytest.mark.parametrize("res", [5.0, 1.0, 0.25])
def test_footprint_rows_equals_footprint_fast(res):
    """The CPU kernel's two-phase walk (footprint_rows) gives footprint_fast's cells, whole rows, touched
    rows and row records for every satellite: LEO to GEO, masks −30° to 80°, over the poles (the
    degenerate rows), at ±180°, below the surface (every row walked)."""
    g = Grid(res)
    rng = np.random.default_rng(17)
    n = 3000
    lat = np.arcsin(rng.uniform(-1, 1, n))
    lat[:100] = rng.choice([-1, 1], 100) * np.deg2rad(rng.uniform(89.0, 90.0, 100))
    lon = rng.uniform(-np.pi, np.pi, n)
    lon[100:200] = rng.choice([-np.pi, np.pi], 100)
    h = np.exp(rng.uniform(np.log(200.0), np.log(40000.0), n))
    r = geodetic_to_itrs(lat, lon, h)
    r[:10, :2] = 0.0  # exactly on the polar axis
    r[10:20] *= 0.99  # below the surface
    sm = np.sin(np.deg2rad(rng.uniform(-30.0, 80.0, n)))
    sm[rng.random(n) < 0.2] = math.sin(math.radians(25.0))
    pxy, pz, nxy, nz = g.row_geometry()
    dlon = 2 * math.pi / g.nlon
    lon0 = float(g.lon_rad[0]) - 0.5 * dlon
    bad = _both_walks(np.ascontiguousarray(r), sm, pxy, pz, nxy, nz, g.cos_lon, g.sin_lon, lon0, dlon, math.pi / g.nlat)
    assert np.count_nonzero(bad) == 0, np.flatnonzero(bad)[:10]


def test_nan_and_error_satellites_are_never_visible():
    g = Grid(5.0)
    r = np.full((3, 4, 3), np.nan)
    r[1] = [GEO_R_KM, 0.0, 0.0]
    r[2, :, 0] = np.nan
    r[2, :, 1:] = 7000.0
    err = np.zeros((3, 4), np.uint8)
    err[1, 2] = 6
    st = run_kernel(g, r, np.zeros(3, np.int32), keep_counts=True, err=err)
    assert st.counts[0, 2].sum() == 0
    assert st.counts[0, 0].sum() > 0
    np.testing.assert_array_equal(st.counts[0, 0], st.counts[0, 1])
    assert st.counts.max() == 1


def test_scalar_helpers():
    # zenith: visible for every mask below 90°
    assert cell_visible_exact(0.0, 0.0, 7000.0, 0.0, 0.0, 6356.0, 0.0, 0.0, 1.0, math.sin(math.radians(89)))
    # on the horizon plane: invisible for mask 0, visible for a negative mask
    assert not cell_visible_exact(7000.0, 0.0, 6356.0, 0.0, 0.0, 6356.0, 0.0, 0.0, 1.0, 0.0)
    assert cell_visible_exact(7000.0, 0.0, 6356.0, 0.0, 0.0, 6356.0, 0.0, 0.0, 1.0, math.sin(-0.01))
    # the threshold of a row: GEO over the equator, equatorial row, mask 0: c* = a / R
    c = row_cos_threshold(GEO_R_KM, 0.0, GEO_R_KM**2, GEO_R_KM, 0.0, WGS84_A_KM, 0.0, 1.0, 0.0, 0.01)
    assert c == pytest.approx(WGS84_A_KM / GEO_R_KM, rel=1e-14)
    assert math.isnan(row_cos_threshold(0.0, 7000.0, 7000.0**2, 7000.0, 0.0, 100.0, 6300.0, 0.01, 0.99, 0.01))


# --------------------------------------------------------------------------- vs Skyfield
def _fix_checksum(line):
    s = sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68])
    return line[:68] + str(s % 10)


SKY_TLES = [  # LEO (ISS-like), Molniya, GEO: public element sets with the epoch moved
    (
        "1 25544U 98067A   26150.50000000  .00016717  00000-0  10270-3 0  9990",
        "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537",
    ),
    (
        "1 08195U 75081A   26150.50000000  .00000000  00000-0  00000-0 0  9990",
        "2 08195  64.1586 279.0717 6877146 264.7651  20.2257  2.00491383225656",
    ),
    (
        "1 41866U 16071A   26150.50000000 -.00000261  00000-0  00000+0 0  9999",
        "2 41866   0.0170 246.0970 0000720 299.9080 184.3430  1.00271670 34567",
    ),
]


def test_against_skyfield_altaz():
    from skyfield.api import EarthSatellite, wgs84
    from skyfield.framelib import itrs

    from orbitshare.timegrid import time_grid

    tg = time_grid("2026-05-30T12:00:00Z", "2026-05-31T12:00:00Z", 7200.0)
    t = tg.skyfield_time()
    g = Grid(2.0)
    masks_deg = (0.0, 10.0, 25.0)
    rng = np.random.default_rng(5)
    checked = 0
    for l1, l2 in SKY_TLES:
        es = EarthSatellite(_fix_checksum(l1), _fix_checksum(l2), ts=t.ts)
        r = np.ascontiguousarray(es.at(t).frame_xyz(itrs).km.T[None])  # [1, nt, 3]
        assert np.isfinite(r).all() and (np.linalg.norm(r, axis=2) > 6700).all()
        nsys = len(masks_deg)
        # one "system" per mask: the same satellite three times
        rr = np.ascontiguousarray(np.repeat(r, nsys, axis=0))
        st = run_kernel(
            g,
            rr,
            np.arange(nsys, dtype=np.int32),
            mask_rad=np.deg2rad(masks_deg),
            min_visible=np.ones(nsys, np.int32),
            keep_counts=True,
        )
        vis = st.counts.astype(bool)  # [mask, nt, nlat, nlon]
        assert vis.any(axis=(2, 3)).all()
        # cells on the footprint edges (where visibility changes between neighbours) and a few others
        edge = np.zeros(vis.shape[2:], bool)
        for m in range(nsys):
            for k in range(vis.shape[1]):
                v = vis[m, k]
                edge |= (v != np.roll(v, 1, axis=1)) | (v != np.roll(v, -1, axis=1))
                edge[1:] |= v[1:] != v[:-1]
        ii, jj = np.nonzero(edge)
        pick = rng.choice(len(ii), size=min(60, len(ii)), replace=False)
        cells = list(zip(ii[pick], jj[pick], strict=True)) + [
            (rng.integers(g.nlat), rng.integers(g.nlon)) for _ in range(10)
        ]
        for i, j in cells:
            topos = wgs84.latlon(g.lat[i], g.lon[j])
            alt = (es - topos).at(t).altaz()[0].degrees
            for m, mdeg in enumerate(masks_deg):
                ok = (vis[m, :, i, j] == (alt > mdeg)) | (np.abs(alt - mdeg) < 1e-6)
                assert ok.all(), (l1[2:7], mdeg, g.lat[i], g.lon[j], alt[~ok])
                checked += vis.shape[1]
    assert checked > 1000


# --------------------------------------------------------------------------- closed forms
def _geo_state(g, lon0_deg, mask_deg):
    lam = math.radians(lon0_deg)
    r = np.array([[[GEO_R_KM * math.cos(lam), GEO_R_KM * math.sin(lam), 0.0]]])
    st = run_kernel(g, r, np.zeros(1, np.int32), mask_rad=[math.radians(mask_deg)], keep_counts=True)
    return st.counts[0, 0].astype(bool), lam


def _geo_ellipsoid_margin(g, lam, mask_deg):
    """n·d − sin(m)|d| for GEO on the equator, written directly in geodetic φ (independent of the
    kernel's per-row A, B, D, E): n·d = R cos φ cos Δλ − a √(1 − e² sin² φ)."""
    phi = np.deg2rad(g.lat)[:, None]
    dl = np.deg2rad(g.lon)[None, :] - lam
    w = np.sqrt(1 - WGS84_E2 * np.sin(phi) ** 2)
    n = WGS84_A_KM / w
    nd = GEO_R_KM * np.cos(phi) * np.cos(dl) - WGS84_A_KM * w
    d = np.sqrt(
        (GEO_R_KM * np.cos(dl) - n * np.cos(phi)) ** 2
        + (GEO_R_KM * np.sin(dl)) ** 2
        + (n * (1 - WGS84_E2) * np.sin(phi)) ** 2
    )
    return nd - math.sin(math.radians(mask_deg)) * d


@pytest.mark.parametrize("lon0", [37.3, 170.0, -179.5])
@pytest.mark.parametrize("mask_deg", [0.0, 10.0])
def test_geostationary_closed_form_on_ellipsoid(lon0, mask_deg):
    g = Grid(1.0)
    vis, lam = _geo_state(g, lon0, mask_deg)
    margin = _geo_ellipsoid_margin(g, lam, mask_deg)
    ambiguous = np.abs(margin) < 1e-9 * GEO_R_KM
    assert ambiguous.sum() <= 2
    np.testing.assert_array_equal(vis[~ambiguous], (margin > 0)[~ambiguous])


def test_geostationary_vs_spherical_cap_and_extent():
    """Mask 0: the ellipsoid condition is cos φ cos Δλ > a·W(φ)/R with W = √(1 − e² sin² φ); the
    spherical cap is cos γ = cos φ cos Δλ > a/R. They differ only where
    a/R − a·e²/(2R)·(1 + e²) ≤ cos γ ≤ a/R, a band ≈ 0.03° wide at the cap's edge."""
    g = Grid(1.0)
    lon0 = 37.3
    vis, lam = _geo_state(g, lon0, 0.0)
    phi = np.deg2rad(g.lat)[:, None]
    cosg = np.cos(phi) * np.cos(np.deg2rad(g.lon)[None, :] - lam)
    cap = cosg > WGS84_A_KM / GEO_R_KM
    band = (cosg <= WGS84_A_KM / GEO_R_KM) & (cosg >= WGS84_A_KM / GEO_R_KM * (1 - WGS84_E2 / 2 * (1 + WGS84_E2)))
    diff = vis != cap
    assert not (diff & ~band).any()
    assert not (~vis & cap).any()  # the ellipsoid sees at least the spherical cap (W ≤ 1)
    # central-angle extent on the equator: acos(a/R) = 81.30°
    gamma0 = math.degrees(math.acos(WGS84_A_KM / GEO_R_KM))
    assert gamma0 == pytest.approx(81.30, abs=0.01)
    row = vis[90]  # centre at +0.5°
    dl = (g.lon - lon0 + 180) % 360 - 180
    ext = np.abs(dl[row]).max()
    assert gamma0 - 1.0 < ext < gamma0
    assert row.sum() == int(
        np.sum(np.abs(dl) < math.degrees(math.acos(WGS84_A_KM / GEO_R_KM / math.cos(math.radians(0.5)))))
    )
    # latitude extent: rows reach ±81° but not ±82°
    lat_vis = g.lat[vis.any(axis=1)]
    assert 80.5 <= lat_vis.max() < 81.5 + 1e-9 and lat_vis.min() == -lat_vis.max()


# --------------------------------------------------------------------------- gap runs and chunks
def test_merge_gap_hand_computed():
    # chunk A: C G G C G  → lead 0, trail 1, inner 2;  chunk B: G G C G C → lead 2, trail 0, inner 1
    assert merge_gap_scalar(0, 1, 2, False, 2, 0, 1, False) == (0, 0, 3, False)  # 1 + 2 joins: 3
    # all-gap chunks of 3 and 4 steps
    assert merge_gap_scalar(3, 3, 0, True, 4, 4, 0, True) == (7, 7, 0, True)
    assert merge_gap_scalar(3, 3, 0, True, 1, 2, 5, False) == (4, 2, 5, False)
    assert merge_gap_scalar(1, 2, 5, False, 3, 3, 0, True) == (1, 5, 5, False)
    lead, trail, inner, allg = merge_gap_states(
        np.array([0, 3]),
        np.array([1, 3]),
        np.array([2, 0]),
        np.array([False, True]),
        np.array([2, 4]),
        np.array([0, 4]),
        np.array([1, 0]),
        np.array([False, True]),
    )
    np.testing.assert_array_equal(lead, [0, 7])
    np.testing.assert_array_equal(trail, [0, 7])
    np.testing.assert_array_equal(inner, [3, 0])
    np.testing.assert_array_equal(allg, [False, True])


def test_gap_runs_hand_computed():
    """One GEO satellite switched off (NaN) on some steps; a second one on other steps."""
    g = Grid(5.0)
    on1 = np.array([1, 0, 0, 1, 1, 0, 0, 0, 1, 0], bool)
    on2 = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], bool)
    nt = len(on1)
    r = np.full((2, nt, 3), np.nan)
    r[0, on1] = [GEO_R_KM, 0.0, 0.0]
    r[1, on2] = [GEO_R_KM, 1.0, 0.0]  # practically the same place
    system = np.zeros(2, np.int32)
    for mv, cov, lead, trail, inner, longest, covered_steps in [
        (1, on1 | on2, 0, 1, 3, 3, 5),  # C C G C C G G G C G
        (2, on1 & on2, 0, 5, 3, 5, 2),  # C G G G C G G G G G
    ]:
        st = run_kernel(g, r, system, min_visible=np.array([mv], np.int32))
        i, j = 18, 36  # lat 2.5, lon 2.5: sees both
        assert st.sum_visible[0, i, j] == on1.sum() + on2.sum()
        assert st.steps_covered[0, i, j] == covered_steps == cov.sum()
        assert (st.lead_run[0, i, j], st.trail_run[0, i, j], st.max_inner_run[0, i, j]) == (lead, trail, inner)
        assert longest_gap(st)[0, i, j] == longest and not st.all_gap[0, i, j]
        # the far side never sees it: one gap of nt steps
        assert st.all_gap[0, 18, 0] and longest_gap(st)[0, 18, 0] == nt
        assert st.lead_run[0, 18, 0] == st.trail_run[0, 18, 0] == nt and st.max_inner_run[0, 18, 0] == 0


@pytest.mark.parametrize("chunk", [1, 7, 30])
def test_chunked_equals_single_chunk(chunk):
    rng = np.random.default_rng(3)
    g = Grid(5.0)
    nsat, nt = 12, 30
    r = random_positions(rng, nsat, nt, 5.0)
    r[rng.random((nsat, nt)) < 0.3] = np.nan  # make gaps common
    system = rng.integers(0, 2, nsat).astype(np.int32)
    mask = np.deg2rad([5.0, 30.0])
    mv = np.array([1, 2], np.int32)
    whole = run_kernel(g, r, system, mask_rad=mask, min_visible=mv, keep_counts=True)
    state = empty_chunk_state(2, g.nlat, g.nlon, keep_counts=True)
    for k0 in range(0, nt, chunk):
        part = run_kernel(
            g, np.ascontiguousarray(r[:, k0 : k0 + chunk]), system, mask_rad=mask, min_visible=mv, keep_counts=True
        )
        state = merge_chunk_states(state, part)
    assert_state_equal(state, whole)
    exp = stats_from_counts(run_reference(g, r, system, 2, np.sin(mask)[system]), mv)
    np.testing.assert_array_equal(longest_gap(state), exp["longest"])
    np.testing.assert_array_equal(state.steps_covered, exp["steps_covered"])
    assert (longest_gap(state) > 0).any() and (state.steps_covered > 0).any()


def test_thread_count_and_blocks_do_not_change_results():
    rng = np.random.default_rng(9)
    g = Grid(2.0)
    nsat, nt = 30, 9
    r = random_positions(rng, nsat, nt, 2.0)
    system = rng.integers(0, 2, nsat).astype(np.int32)
    mv = np.array([1, 2], np.int32)
    mask = np.deg2rad([10.0, 20.0])
    nthreads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_kernel(g, r, system, mask_rad=mask, min_visible=mv, keep_counts=True)
    finally:
        numba.set_num_threads(nthreads)
    full = run_kernel(g, r, system, mask_rad=mask, min_visible=mv, keep_counts=True)
    assert_state_equal(one, full)
    for nb in (1, 2, 4, 9, 50):
        assert_state_equal(run_kernel(g, r, system, mask_rad=mask, min_visible=mv, keep_counts=True, nblocks=nb), full)


def test_min_visible_zero_covers_everything_and_per_system_masks():
    g = Grid(5.0)
    r = np.array([[[GEO_R_KM, 0.0, 0.0]] * 3] * 2)
    st = run_kernel(
        g, r, np.array([0, 1], np.int32), mask_rad=np.deg2rad([0.0, 30.0]), min_visible=np.array([0, 1], np.int32)
    )
    assert (st.steps_covered[0] == 3).all() and not st.all_gap[0].any() and (longest_gap(st)[0] == 0).all()
    assert st.sum_visible[1].sum() < st.sum_visible[0].sum()  # the 30° mask sees fewer cells
    assert st.sum_visible.dtype == np.int64 and st.steps_covered.dtype == np.int32


def test_input_validation():
    g = Grid(5.0)
    r = np.zeros((2, 1, 3)) + 7000.0
    with pytest.raises(ParameterError, match="system"):
        run_kernel(g, r, np.array([0, 2]), min_visible=np.array([1, 1], np.int32))
    with pytest.raises(ParameterError, match="mask_rad"):
        run_kernel(g, r, np.array([0, 0]), mask_rad=[0.0, 0.1], min_visible=np.array([1], np.int32))
    with pytest.raises(ParameterError, match="r: expected"):
        run_kernel(g, np.zeros((2, 3)), np.array([0, 0]))
    with pytest.raises(ParameterError, match="masks"):
        run_kernel(g, r, np.array([0, 0]), mask_rad=[math.pi / 2])
    st = run_kernel(g, np.zeros((2, 0, 3)), np.array([0, 0]))
    assert st.nsteps == 0 and st.all_gap.all()


# --------------------------------------------------------------------------- fast-path specifics
def test_acos_approx_is_within_2e8_rad():
    """The closed form's half-width uses a polynomial acos (only a prediction; edges are re-tested)."""
    c = np.concatenate([np.linspace(-1.0, 1.0, 20001), [-1.0, -0.0, 0.0, 1.0, 1 - 1e-15, -1 + 1e-15]])
    err = np.array([abs(acos_approx(float(v)) - math.acos(v)) for v in c])
    assert err.max() <= 3e-8


@pytest.mark.parametrize("nblocks", [1, 2, 3, 5])
def test_long_flickering_runs_equal_brute_force(nblocks):
    """Many steps with few satellites, so cells switch between covered and gap several times: the
    run-length bookkeeping of steps_covered and the gap runs must match the per-step reference."""
    rng = np.random.default_rng(11)
    g = Grid(5.0)
    nsat, nt = 6, 17
    r = random_positions(rng, nsat, nt, 5.0)
    system = rng.integers(0, 2, nsat).astype(np.int32)
    mask = np.deg2rad(rng.uniform(0, 30, nsat))
    min_visible = np.array([1, 2], np.int32)
    st = run_kernel(g, r, system, min_visible=min_visible, sat_mask_rad=mask, keep_counts=True, nblocks=nblocks)
    ref = run_reference(g, r, system, 2, np.sin(mask))
    np.testing.assert_array_equal(st.counts, ref)
    exp = stats_from_counts(ref, min_visible)
    assert (exp["max_inner_run"] > 0).any() and (exp["steps_covered"] > 1).any()
    for f in ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap"):
        np.testing.assert_array_equal(getattr(st, f), exp[f], err_msg=f)
    np.testing.assert_array_equal(longest_gap(st), exp["longest"])
