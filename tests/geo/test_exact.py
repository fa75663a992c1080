"""Exact country fractions (orbitshare.geo.exact) and the population placement (orbitshare.geo.population):
closed forms, brute-force point sampling of the vendored Natural Earth polygons, conservation."""

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from orbitshare.errors import DataError
from orbitshare.geo.embedded import boundaries
from orbitshare.geo.exact import polygon_fractions
from orbitshare.geo.naturalearth import read_polygons
from orbitshare.geo.parts import Polygons, land_fraction, polygon_cell_fractions
from orbitshare.geo.population import Raster, distribute_counts, move_to_land
from orbitshare.grid import Grid


def _box_area(lon0, lon1, lat0, lat1):
    """Spherical area (unit sphere, steradians) of a lon/lat rectangle, degrees."""
    return np.radians(lon1 - lon0) * (np.sin(np.radians(lat1)) - np.sin(np.radians(lat0)))


def _ring(lon0, lon1, lat0, lat1, ccw=True):
    r = np.array([[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]], float)
    return r if ccw else r[::-1]


@pytest.mark.parametrize("res", [5.0, 1.0, 0.25])
def test_rectangle_with_hole_closed_form(res):
    """A lon/lat rectangle minus a rectangular hole: every cell's fraction is the closed-form spherical area
    of the overlap over the cell's area (1e-12), whatever the rings' stored orientation."""
    outer = (-7.3, 11.9, 40.2, 63.7)
    hole = (1.1, 4.6, 50.3, 52.9)
    for ccw in (True, False):
        p = Polygons()
        p.add([_ring(*outer, ccw=ccw), _ring(*hole, ccw=ccw)], 0)
        polys = p.finish()
        grid = Grid(res)
        ii, jj, kk, ff, stats = polygon_cell_fractions(polys, grid, 1)
        got = np.zeros((grid.nlat, grid.nlon))
        got[ii, jj] = ff
        want = np.zeros_like(got)
        for (lon0, lon1, lat0, lat1), sign in ((outer, 1.0), (hole, -1.0)):
            for i in range(grid.nlat):
                a0, a1 = max(lat0, grid.lat_bounds[i, 0]), min(lat1, grid.lat_bounds[i, 1])
                if a1 <= a0:
                    continue
                for j in range(grid.nlon):
                    b0, b1 = max(lon0, grid.lon_bounds[j, 0]), min(lon1, grid.lon_bounds[j, 1])
                    if b1 > b0:
                        cell = _box_area(*grid.lon_bounds[j], *grid.lat_bounds[i])
                        want[i, j] += sign * _box_area(b0, b1, a0, a1) / cell
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        assert stats["cells_rescaled"] == 0 and kk.max() == 0


def test_sloped_edge_closed_form():
    """A triangle with a sloped edge inside one 5° cell: area = ∫ (sin φ(λ) − sin φ0) dλ along the slope,
    integrated numerically (Gauss-Legendre, 1e-14) as an independent reference."""
    lon0, lon1, lat0, lat1 = 1.0, 4.0, 10.5, 14.0  # vertices (lon0, lat0), (lon1, lat0), (lon0, lat1)
    p, i, j, f = polygon_fractions(
        np.array([lon0, lon1, lon0]), np.array([lat0, lat0, lat1]), np.array([0, 3]), np.array([0, 1]), 5.0
    )
    x, w = np.polynomial.legendre.leggauss(40)
    lam = lon0 + (x + 1) / 2 * (lon1 - lon0)
    phi = lat1 + (lat0 - lat1) * (lam - lon0) / (lon1 - lon0)
    area = np.sum(w * (np.sin(np.radians(phi)) - np.sin(np.radians(lat0)))) / 2 * np.radians(lon1 - lon0)
    cell = _box_area(0.0, 5.0, 10.0, 15.0)
    assert p.tolist() == [0] and (i[0], j[0]) == (20, 36)
    assert f[0] == pytest.approx(area / cell, rel=1e-12)


