"""The EPFD↓ kernel against a brute force in NumPy: every satellite × every cell × every GSO pointing.

The references here are independent of the kernel: the S.1428-1 pattern is re-implemented from the
Recommendation's equations, the angles come from atan2(|w × d|, w · d) in ITRS, the GSO pointings
from the slots' elevation computed with vectors, and the visibility test is the coverage engine's
reference (``tests/reference.py``).
"""

import math

import numpy as np
import pytest

from orbitshare.elements.walker import walker
from orbitshare.engine import epfd as E
from orbitshare.engine.propagation import propagate
from orbitshare.grid import Grid
from orbitshare.kernels import epfd as K
from orbitshare.timegrid import time_grid
from reference import visible_cells

R_GSO = 42164.17


# ----------------------------------------------------------------------------- independent S.1428-1
def s1428_ref(phi, dl):
    """G(φ) dBi and Gmax of ITU-R S.1428-1 (Annex 1), φ in degrees (array), for one D/λ ≥ 20."""
    phi = np.asarray(phi, float)
    if dl > 100:
        gmax = 20 * math.log10(dl) + 8.4
        g1 = -1 + 15 * math.log10(dl)
        phir = 15.85 * dl**-0.6
    else:
        gmax = 20 * math.log10(dl) + 7.7
        g1 = 29 - 25 * math.log10(95 / dl)
        phir = 95 / dl
    phim = 20 / dl * math.sqrt(gmax - g1)
    with np.errstate(divide="ignore"):
        lg = np.log10(np.maximum(phi, 1e-300))
    g = np.where(phi < phim, gmax - 2.5e-3 * (dl * phi) ** 2, g1)
    if dl > 100:
        g = np.where(phi >= phir, 29 - 25 * lg, g)
        g = np.where(phi >= 10, 34 - 30 * lg, g)
        g = np.where(phi >= 34.1, -12.0, g)
        g = np.where(phi >= 80, -7.0, g)
        g = np.where(phi >= 120, -12.0, g)
    else:
        g = np.where(phi >= phir, 29 - 25 * lg, g)
        g = np.where(phi > 33.1, -9.0, g)
        if dl <= 25:
            g = np.where(phi > 80, -5.0, g)
        else:
            g = np.where(phi > 80, -4.0, g)
            g = np.where(phi > 120, -9.0, g)
    return g, gmax


DLS = (21.4, 42.9, 107.0, 400.0)


def test_reference_pattern_tabulated_values():
    """The test's own pattern at hand-computed points (guards the reference itself)."""
    g, gmax = s1428_ref([0.0, 5.0, 20.0, 50.0, 100.0, 150.0], 400.0)
    assert gmax == pytest.approx(20 * math.log10(400) + 8.4)
    assert g[1] == pytest.approx(29 - 25 * math.log10(5))
    assert g[2] == pytest.approx(34 - 30 * math.log10(20))
    np.testing.assert_allclose(g[3:], [-12, -7, -12])
    g, _ = s1428_ref([50.0, 100.0, 150.0], 21.4)
    np.testing.assert_allclose(g, [-9, -5, -5])


