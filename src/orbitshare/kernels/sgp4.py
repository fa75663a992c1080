"""SGP4/SDP4 propagation kernel (Numba): TLE/OMM mean elements to TEME position and velocity.

Written from Hoots & Roehrich (1980, Spacetrack Report #3) and Vallado, Crawford, Hujsak &
Kelso (2006, "Revisiting Spacetrack Report #3", AIAA 2006-6753), with WGS72 constants and the
"improved" operation mode ('i') of the reference code, so that results agree with
``sgp4.api.Satrec`` / ``SatrecArray`` to rounding level (verified in
``tests/kernels/test_sgp4.py``). The deep-space helpers live in :mod:`.sgp4_deep`.
The arithmetic follows the reference line by line (so error codes are decided on the same
numbers) except for two algebraically equal rewrites for speed: ``am ** 1.5`` as
``am * sqrt(am)``, and sin/cos of the short-period-corrected argument of latitude and
inclination by angle addition instead of ``atan2`` then sin/cos. Positions then differ from
the reference by ~1e-11 km (near Earth, scalar path) and ~1e-10 km (deep space) at most; the
vectorised near-Earth path (own sin/cos, within 2 ulp) by ~2e-10 km (Starlink, a day; its
sin/cos can move a Newton step of Kepler's equation across the reference's 1e-12 stop).

Layout: struct of arrays. :func:`sgp4_init` turns n element sets into a ``params`` matrix
``float64[n, NPARAM]`` (one row of derived coefficients per satellite, column names in
:data:`PARAM_NAMES`); the propagators take the satellites in slices on
``numba.get_num_threads()`` Python threads (serial ``nogil`` kernels: no parallel loop to
compile) and, per satellite, the times inside, writing each satellite's rows contiguously.

Two paths per satellite, chosen by its period:
- near Earth (< 225 min; all of Starlink): :func:`_run_near`, vectorised over time. Blocks of
  NB = 64 steps go through three loops without calls or branches (the satellite's own branches,
  ``isimp`` and drag, are the same on every lane; selects do the rest), with sin/cos, fmod and
  sqrt from :mod:`.vecmath` (within 2 ulp of libm; Numba has no SVML here), so LLVM runs them
  on SIMD lanes: 4 doubles per instruction with AVX2/AVX-512 (LLVM prefers 256-bit vectors
  on this CPU). Kepler's equation takes the reference's Newton steps on every lane, each lane
  stopping where the reference stops (step below 1e-12 or 10 steps); the block repeats until
  every lane has stopped. ~4x the scalar path's speed.
- deep space: :func:`_run_sat`, scalar with libm, one time after the other (the resonance
  integrator carries state from step to step); its body is what ``kernels/cuda.py`` mirrors.
  ``simd=False`` sends near-Earth satellites here too.

Error codes (uint8), as the reference code:
  0 ok; 1 mean eccentricity out of range (e >= 1 or e < -0.001); 2 mean motion <= 0;
  3 perturbed eccentricity out of range (deep space, e < 0 or e > 1); 4 semi-latus rectum < 0;
  6 satellite decayed (radius < 1 Earth radius).
Codes 1-4 give NaN position and velocity; code 6 keeps the computed vectors, as
``SatrecArray`` does. Code 5 is not produced (the reference removed it).

Deep-space resonance integration restarts from epoch whenever needed, so every result equals a
fresh integration from epoch whatever the order of the requested times (within one
satellite, increasing times reuse the integrator state, which gives identical numbers).
"""

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numpy.typing import ArrayLike

from orbitshare._jit import njit
from orbitshare.constants import (
    JD_1950,
    TWOPI,
    WGS72_J2,
    WGS72_J3,
    WGS72_J4,
    WGS72_MU_KM3_S2,
    WGS72_RE_KM,
)
from orbitshare.errors import ParameterError
from orbitshare.kernels.sgp4_deep import dpper, dscom, dsinit, dspace, fmod2pi
from orbitshare.kernels.vecmath import fmod2pi as fmod2pi_v
from orbitshare.kernels.vecmath import sincos
from orbitshare.kernels.vecmath import sqrt as sqrt_v

__all__ = [
    "NPARAM",
    "PARAM_NAMES",
    "sgp4_init",
    "sgp4_tsince",
    "sgp4_propagate",
    "sgp4_propagate_into",
]

# --- WGS72 as the reference code's getgravconst('wgs72') forms it ---
RE = WGS72_RE_KM  # km
XKE = 60.0 / math.sqrt(RE * RE * RE / WGS72_MU_KM3_S2)  # er^1.5 / min
J2 = WGS72_J2
J4 = WGS72_J4
J3OJ2 = WGS72_J3 / WGS72_J2
VKMPERSEC = RE * XKE / 60.0  # (er/min) -> km/s
X2O3 = 2.0 / 3.0
TEMP4 = 1.5e-12
PI = math.pi
DEG2RAD = PI / 180.0

# --- params columns ---
PARAM_NAMES = (
    # epoch and flags
    "epoch_jd",
    "epoch_fr",
    "deep",
    "isimp",
    "irez",
    # mean elements at epoch (no: un-Kozai'd mean motion, rad/min)
    "no",
    "ecco",
    "inclo",
    "argpo",
    "nodeo",
    "mo",
    # near-Earth secular and drag terms
    "mdot",
    "argpdot",
    "nodedot",
    "nodecf",
    "cc1",
    "bcc4",
    "bcc5",
    "t2cof",
    "omgcof",
    "eta",
    "xmcof",
    "delmo",
    "sinmao",
    "d2",
    "d3",
    "d4",
    "t3cof",
    "t4cof",
    "t5cof",
    # short-period and long-period terms; hoisted trigonometry
    "aycof",
    "xlcof",
    "con41",
    "x1mth2",
    "x7thm1",
    "sinio",
    "cosio",
    "aterm",
    # deep space: secular rates and resonance
    "gsto",
    "dedt",
    "didt",
    "dmdt",
    "dnodt",
    "domdt",
    "del1",
    "del2",
    "del3",
    "xfact",
    "xlamo",
    "d2201",
    "d2211",
    "d3210",
    "d3222",
    "d4410",
    "d4422",
    "d5220",
    "d5232",
    "d5421",
    "d5433",
    # deep space: lunar-solar periodics
    "e3",
    "ee2",
    "se2",
    "se3",
    "sgh2",
    "sgh3",
    "sgh4",
    "sh2",
    "sh3",
    "si2",
    "si3",
    "sl2",
    "sl3",
    "sl4",
    "xgh2",
    "xgh3",
    "xgh4",
    "xh2",
    "xh3",
    "xi2",
    "xi3",
    "xl2",
    "xl3",
    "xl4",
    "zmol",
    "zmos",
)
NPARAM = len(PARAM_NAMES)