def test_polygon_errors():
    p = Polygons()
    p.add([np.array([[170.0, 0.0], [-170.0, 0.0], [-170.0, 5.0]])], 0)
    with pytest.raises(DataError, match="mine.geojson: an edge .* spans more than 180"):
        polygon_cell_fractions(p.finish(), Grid(5.0), 1, source="mine.geojson")
    p = Polygons()
    p.add([np.array([[0.0, 0.0], [5.0, 95.0], [0.0, 5.0]])], 0)
    with pytest.raises(DataError, match="outside longitude"):
        polygon_cell_fractions(p.finish(), Grid(5.0), 1)


# ------------------------------------------------------------------ brute force on Natural Earth
@pytest.fixture(scope="module")
def ne():
    feats, _ = boundaries()
    polys, countries = read_polygons(feats)
    return polys, countries


def _sampled_fraction(polys, label, lon0, lat0, res, m, rng):
    """Fraction of the cell covered by the polygons of ``label``, by m×m jittered samples (cos-latitude
    weights) and an upper bound of the sampling error's standard deviation."""
    u = (np.arange(m)[None, :] + rng.random((m, m))) / m
    v = (np.arange(m)[:, None] + rng.random((m, m))) / m
    lon = lon0 + u * res
    lat = lat0 + v * res
    pts = np.stack([lon.ravel(), lat.ravel()], axis=1)
    corners = np.stack(np.meshgrid(lon0 + np.arange(m + 1) * res / m, lat0 + np.arange(m + 1) * res / m), -1)
    cpts = corners.reshape(-1, 2)
    inside = np.zeros(len(pts), bool)
    cin = np.zeros(len(cpts), bool)
    for p in np.nonzero(polys.label == label)[0]:
        if polys.xmax[p] < lon0 or polys.xmin[p] > lon0 + res or polys.ymax[p] < lat0 or polys.ymin[p] > lat0 + res:
            continue
        pin = np.zeros(len(pts), bool)
        pc = np.zeros(len(cpts), bool)
        for r in range(polys.poly_ring_start[p], polys.poly_ring_start[p + 1]):
            a, b = polys.ring_start[r], polys.ring_start[r + 1]
            path = MplPath(np.stack([polys.vx[a:b], polys.vy[a:b]], axis=1))
            pin ^= path.contains_points(pts)  # even-odd over the rings: holes are removed
            pc ^= path.contains_points(cpts)
        inside |= pin
        cin |= pc
    wgt = np.cos(np.radians(lat.ravel()))
    frac = float(np.sum(wgt * inside) / np.sum(wgt))
    c = cin.reshape(m + 1, m + 1)
    mixed = ~((c[:-1, :-1] == c[1:, :-1]) & (c[:-1, :-1] == c[:-1, 1:]) & (c[:-1, :-1] == c[1:, 1:]))
    sigma = np.sqrt(0.25 * mixed.sum() + 1.0) / m**2  # each stratum crossed by a border: variance <= 1/4
    return frac, sigma


@pytest.mark.parametrize(
    "lat0,lon0,codes",
    [
        (43.0, 7.0, ("MCO", "FRA", "ITA")),  # Monaco: a country of 2 km²
        (41.0, 12.0, ("ITA", "VAT")),  # Vatican: a hole in Italy
        (-30.0, 28.0, ("ZAF", "LSO")),  # Lesotho: a hole in South Africa
        (51.0, 4.0, ("NLD", "BEL")),  # a border and a coast
        (60.0, 5.0, ("NOR",)),  # fjords
    ],
)
def test_fractions_match_brute_force_sampling(ne, lat0, lon0, codes):
    """Exact fractions of real Natural Earth cells (1°) against 600×600 jittered samples per cell: within
    5 standard deviations of the sampling error (bounded from the samples' strata the borders cross)."""
    polys, countries = ne
    grid = Grid(1.0)
    ii, jj, kk, ff, _ = polygon_cell_fractions(polys, grid, len(countries["country"]))
    i, j = int(lat0 + 90), int(lon0 + 180)
    index = {c: k for k, c in enumerate(countries["country"])}
    rng = np.random.default_rng(7)
    for code in codes:
        k = index[code]
        sel = (ii == i) & (jj == j) & (kk == k)
        exact = float(ff[sel].sum())
        assert exact > 0, code
        sampled, sigma = _sampled_fraction(polys, k, lon0, lat0, 1.0, 600, rng)
        assert abs(exact - sampled) <= 5 * sigma, (code, exact, sampled, sigma)


