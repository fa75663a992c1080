"""The ITU-R S.1428-1 reference earth-station pattern (orbitshare.kernels.antenna) against an independent
re-implementation written here from the Recommendation's text (piecewise, numpy.select, conditions in the
Recommendation's own order), at tabulated angles and at every breakpoint from both sides, plus hand values.

Where the Recommendation itself is not continuous (checked below, not smoothed by the kernel):
  * 33.1° (D/λ ≤ 100): 29 − 25 log 33.1 = −8.9957 meets −9 (a 0.0043 dB step);
  * 34.1° (D/λ > 100): 34 − 30 log 34.1 = −11.9826 meets −12 (0.017 dB);
  * 80° and 120°: the back-lobe plateaus jump (−9 → −5 / −4 → −9; −12 → −7 → −12);
  * φr for D/λ > 100: G1 = −1 + 15 log(D/λ) against 29 − 25 log φr (25 log 15.85 = 30.0007: 7e-4 dB);
  * D/λ = 100 → 100⁺: Gmax jumps from 20 log(D/λ) + 7.7 to + 8.4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orbitshare.errors import ParameterError
from orbitshare.kernels.antenna import (
    d_over_lambda,
    s1428_gain_dbi,
    s1428_gain_dbi_array,
    s1428_gmax_dbi,
    s1428_params,
)

F_MHZ = 11700.0
DIAMETERS_M = (0.6, 1.2, 3.0, 10.0)
C_M_S = 299792458.0


def ref_gain(phi: np.ndarray, dl: float) -> np.ndarray:
    """S.1428-1 Annex 1, written from the text with numpy.select (NaN where the Recommendation is silent)."""
    phi = np.asarray(phi, dtype=float)
    lam_over_d = 1.0 / dl
    with np.errstate(divide="ignore", invalid="ignore"):
        log_phi = np.log10(phi)
        if 20.0 <= dl <= 100.0:
            gmax = 20.0 * math.log10(dl) + 7.7
            g1 = 29.0 - 25.0 * math.log10(95.0 * lam_over_d)
            phi_m = 20.0 * lam_over_d * math.sqrt(gmax - g1)
            conds = [
                (phi >= 0) & (phi < phi_m),
                (phi >= phi_m) & (phi < 95.0 * lam_over_d),
                (phi >= 95.0 * lam_over_d) & (phi <= 33.1),
                (phi > 33.1) & (phi <= 80.0),
            ]
            vals = [
                gmax - 2.5e-3 * (dl * phi) ** 2,
                np.full_like(phi, g1),
                29.0 - 25.0 * log_phi,
                np.full_like(phi, -9.0),
            ]
            if dl <= 25.0:
                conds.append((phi > 80.0) & (phi <= 180.0))
                vals.append(np.full_like(phi, -5.0))
            else:
                conds += [(phi > 80.0) & (phi <= 120.0), (phi > 120.0) & (phi <= 180.0)]
                vals += [np.full_like(phi, -4.0), np.full_like(phi, -9.0)]
        elif dl > 100.0:
            gmax = 20.0 * math.log10(dl) + 8.4
            g1 = -1.0 + 15.0 * math.log10(dl)
            phi_m = 20.0 * lam_over_d * math.sqrt(gmax - g1)
            phi_r = 15.85 * dl**-0.6
            conds = [
                (phi >= 0) & (phi < phi_m),
                (phi >= phi_m) & (phi < phi_r),
                (phi >= phi_r) & (phi < 10.0),
                (phi >= 10.0) & (phi < 34.1),
                (phi >= 34.1) & (phi < 80.0),
                (phi >= 80.0) & (phi < 120.0),
                (phi >= 120.0) & (phi <= 180.0),
            ]
            vals = [
                gmax - 2.5e-3 * (dl * phi) ** 2,
                np.full_like(phi, g1),
                29.0 - 25.0 * log_phi,
                34.0 - 30.0 * log_phi,
                np.full_like(phi, -12.0),
                np.full_like(phi, -7.0),
                np.full_like(phi, -12.0),
            ]
        else:
            return np.full_like(phi, np.nan)
        return np.select(conds, vals, default=np.nan)


def ref_breakpoints(dl: float) -> list[float]:
    """φm, the end of the G1 plateau, and the fixed angles, from the Recommendation's definitions."""
    if dl > 100.0:
        gmax, g1 = 20 * math.log10(dl) + 8.4, -1 + 15 * math.log10(dl)
        return [20 / dl * math.sqrt(gmax - g1), 15.85 * dl**-0.6, 10.0, 34.1, 80.0, 120.0]
    gmax, g1 = 20 * math.log10(dl) + 7.7, 29 - 25 * math.log10(95 / dl)
    return [20 / dl * math.sqrt(gmax - g1), 95 / dl, 33.1, 80.0] + ([] if dl <= 25 else [120.0])