(
    C_EPOCH_JD,
    C_EPOCH_FR,
    C_DEEP,
    C_ISIMP,
    C_IREZ,
    C_NO,
    C_ECCO,
    C_INCLO,
    C_ARGPO,
    C_NODEO,
    C_MO,
    C_MDOT,
    C_ARGPDOT,
    C_NODEDOT,
    C_NODECF,
    C_CC1,
    C_BCC4,
    C_BCC5,
    C_T2COF,
    C_OMGCOF,
    C_ETA,
    C_XMCOF,
    C_DELMO,
    C_SINMAO,
    C_D2,
    C_D3,
    C_D4,
    C_T3COF,
    C_T4COF,
    C_T5COF,
    C_AYCOF,
    C_XLCOF,
    C_CON41,
    C_X1MTH2,
    C_X7THM1,
    C_SINIO,
    C_COSIO,
    C_ATERM,
    C_GSTO,
    C_DEDT,
    C_DIDT,
    C_DMDT,
    C_DNODT,
    C_DOMDT,
    C_DEL1,
    C_DEL2,
    C_DEL3,
    C_XFACT,
    C_XLAMO,
    C_D2201,
    C_D2211,
    C_D3210,
    C_D3222,
    C_D4410,
    C_D4422,
    C_D5220,
    C_D5232,
    C_D5421,
    C_D5433,
    C_E3,
    C_EE2,
    C_SE2,
    C_SE3,
    C_SGH2,
    C_SGH3,
    C_SGH4,
    C_SH2,
    C_SH3,
    C_SI2,
    C_SI3,
    C_SL2,
    C_SL3,
    C_SL4,
    C_XGH2,
    C_XGH3,
    C_XGH4,
    C_XH2,
    C_XH3,
    C_XI2,
    C_XI3,
    C_XL2,
    C_XL3,
    C_XL4,
    C_ZMOL,
    C_ZMOS,
) = range(NPARAM)


# ----------------------------------------------------------------------------------------
# scalar helpers (math only)
# ----------------------------------------------------------------------------------------


@njit
def gstime(jdut1):
    """Greenwich mean sidereal time (rad, [0, 2 pi)) of a UT1 Julian date (IAU 1982)."""
    tut1 = (jdut1 - 2451545.0) / 36525.0
    temp = (
        -6.2e-6 * tut1 * tut1 * tut1 + 0.093104 * tut1 * tut1 + (876600.0 * 3600 + 8640184.812866) * tut1 + 67310.54841
    )  # s
    temp = fmod2pi(temp * DEG2RAD / 240.0)
    if temp < 0.0:
        temp += TWOPI
    return temp


@njit
def sincos_small(x):
    """(sin x, cos x) of an angle x (rad); Taylor series to within 1 ulp when |x| < 0.01."""
    if math.fabs(x) < 0.01:
        x2 = x * x
        s = x * (1.0 - x2 * (1.0 / 6.0 - x2 * (1.0 / 120.0)))
        c = 1.0 - x2 * (0.5 - x2 * (1.0 / 24.0 - x2 * (1.0 / 720.0)))
        return s, c
    return math.sin(x), math.cos(x)


@njit
def near_secular(
    t,
    isimp,
    mo,
    mdot,
    argpo,
    argpdot,
    nodeo,
    nodedot,
    nodecf,
    cc1,
    bcc4,
    bcc5,
    t2cof,
    omgcof,
    eta,
    xmcof,
    delmo,
    sinmao,
    d2,
    d3,
    d4,
    t3cof,
    t4cof,
    t5cof,
):
    """Secular gravity and atmospheric drag at ``t`` (min since epoch).

    Returns (mm, argpm, nodem, tempa, tempe, templ): mean anomaly, argument of perigee and
    node (rad) and the drag factors on semi-major axis, eccentricity and mean longitude.
    """
    xmdf = mo + mdot * t
    argpdf = argpo + argpdot * t
    nodedf = nodeo + nodedot * t
    argpm = argpdf
    mm = xmdf
    t2 = t * t
    nodem = nodedf + nodecf * t2
    tempa = 1.0 - cc1 * t
    tempe = bcc4 * t
    templ = t2cof * t2
    if isimp != 1:
        delomg = omgcof * t
        delmtemp = 1.0 + eta * math.cos(xmdf)
        delm = xmcof * (delmtemp * delmtemp * delmtemp - delmo)
        temp = delomg + delm
        mm = xmdf + temp
        argpm = argpdf - temp
        t3 = t2 * t
        t4 = t3 * t
        tempa = tempa - d2 * t2 - d3 * t3 - d4 * t4
        tempe = tempe + bcc5 * (math.sin(mm) - sinmao)
        templ = templ + t3cof * t3 + t4 * (t4cof + t * t5cof)
    return mm, argpm, nodem, tempa, tempe, templ


@njit
def mean_elements(aterm, no, em, mm, argpm, nodem, tempa, tempe, templ):
    """Drag-updated mean elements. ``aterm = (xke / nm) ** (2/3)``.

    Returns (err, am, nm, em, mm, argpm, nodem) with am in Earth radii, nm in rad/min and the
    angles reduced by ``fmod`` (err 1: mean eccentricity out of range).
    """
    am = aterm * tempa * tempa
    nm = XKE / (am * math.sqrt(am))  # XKE / am ** 1.5
    em = em - tempe
    if em >= 1.0 or em < -0.001:
        return 1, am, nm, em, mm, argpm, nodem
    if em < 1.0e-6:
        em = 1.0e-6
    mm = mm + no * templ
    xlm = mm + argpm + nodem
    nodem = fmod2pi(nodem)
    argpm = fmod2pi(argpm)
    xlm = fmod2pi(xlm)
    mm = fmod2pi(xlm - argpm - nodem)
    return 0, am, nm, em, mm, argpm, nodem


@njit
def deep_periodic_terms(ep, xincp, nodep, argpp):
    """Inclination-dependent terms after the lunar-solar periodics (deep space), as sgp4 recomputes them.

    ep, xincp, nodep, argpp : perturbed eccentricity and inclination / node / perigee (rad).
    A negative inclination is flipped (node + π, perigee − π). Returns (err: 3 if ep is outside
    [0, 1] else 0, xincp, nodep, argpp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1).
    """
    err = 0
    if xincp < 0.0:
        xincp = -xincp
        nodep = nodep + PI
        argpp = argpp - PI
    if ep < 0.0 or ep > 1.0:
        err = 3
    sinip = math.sin(xincp)
    cosip = math.cos(xincp)
    aycof = -0.5 * J3OJ2 * sinip
    if math.fabs(cosip + 1.0) > 1.5e-12:
        xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / (1.0 + cosip)
    else:
        xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / TEMP4
    cosisq = cosip * cosip
    con41 = 3.0 * cosisq - 1.0
    x1mth2 = 1.0 - cosisq
    x7thm1 = 7.0 * cosisq - 1.0
    return err, xincp, nodep, argpp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1


