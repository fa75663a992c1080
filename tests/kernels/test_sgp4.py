"""orbitshare.kernels.sgp4 against the reference sgp4 package (Vallado's C++ via sgp4.api).

Kernel inputs are built from ``sgp4.api.Satrec`` attributes. Tolerances: position 1e-6 km,
velocity 1e-9 km/s; error codes and NaN rows must be identical.
"""

import math
from importlib.resources import files

import numba
import numpy as np
import pytest
from sgp4 import omm
from sgp4.api import WGS72, Satrec, SatrecArray

from orbitshare.kernels.sgp4 import (
    NPARAM,
    PARAM_NAMES,
    sgp4_init,
    sgp4_propagate,
    sgp4_propagate_into,
    sgp4_tsince,
)

TOL_R_KM = 1e-6
TOL_V_KMS = 1e-9
ACTIVE_OMM = "omm/celestrak_gp_csv_2026-08-18/active.csv"
FIELDS = ("jdsatepoch", "jdsatepochF", "bstar", "ndot", "nddot", "ecco", "argpo", "inclo", "mo", "no_kozai", "nodeo")
COL = {name: k for k, name in enumerate(PARAM_NAMES)}


def init_from_satrecs(sats):
    """Kernel initialisation from the attributes of sgp4.api.Satrec objects."""
    return sgp4_init(*[np.array([getattr(s, k) for s in sats], dtype=np.float64) for k in FIELDS])


def verification_cases():
    """(Satrec, list of tsince) for every case of SGP4-VER.TLE, read in place.

    Line 2 carries start, stop and step (min) after column 69; the times are generated as
    sgp4/tests.py does (t = 0 first, then start..stop by step, then stop if missed).
    """
    text = (files("sgp4") / "SGP4-VER.TLE").read_text()
    lines = text.splitlines()
    cases = []
    for k, line1 in enumerate(lines):
        if not line1.startswith("1 "):
            continue
        line2 = lines[k + 1]
        sat = Satrec.twoline2rv(line1, line2)
        tstart, tend, tstep = (float(x) for x in line2[69:].split())
        times = [0.0]
        t = tstart
        while t <= tend:
            if not (t == tstart == 0.0):
                times.append(t)
            t += tstep
        if t - tend < tstep - 1e-6:
            times.append(tend)
        cases.append((sat, times))
    return cases


@pytest.fixture(scope="module")
def ver():
    """Verification set: satrecs, tsince matrix (padded by repeating the last time), counts,
    kernel results and reference results."""
    cases = verification_cases()
    sats = [s for s, _ in cases]
    err0_ref = [s.error for s in sats]  # Satrec.error after sgp4init (later calls overwrite it)
    counts = [len(ts) for _, ts in cases]
    nt = max(counts)
    tsm = np.empty((len(cases), nt))
    for i, (_, ts) in enumerate(cases):
        tsm[i, : len(ts)] = ts
        tsm[i, len(ts) :] = ts[-1]
    params, err0 = init_from_satrecs(sats)
    e, r, v = sgp4_tsince(params, tsm)
    e_ref = np.zeros(e.shape, np.uint8)
    r_ref = np.zeros(r.shape)
    v_ref = np.zeros(v.shape)
    for i, s in enumerate(sats):
        for j in range(counts[i]):
            ee, rr, vv = s.sgp4_tsince(tsm[i, j])
            e_ref[i, j], r_ref[i, j], v_ref[i, j] = ee, rr, vv
    return {
        "sats": sats,
        "counts": counts,
        "tsm": tsm,
        "params": params,
        "err0": err0,
        "err0_ref": err0_ref,
        "e": e,
        "r": r,
        "v": v,
        "e_ref": e_ref,
        "r_ref": r_ref,
        "v_ref": v_ref,
    }