# the four Article 22 reference dishes at 11.7 GHz (D/λ 23.4, 46.8, 117.1, 390.3) and the range edges
CASES = [d_over_lambda(d, F_MHZ) for d in DIAMETERS_M] + [20.0, 22.0, 25.0, 25.0001, 60.0, 100.0, 100.0001, 1000.0]
TABULATED = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 9.99, 10.0, 15.0, 20.0, 30.0, 33.0]
TABULATED += [33.1, 33.2, 34.0, 34.1, 36.0, 48.0, 60.0, 79.9, 80.0, 80.1, 100.0, 119.9, 120.0, 120.1, 150.0, 180.0]


def test_d_over_lambda_hand_values() -> None:
    # λ = c / f = 299792458 / 11.7e9 = 0.0256233 m
    assert d_over_lambda(1.2, 11700.0) == pytest.approx(1.2 / (C_M_S / 11.7e9), rel=1e-14)
    assert d_over_lambda(1.2, 11700.0) == pytest.approx(46.83240, abs=1e-5)
    assert d_over_lambda(0.6, 10700.0) == pytest.approx(21.41481, abs=1e-5)
    for bad in ((0.0, 11700.0), (-1.0, 11700.0), (1.0, 0.0), (math.nan, 1.0), (1.0, math.inf)):
        with pytest.raises(ParameterError):
            d_over_lambda(*bad)