@njit
def position_velocity(am, nm, ep, xincp, nodep, argpp, mp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1):
    """Long-period periodics, Kepler's equation, short-period periodics, TEME vectors.

    Returns (err, rx, ry, rz, vx, vy, vz) in km and km/s (err 4: semi-latus rectum < 0,
    vectors NaN; err 6: decayed, vectors kept).
    """
    axnl = ep * math.cos(argpp)
    temp = 1.0 / (am * (1.0 - ep * ep))
    aynl = ep * math.sin(argpp) + temp * aycof
    xl = mp + argpp + nodep + temp * xlcof * axnl

    # Kepler's equation for E + omega (Newton-Raphson, at most 10 steps of at most 0.95 rad)
    u = fmod2pi(xl - nodep)
    eo1 = u
    tem5 = 9999.9
    ktr = 1
    sineo1 = 0.0
    coseo1 = 0.0
    while math.fabs(tem5) >= 1.0e-12 and ktr <= 10:
        sineo1 = math.sin(eo1)
        coseo1 = math.cos(eo1)
        tem5 = 1.0 - coseo1 * axnl - sineo1 * aynl
        tem5 = (u - aynl * coseo1 + axnl * sineo1 - eo1) / tem5
        if math.fabs(tem5) >= 0.95:
            tem5 = 0.95 if tem5 > 0.0 else -0.95
        eo1 = eo1 + tem5
        ktr = ktr + 1

    ecose = axnl * coseo1 + aynl * sineo1
    esine = axnl * sineo1 - aynl * coseo1
    el2 = axnl * axnl + aynl * aynl
    pl = am * (1.0 - el2)
    if pl < 0.0:
        return 4, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan

    rl = am * (1.0 - ecose)
    rdotl = math.sqrt(am) * esine / rl
    rvdotl = math.sqrt(pl) / rl
    betal = math.sqrt(1.0 - el2)
    temp = esine / (1.0 + betal)
    sinu = am / rl * (sineo1 - aynl - axnl * temp)
    cosu = am / rl * (coseo1 - axnl + aynl * temp)
    sin2u = (cosu + cosu) * sinu
    cos2u = 1.0 - 2.0 * sinu * sinu
    temp = 1.0 / pl
    temp1 = 0.5 * J2 * temp
    temp2 = temp1 * temp

    # short-period periodics: su = u - dsu, xinc = xincp + dinc, xnode = nodep + dnode.
    # sin/cos of su and xinc come from sin/cos of u and xincp and the small corrections
    # (angle subtraction/addition), which equals the reference's atan2-then-sin/cos to a
    # few units in the last place and saves four transcendental calls per step.
    mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) + 0.5 * temp1 * x1mth2 * cos2u
    dsu = 0.25 * temp2 * x7thm1 * sin2u
    xnode = nodep + 1.5 * temp2 * cosip * sin2u
    dinc = 1.5 * temp2 * cosip * sinip * cos2u
    mvt = rdotl - nm * temp1 * x1mth2 * sin2u / XKE
    rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / XKE

    hinv = 1.0 / math.sqrt(sinu * sinu + cosu * cosu)
    sinu0 = sinu * hinv
    cosu0 = cosu * hinv
    sd, cd = sincos_small(dsu)
    sinsu = sinu0 * cd - cosu0 * sd
    cossu = cosu0 * cd + sinu0 * sd
    snod = math.sin(xnode)
    cnod = math.cos(xnode)
    sd, cd = sincos_small(dinc)
    sini = sinip * cd + cosip * sd
    cosi = cosip * cd - sinip * sd
    xmx = -snod * cosi
    xmy = cnod * cosi
    ux = xmx * sinsu + cnod * cossu
    uy = xmy * sinsu + snod * cossu
    uz = sini * sinsu
    vx = xmx * cossu - cnod * sinsu
    vy = xmy * cossu - snod * sinsu
    vz = sini * cossu

    rx = (mrt * ux) * RE
    ry = (mrt * uy) * RE
    rz = (mrt * uz) * RE
    wx = (mvt * ux + rvdot * vx) * VKMPERSEC
    wy = (mvt * uy + rvdot * vy) * VKMPERSEC
    wz = (mvt * uz + rvdot * vz) * VKMPERSEC
    err = 6 if mrt < 1.0 else 0
    return err, rx, ry, rz, wx, wy, wz


# ----------------------------------------------------------------------------------------
# initialisation (sgp4init)
# ----------------------------------------------------------------------------------------