def _compare(e, r, v, e_ref, r_ref, v_ref):
    """Assert identical codes and NaN pattern; return (max |dr| km, max |dv| km/s)."""
    assert e.dtype == np.uint8 and r.dtype == np.float64 and v.dtype == np.float64
    np.testing.assert_array_equal(e, e_ref)
    np.testing.assert_array_equal(np.isnan(r), np.isnan(r_ref))
    np.testing.assert_array_equal(np.isnan(v), np.isnan(v_ref))
    ok = ~np.isnan(r_ref)
    dr = float(np.abs(r[ok] - r_ref[ok]).max()) if ok.any() else 0.0
    ok = ~np.isnan(v_ref)
    dv = float(np.abs(v[ok] - v_ref[ok]).max()) if ok.any() else 0.0
    return dr, dv


# ------------------------------------------------------------------------------------------
# API
# ------------------------------------------------------------------------------------------


def test_api_shapes_and_dtypes(ver):
    n = len(ver["sats"])
    assert len(PARAM_NAMES) == NPARAM
    assert ver["params"].shape == (n, NPARAM) and ver["params"].dtype == np.float64
    assert ver["err0"].shape == (n,) and ver["err0"].dtype == np.uint8
    nt = ver["tsm"].shape[1]
    assert ver["e"].shape == (n, nt) and ver["e"].dtype == np.uint8
    assert ver["r"].shape == (n, nt, 3) and ver["v"].shape == (n, nt, 3)
    jd = np.array([2451545.0, 2451545.0])
    fr = np.array([0.0, 0.5])
    e, r, v = sgp4_propagate(ver["params"], jd, fr)
    assert e.shape == (n, 2) and e.dtype == np.uint8
    assert r.shape == (n, 2, 3) and v.shape == (n, 2, 3) and r.dtype == v.dtype == np.float64
    empty_p, empty_e = init_from_satrecs([])
    assert empty_p.shape == (0, NPARAM) and empty_e.shape == (0,)


# ------------------------------------------------------------------------------------------
# 1. verification set (SGP4-VER.TLE), all cases at all their times
# ------------------------------------------------------------------------------------------


def test_verification_set_init_errors(ver):
    assert ver["err0"].tolist() == ver["err0_ref"]
    assert set(ver["err0_ref"]) == {0, 3}  # 33334 fails at epoch (perturbed eccentricity)


def test_verification_set_all_times(ver):
    mask = np.zeros(ver["e"].shape, bool)
    for i, c in enumerate(ver["counts"]):
        mask[i, :c] = True
    dr, dv = _compare(
        ver["e"][mask], ver["r"][mask], ver["v"][mask], ver["e_ref"][mask], ver["r_ref"][mask], ver["v_ref"][mask]
    )
    print(f"\nSGP4-VER: {int(mask.sum())} points, max |dr| = {dr:.3g} km, max |dv| = {dv:.3g} km/s")
    assert dr < TOL_R_KM
    assert dv < TOL_V_KMS
    # the set exercises the reference's error paths: eccentricity (1), perturbed
    # eccentricity (3), semi-latus rectum (4) and decay (6)
    codes = set(np.unique(ver["e_ref"][mask]).tolist())
    assert {1, 3, 4, 6} <= codes
    assert codes == set(np.unique(ver["e"][mask]).tolist())
    # codes 1-4 give NaN rows, code 6 keeps the vectors (as SatrecArray)
    bad = (ver["e"] >= 1) & (ver["e"] <= 4) & mask
    assert np.isnan(ver["r"][bad]).all() and np.isnan(ver["v"][bad]).all()
    decayed = (ver["e"] == 6) & mask
    assert decayed.any() and np.isfinite(ver["r"][decayed]).all()


def test_verification_set_through_jd_fr(ver):
    """sgp4_propagate(jd, fr) vs SatrecArray.sgp4 on a common grid around the set's epochs."""
    sats = ver["sats"]
    jd0 = np.median([s.jdsatepoch for s in sats])
    fr = np.linspace(-2.0, 2.0, 97)
    jd = np.full(fr.shape, jd0)
    e, r, v = sgp4_propagate(ver["params"], jd, fr)
    e_ref, r_ref, v_ref = SatrecArray(sats).sgp4(jd, fr)
    dr, dv = _compare(e, r, v, e_ref, r_ref, v_ref)
    assert dr < TOL_R_KM and dv < TOL_V_KMS