@pytest.mark.parametrize("dl", CASES)
def test_gain_matches_reference_at_tabulated_angles(dl: float) -> None:
    phi = np.array(TABULATED)
    want = ref_gain(phi, dl)
    got = np.array([s1428_gain_dbi(p, dl) for p in phi])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(s1428_gain_dbi_array(phi, dl), want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dl", CASES)
def test_gain_matches_reference_dense(dl: float) -> None:
    phi = np.concatenate([np.linspace(0.0, 3.0, 3001), np.linspace(3.0, 180.0, 17701)])
    np.testing.assert_allclose(s1428_gain_dbi_array(phi, dl), ref_gain(phi, dl), rtol=0, atol=1e-9)


@pytest.mark.parametrize("dl", CASES)
def test_breakpoints_from_both_sides(dl: float) -> None:
    for b in ref_breakpoints(dl):
        for phi in (b * (1 - 1e-9), b * (1 + 1e-9)):
            assert s1428_gain_dbi(phi, dl) == pytest.approx(float(ref_gain(np.array([phi]), dl)[0]), abs=1e-9)
    # the kernel's own breakpoints are the Recommendation's
    gmax, g1, phi_m, phi_r = s1428_params(dl)
    want = ref_breakpoints(dl)
    assert phi_m == pytest.approx(want[0], rel=1e-13) and phi_r == pytest.approx(want[1], rel=1e-13)
    assert s1428_gain_dbi(0.0, dl) == pytest.approx(gmax, abs=1e-12)
    assert s1428_gain_dbi((phi_m + phi_r) / 2, dl) == pytest.approx(g1, abs=1e-12)


def _jump(dl: float, b: float) -> float:
    return s1428_gain_dbi(b * (1 + 1e-12), dl) - s1428_gain_dbi(b * (1 - 1e-12), dl)


@pytest.mark.parametrize("dl", CASES)
def test_continuity_where_the_recommendation_is_continuous(dl: float) -> None:
    _, _, phi_m, phi_r = s1428_params(dl)
    assert abs(_jump(dl, phi_m)) < 1e-8  # main lobe meets G1 by the definition of φm
    if dl > 100.0:
        assert _jump(dl, phi_r) == pytest.approx(29.0 - 25.0 * math.log10(15.85) + 1.0, abs=1e-8)  # -7e-4
        assert abs(_jump(dl, 10.0)) < 1e-9  # 29 − 25 = 34 − 30 = 4
        assert _jump(dl, 34.1) == pytest.approx(-12.0 - (34.0 - 30.0 * math.log10(34.1)), abs=1e-9)
        assert _jump(dl, 80.0) == pytest.approx(5.0) and _jump(dl, 120.0) == pytest.approx(-5.0)
    else:
        assert abs(_jump(dl, phi_r)) < 1e-9
        assert _jump(dl, 33.1) == pytest.approx(-9.0 - (29.0 - 25.0 * math.log10(33.1)), abs=1e-9)
        assert abs(_jump(dl, 33.1)) == pytest.approx(0.0043, abs=1e-4)
        assert _jump(dl, 80.0) == pytest.approx(4.0 if dl <= 25.0 else 5.0)
        if dl > 25.0:
            assert _jump(dl, 120.0) == pytest.approx(-5.0)


def test_hand_values() -> None:
    dl_06 = 0.6 * 11.7e9 / C_M_S  # 23.4162: the 20 < D/λ ≤ 25 range
    assert s1428_gmax_dbi(dl_06) == pytest.approx(20 * math.log10(dl_06) + 7.7, abs=1e-12)
    assert s1428_gmax_dbi(dl_06) == pytest.approx(35.0903, abs=1e-4)
    assert s1428_gmax_dbi(100.0) == pytest.approx(47.7) and s1428_gmax_dbi(1000.0) == pytest.approx(68.4)
    assert math.isnan(s1428_gmax_dbi(19.99))
    assert s1428_gain_dbi(90.0, dl_06) == -5.0 and s1428_gain_dbi(150.0, dl_06) == -5.0
    assert s1428_gain_dbi(90.0, 50.0) == -4.0 and s1428_gain_dbi(150.0, 50.0) == -9.0
    assert s1428_gain_dbi(50.0, 50.0) == -9.0 and s1428_gain_dbi(50.0, 500.0) == -12.0
    assert s1428_gain_dbi(90.0, 500.0) == -7.0 and s1428_gain_dbi(180.0, 500.0) == -12.0
    assert s1428_gain_dbi(10.0, 500.0) == pytest.approx(4.0)  # 29 − 25 log 10 = 34 − 30 log 10
    assert s1428_gain_dbi(2.0, 500.0) == pytest.approx(29 - 25 * math.log10(2.0))  # 21.4742
    assert s1428_gain_dbi(20.0, 500.0) == pytest.approx(34 - 30 * math.log10(20.0))  # −5.0309
    # main lobe, 3 m at 11.7 GHz (D/λ 117.08): Gmax − 2.5e-3 (D/λ φ)²
    dl_3 = 3.0 * 11.7e9 / C_M_S
    assert s1428_gain_dbi(0.3, dl_3) == pytest.approx(20 * math.log10(dl_3) + 8.4 - 2.5e-3 * (0.3 * dl_3) ** 2)
    # G1 plateau, 1.2 m (D/λ 46.83): 29 − 25 log(95 / 46.83) = 21.3206
    assert s1428_gain_dbi(1.95, 1.2 * 11.7e9 / C_M_S) == pytest.approx(21.3206, abs=1e-4)


def test_outside_the_recommendation_is_nan_or_an_error() -> None:
    assert math.isnan(s1428_gain_dbi(1.0, 19.0))  # D/λ < 20: no pattern in S.1428-1
    assert math.isnan(s1428_gain_dbi(-0.1, 50.0)) and math.isnan(s1428_gain_dbi(180.1, 50.0))
    assert math.isnan(s1428_gain_dbi(math.nan, 50.0))
    assert all(math.isnan(v) for v in s1428_params(10.0))
    with pytest.raises(ParameterError, match="d_over_lambda"):
        s1428_gain_dbi_array([1.0], 19.9)
    with pytest.raises(ParameterError, match="phi_deg"):
        s1428_gain_dbi_array([1.0, 181.0], 50.0)
    with pytest.raises(ParameterError, match="phi_deg"):
        s1428_gain_dbi_array([np.nan], 50.0)


def test_array_wrapper_shape() -> None:
    phi = np.linspace(0.0, 180.0, 12).reshape(3, 4)
    got = s1428_gain_dbi_array(phi, 200.0)
    assert got.shape == (3, 4)
    assert got[2, 3] == s1428_gain_dbi(180.0, 200.0)
    assert s1428_gain_dbi_array([], 200.0).shape == (0,)