@njit
def _init_one(epoch_jd, epoch_fr, bstar, ecco, argpo, inclo, mo, no_kozai, nodeo, p, i):
    """Fill row ``p[i]`` from one element set (see :func:`sgp4_init` for units)."""
    row = p[i]
    for k in range(NPARAM):
        row[k] = 0.0
    row[C_EPOCH_JD] = epoch_jd
    row[C_EPOCH_FR] = epoch_fr
    # Days since 1949 Dec 31 0h, as the reference's sgp4init receives it. Satrec.sgp4init
    # (the OMM path) splits that float E into (jd, fr) with jd + fr == E, so when fr
    # round-trips through (jd - JD_1950) + fr, that sum is E exactly. Satrec.twoline2rv
    # initialises with fl(jd + fr) - JD_1950 and only then rounds fr to the TLE's 8 decimals;
    # such a fraction (53 significant bits) does not round-trip, so do as twoline2rv did.
    # (OMM epochs whose fraction sgp4 snapped to 8 decimals take this second path too and
    # differ from the reference's by < 2.4e-10 day: < 1e-7 km over +-3 days on the active
    # catalogue; the exact split would move sensitive TLE orbits by up to ~4e-6 km.)
    whole = epoch_jd - JD_1950
    epoch = whole + epoch_fr
    if epoch - whole != epoch_fr:
        epoch = (epoch_jd + epoch_fr) - JD_1950

    ss = 78.0 / RE + 1.0
    qzms2ttemp = (120.0 - 78.0) / RE
    qzms2t = qzms2ttemp * qzms2ttemp * qzms2ttemp * qzms2ttemp

    # --- initl: un-Kozai the mean motion ---
    eccsq = ecco * ecco
    omeosq = 1.0 - eccsq
    rteosq = math.sqrt(omeosq)
    cosio = math.cos(inclo)
    cosio2 = cosio * cosio
    ak = math.pow(XKE / no_kozai, X2O3)
    d1 = 0.75 * J2 * (3.0 * cosio2 - 1.0) / (rteosq * omeosq)
    del_ = d1 / (ak * ak)
    adel = ak * (1.0 - del_ * del_ - del_ * (1.0 / 3.0 + 134.0 * del_ * del_ / 81.0))
    del_ = d1 / (adel * adel)
    no = no_kozai / (1.0 + del_)
    ao = math.pow(XKE / no, X2O3)
    sinio = math.sin(inclo)
    po = ao * omeosq
    con42 = 1.0 - 5.0 * cosio2
    con41 = -con42 - cosio2 - cosio2
    posq = po * po
    rp = ao * (1.0 - ecco)
    gsto = gstime(epoch + JD_1950)

    row[C_NO] = no
    row[C_ECCO] = ecco
    row[C_INCLO] = inclo
    row[C_ARGPO] = argpo
    row[C_NODEO] = nodeo
    row[C_MO] = mo
    row[C_CON41] = con41
    row[C_SINIO] = sinio
    row[C_COSIO] = cosio
    row[C_ATERM] = math.pow(XKE / no, X2O3)
    row[C_GSTO] = gsto

    if not (omeosq >= 0.0 or no >= 0.0):
        return

    isimp = 0
    if rp < 220.0 / RE + 1.0:
        isimp = 1
    sfour = ss
    qzms24 = qzms2t
    perige = (rp - 1.0) * RE
    if perige < 156.0:
        sfour = perige - 78.0
        if perige < 98.0:
            sfour = 20.0
        qzms24temp = (120.0 - sfour) / RE
        qzms24 = qzms24temp * qzms24temp * qzms24temp * qzms24temp
        sfour = sfour / RE + 1.0
    pinvsq = 1.0 / posq

    tsi = 1.0 / (ao - sfour)
    eta = ao * ecco * tsi
    etasq = eta * eta
    eeta = ecco * eta
    psisq = math.fabs(1.0 - etasq)
    coef = qzms24 * math.pow(tsi, 4.0)
    coef1 = coef / math.pow(psisq, 3.5)
    cc2 = (
        coef1
        * no
        * (
            ao * (1.0 + 1.5 * etasq + eeta * (4.0 + etasq))
            + 0.375 * J2 * tsi / psisq * con41 * (8.0 + 3.0 * etasq * (8.0 + etasq))
        )
    )
    cc1 = bstar * cc2
    cc3 = 0.0
    if ecco > 1.0e-4:
        cc3 = -2.0 * coef * tsi * J3OJ2 * no * sinio / ecco
    x1mth2 = 1.0 - cosio2
    cc4 = (
        2.0
        * no
        * coef1
        * ao
        * omeosq
        * (
            eta * (2.0 + 0.5 * etasq)
            + ecco * (0.5 + 2.0 * etasq)
            - J2
            * tsi
            / (ao * psisq)
            * (
                -3.0 * con41 * (1.0 - 2.0 * eeta + etasq * (1.5 - 0.5 * eeta))
                + 0.75 * x1mth2 * (2.0 * etasq - eeta * (1.0 + etasq)) * math.cos(2.0 * argpo)
            )
        )
    )
    cc5 = 2.0 * coef1 * ao * omeosq * (1.0 + 2.75 * (etasq + eeta) + eeta * etasq)
    cosio4 = cosio2 * cosio2
    temp1 = 1.5 * J2 * pinvsq * no
    temp2 = 0.5 * temp1 * J2 * pinvsq
    temp3 = -0.46875 * J4 * pinvsq * pinvsq * no
    mdot = no + 0.5 * temp1 * rteosq * con41 + 0.0625 * temp2 * rteosq * (13.0 - 78.0 * cosio2 + 137.0 * cosio4)
    argpdot = (
        -0.5 * temp1 * con42
        + 0.0625 * temp2 * (7.0 - 114.0 * cosio2 + 395.0 * cosio4)
        + temp3 * (3.0 - 36.0 * cosio2 + 49.0 * cosio4)
    )
    xhdot1 = -temp1 * cosio
    nodedot = xhdot1 + (0.5 * temp2 * (4.0 - 19.0 * cosio2) + 2.0 * temp3 * (3.0 - 7.0 * cosio2)) * cosio
    xpidot = argpdot + nodedot
    omgcof = bstar * cc3 * math.cos(argpo)
    xmcof = 0.0
    if ecco > 1.0e-4:
        xmcof = -X2O3 * coef * bstar / eeta
    nodecf = 3.5 * omeosq * xhdot1 * cc1
    t2cof = 1.5 * cc1
    if math.fabs(cosio + 1.0) > 1.5e-12:
        xlcof = -0.25 * J3OJ2 * sinio * (3.0 + 5.0 * cosio) / (1.0 + cosio)
    else:
        xlcof = -0.25 * J3OJ2 * sinio * (3.0 + 5.0 * cosio) / TEMP4
    aycof = -0.5 * J3OJ2 * sinio
    delmotemp = 1.0 + eta * math.cos(mo)
    delmo = delmotemp * delmotemp * delmotemp
    sinmao = math.sin(mo)
    x7thm1 = 7.0 * cosio2 - 1.0

    row[C_MDOT] = mdot
    row[C_ARGPDOT] = argpdot
    row[C_NODEDOT] = nodedot
    row[C_NODECF] = nodecf
    row[C_CC1] = cc1
    row[C_BCC4] = bstar * cc4
    row[C_BCC5] = bstar * cc5
    row[C_T2COF] = t2cof
    row[C_OMGCOF] = omgcof
    row[C_ETA] = eta
    row[C_XMCOF] = xmcof
    row[C_DELMO] = delmo
    row[C_SINMAO] = sinmao
    row[C_AYCOF] = aycof
    row[C_XLCOF] = xlcof
    row[C_X1MTH2] = x1mth2
    row[C_X7THM1] = x7thm1

    # --- deep space (period >= 225 min) ---
    if TWOPI / no >= 225.0:
        isimp = 1
        row[C_DEEP] = 1.0
        tc = 0.0
        (
            sinim,
            cosim,
            emsq,
            em,
            nm,
            s1,
            s2,
            s3,
            s4,
            s5,
            ss1,
            ss2,
            ss3,
            ss4,
            ss5,
            z1,
            z3,
            z11,
            z13,
            z21,
            z23,
            z31,
            z33,
            sz1,
            sz3,
            sz11,
            sz13,
            sz21,
            sz23,
            sz31,
            sz33,
            e3,
            ee2,
            se2,
            se3,
            sgh2,
            sgh3,
            sgh4,
            sh2,
            sh3,
            si2,
            si3,
            sl2,
            sl3,
            sl4,
            xgh2,
            xgh3,
            xgh4,
            xh2,
            xh3,
            xi2,
            xi3,
            xl2,
            xl3,
            xl4,
            zmol,
            zmos,
        ) = dscom(epoch, ecco, argpo, tc, inclo, nodeo, no)
        row[C_E3] = e3
        row[C_EE2] = ee2
        row[C_SE2] = se2
        row[C_SE3] = se3
        row[C_SGH2] = sgh2
        row[C_SGH3] = sgh3
        row[C_SGH4] = sgh4
        row[C_SH2] = sh2
        row[C_SH3] = sh3
        row[C_SI2] = si2
        row[C_SI3] = si3
        row[C_SL2] = sl2
        row[C_SL3] = sl3
        row[C_SL4] = sl4
        row[C_XGH2] = xgh2
        row[C_XGH3] = xgh3
        row[C_XGH4] = xgh4
        row[C_XH2] = xh2
        row[C_XH3] = xh3
        row[C_XI2] = xi2
        row[C_XI3] = xi3
        row[C_XL2] = xl2
        row[C_XL3] = xl3
        row[C_XL4] = xl4
        row[C_ZMOL] = zmol
        row[C_ZMOS] = zmos
        # dpper(init='y') leaves the elements unchanged (see sgp4_deep)
        (
            irez,
            d2201,
            d2211,
            d3210,
            d3222,
            d4410,
            d4422,
            d5220,
            d5232,
            d5421,
            d5433,
            dedt,
            didt,
            dmdt,
            dnodt,
            domdt,
            del1,
            del2,
            del3,
            xfact,
            xlamo,
        ) = dsinit(
            XKE,
            cosim,
            emsq,
            argpo,
            s1,
            s2,
            s3,
            s4,
            s5,
            sinim,
            ss1,
            ss2,
            ss3,
            ss4,
            ss5,
            sz1,
            sz3,
            sz11,
            sz13,
            sz21,
            sz23,
            sz31,
            sz33,
            tc,
            gsto,
            mo,
            mdot,
            no,
            nodeo,
            nodedot,
            xpidot,
            z1,
            z3,
            z11,
            z13,
            z21,
            z23,
            z31,
            z33,
            ecco,
            eccsq,
            em,
            inclo,
            nm,
        )
        row[C_IREZ] = float(irez)
        row[C_D2201] = d2201
        row[C_D2211] = d2211
        row[C_D3210] = d3210
        row[C_D3222] = d3222
        row[C_D4410] = d4410
        row[C_D4422] = d4422
        row[C_D5220] = d5220
        row[C_D5232] = d5232
        row[C_D5421] = d5421
        row[C_D5433] = d5433
        row[C_DEDT] = dedt
        row[C_DIDT] = didt
        row[C_DMDT] = dmdt
        row[C_DNODT] = dnodt
        row[C_DOMDT] = domdt
        row[C_DEL1] = del1
        row[C_DEL2] = del2
        row[C_DEL3] = del3
        row[C_XFACT] = xfact
        row[C_XLAMO] = xlamo

    if isimp != 1:
        cc1sq = cc1 * cc1
        d2 = 4.0 * ao * tsi * cc1sq
        temp = d2 * tsi * cc1 / 3.0
        d3 = (17.0 * ao + sfour) * temp
        d4 = 0.5 * temp * ao * tsi * (221.0 * ao + 31.0 * sfour) * cc1
        row[C_D2] = d2
        row[C_D3] = d3
        row[C_D4] = d4
        row[C_T3COF] = d2 + 2.0 * cc1sq
        row[C_T4COF] = 0.25 * (3.0 * d3 + cc1 * (12.0 * d2 + 10.0 * cc1sq))
        row[C_T5COF] = 0.2 * (3.0 * d4 + 12.0 * cc1 * d3 + 6.0 * d2 * d2 + 15.0 * cc1sq * (2.0 * d2 + cc1sq))
    row[C_ISIMP] = float(isimp)