# ------------------------------------------------------------------------------------------
# 4. deep-space regimes, explicitly
# ------------------------------------------------------------------------------------------

DEEP_CASES = {
    # satnum: (label, irez) -- irez 1: 24 h resonance, 2: 12 h resonance, 0: none
    28626: ("GEO, 24 h resonance, Lyddane (i ~ 0)", 1),
    14128: ("GEO, 24 h resonance", 1),
    9998: ("near-synchronous, 24 h resonance", 1),
    8195: ("Molniya, 12 h resonance", 2),
    9880: ("Molniya, 12 h resonance", 2),
    22674: ("Molniya-type, 12 h resonance", 2),
    28129: ("GPS-like, 12 h, low eccentricity (no resonance)", 0),
    23333: ("e = 0.97, period 13.7 d", 0),
    20413: ("e = 0.79, propagated to 3.5 years", 0),
}


@pytest.mark.parametrize("satnum", sorted(DEEP_CASES))
def test_deep_space_objects(ver, satnum):
    label, irez = DEEP_CASES[satnum]
    rows = [i for i, s in enumerate(ver["sats"]) if s.satnum == satnum]
    assert rows, f"{satnum} ({label}) not in SGP4-VER.TLE"
    for i in rows:
        p = ver["params"][i]
        assert p[COL["deep"]] == 1.0
        assert int(p[COL["irez"]]) == irez, label
        c = ver["counts"][i]
        dr, dv = _compare(
            ver["e"][i, :c],
            ver["r"][i, :c],
            ver["v"][i, :c],
            ver["e_ref"][i, :c],
            ver["r_ref"][i, :c],
            ver["v_ref"][i, :c],
        )
        assert dr < TOL_R_KM and dv < TOL_V_KMS, label


# ------------------------------------------------------------------------------------------
# edge cases built with Satrec.sgp4init (error codes 1, 2, 4, 6 and their NaN rows)
# ------------------------------------------------------------------------------------------

EDGE_BASE = {
    "bstar": 1e-4,
    "ndot": 0.0,
    "nddot": 0.0,
    "ecco": 0.01,
    "argpo": 1.0,
    "inclo": 0.9,
    "mo": 2.0,
    "no_kozai": 0.06,
    "nodeo": 3.0,
}
EDGE_CASES = [
    {},
    {"ecco": 1.2},
    {"ecco": -0.1},
    {"ecco": 0.9999},
    {"no_kozai": -0.01},
    {"no_kozai": 0.0},
    {"inclo": math.pi},
    {"inclo": 0.0},
    {"inclo": -0.3},
    {"ecco": 0.0},
    {"inclo": 0.0, "no_kozai": 0.0043752},
    {"inclo": math.pi, "no_kozai": 0.0043752},
    {"no_kozai": 0.0043752, "inclo": 0.1},
    {"no_kozai": 0.0043752, "ecco": 0.5, "inclo": 0.15},
    {"no_kozai": 0.00875, "ecco": 0.7},
    {"no_kozai": 0.00875, "ecco": 0.66},
    {"no_kozai": 0.0043752, "ecco": 0.9},
    {"no_kozai": 0.001, "ecco": 0.5},
    {"no_kozai": 0.07, "ecco": 0.05},
    {"no_kozai": 0.075, "ecco": 0.0, "bstar": 0.5},
    {"bstar": 0.05, "no_kozai": 0.068},
    {"bstar": -0.5},
    {"bstar": float("nan")},
    # near Earth (period < 225 min) with large eccentricity: Kepler's equation takes up to
    # 10 Newton steps, lanes of one block stop at different steps; perigee below the surface
    {"no_kozai": 0.03, "ecco": 0.3},
    {"no_kozai": 0.03, "ecco": 0.6, "bstar": 1e-3},
    {"no_kozai": 0.03, "ecco": 0.95},
    {"no_kozai": 0.05, "ecco": 0.2, "inclo": 0.0},
]


