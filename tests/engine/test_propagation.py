"""orbitshare.propagate / iter_propagate end to end against sgp4 and Skyfield."""

import numba
import numpy as np
import pytest
from sgp4.api import Satrec, SatrecArray
from skyfield.api import EarthSatellite
from skyfield.framelib import itrs

import orbitshare
from orbitshare.timegrid import time_grid

STARLINK_TLE = "tle/celestrak_tle_2026-05-30/starlink.tle"
GEO_TLE = "tle/celestrak_tle_2026-05-30/geo.tle"
OMM_ACTIVE = "omm/celestrak_gp_csv_2026-08-18/active.csv"


def _satrecs_from_tle(path):
    with open(path, encoding="ascii") as f:
        lines = [line.rstrip() for line in f if line.strip()]
    return [Satrec.twoline2rv(lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)]


def _satrecs_by_norad(path):
    from sgp4 import omm

    out = {}
    with open(path) as f:
        for fields in omm.parse_csv(f):
            sat = Satrec()
            omm.initialize(sat, fields)
            out[sat.satnum] = sat
    return out


def test_teme_matches_satrecarray_on_real_tle(shared_data):
    path = shared_data / STARLINK_TLE
    es = orbitshare.load_elements(path)
    sats = _satrecs_from_tle(path)
    sel = np.arange(0, len(es), 7)
    es = es[sel]
    tg = time_grid("2026-05-30T00:00:00Z", "2026-05-31T00:00:00Z", 600)
    e, r, v = orbitshare.propagate(es, tg.jd, tg.fr)
    e_ref, r_ref, v_ref = SatrecArray([sats[i] for i in sel]).sgp4(tg.jd, tg.fr)
    np.testing.assert_array_equal(e, e_ref)
    ok = e_ref == 0
    assert np.abs(r - r_ref)[ok].max() < 1e-6
    assert np.abs(v - v_ref)[ok].max() < 1e-9
    assert np.isnan(r[~ok]).all()


@pytest.mark.parametrize("which", ["leo", "meo", "geo"])
def test_itrs_within_1_m_of_skyfield_across_a_year(shared_data, which):
    """ITRS positions from orbitshare.propagate vs Skyfield EarthSatellite.at(t).frame_xyz(itrs)."""
    path = shared_data / (GEO_TLE if which == "geo" else STARLINK_TLE)
    es_all = orbitshare.load_elements(path)
    if which == "meo":  # GPS/Galileo from the OMM snapshot
        es_all = orbitshare.load_elements(shared_data / OMM_ACTIVE)
        a = (orbitshare.constants.WGS84_MU_KM3_S2 / (es_all.mean_motion * 2 * np.pi / 86400) ** 2) ** (1 / 3)
        es_all = es_all[(a > 20000) & (a < 30000)]
    es = es_all[np.linspace(0, len(es_all) - 1, 5).astype(int)]
    tg = time_grid("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", 86400 * 3.65)
    e, r, v = orbitshare.propagate(es, tg, frame="itrs")
    t = tg.skyfield_time()
    satrecs = _satrecs_by_norad(shared_data / OMM_ACTIVE) if which == "meo" else None
    for i in range(len(es)):
        if satrecs is not None:  # the very OMM record, not a TLE re-rounding of it
            sat = EarthSatellite.from_satrec(satrecs[int(es.norad[i])], t.ts)
        else:
            line1, line2 = es[i].to_tle(three_line=False).splitlines()[:2]
            sat = EarthSatellite(line1, line2, ts=t.ts)
        ref = sat.at(t).frame_xyz(itrs).km.T
        ok = e[i] == 0
        assert ok.sum() > 0
        err = np.linalg.norm(r[i][ok] - ref[ok], axis=1)
        assert err.max() < 1e-3, f"{es.name[i]}: {err.max() * 1000:.3f} m"


def test_iter_propagate_equals_propagate(shared_data):
    es = orbitshare.load_elements(shared_data / STARLINK_TLE)[:300]
    tg = time_grid("2026-05-30T00:00:00Z", "2026-05-30T06:00:00Z", 60)
    e, r, v = orbitshare.propagate(es, tg, frame="itrs")
    parts = list(orbitshare.iter_propagate(es, tg, 37, frame="itrs"))
    assert [len(p[0]) for p in parts] == [37] * 9 + [27]
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts], axis=1), e)
    np.testing.assert_array_equal(np.concatenate([p[2] for p in parts], axis=1), r)
    np.testing.assert_array_equal(np.concatenate([p[3] for p in parts], axis=1), v)


def test_thread_count_does_not_change_results(shared_data):
    es = orbitshare.load_elements(shared_data / STARLINK_TLE)[:500]
    tg = time_grid("2026-05-30T00:00:00Z", "2026-05-30T03:00:00Z", 60)
    n = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = orbitshare.propagate(es, tg, frame="itrs")
    finally:
        numba.set_num_threads(n)
    many = orbitshare.propagate(es, tg, frame="itrs")
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_frame_is_explained():
    es = orbitshare.walker(550, 53, 2, 3, 1, "2026-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="frame"):
        orbitshare.propagate(es, np.array([2461041.5]), np.array([0.0]), frame="gcrs")


def test_decayed_satellite_gets_error_code_and_nan(shared_data):
    """A low satellite with a huge drag term decays: code 1–6 and NaN rows, never an exception."""
    es = orbitshare.walker(200, 51.6, 1, 1, 0, "2026-01-01T00:00:00Z", bstar=0.5)
    jd = np.full(20, 2461041.5)
    fr = np.linspace(0, 19, 20)
    e, r, v = orbitshare.propagate(es, jd, fr)
    assert e[0, 0] == 0 and (e[0] != 0).any()
    bad = e[0] != 0
    assert np.isnan(r[0][bad]).all() and np.isnan(v[0][bad]).all()


def test_iter_propagate_reused_buffers_and_positions_only(shared_data):
    """The coverage engine's mode: one set of buffers for all chunks, ITRS positions only."""
    es = orbitshare.load_elements(shared_data / STARLINK_TLE)[:200]
    tg = time_grid("2026-05-30T00:00:00Z", "2026-05-30T02:00:00Z", 60)
    e, r, v = orbitshare.propagate(es, tg, frame="itrs")
    seen = []
    for chunk, ec, rc, _vc in orbitshare.iter_propagate(es, tg, 25, frame="itrs", reuse_buffers=True, velocities=False):
        seen.append((ec.copy(), rc.copy(), id(rc), len(chunk)))
    np.testing.assert_array_equal(np.concatenate([s[0] for s in seen], axis=1), e)
    np.testing.assert_array_equal(np.concatenate([s[1] for s in seen], axis=1), r)
    assert len({s[2] for s in seen if s[3] == 25}) == 1  # the same buffer for every full chunk