@njit
def _init_range(epoch_jd, epoch_fr, bstar, ecco, argpo, inclo, mo, no_kozai, nodeo, p, i0, i1):
    """Rows ``p[i0:i1]`` (serial; :func:`_over_threads` runs ranges on threads)."""
    for i in range(i0, i1):
        _init_one(epoch_jd[i], epoch_fr[i], bstar[i], ecco[i], argpo[i], inclo[i], mo[i], no_kozai[i], nodeo[i], p, i)


# ----------------------------------------------------------------------------------------
# propagation
# ----------------------------------------------------------------------------------------


@njit
def _run_sat(p, i, tsm, jd, fr, use_jd, e, r, v):
    """Propagate satellite ``i`` to all times; write e[i, :], r[i, :, :], v[i, :, :]."""
    row = p[i]
    epoch_jd = row[C_EPOCH_JD]
    epoch_fr = row[C_EPOCH_FR]
    deep = row[C_DEEP] != 0.0
    isimp = int(row[C_ISIMP])
    irez = int(row[C_IREZ])
    no = row[C_NO]
    ecco = row[C_ECCO]
    inclo = row[C_INCLO]
    argpo = row[C_ARGPO]
    nodeo = row[C_NODEO]
    mo = row[C_MO]
    mdot = row[C_MDOT]
    argpdot = row[C_ARGPDOT]
    nodedot = row[C_NODEDOT]
    nodecf = row[C_NODECF]
    cc1 = row[C_CC1]
    bcc4 = row[C_BCC4]
    bcc5 = row[C_BCC5]
    t2cof = row[C_T2COF]
    omgcof = row[C_OMGCOF]
    eta = row[C_ETA]
    xmcof = row[C_XMCOF]
    delmo = row[C_DELMO]
    sinmao = row[C_SINMAO]
    d2 = row[C_D2]
    d3 = row[C_D3]
    d4 = row[C_D4]
    t3cof = row[C_T3COF]
    t4cof = row[C_T4COF]
    t5cof = row[C_T5COF]
    aycof0 = row[C_AYCOF]
    xlcof0 = row[C_XLCOF]
    con410 = row[C_CON41]
    x1mth20 = row[C_X1MTH2]
    x7thm10 = row[C_X7THM1]
    sinio = row[C_SINIO]
    cosio = row[C_COSIO]
    aterm0 = row[C_ATERM]
    # deep space
    gsto = row[C_GSTO]
    dedt = row[C_DEDT]
    didt = row[C_DIDT]
    dmdt = row[C_DMDT]
    dnodt = row[C_DNODT]
    domdt = row[C_DOMDT]
    del1 = row[C_DEL1]
    del2 = row[C_DEL2]
    del3 = row[C_DEL3]
    xfact = row[C_XFACT]
    xlamo = row[C_XLAMO]
    d2201 = row[C_D2201]
    d2211 = row[C_D2211]
    d3210 = row[C_D3210]
    d3222 = row[C_D3222]
    d4410 = row[C_D4410]
    d4422 = row[C_D4422]
    d5220 = row[C_D5220]
    d5232 = row[C_D5232]
    d5421 = row[C_D5421]
    d5433 = row[C_D5433]
    e3 = row[C_E3]
    ee2 = row[C_EE2]
    se2 = row[C_SE2]
    se3 = row[C_SE3]
    sgh2 = row[C_SGH2]
    sgh3 = row[C_SGH3]
    sgh4 = row[C_SGH4]
    sh2 = row[C_SH2]
    sh3 = row[C_SH3]
    si2 = row[C_SI2]
    si3 = row[C_SI3]
    sl2 = row[C_SL2]
    sl3 = row[C_SL3]
    sl4 = row[C_SL4]
    xgh2 = row[C_XGH2]
    xgh3 = row[C_XGH3]
    xgh4 = row[C_XGH4]
    xh2 = row[C_XH2]
    xh3 = row[C_XH3]
    xi2 = row[C_XI2]
    xi3 = row[C_XI3]
    xl2 = row[C_XL2]
    xl3 = row[C_XL3]
    xl4 = row[C_XL4]
    zmol = row[C_ZMOL]
    zmos = row[C_ZMOS]

    # resonance integrator state: fresh from epoch
    atime = 0.0
    xli = xlamo
    xni = no

    nt = e.shape[1]
    # Visiting order: a resonant orbit's integrator restarts from epoch whenever a time is
    # nearer to epoch than the last one, so visit the times from the first one at or after
    # epoch onwards, then the earlier ones backwards (for increasing times: always away from
    # epoch). Results do not depend on the order.
    k = 0
    if irez != 0:
        k = nt
        for j in range(nt):
            t = (jd[j] - epoch_jd) * 1440.0 + (fr[j] - epoch_fr) * 1440.0 if use_jd else tsm[i, j]
            if t >= 0.0:
                k = j
                break
    for m in range(nt):
        j = k + m if k + m < nt else nt - 1 - m
        t = (jd[j] - epoch_jd) * 1440.0 + (fr[j] - epoch_fr) * 1440.0 if use_jd else tsm[i, j]

        mm, argpm, nodem, tempa, tempe, templ = near_secular(
            t,
            isimp,
            mo,
            mdot,
            argpo,
            argpdot,
            nodeo,
            nodedot,
            nodecf,
            cc1,
            bcc4,
            bcc5,
            t2cof,
            omgcof,
            eta,
            xmcof,
            delmo,
            sinmao,
            d2,
            d3,
            d4,
            t3cof,
            t4cof,
            t5cof,
        )
        err = 0
        if deep:
            em, argpm, inclm, mm, nodem, nm, atime, xli, xni = dspace(
                irez,
                d2201,
                d2211,
                d3210,
                d3222,
                d4410,
                d4422,
                d5220,
                d5232,
                d5421,
                d5433,
                dedt,
                del1,
                del2,
                del3,
                didt,
                dmdt,
                dnodt,
                domdt,
                argpo,
                argpdot,
                t,
                gsto,
                xfact,
                xlamo,
                no,
                atime,
                xli,
                xni,
                ecco,
                argpm,
                inclo,
                mm,
                nodem,
                no,
            )
            if nm <= 0.0:
                err = 2
            aterm = math.pow(XKE / nm, X2O3)
        else:
            em = ecco
            inclm = inclo
            nm = no
            aterm = aterm0
            if nm <= 0.0:
                err = 2

        if err == 0:
            err, am, nm, em, mm, argpm, nodem = mean_elements(aterm, no, em, mm, argpm, nodem, tempa, tempe, templ)
        if err == 0:
            if deep:
                ep, xincp, nodep, argpp, mp = dpper(
                    e3,
                    ee2,
                    se2,
                    se3,
                    sgh2,
                    sgh3,
                    sgh4,
                    sh2,
                    sh3,
                    si2,
                    si3,
                    sl2,
                    sl3,
                    sl4,
                    xgh2,
                    xgh3,
                    xgh4,
                    xh2,
                    xh3,
                    xi2,
                    xi3,
                    xl2,
                    xl3,
                    xl4,
                    zmol,
                    zmos,
                    t,
                    em,
                    inclm,
                    nodem,
                    argpm,
                    mm,
                )
                (err, xincp, nodep, argpp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1) = deep_periodic_terms(
                    ep, xincp, nodep, argpp
                )
            else:
                ep = em
                xincp = inclm
                nodep = nodem
                argpp = argpm
                mp = mm
                sinip = sinio
                cosip = cosio
                aycof = aycof0
                xlcof = xlcof0
                con41 = con410
                x1mth2 = x1mth20
                x7thm1 = x7thm10
        if err == 0:
            err, rx, ry, rz, vx, vy, vz = position_velocity(
                am, nm, ep, xincp, nodep, argpp, mp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1
            )
        else:
            rx = ry = rz = vx = vy = vz = math.nan

        e[i, j] = err
        r[i, j, 0] = rx
        r[i, j, 1] = ry
        r[i, j, 2] = rz
        v[i, j, 0] = vx
        v[i, j, 1] = vy
        v[i, j, 2] = vz