def _edge_satrecs():
    sats = []
    for case in EDGE_CASES:
        d = dict(EDGE_BASE, **case)
        s = Satrec()
        s.sgp4init(
            WGS72,
            "i",
            1,
            27000.123456789,
            d["bstar"],
            d["ndot"],
            d["nddot"],
            d["ecco"],
            d["argpo"],
            d["inclo"],
            d["mo"],
            d["no_kozai"],
            d["nodeo"],
        )
        sats.append(s)
    return sats


def test_edge_cases_match_satrecarray():
    sats = _edge_satrecs()
    params, err0 = init_from_satrecs(sats)
    assert err0.tolist() == [s.error for s in sats]
    jd = np.full(401, sats[0].jdsatepoch)
    fr = sats[0].jdsatepochF + np.linspace(-20.0, 20.0, 401)
    e, r, v = sgp4_propagate(params, jd, fr)
    e_ref, r_ref, v_ref = SatrecArray(sats).sgp4(jd, fr)
    dr, dv = _compare(e, r, v, e_ref, r_ref, v_ref)
    assert dr < TOL_R_KM and dv < TOL_V_KMS
    assert {0, 1, 2, 4, 6} <= set(np.unique(e).tolist())


# ------------------------------------------------------------------------------------------
# 2. the active catalogue (OMM), +-3 days at 10 min, through (jd, fr) like SatrecArray
# ------------------------------------------------------------------------------------------


@pytest.mark.shared
def test_active_catalog_matches_satrecarray(shared_data):
    sats = []
    with open(shared_data / ACTIVE_OMM) as f:
        for fields in omm.parse_csv(f):
            s = Satrec()
            omm.initialize(s, fields)
            sats.append(s)
    assert len(sats) > 10000
    params, err0 = init_from_satrecs(sats)
    assert err0.tolist() == [s.error for s in sats]
    assert params[:, COL["deep"]].sum() > 100  # GEO, GNSS, Molniya are in the catalogue
    epochs = np.array([s.jdsatepoch + s.jdsatepochF for s in sats])
    jd0 = np.floor(np.median(epochs) * 2.0) / 2.0
    fr = np.arange(-3 * 144, 3 * 144 + 1) * (10.0 / 1440.0)
    jd = np.full(fr.shape, jd0)
    dr = dv = 0.0
    codes = set()
    for k in range(0, len(sats), 4000):  # keep memory modest
        sl = slice(k, k + 4000)
        e, r, v = sgp4_propagate(params[sl], jd, fr)
        e_ref, r_ref, v_ref = SatrecArray(sats[sl]).sgp4(jd, fr)
        a, b = _compare(e, r, v, e_ref, r_ref, v_ref)
        dr, dv = max(dr, a), max(dv, b)
        codes |= set(np.unique(e_ref).tolist())
    print(
        f"\nactive.csv: {len(sats)} sats x {len(fr)} steps, codes {sorted(codes)}, "
        f"max |dr| = {dr:.3g} km, max |dv| = {dv:.3g} km/s"
    )
    assert dr < TOL_R_KM
    assert dv < TOL_V_KMS


# ------------------------------------------------------------------------------------------
# 3. threads, order independence, chunking
# ------------------------------------------------------------------------------------------


def test_identical_with_one_and_all_threads(ver):
    params = np.tile(ver["params"], (40, 1))  # enough satellites for every thread
    rng = np.random.default_rng(7)
    tsm = rng.uniform(-3000.0, 3000.0, (params.shape[0], 64))
    jd = np.full(64, 2451545.0)
    fr = np.linspace(-40.0, 40.0, 64)
    nthreads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sgp4_tsince(params, tsm) + sgp4_propagate(params, jd, fr)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        every = sgp4_tsince(params, tsm) + sgp4_propagate(params, jd, fr)
    finally:
        numba.set_num_threads(nthreads)
    for a, b in zip(one, every, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))  # bit for bit