@pytest.mark.parametrize("res", [1.0, 0.25])
def test_fraction_sums_at_most_one(ne, res):
    """Per cell the countries' fractions add up to at most 1 + 1e-9; every polygon keeps its area
    (the land of the globe is the same at every resolution, to 1e-9 relative)."""
    polys, countries = ne
    grid = Grid(res)
    ii, jj, kk, ff, stats = polygon_cell_fractions(polys, grid, len(countries["country"]))
    s = np.zeros(grid.nlat * grid.nlon)
    np.add.at(s, ii * grid.nlon + jj, ff)
    assert s.max() <= 1.0 + 1e-9 and ff.min() > 0
    assert stats["max_sum"] <= 1.0 + 1e-9  # Natural Earth's countries do not overlap
    land = float(np.sum(land_fraction(grid, ii, jj, ff) * grid.cell_area_km2[:, None]))
    g5 = Grid(5.0)
    i5, j5, _, f5, _ = polygon_cell_fractions(polys, g5, len(countries["country"]))
    land5 = float(np.sum(land_fraction(g5, i5, j5, f5) * g5.cell_area_km2[:, None]))
    assert land == pytest.approx(land5, rel=2e-3)  # cell areas are ellipsoidal, fractions spherical
    assert 1.45e8 < land < 1.52e8  # km²: the land of the Earth, Antarctica included


# ------------------------------------------------------------------ population placement
def test_distribute_counts_closed_form():
    """A 1° cell of 100 people over 0.5° sub-cells: a town of 30 keeps its cell, the other 70 go by land
    area; towns that exceed the count are scaled down to it; a cell without land spreads by area."""
    grid = Grid(0.5)
    raster = Raster(np.array([[100.0, 50.0]]), np.array([10.0, 11.0]), np.array([20.0, 21.0, 22.0]))
    land = np.zeros((grid.nlat, grid.nlon))
    i0, j0 = 200, 400  # sub-cells of lat [10, 11), lon [20, 21)
    land[i0, j0] = 1.0
    land[i0 + 1, j0] = 0.5
    land[i0 + 1, j0 + 1] = 0.25  # (i0, j0 + 1) has no land
    out = distribute_counts(raster, grid, land, np.array([10.2, 10.7]), np.array([20.3, 21.5]), np.array([30.0, 9.0]))
    assert out.sum() == pytest.approx(150.0, rel=1e-14)
    s = np.sin(np.radians([10.0, 10.5, 11.0]))
    w = np.diff(s) / (s[2] - s[0])  # the two rows' shares of the cell's area
    lw = np.array([[w[0] * 1.0, 0.0], [w[1] * 0.5, w[1] * 0.25]])
    want = 70.0 * lw / lw.sum()
    want[0, 0] += 30.0
    np.testing.assert_allclose(out[i0 : i0 + 2, j0 : j0 + 2], want, rtol=1e-13)
    # the second cell has no land: its town (on no land) is ignored, its 50 people spread by area
    np.testing.assert_allclose(out[i0 : i0 + 2, j0 + 2 : j0 + 4], 50.0 * np.array([[w[0], w[0]], [w[1], w[1]]]) / 2)
    # a town larger than the cell's count: scaled down to it
    out = distribute_counts(raster, grid, land, np.array([10.2]), np.array([20.3]), np.array([500.0]))
    assert out[i0, j0] == pytest.approx(100.0) and out[i0 : i0 + 2, j0 : j0 + 2].sum() == pytest.approx(100.0)


def test_move_to_land_nearest():
    grid = Grid(5.0)
    land = np.zeros((grid.nlat, grid.nlon))
    land[18, 0] = 0.3  # lat 2.5, lon -177.5
    land[18, 10] = 1.0  # lat 2.5, lon -127.5
    pop = np.zeros_like(land)
    pop[18, 71] = 7.0  # lon 177.5: nearest across the antimeridian
    pop[20, 9] = 5.0
    pop[18, 10] = 1.0
    out, moved, cells = move_to_land(pop, land, grid.lat, grid.lon)
    assert (moved, cells) == (12.0, 2)
    assert out[18, 0] == 7.0 and out[18, 10] == 6.0 and out.sum() == 13.0