# --- near-Earth path, vectorised over time (one satellite, blocks of NB steps) ---
# Scratch: one flat float64 array, each quantity at a fixed offset k * NB, so that LLVM sees
# one object with constant distances between the rows (no run-time alias checks between them).
NB = 64
_W_T, _W_AM, _W_NM, _W_AX, _W_AY, _W_U, _W_NODE, _W_EO, _W_T5, _W_S, _W_C = (k * NB for k in range(11))
_W_RX, _W_RY, _W_RZ, _W_VX, _W_VY, _W_VZ, _W_ERR = (k * NB for k in range(11, 18))
NW = 18 * NB


@njit
def _run_near(p, i, tsm, jd, fr, use_jd, e, r, v):
    """Near-Earth satellite ``i`` (period < 225 min) at all times, as :func:`_run_sat`.

    Same arithmetic as ``near_secular`` / ``mean_elements`` / ``position_velocity`` but over
    blocks of NB times in loops without calls or branches (sin/cos from :mod:`.vecmath`), so
    LLVM runs them on SIMD lanes. The ``isimp`` terms are computed with zero coefficients when
    ``isimp == 1``, which adds exact zeros. Kepler's equation: every lane takes the reference's
    Newton steps and stops where it stops (|step| < 1e-12 or 10 steps), the block loops until
    every lane has stopped.
    """
    row = p[i]
    epoch_jd = row[C_EPOCH_JD]
    epoch_fr = row[C_EPOCH_FR]
    full = row[C_ISIMP] == 0.0  # isimp == 0: the drag terms of higher order
    no = row[C_NO]
    ecco = row[C_ECCO]
    argpo = row[C_ARGPO]
    nodeo = row[C_NODEO]
    mo = row[C_MO]
    mdot = row[C_MDOT]
    argpdot = row[C_ARGPDOT]
    nodedot = row[C_NODEDOT]
    nodecf = row[C_NODECF]
    cc1 = row[C_CC1]
    bcc4 = row[C_BCC4]
    bcc5 = row[C_BCC5] if full else 0.0
    t2cof = row[C_T2COF]
    omgcof = row[C_OMGCOF] if full else 0.0
    eta = row[C_ETA]
    xmcof = row[C_XMCOF] if full else 0.0
    delmo = row[C_DELMO]
    sinmao = row[C_SINMAO]
    d2 = row[C_D2] if full else 0.0
    d3 = row[C_D3] if full else 0.0
    d4 = row[C_D4] if full else 0.0
    t3cof = row[C_T3COF] if full else 0.0
    t4cof = row[C_T4COF] if full else 0.0
    t5cof = row[C_T5COF] if full else 0.0
    aycof = row[C_AYCOF]
    xlcof = row[C_XLCOF]
    con41 = row[C_CON41]
    x1mth2 = row[C_X1MTH2]
    x7thm1 = row[C_X7THM1]
    sinio = row[C_SINIO]
    cosio = row[C_COSIO]
    aterm = row[C_ATERM]
    nt = e.shape[1]
    if no <= 0.0:  # mean motion: error 2 at every time
        for j in range(nt):
            e[i, j] = 2
            for c in range(3):
                r[i, j, c] = math.nan
                v[i, j, c] = math.nan
        return

    if r.shape[2] != 3 or v.shape[2] != 3:  # (checked by the callers; tells LLVM the row stride)
        return
    w = np.empty(NW, dtype=np.float64)
    for j0 in range(0, nt, NB):
        nb = min(NB, nt - j0)
        if use_jd:
            for b in range(nb):
                w[_W_T + b] = (jd[j0 + b] - epoch_jd) * 1440.0 + (fr[j0 + b] - epoch_fr) * 1440.0
        else:
            for b in range(nb):
                w[_W_T + b] = tsm[i, j0 + b]
        for b in range(nb, NB):  # pad the last block (whole blocks: no remainder loops to compile)
            w[_W_T + b] = w[_W_T + nb - 1]

        # secular gravity and drag, mean elements, long-period periodics (near_secular,
        # mean_elements, position_velocity's head)
        for b in range(NB):
            t = w[_W_T + b]
            xmdf = mo + mdot * t
            argpdf = argpo + argpdot * t
            nodedf = nodeo + nodedot * t
            t2 = t * t
            nodem = nodedf + nodecf * t2
            tempa = 1.0 - cc1 * t
            tempe = bcc4 * t
            templ = t2cof * t2
            delomg = omgcof * t
            _, cxmdf = sincos(xmdf)
            delmtemp = 1.0 + eta * cxmdf
            delm = xmcof * (delmtemp * delmtemp * delmtemp - delmo)
            temp = delomg + delm
            mm = xmdf + temp
            argpm = argpdf - temp
            t3 = t2 * t
            t4 = t3 * t
            tempa = tempa - d2 * t2 - d3 * t3 - d4 * t4
            smm, _ = sincos(mm)
            tempe = tempe + bcc5 * (smm - sinmao)
            templ = templ + t3cof * t3 + t4 * (t4cof + t * t5cof)

            am = aterm * tempa * tempa
            nm = XKE / (am * sqrt_v(am))
            em = ecco - tempe
            bad = (em >= 1.0) | (em < -0.001)  # error 1
            em = 1.0e-6 if em < 1.0e-6 else em
            mm = mm + no * templ
            xlm = mm + argpm + nodem
            nodem = fmod2pi_v(nodem)
            argpm = fmod2pi_v(argpm)
            xlm = fmod2pi_v(xlm)
            mm = fmod2pi_v(xlm - argpm - nodem)

            sargp, cargp = sincos(argpm)
            axnl = em * cargp
            temp = 1.0 / (am * (1.0 - em * em))
            aynl = em * sargp + temp * aycof
            xl = mm + argpm + nodem + temp * xlcof * axnl
            u = fmod2pi_v(xl - nodem)
            w[_W_AM + b] = -1.0 if bad else am  # (am >= 0 or NaN otherwise)
            w[_W_NM + b] = nm
            w[_W_AX + b] = axnl
            w[_W_AY + b] = aynl
            w[_W_U + b] = u
            w[_W_NODE + b] = nodem
            w[_W_EO + b] = u
            w[_W_T5 + b] = 0.0 if bad else 9999.9  # (0: no Newton step)
            w[_W_S + b] = 0.0
            w[_W_C + b] = 0.0

        # Kepler's equation for E + omega: Newton steps of at most 0.95 rad, each lane until
        # its step is below 1e-12, at most 10 steps (sin/cos kept from the last step taken)
        for _ in range(10):
            nact = 0
            for b in range(NB):
                tem5 = w[_W_T5 + b]
                act = math.fabs(tem5) >= 1.0e-12
                eo1 = w[_W_EO + b]
                axnl = w[_W_AX + b]
                aynl = w[_W_AY + b]
                sineo1, coseo1 = sincos(eo1)
                step = 1.0 - coseo1 * axnl - sineo1 * aynl
                step = (w[_W_U + b] - aynl * coseo1 + axnl * sineo1 - eo1) / step
                big = math.fabs(step) >= 0.95
                step = (0.95 if step > 0.0 else -0.95) if big else step
                w[_W_EO + b] = eo1 + step if act else eo1
                w[_W_S + b] = sineo1 if act else w[_W_S + b]
                w[_W_C + b] = coseo1 if act else w[_W_C + b]
                w[_W_T5 + b] = step if act else tem5
                nact += 1 if act & (math.fabs(step) >= 1.0e-12) else 0
            if nact == 0:
                break

        # short-period periodics and TEME vectors (position_velocity's tail)
        for b in range(NB):
            am = w[_W_AM + b]
            nm = w[_W_NM + b]
            axnl = w[_W_AX + b]
            aynl = w[_W_AY + b]
            nodep = w[_W_NODE + b]
            sineo1 = w[_W_S + b]
            coseo1 = w[_W_C + b]
            ecose = axnl * coseo1 + aynl * sineo1
            esine = axnl * sineo1 - aynl * coseo1
            el2 = axnl * axnl + aynl * aynl
            pl = am * (1.0 - el2)
            rl = am * (1.0 - ecose)
            rdotl = sqrt_v(am) * esine / rl
            rvdotl = sqrt_v(pl) / rl
            betal = sqrt_v(1.0 - el2)
            temp = esine / (1.0 + betal)
            sinu = am / rl * (sineo1 - aynl - axnl * temp)
            cosu = am / rl * (coseo1 - axnl + aynl * temp)
            sin2u = (cosu + cosu) * sinu
            cos2u = 1.0 - 2.0 * sinu * sinu
            temp = 1.0 / pl
            temp1 = 0.5 * J2 * temp
            temp2 = temp1 * temp
            mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) + 0.5 * temp1 * x1mth2 * cos2u
            dsu = 0.25 * temp2 * x7thm1 * sin2u
            xnode = nodep + 1.5 * temp2 * cosio * sin2u
            dinc = 1.5 * temp2 * cosio * sinio * cos2u
            mvt = rdotl - nm * temp1 * x1mth2 * sin2u / XKE
            rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / XKE
            hinv = 1.0 / sqrt_v(sinu * sinu + cosu * cosu)
            sinu0 = sinu * hinv
            cosu0 = cosu * hinv
            sd, cd = sincos(dsu)
            sinsu = sinu0 * cd - cosu0 * sd
            cossu = cosu0 * cd + sinu0 * sd
            snod, cnod = sincos(xnode)
            sd, cd = sincos(dinc)
            sini = sinio * cd + cosio * sd
            cosi = cosio * cd - sinio * sd
            xmx = -snod * cosi
            xmy = cnod * cosi
            ux = xmx * sinsu + cnod * cossu
            uy = xmy * sinsu + snod * cossu
            uz = sini * sinsu
            vx = xmx * cossu - cnod * sinsu
            vy = xmy * cossu - snod * sinsu
            vz = sini * cossu
            err = 6 if mrt < 1.0 else 0
            err = 4 if pl < 0.0 else err
            err = 1 if am < 0.0 else err
            nan = (err == 1) | (err == 4)
            w[_W_ERR + b] = float(err)
            w[_W_RX + b] = math.nan if nan else (mrt * ux) * RE
            w[_W_RY + b] = math.nan if nan else (mrt * uy) * RE
            w[_W_RZ + b] = math.nan if nan else (mrt * uz) * RE
            w[_W_VX + b] = math.nan if nan else (mvt * ux + rvdot * vx) * VKMPERSEC
            w[_W_VY + b] = math.nan if nan else (mvt * uy + rvdot * vy) * VKMPERSEC
            w[_W_VZ + b] = math.nan if nan else (mvt * uz + rvdot * vz) * VKMPERSEC
        for b in range(nb):
            j = np.uint64(j0 + b)  # (unsigned: no negative-index wraparound, a plain stride)
            e[i, j] = np.uint8(w[_W_ERR + b])
            r[i, j, 0] = w[_W_RX + b]
            r[i, j, 1] = w[_W_RY + b]
            r[i, j, 2] = w[_W_RZ + b]
            v[i, j, 0] = w[_W_VX + b]
            v[i, j, 1] = w[_W_VY + b]
            v[i, j, 2] = w[_W_VZ + b]


