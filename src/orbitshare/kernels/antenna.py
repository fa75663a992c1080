"""The reference FSS earth-station antenna pattern of Recommendation ITU-R S.1428-1 (02/2001).

"Reference FSS earth-station radiation patterns for use in interference assessment involving non-GSO
satellites in frequency bands between 10.7 GHz and 30 GHz" — the pattern that RR Article 22
(No. 22.5C, Tables 22-1A to 22-1C) and Recommendation ITU-R S.1503 name for the EPFD↓ limits.

Units: φ off-axis angle in degrees (0..180), gains in dBi, D/λ without unit (D and λ in the same
unit; λ = c / f with c = 299 792.458 km/s). ``log`` is log10. Gmax is the on-axis gain.

20 ≤ D/λ ≤ 25::

    G(φ) = Gmax − 2.5·10⁻³ (D/λ · φ)²   0 ≤ φ < φm
    G(φ) = G1                            φm ≤ φ < 95 λ/D
    G(φ) = 29 − 25 log φ                 95 λ/D ≤ φ ≤ 33.1°
    G(φ) = −9                            33.1° < φ ≤ 80°
    G(φ) = −5                            80° < φ ≤ 180°

25 < D/λ ≤ 100: as above up to 80°, then −4 for 80° < φ ≤ 120° and −9 for 120° < φ ≤ 180°.
In both ranges Gmax = 20 log(D/λ) + 7.7, G1 = 29 − 25 log(95 λ/D), φm = 20 λ/D √(Gmax − G1).

D/λ > 100::

    G(φ) = Gmax − 2.5·10⁻³ (D/λ · φ)²   0 ≤ φ < φm
    G(φ) = G1                            φm ≤ φ < φr
    G(φ) = 29 − 25 log φ                 φr ≤ φ < 10°
    G(φ) = 34 − 30 log φ                 10° ≤ φ < 34.1°     (φb = 34.1°)
    G(φ) = −12                           34.1° ≤ φ < 80°
    G(φ) = −7                            80° ≤ φ < 120°
    G(φ) = −12                           120° ≤ φ ≤ 180°

with Gmax = 20 log(D/λ) + 8.4, G1 = −1 + 15 log(D/λ), φm = 20 λ/D √(Gmax − G1),
φr = 15.85 (D/λ)^−0.6.

D/λ < 20 is outside the Recommendation (it gives no pattern there): the scalar kernels return NaN,
the NumPy wrapper raises :class:`~orbitshare.errors.ParameterError`. So does φ outside 0..180°.

Continuity: the pattern is continuous at φm and at 95 λ/D (or φr, to 7·10⁻⁴ dB: 25 log 15.85 =
30.0007) and at 10°; it steps by 0.0043 dB at 33.1° (29 − 25 log 33.1 = −8.9957) and by 0.017 dB
at 34.1° (34 − 30 log 34.1 = −11.9826); it jumps at 80° and 120° (by design), and Gmax jumps by
0.7 dB between D/λ = 100 and D/λ just above 100.

The scalar functions are ``@njit`` (no allocation; the EPFD kernel calls them per satellite and
step). :func:`s1428_params` computes the per-antenna constants once so a kernel can call
:func:`s1428_gain_params` in its inner loop instead of :func:`s1428_gain_dbi`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from orbitshare._jit import njit
from orbitshare.errors import ParameterError

__all__ = [
    "C_KM_S",
    "D_OVER_LAMBDA_MIN",
    "d_over_lambda",
    "s1428_gain_dbi",
    "s1428_gain_dbi_array",
    "s1428_gain_params",
    "s1428_gmax_dbi",
    "s1428_params",
]

#: speed of light (km/s)
C_KM_S = 299792.458
#: the smallest D/λ the Recommendation covers
D_OVER_LAMBDA_MIN = 20.0


def d_over_lambda(diameter_m: float, frequency_mhz: float) -> float:
    """D/λ of an antenna of diameter ``diameter_m`` (m) at ``frequency_mhz`` (MHz); λ = c / f."""
    if not (diameter_m > 0.0 and math.isfinite(diameter_m)):
        raise ParameterError(f"diameter_m must be a finite number > 0 (m), got {diameter_m!r}")
    if not (frequency_mhz > 0.0 and math.isfinite(frequency_mhz)):
        raise ParameterError(f"frequency_mhz must be a finite number > 0 (MHz), got {frequency_mhz!r}")
    wavelength_m = C_KM_S * 1e3 / (frequency_mhz * 1e6)
    return float(diameter_m / wavelength_m)


@njit
def s1428_gmax_dbi(d_over_lambda: float) -> float:
    """On-axis gain Gmax (dBi): 20 log(D/λ) + 7.7 for D/λ ≤ 100, + 8.4 above; NaN for D/λ < 20."""
    if not d_over_lambda >= D_OVER_LAMBDA_MIN:
        return np.nan
    if d_over_lambda > 100.0:
        return 20.0 * math.log10(d_over_lambda) + 8.4
    return 20.0 * math.log10(d_over_lambda) + 7.7


@njit
def s1428_params(d_over_lambda: float) -> tuple[float, float, float, float]:
    """(Gmax dBi, G1 dBi, φm deg, φr deg) for D/λ; φr is 95 λ/D for D/λ ≤ 100 (all NaN below 20)."""
    if not d_over_lambda >= D_OVER_LAMBDA_MIN:
        return np.nan, np.nan, np.nan, np.nan
    gmax = s1428_gmax_dbi(d_over_lambda)
    if d_over_lambda > 100.0:
        g1 = -1.0 + 15.0 * math.log10(d_over_lambda)
        phi_r = 15.85 * d_over_lambda**-0.6
    else:
        g1 = 29.0 - 25.0 * math.log10(95.0 / d_over_lambda)
        phi_r = 95.0 / d_over_lambda
    phi_m = 20.0 / d_over_lambda * math.sqrt(gmax - g1)
    return gmax, g1, phi_m, phi_r


@njit
def s1428_gain_params(
    phi_deg: float, d_over_lambda: float, gmax: float, g1: float, phi_m: float, phi_r: float
) -> float:
    """S.1428-1 gain (dBi) at φ (deg, 0..180) from the constants of :func:`s1428_params` (NaN outside)."""
    if not (phi_deg >= 0.0 and phi_deg <= 180.0 and gmax == gmax):  # gmax is NaN for D/λ < 20
        return np.nan
    if phi_deg < phi_m:
        x = d_over_lambda * phi_deg
        return gmax - 2.5e-3 * x * x
    if phi_deg < phi_r:
        return g1
    if d_over_lambda > 100.0:
        if phi_deg < 10.0:
            return 29.0 - 25.0 * math.log10(phi_deg)
        if phi_deg < 34.1:
            return 34.0 - 30.0 * math.log10(phi_deg)
        if phi_deg < 80.0 or phi_deg >= 120.0:
            return -12.0
        return -7.0
    if phi_deg <= 33.1:
        return 29.0 - 25.0 * math.log10(phi_deg)
    if phi_deg <= 80.0:
        return -9.0
    if d_over_lambda <= 25.0:
        return -5.0
    if phi_deg <= 120.0:
        return -4.0
    return -9.0


@njit
def s1428_gain_dbi(phi_deg: float, d_over_lambda: float) -> float:
    """S.1428-1 gain (dBi) at off-axis angle φ (deg, 0..180) for D/λ (NaN for D/λ < 20 or φ outside)."""
    gmax, g1, phi_m, phi_r = s1428_params(d_over_lambda)
    return s1428_gain_params(phi_deg, d_over_lambda, gmax, g1, phi_m, phi_r)


@njit
def _gain_loop(phi: np.ndarray, d_over_lambda: float, out: np.ndarray) -> None:
    gmax, g1, phi_m, phi_r = s1428_params(d_over_lambda)
    for i in range(phi.size):
        out[i] = s1428_gain_params(phi[i], d_over_lambda, gmax, g1, phi_m, phi_r)


def s1428_gain_dbi_array(phi_deg: ArrayLike, d_over_lambda: float) -> np.ndarray:
    """S.1428-1 gain (dBi) at each off-axis angle in ``phi_deg`` (deg, 0..180) for one D/λ ≥ 20.

    >>> round(float(s1428_gain_dbi_array([0.0], 100.0)[0]), 3)
    47.7
    """
    dl = float(d_over_lambda)
    if not (dl >= D_OVER_LAMBDA_MIN and math.isfinite(dl)):
        raise ParameterError(
            f"d_over_lambda must be >= {D_OVER_LAMBDA_MIN:g} (ITU-R S.1428-1 gives no pattern below), got {dl!r}"
        )
    phi = np.asarray(phi_deg, dtype=np.float64)
    flat = np.ascontiguousarray(phi.ravel())
    if flat.size and not (np.all(flat >= 0.0) and np.all(flat <= 180.0)):
        raise ParameterError("phi_deg must be off-axis angles in 0..180 degrees (no NaN)")
    out = np.empty_like(flat)
    _gain_loop(flat, dl, out)
    return out.reshape(phi.shape)