@pytest.mark.parametrize("dl", DLS + (1000.0,))
def test_gain_table_within_001_db(dl):
    gain = E.gain_tables([dl])
    rng = np.random.default_rng(1)
    _, gmax = s1428_ref([0.0], dl)
    phim = 20 / dl * math.sqrt(gmax - (-1 + 15 * math.log10(dl) if dl > 100 else 29 - 25 * math.log10(95 / dl)))
    phi = np.concatenate(
        [
            rng.uniform(0, 180, 200_000),
            rng.uniform(0, 5 * phim, 100_000),
            np.linspace(0, 180, 100_001),
            [33.1, 34.1, 80.0, 120.0, 180.0],
        ]
    )
    got = 10 * np.log10(K.gain_table_eval(phi, 0, False, gain))
    ref, _ = s1428_ref(phi, dl)
    err = np.abs(got - (ref - gmax))
    # the pattern's boundary angles themselves (33.1° ≤/< conventions): excluded
    edge = np.min(np.abs(phi[:, None] - np.array([33.1, 34.1, 80.0, 120.0])[None, :]), axis=1) < 1e-9
    assert err[~edge].max() <= 0.01
    assert err[~edge].max() > 0  # the table is a table: not exact
    exact = 10 * np.log10(K.gain_table_eval(phi, 0, True, gain))
    np.testing.assert_allclose(exact[~edge], (ref - gmax)[~edge], rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- brute force
def ref_pointings(grid, step, min_el):
    """Per row: the offsets k·step (deg) whose slot is above min_el from the row's cells (vectors)."""
    pxy, pz, nxy, nz = grid.row_geometry()
    out = []
    for i in range(grid.nlat):
        ks = []
        for k in range(-40, 41):
            d = math.radians(k * step)
            w = np.array([R_GSO * math.cos(d) - pxy[i], R_GSO * math.sin(d), -pz[i]])
            el = math.degrees(math.asin(np.dot([nxy[i], 0, nz[i]], w) / np.linalg.norm(w)))
            if el > min_el and abs(k * step) < 180:
                ks.append(k * step)
        out.append(np.array(ks))
    return out


def brute_epfd(grid, r, sm, pfd_db, offsets, dls):
    """dict (i, j) → float64[npoint, nant] linear EPFD; every satellite, cell, pointing."""
    cells = [(i, j) for i in range(grid.nlat) for j in range(grid.nlon) if len(offsets[i])]
    return brute_epfd_cells(grid, r, sm, pfd_db, offsets, dls, cells)


def brute_epfd_cells(grid, r, sm, pfd_db, offsets, dls, cells):
    """dict (i, j) → float64[npoint, nant] linear EPFD of the given cells; every satellite and pointing."""
    pxy, pz, nxy, nz = grid.row_geometry()
    lon = np.radians(np.asarray(grid.lon))
    vis = np.stack([visible_cells(grid, *r[q], sm[q]) for q in range(len(r))])  # (nsat, nlat, nlon)
    out = {}
    for i, j in cells:
        p = np.array([pxy[i] * math.cos(lon[j]), pxy[i] * math.sin(lon[j]), pz[i]])
        slon = lon[j] + np.radians(offsets[i])
        w = np.stack([R_GSO * np.cos(slon), R_GSO * np.sin(slon), np.zeros_like(slon)], 1) - p
        qs = np.flatnonzero(vis[:, i, j])
        e = np.zeros((len(offsets[i]), len(dls)))
        if len(qs):
            d = r[qs] - p
            cr = np.cross(w[:, None, :], d[None, :, :])
            phi = np.degrees(np.arctan2(np.linalg.norm(cr, axis=2), np.einsum("pk,qk->pq", w, d)))
            for a, dl in enumerate(dls):
                g, gmax = s1428_ref(phi, dl)
                e[:, a] = (10 ** ((pfd_db[qs][None, :] + g - gmax) / 10)).sum(axis=1)
        out[i, j] = e
    return out


@pytest.fixture(scope="module")
def shell():
    es = walker(550, 53, 6, 8, 1, "2026-01-01T00:00:00Z")
    tg = time_grid("2026-01-01T00:00:00Z", "2026-01-01T00:06:00Z", 60)
    _, r, _ = propagate(es, tg, frame="itrs")
    grid = Grid(5.0)
    sm = np.where(np.arange(len(es)) % 2 == 0, math.sin(math.radians(25.0)), math.sin(math.radians(10.0)))
    pfd_db = -150.0 + (np.arange(len(es)) % 5)
    return grid, r, sm, pfd_db


def _kernel_inputs(grid, dls, step=5.0, min_el=5.0):
    off, npr, wp, base = E.gso_pointings(grid, step, min_el)
    return off, npr, (wp, npr, base), E.gain_tables(dls), E._geom(grid)


def test_pointings_match_vector_geometry():
    grid = Grid(5.0)
    off, npr, (wp, _, base), _, _ = _kernel_inputs(grid, DLS, step=4.0, min_el=10.0)
    ref = ref_pointings(grid, 4.0, 10.0)
    for i in range(grid.nlat):
        np.testing.assert_array_equal(off[i, : npr[i]], ref[i])
    assert npr[0] == 0 and npr.max() == 2 * 17 + 1  # 71.4° of arc above 10° on the equator: ±68° at 4°


@pytest.mark.parametrize("exact", [True, False])
def test_epfd_step_vs_brute_force(shell, exact):
    grid, r, sm, pfd_db = shell
    off, npr, pointing, gain, geom = _kernel_inputs(grid, DLS)
    offsets = [off[i, : npr[i]] for i in range(grid.nlat)]
    base = pointing[2]
    nfinite = 0
    for k in range(r.shape[1]):
        got = K.epfd_step_values(r[:, k], sm, 10 ** (pfd_db / 10), geom, pointing, gain, exact=exact)
        ref = brute_epfd(grid, r[:, k], sm, pfd_db, offsets, DLS)
        for (i, j), e in ref.items():
            g = got[base[i] + j * npr[i] : base[i] + (j + 1) * npr[i]]
            np.testing.assert_array_equal(g > 0, e > 0)
            pos = e > 0
            nfinite += int(pos.sum())
            tol = 1e-9 if exact else 0.01
            np.testing.assert_allclose(10 * np.log10(g[pos]), 10 * np.log10(e[pos]), rtol=0, atol=tol)
    assert nfinite > 1000


def test_doubled_satellites_add_3db(shell):
    grid, r, sm, pfd_db = shell
    _, _, pointing, gain, geom = _kernel_inputs(grid, DLS)
    pfd = 10 ** (pfd_db / 10)
    one = K.epfd_step_values(r[:, 0], sm, pfd, geom, pointing, gain)
    two = K.epfd_step_values(np.concatenate([r[:, 0], r[:, 0]]), np.tile(sm, 2), np.tile(pfd, 2), geom, pointing, gain)
    pos = one > 0
    assert pos.sum() > 1000
    np.testing.assert_array_equal(two > 0, pos)
    np.testing.assert_allclose(10 * np.log10(two[pos]) - 10 * np.log10(one[pos]), 10 * math.log10(2), atol=1e-12)


def test_chunk_counts_and_max_vs_series(shell):
    """Pass 1 statistics (class counts at levels, max) against the brute-force per-step series."""
    grid, r, sm, pfd_db = shell
    off, npr, pointing, gain, geom = _kernel_inputs(grid, DLS)
    offsets = [off[i, : npr[i]] for i in range(grid.nlat)]
    base = pointing[2]
    ncp, nant, nt = int(base[-1]), len(DLS), r.shape[1]
    levels_db = np.array([[-190.0, -180.0, -175.0, -170.0, np.nan]] * nant)
    levels_db[1, :] = [-200.0, -190.0, -185.0, -181.0, -176.0]
    levels = np.where(np.isnan(levels_db), np.inf, 10 ** (levels_db / 10))
    cls_k = np.zeros((nant, 6, ncp), np.int32)  # the kernel's layout (antenna, class, cell-pointing)
    vmax = np.zeros((ncp, nant))
    err = np.zeros(r.shape[:2], np.uint8)
    for k0 in (0, 3):  # two chunks
        K.accumulate_epfd_chunk(
            np.ascontiguousarray(r[:, k0 : k0 + 3]), err[:, k0 : k0 + 3], sm, 10 ** (pfd_db / 10), geom, pointing,
            gain, (levels, cls_k, vmax), exact=True,
        )  # fmt: skip
    cls = np.moveaxis(cls_k, 2, 0)
    series = [brute_epfd(grid, r[:, k], sm, pfd_db, offsets, DLS) for k in range(min(nt, 6))]
    checked = 0
    for (i, j), _ in series[0].items():
        ser = np.stack([s[i, j] for s in series])  # (step, pointing, antenna)
        sl = slice(base[i] + j * npr[i], base[i] + (j + 1) * npr[i])
        for a in range(nant):
            for lv in range(5):
                if np.isnan(levels_db[a, lv]):
                    continue
                above = (10 * np.log10(np.where(ser[:, :, a] > 0, ser[:, :, a], 1e-300)) > levels_db[a, lv]).sum(0)
                got = cls[sl, a, lv + 1 :].sum(axis=1)
                np.testing.assert_array_equal(got, above)
                checked += int(above.sum())
            np.testing.assert_allclose(vmax[sl, a], ser[:, :, a].max(0), rtol=1e-12)
    assert checked > 100


@pytest.mark.parametrize("exact", [False, True])
def test_margin_pass_values_are_the_first_pass_bits(shell, exact):
    """Pass 2 (the histogram of the selected pointings) evaluates the same bits as the per-step values of
    every pointing (:func:`epfd_step_values`, pass 1's cell evaluation): with histogram edges placed at those
    values themselves, one ulp off would move a count to the next bin. The selection mixes shared pointings
    (several antennas on one), distinct ones and none (−1); the brute-force test above checks the values."""
    grid, r, sm, pfd_db = shell
    _, npr, pointing, gain, geom = _kernel_inputs(grid, DLS)
    base = pointing[2]
    nant, nt = len(DLS), r.shape[1]
    pfd = 10 ** (pfd_db / 10)
    vals = np.stack([K.epfd_step_values(r[:, k], sm, pfd, geom, pointing, gain, exact=exact) for k in range(nt)])
    rng = np.random.default_rng(7)
    sel = np.full((grid.nlat, grid.nlon, nant), -1, np.int64)
    for i in range(grid.nlat):
        if npr[i]:
            p0 = rng.integers(npr[i], size=(grid.nlon, 1))
            own = rng.integers(npr[i], size=(grid.nlon, nant))
            sel[i] = np.where(rng.random((grid.nlon, nant)) < 0.5, p0, own)  # about half share one pointing
            sel[i, rng.random(grid.nlon) < 0.1, 1] = -1
    picked = np.zeros((nt, grid.nlat, grid.nlon, nant))
    for i in range(grid.nlat):
        for j in range(grid.nlon):
            for a in range(nant):
                if sel[i, j, a] >= 0:
                    picked[:, i, j, a] = vals[:, base[i] + j * npr[i] + sel[i, j, a], a]
    nedge = 60
    edges = np.full((nant, nedge), np.inf)
    for a in range(nant):
        v = np.unique(picked[..., a][picked[..., a] > 0])
        assert len(v) > 5 * nedge
        edges[a] = v[np.linspace(0, len(v) - 1, nedge).astype(int)]  # edges AT computed values
    hist = np.zeros((grid.nlat, grid.nlon, nant, nedge + 1), np.int32)
    err = np.zeros(r.shape[:2], np.uint8)
    K.accumulate_epfd_chunk(np.ascontiguousarray(r), err, sm, pfd, geom, pointing, gain, (edges, hist), exact=exact,
                            sel=sel)  # fmt: skip
    ref = np.zeros_like(hist)
    for a in range(nant):
        b = np.searchsorted(edges[a], picked[..., a], side="right")  # bin [e[b-1], e[b])
        for k in range(nt):
            ok = (b[k] > 0) & (sel[..., a] >= 0)
            ii, jj = np.nonzero(ok)
            np.add.at(ref, (ii, jj, a, b[k][ok]), 1)
    np.testing.assert_array_equal(hist, ref)
    on_edge = sum(int(np.isin(picked[..., a], edges[a]).sum()) for a in range(nant))
    assert on_edge >= nant * nedge  # values sit exactly on edges: a 1-ulp change would show


def test_row_order_interleaves_and_threads_change_no_bit(shell):
    """Phase B visits rows interleaved by thread (:func:`row_order`); each row is summed by one thread, so the
    statistics of both passes are the same bits with one thread or several."""
    import numba

    o = K.row_order(10, 3)
    np.testing.assert_array_equal(o, [0, 3, 6, 9, 1, 4, 7, 2, 5, 8])
    for n, t in ((90, 16), (7, 8), (1, 1)):
        assert sorted(K.row_order(n, t).tolist()) == list(range(n))
    grid, r, sm, pfd_db = shell
    _, npr, pointing, gain, geom = _kernel_inputs(grid, DLS)
    ncp, nant = int(pointing[2][-1]), len(DLS)
    levels = np.tile(10 ** (np.array([-200.0, -190.0, -185.0, -180.0]) / 10), (nant, 1))
    edges = np.tile(10 ** (np.arange(-210.0, -160.0, 0.25) / 10), (nant, 1))
    sel = np.where(npr[:, None, None] > 0, 0, -1) * np.ones((1, grid.nlon, nant), np.int64)
    err = np.zeros(r.shape[:2], np.uint8)
    pfd = 10 ** (pfd_db / 10)
    nmax = numba.config.NUMBA_NUM_THREADS
    out = []
    for nthreads in sorted({1, min(nmax, 2), nmax}):
        numba.set_num_threads(nthreads)
        try:
            cls = np.zeros((nant, 5, ncp), np.int32)
            vmax = np.zeros((ncp, nant))
            hist = np.zeros((grid.nlat, grid.nlon, nant, edges.shape[1] + 1), np.int32)
            K.accumulate_epfd_chunk(r, err, sm, pfd, geom, pointing, gain, (levels, cls, vmax))
            K.accumulate_epfd_chunk(r, err, sm, pfd, geom, pointing, gain, (edges, hist), sel=sel)
        finally:
            numba.set_num_threads(nmax)
        out.append((cls, vmax, hist))
    assert out[0][0].sum() > 0 and out[0][2].sum() > 0
    for cls, vmax, hist in out[1:]:
        np.testing.assert_array_equal(cls, out[0][0])
        np.testing.assert_array_equal(vmax, out[0][1])
        np.testing.assert_array_equal(hist, out[0][2])


def test_zenith_satellite_closed_form():
    """One satellite at the zenith of an equator cell: EPFD = PFD + G(φ) − Gmax with φ by hand: from the
    cell (a, 0, 0) the slot at offset δ is at (R cos δ, R sin δ, 0), the zenith is +x, so φ = atan2(R sin δ,
    R cos δ − a)."""
    grid = Grid(4.0)  # 45 rows: the middle row's centre is on the equator
    i = grid.nlat // 2
    assert grid.lat[i] == 0.0
    off, npr, pointing, gain, geom = _kernel_inputs(grid, DLS, step=5.0, min_el=5.0)
    j = 17
    lam = math.radians(grid.lon[j])
    a_km = 6378.137
    sat = np.array([[(a_km + 550.0) * math.cos(lam), (a_km + 550.0) * math.sin(lam), 0.0]])
    pfd_db = -146.0
    for exact, tol in ((True, 1e-9), (False, 0.01)):
        got = K.epfd_step_values(sat, np.array([math.sin(math.radians(25.0))]), np.array([10 ** (pfd_db / 10)]), geom,
                                 pointing, gain, exact=exact)  # fmt: skip
        base = pointing[2]
        g = got[base[i] + j * npr[i] : base[i] + (j + 1) * npr[i]]
        delta = np.radians(off[i, : npr[i]])
        phi = np.degrees(np.arctan2(R_GSO * np.abs(np.sin(delta)), R_GSO * np.cos(delta) - a_km))
        for a, dl in enumerate(DLS):
            gg, gmax = s1428_ref(phi, dl)
            np.testing.assert_allclose(10 * np.log10(g[:, a]), pfd_db + gg - gmax, rtol=0, atol=tol)
        assert 10 * math.log10(g[npr[i] // 2, 0]) == pytest.approx(pfd_db, abs=1e-9)  # δ = 0: on axis
        # the cells next to it see the satellite too, but not the cells 20° away
        assert np.all(got[base[i] + (j + 5) * npr[i] : base[i] + (j + 6) * npr[i]] == 0)


def test_fine_grid_and_negative_masks_vs_brute_force():
    """1° grid, masks 25°, 0° and −5°, two shells: who is in view of each cell (every cell), and the EPFD
    of 150 random cells (every pointing), against the brute force."""
    es = walker(1100, 87, 12, 10, 1, "2026-01-01T00:00:00Z")
    _, r, _ = propagate(es, time_grid("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", 60), frame="itrs")
    r = np.concatenate([r[:, 0], 0.5 * (r[:60, 0] + r[60:120, 0])])  # a few positions off any shell
    grid = Grid(1.0)
    sm = np.sin(np.radians(np.array([25.0, 0.0, -5.0])[np.arange(len(r)) % 3]))
    pfd_db = np.full(len(r), -150.0)
    off, npr, pointing, gain, geom = _kernel_inputs(grid, DLS)
    base = pointing[2]
    got = K.epfd_step_values(r, sm, 10 ** (pfd_db / 10), geom, pointing, gain, exact=True)
    anyvis = np.zeros((grid.nlat, grid.nlon), bool)
    for q in range(len(r)):
        anyvis |= visible_cells(grid, *r[q], sm[q])
    for i in range(grid.nlat):
        if npr[i]:
            seen = got[base[i] : base[i + 1], 0].reshape(grid.nlon, npr[i])[:, 0] > 0
            np.testing.assert_array_equal(seen, anyvis[i])
    rng = np.random.default_rng(3)
    rows = np.flatnonzero(npr > 0)
    cells = [(int(rng.choice(rows)), int(rng.integers(grid.nlon))) for _ in range(150)]
    offsets = [off[i, : npr[i]] for i in range(grid.nlat)]
    ref = brute_epfd_cells(grid, r, sm, pfd_db, offsets, DLS, cells)
    for (i, j), e in ref.items():
        g = got[base[i] + j * npr[i] : base[i] + (j + 1) * npr[i]]
        np.testing.assert_array_equal(g > 0, e > 0)
        pos = e > 0
        np.testing.assert_allclose(10 * np.log10(g[pos]), 10 * np.log10(e[pos]), rtol=0, atol=1e-9)