@njit
def _propagate_range(p, i0, i1, tsm, jd, fr, use_jd, simd, e, r, v):
    """Satellites ``i0 <= i < i1`` (serial): near Earth by :func:`_run_near` when ``simd``; deep
    space (and near Earth when not ``simd``) by :func:`_run_sat`."""
    for i in range(i0, i1):
        if p[i, C_DEEP] != 0.0 or not simd:
            _run_sat(p, i, tsm, jd, fr, use_jd, e, r, v)
        else:
            _run_near(p, i, tsm, jd, fr, use_jd, e, r, v)


def _over_threads(fn: Callable[[int, int], None], n: int, min_per_call: int) -> None:
    """Run ``fn(i0, i1)`` over ``range(n)`` in slices on ``numba.get_num_threads()`` threads.

    The kernels are serial ``nogil`` functions (a Numba parallel loop would compile their
    bodies again); each satellite's numbers do not depend on the slicing.
    """
    nthreads = min(numba.get_num_threads(), n // max(min_per_call, 1))
    if nthreads <= 1:
        fn(0, n)
        return
    edges = np.linspace(0, n, 4 * nthreads + 1).astype(np.int64).tolist()  # 4 slices a thread: balance
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        list(pool.map(lambda k: fn(edges[k], edges[k + 1]), range(len(edges) - 1)))


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------


def _f64(a: ArrayLike) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


_EMPTY1 = np.empty(0, dtype=np.float64)
_EMPTY2 = np.empty((0, 0), dtype=np.float64)


def sgp4_init(
    epoch_jd: ArrayLike,
    epoch_fr: ArrayLike,
    bstar: ArrayLike,
    ndot: ArrayLike,
    nddot: ArrayLike,
    ecco: ArrayLike,
    argpo: ArrayLike,
    inclo: ArrayLike,
    mo: ArrayLike,
    no_kozai: ArrayLike,
    nodeo: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Initialise SGP4/SDP4 for n element sets (WGS72, improved mode), parallel over n.

    Parameters (each float64[n])
    ----------
    epoch_jd, epoch_fr : epoch as a (whole, fraction) Julian date pair, days, UTC, like
        ``Satrec.jdsatepoch`` / ``Satrec.jdsatepochF``.
    bstar : drag term, 1/earth radii.
    ndot, nddot : first and second derivatives of mean motion, rad/min^2 and rad/min^3
        (accepted for completeness; SGP4 does not use them).
    ecco : eccentricity, 1.
    argpo, inclo, mo, nodeo : argument of perigee, inclination, mean anomaly, right
        ascension of ascending node, rad.
    no_kozai : mean motion (Kozai), rad/min.

    Returns
    -------
    params : float64[n, NPARAM], derived coefficients (columns in PARAM_NAMES).
    err : uint8[n], the error code of the propagation to the epoch (as ``Satrec.error``
        after ``sgp4init``). Propagation does not depend on it: like the reference code,
        every time step gets its own code.
    """
    epoch_jd = np.atleast_1d(_f64(epoch_jd))
    n = epoch_jd.shape[0]
    args = [np.broadcast_to(_f64(a), (n,)).copy() for a in (epoch_fr, bstar, ecco, argpo, inclo, mo, no_kozai, nodeo)]
    del ndot, nddot
    params = np.empty((n, NPARAM), dtype=np.float64)
    _over_threads(lambda i0, i1: _init_range(epoch_jd, *args, params, i0, i1), n, 256)
    e, _, _ = sgp4_tsince(params, np.zeros((n, 1), dtype=np.float64))
    return params, e[:, 0].copy()


def sgp4_tsince(
    params: ArrayLike, tsince: ArrayLike, *, simd: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propagate each satellite to its own times since epoch.

    params : float64[n, NPARAM] from :func:`sgp4_init`.
    tsince : float64[n, nt], minutes since each satellite's epoch.
    simd : near-Earth satellites on the vectorised path (True) or on the scalar libm path that
        ``kernels/cuda.py`` mirrors (False; ~4x slower, positions differ by <= ~1e-10 km; the
        CUDA tests compare the mirror with this path to the bit).

    Returns (e, r, v): e uint8[n, nt] error codes; r float64[n, nt, 3], km, TEME;
    v float64[n, nt, 3], km/s, TEME. Rows with codes 1-4 are NaN.
    """
    params = _f64(params)
    tsince = _f64(tsince)
    n = params.shape[0]
    if tsince.ndim != 2 or tsince.shape[0] != n:
        raise ParameterError(f"tsince must have shape (n={n}, nt), got {tsince.shape}")
    nt = tsince.shape[1]
    e = np.empty((n, nt), dtype=np.uint8)
    r = np.empty((n, nt, 3), dtype=np.float64)
    v = np.empty((n, nt, 3), dtype=np.float64)
    s = bool(simd)
    _over_threads(lambda i0, i1: _propagate_range(params, i0, i1, tsince, _EMPTY1, _EMPTY1, False, s, e, r, v), n, 16)
    return e, r, v


def sgp4_propagate(
    params: ArrayLike, jd: ArrayLike, fr: ArrayLike, *, simd: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propagate all satellites to common UTC times, as ``SatrecArray.sgp4(jd, fr)``.

    params : float64[n, NPARAM]; jd, fr : float64[nt], Julian date as (whole, fraction),
    days. The time since epoch is ``(jd - epoch_jd) * 1440 + (fr - epoch_fr) * 1440`` min.
    simd : as in :func:`sgp4_tsince`.

    Returns (e, r, v): e uint8[n, nt]; r float64[n, nt, 3], km, TEME; v float64[n, nt, 3],
    km/s, TEME. Rows with codes 1-4 are NaN.
    """
    params = _f64(params)
    jd = np.atleast_1d(_f64(jd))
    fr = np.atleast_1d(_f64(fr))
    n = params.shape[0]
    nt = jd.shape[0]
    e = np.empty((n, nt), dtype=np.uint8)
    r = np.empty((n, nt, 3), dtype=np.float64)
    v = np.empty((n, nt, 3), dtype=np.float64)
    sgp4_propagate_into(params, jd, fr, e, r, v, simd=simd)
    return e, r, v


def sgp4_propagate_into(
    params: ArrayLike,
    jd: ArrayLike,
    fr: ArrayLike,
    e: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    *,
    simd: bool = True,
) -> None:
    """As :func:`sgp4_propagate`, writing into preallocated arrays (time chunking).

    e : uint8[n, nt]; r, v : float64[n, nt, 3], km and km/s, TEME: whole per-chunk buffers
    or views such as ``r_all[:, t0:t1]`` of a larger output (views compile one more
    specialisation). simd : as in :func:`sgp4_tsince`. Returns None.
    """
    params = _f64(params)
    jd = np.atleast_1d(_f64(jd))
    fr = np.atleast_1d(_f64(fr))
    n = params.shape[0]
    nt = jd.shape[0]
    if fr.shape != jd.shape or jd.ndim != 1:
        raise ParameterError("jd and fr must be 1-d arrays of the same length")
    if e.shape != (n, nt) or r.shape != (n, nt, 3) or v.shape != (n, nt, 3):
        raise ParameterError(f"output shapes must be e ({n}, {nt}), r and v ({n}, {nt}, 3)")
    if e.dtype != np.uint8 or r.dtype != np.float64 or v.dtype != np.float64:
        raise ParameterError("outputs must be e uint8, r and v float64")
    s = bool(simd)
    _over_threads(lambda i0, i1: _propagate_range(params, i0, i1, _EMPTY2, jd, fr, True, s, e, r, v), n, 16)