def test_deep_space_result_independent_of_time_order(ver):
    """The resonance integrator restarts when needed: any time order gives the same bits."""
    params = ver["params"]
    rng = np.random.default_rng(3)
    ts = rng.uniform(-20000.0, 20000.0, (params.shape[0], 200))
    order = np.argsort(ts, axis=1)
    e1, r1, v1 = sgp4_tsince(params, ts)
    e2, r2, v2 = sgp4_tsince(params, np.take_along_axis(ts, order, axis=1))
    np.testing.assert_array_equal(np.take_along_axis(e1, order, axis=1), e2)
    np.testing.assert_array_equal(np.take_along_axis(r1, order[:, :, None], axis=1), r2)
    np.testing.assert_array_equal(np.take_along_axis(v1, order[:, :, None], axis=1), v2)
    # and each equals a fresh, single-time propagation
    for j in (0, 57, 199):
        e3, r3, v3 = sgp4_tsince(params, ts[:, j : j + 1].copy())
        np.testing.assert_array_equal(e3[:, 0], e1[:, j])
        np.testing.assert_array_equal(r3[:, 0], r1[:, j])


def test_propagate_into_time_chunks_equal_whole(ver):
    params = ver["params"]
    n = params.shape[0]
    jd = np.full(30, 2451545.0)
    fr = np.linspace(0.0, 2.0, 30)
    e, r, v = sgp4_propagate(params, jd, fr)
    for a, b in ((0, 11), (11, 30)):
        ec = np.empty((n, b - a), np.uint8)
        rc = np.empty((n, b - a, 3))
        vc = np.empty((n, b - a, 3))
        assert sgp4_propagate_into(params, jd[a:b], fr[a:b], ec, rc, vc) is None
        np.testing.assert_array_equal(ec, e[:, a:b])
        np.testing.assert_array_equal(rc, r[:, a:b])
        np.testing.assert_array_equal(vc, v[:, a:b])
    with pytest.raises(ValueError):
        sgp4_propagate_into(params, jd, fr, e[:, :3], r, v)


def test_vectorised_and_scalar_paths_agree(ver):
    """simd=True (near Earth on SIMD lanes, own sin/cos) vs simd=False (scalar, libm), which
    kernels/cuda.py mirrors: same codes and NaN rows, positions within 1e-9 km."""
    sats = ver["sats"] + _edge_satrecs()
    params, _ = init_from_satrecs(sats)
    near = params[:, COL["deep"]] == 0.0
    assert near.sum() > 20
    jd = np.full(200, 2451545.0)
    fr = np.linspace(-5.0, 5.0, 200)
    e1, r1, v1 = sgp4_propagate(params, jd, fr, simd=True)
    e0, r0, v0 = sgp4_propagate(params, jd, fr, simd=False)
    dr, dv = _compare(e1, r1, v1, e0, r0, v0)
    assert dr < 1e-9 and dv < 1e-12
    np.testing.assert_array_equal(r1[~near], r0[~near])  # deep space: the same path
    assert not np.array_equal(r1[near], r0[near])  # (a different path)
    ts = np.tile(np.linspace(-3000.0, 3000.0, 70), (len(sats), 1))
    dr, dv = _compare(*sgp4_tsince(params, ts, simd=True), *sgp4_tsince(params, ts, simd=False))
    assert dr < 1e-9 and dv < 1e-12


def test_propagate_into_views_of_a_larger_output(ver):
    """Writing into slices r_all[:, a:b] (non-contiguous views) gives the same numbers, in blocks
    of times that end inside the near-Earth path's 64-step blocks."""
    params = ver["params"]
    n = params.shape[0]
    jd = np.full(150, 2451545.0)
    fr = np.linspace(-3.0, 3.0, 150)
    e, r, v = sgp4_propagate(params, jd, fr)
    e_all = np.full((n, 150), 255, np.uint8)
    r_all = np.zeros((n, 150, 3))
    v_all = np.zeros((n, 150, 3))
    for a, b in ((0, 70), (70, 71), (71, 150)):
        sgp4_propagate_into(params, jd[a:b], fr[a:b], e_all[:, a:b], r_all[:, a:b], v_all[:, a:b])
    np.testing.assert_array_equal(e_all, e)
    np.testing.assert_array_equal(r_all, r)
    np.testing.assert_array_equal(v_all, v)
