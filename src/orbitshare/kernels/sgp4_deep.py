"""Deep-space part of SGP4 (SDP4): lunar-solar and resonance terms, scalar helpers.

Written from Hoots & Roehrich (1980, Spacetrack Report #3) and Vallado, Crawford, Hujsak &
Kelso (2006, "Revisiting Spacetrack Report #3", AIAA 2006-6753), following the arithmetic of
the 2006+ reference code in the "improved" operation mode ('i') so that results agree with
``sgp4.api.Satrec`` to rounding level.

Every function here is a scalar ``@njit`` helper that uses only ``math`` (so that a CUDA
backend can compile the same bodies as device functions). Angles in rad, time in minutes
since epoch, mean motion in rad/min, epoch in days since 1949 December 31 0h UT.

Helpers
-------
fmod2pi   C ``fmod(x, 2*pi)`` (exact remainder, sign of ``x``), which Numba lacks.
dscom     deep-space common terms at epoch (solar and lunar coefficients).
dsinit    deep-space secular rates and 12 h / 24 h resonance coefficients at epoch.
dspace    secular update and resonance integration (Euler-Maclaurin, 720 min steps).
dpper     lunar-solar long-period periodics.

``dpper`` at initialisation: the reference code calls it with ``init='y'``, where it only
computes the periodics and returns the elements unchanged, and the epoch offsets
(peo, pinco, plo, pgho, pho) stay zero; so initialisation needs no call here and the
propagation-time ``dpper`` subtracts nothing.
"""

import math

from orbitshare._jit import njit
from orbitshare.constants import TWOPI

PI = math.pi

# 2*pi split into a 26-bit head and an exact tail (Veltkamp), for an exact remainder.
_SPLIT = 134217729.0 * TWOPI
TWOPI_HI = _SPLIT - (_SPLIT - TWOPI)
TWOPI_LO = TWOPI - TWOPI_HI
INV_TWOPI = 1.0 / TWOPI

# --- lunar-solar constants (Spacetrack Report #3) ---
ZNS = 1.19459e-5
ZES = 0.01675
ZNL = 1.5835218e-4
ZEL = 0.05490
C1SS = 2.9864797e-6
C1L = 4.7968065e-7
ZSINIS = 0.39785416
ZCOSIS = 0.91744867
ZCOSGS = 0.1945905
ZSINGS = -0.98088458

# --- resonance constants ---
Q22 = 1.7891679e-6
Q31 = 2.1460748e-6
Q33 = 2.2123015e-7
ROOT22 = 1.7891679e-6
ROOT44 = 7.3636953e-9
ROOT54 = 2.1765803e-9
RPTIM = 4.37526908801129966e-3  # rad/min, Earth rotation rate
ROOT32 = 3.7393792e-7
ROOT52 = 1.1428639e-7
X2O3 = 2.0 / 3.0
FASX2 = 0.13130908
FASX4 = 2.8843198
FASX6 = 0.37448087
G22 = 5.7686396
G32 = 0.95240898
G44 = 1.8014998
G52 = 1.0508330
G54 = 4.4108898
STEPP = 720.0
STEPN = -720.0
STEP2 = 259200.0


@njit
def fmod2pi(x):
    """Remainder of ``x`` by 2*pi with the sign of ``x``, exactly as C ``fmod`` (rad).

    The quotient's product with 2*pi is formed exactly from a split constant, so the
    result is the exact remainder for ``|x| < 4e8`` rad; NaN and infinities give NaN.
    """
    ax = math.fabs(x)
    if not ax < 4.0e15:  # NaN, infinity (C gives NaN) or beyond any meaningful angle
        return x - x if not ax < math.inf else 0.0
    q = float(math.trunc(x * INV_TWOPI))
    r = (x - q * TWOPI_HI) - q * TWOPI_LO
    # the multiplied quotient can be one off near a multiple of 2 pi: redo it exactly
    if x >= 0.0:
        if r < 0.0:
            q -= 1.0
            r = (x - q * TWOPI_HI) - q * TWOPI_LO
        elif r >= TWOPI:
            q += 1.0
            r = (x - q * TWOPI_HI) - q * TWOPI_LO
    else:
        if r > 0.0:
            q += 1.0
            r = (x - q * TWOPI_HI) - q * TWOPI_LO
        elif r <= -TWOPI:
            q -= 1.0
            r = (x - q * TWOPI_HI) - q * TWOPI_LO
    return r


@njit
def dscom(epoch, ep, argpp, tc, inclp, nodep, np_):
    """Deep-space common terms (solar and lunar) at epoch.

    epoch: days since 1950 Jan 0.0 (JD 2433281.5); ep: eccentricity; argpp, inclp, nodep: rad;
    tc: min; np_: mean motion (rad/min). Returns a tuple of 78 floats (see the unpacking in
    ``sgp4.py``): sinim, cosim, emsq, the s*, ss*, z*, sz* factors and the periodic
    coefficients e3, ee2, se*, sgh*, sh*, si*, sl*, xgh*, xh*, xi*, xl*, zmol, zmos.
    """
    nm = np_
    em = ep
    snodm = math.sin(nodep)
    cnodm = math.cos(nodep)
    sinomm = math.sin(argpp)
    cosomm = math.cos(argpp)
    sinim = math.sin(inclp)
    cosim = math.cos(inclp)
    emsq = em * em
    betasq = 1.0 - emsq
    rtemsq = math.sqrt(betasq)

    day = epoch + 18261.5 + tc / 1440.0
    xnodce = fmod2pi(4.5236020 - 9.2422029e-4 * day)
    stem = math.sin(xnodce)
    ctem = math.cos(xnodce)
    zcosil = 0.91375164 - 0.03568096 * ctem
    zsinil = math.sqrt(1.0 - zcosil * zcosil)
    zsinhl = 0.089683511 * stem / zsinil
    zcoshl = math.sqrt(1.0 - zsinhl * zsinhl)
    gam = 5.8351514 + 0.0019443680 * day
    zx = 0.39785416 * stem / zsinil
    zy = zcoshl * ctem + 0.91744867 * zsinhl * stem
    zx = math.atan2(zx, zy)
    zx = gam + zx - xnodce
    zcosgl = math.cos(zx)
    zsingl = math.sin(zx)

    # solar terms first (lsflg 1), then lunar (lsflg 2)
    zcosg = ZCOSGS
    zsing = ZSINGS
    zcosi = ZCOSIS
    zsini = ZSINIS
    zcosh = cnodm
    zsinh = snodm
    cc = C1SS
    xnoi = 1.0 / nm

    ss1 = ss2 = ss3 = ss4 = ss5 = ss6 = ss7 = 0.0
    sz1 = sz2 = sz3 = sz11 = sz12 = sz13 = sz21 = sz22 = sz23 = sz31 = sz32 = sz33 = 0.0
    s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    z1 = z2 = z3 = z11 = z12 = z13 = z21 = z22 = z23 = z31 = z32 = z33 = 0.0
    for lsflg in range(1, 3):
        a1 = zcosg * zcosh + zsing * zcosi * zsinh
        a3 = -zsing * zcosh + zcosg * zcosi * zsinh
        a7 = -zcosg * zsinh + zsing * zcosi * zcosh
        a8 = zsing * zsini
        a9 = zsing * zsinh + zcosg * zcosi * zcosh
        a10 = zcosg * zsini
        a2 = cosim * a7 + sinim * a8
        a4 = cosim * a9 + sinim * a10
        a5 = -sinim * a7 + cosim * a8
        a6 = -sinim * a9 + cosim * a10

        x1 = a1 * cosomm + a2 * sinomm
        x2 = a3 * cosomm + a4 * sinomm
        x3 = -a1 * sinomm + a2 * cosomm
        x4 = -a3 * sinomm + a4 * cosomm
        x5 = a5 * sinomm
        x6 = a6 * sinomm
        x7 = a5 * cosomm
        x8 = a6 * cosomm

        z31 = 12.0 * x1 * x1 - 3.0 * x3 * x3
        z32 = 24.0 * x1 * x2 - 6.0 * x3 * x4
        z33 = 12.0 * x2 * x2 - 3.0 * x4 * x4
        z1 = 3.0 * (a1 * a1 + a2 * a2) + z31 * emsq
        z2 = 6.0 * (a1 * a3 + a2 * a4) + z32 * emsq
        z3 = 3.0 * (a3 * a3 + a4 * a4) + z33 * emsq
        z11 = -6.0 * a1 * a5 + emsq * (-24.0 * x1 * x7 - 6.0 * x3 * x5)
        z12 = -6.0 * (a1 * a6 + a3 * a5) + emsq * (-24.0 * (x2 * x7 + x1 * x8) - 6.0 * (x3 * x6 + x4 * x5))
        z13 = -6.0 * a3 * a6 + emsq * (-24.0 * x2 * x8 - 6.0 * x4 * x6)
        z21 = 6.0 * a2 * a5 + emsq * (24.0 * x1 * x5 - 6.0 * x3 * x7)
        z22 = 6.0 * (a4 * a5 + a2 * a6) + emsq * (24.0 * (x2 * x5 + x1 * x6) - 6.0 * (x4 * x7 + x3 * x8))
        z23 = 6.0 * a4 * a6 + emsq * (24.0 * x2 * x6 - 6.0 * x4 * x8)
        z1 = z1 + z1 + betasq * z31
        z2 = z2 + z2 + betasq * z32
        z3 = z3 + z3 + betasq * z33
        s3 = cc * xnoi
        s2 = -0.5 * s3 / rtemsq
        s4 = s3 * rtemsq
        s1 = -15.0 * em * s4
        s5 = x1 * x3 + x2 * x4
        s6 = x2 * x3 + x1 * x4
        s7 = x2 * x4 - x1 * x3

        if lsflg == 1:
            ss1 = s1
            ss2 = s2
            ss3 = s3
            ss4 = s4
            ss5 = s5
            ss6 = s6
            ss7 = s7
            sz1 = z1
            sz2 = z2
            sz3 = z3
            sz11 = z11
            sz12 = z12
            sz13 = z13
            sz21 = z21
            sz22 = z22
            sz23 = z23
            sz31 = z31
            sz32 = z32
            sz33 = z33
            zcosg = zcosgl
            zsing = zsingl
            zcosi = zcosil
            zsini = zsinil
            zcosh = zcoshl * cnodm + zsinhl * snodm
            zsinh = snodm * zcoshl - cnodm * zsinhl
            cc = C1L

    zmol = fmod2pi(4.7199672 + 0.22997150 * day - gam)
    zmos = fmod2pi(6.2565837 + 0.017201977 * day)

    # solar periodics
    se2 = 2.0 * ss1 * ss6
    se3 = 2.0 * ss1 * ss7
    si2 = 2.0 * ss2 * sz12
    si3 = 2.0 * ss2 * (sz13 - sz11)
    sl2 = -2.0 * ss3 * sz2
    sl3 = -2.0 * ss3 * (sz3 - sz1)
    sl4 = -2.0 * ss3 * (-21.0 - 9.0 * emsq) * ZES
    sgh2 = 2.0 * ss4 * sz32
    sgh3 = 2.0 * ss4 * (sz33 - sz31)
    sgh4 = -18.0 * ss4 * ZES
    sh2 = -2.0 * ss2 * sz22
    sh3 = -2.0 * ss2 * (sz23 - sz21)
    # lunar periodics
    ee2 = 2.0 * s1 * s6
    e3 = 2.0 * s1 * s7
    xi2 = 2.0 * s2 * z12
    xi3 = 2.0 * s2 * (z13 - z11)
    xl2 = -2.0 * s3 * z2
    xl3 = -2.0 * s3 * (z3 - z1)
    xl4 = -2.0 * s3 * (-21.0 - 9.0 * emsq) * ZEL
    xgh2 = 2.0 * s4 * z32
    xgh3 = 2.0 * s4 * (z33 - z31)
    xgh4 = -18.0 * s4 * ZEL
    xh2 = -2.0 * s2 * z22
    xh3 = -2.0 * s2 * (z23 - z21)

    return (
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
    )


@njit
def dsinit(
    xke,
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
    inclm,
    nm,
):
    """Deep-space secular rates and resonance coefficients at epoch.

    Returns (irez, d2201, d2211, d3210, d3222, d4410, d4422, d5220, d5232, d5421, d5433,
    dedt, didt, dmdt, dnodt, domdt, del1, del2, del3, xfact, xlamo): irez 0 none,
    1 one-day (24 h, geosynchronous), 2 half-day (12 h, Molniya-type); rates in rad/min.
    """
    irez = 0
    if 0.0034906585 < nm < 0.0052359877:
        irez = 1
    if 8.26e-3 <= nm <= 9.24e-3 and em >= 0.5:
        irez = 2

    # solar terms
    ses = ss1 * ZNS * ss5
    sis = ss2 * ZNS * (sz11 + sz13)
    sls = -ZNS * ss3 * (sz1 + sz3 - 14.0 - 6.0 * emsq)
    sghs = ss4 * ZNS * (sz31 + sz33 - 6.0)
    shs = -ZNS * ss2 * (sz21 + sz23)
    if inclm < 5.2359877e-2 or inclm > PI - 5.2359877e-2:
        shs = 0.0
    if sinim != 0.0:
        shs = shs / sinim
    sgs = sghs - cosim * shs

    # lunar terms
    dedt = ses + s1 * ZNL * s5
    didt = sis + s2 * ZNL * (z11 + z13)
    dmdt = sls - ZNL * s3 * (z1 + z3 - 14.0 - 6.0 * emsq)
    sghl = s4 * ZNL * (z31 + z33 - 6.0)
    shll = -ZNL * s2 * (z21 + z23)
    if inclm < 5.2359877e-2 or inclm > PI - 5.2359877e-2:
        shll = 0.0
    domdt = sgs + sghl
    dnodt = shs
    if sinim != 0.0:
        domdt = domdt - cosim / sinim * shll
        dnodt = dnodt + shll / sinim

    theta = fmod2pi(gsto + tc * RPTIM)

    d2201 = d2211 = d3210 = d3222 = d4410 = d4422 = 0.0
    d5220 = d5232 = d5421 = d5433 = 0.0
    del1 = del2 = del3 = 0.0
    xfact = 0.0
    xlamo = 0.0
    if irez != 0:
        aonv = math.pow(nm / xke, X2O3)
        if irez == 2:
            # half-day resonance: uses the epoch eccentricity
            cosisq = cosim * cosim
            e = ecco
            esq = eccsq
            eoc = e * esq
            g201 = -0.306 - (e - 0.64) * 0.440
            if e <= 0.65:
                g211 = 3.616 - 13.2470 * e + 16.2900 * esq
                g310 = -19.302 + 117.3900 * e - 228.4190 * esq + 156.5910 * eoc
                g322 = -18.9068 + 109.7927 * e - 214.6334 * esq + 146.5816 * eoc
                g410 = -41.122 + 242.6940 * e - 471.0940 * esq + 313.9530 * eoc
                g422 = -146.407 + 841.8800 * e - 1629.014 * esq + 1083.4350 * eoc
                g520 = -532.114 + 3017.977 * e - 5740.032 * esq + 3708.2760 * eoc
            else:
                g211 = -72.099 + 331.819 * e - 508.738 * esq + 266.724 * eoc
                g310 = -346.844 + 1582.851 * e - 2415.925 * esq + 1246.113 * eoc
                g322 = -342.585 + 1554.908 * e - 2366.899 * esq + 1215.972 * eoc
                g410 = -1052.797 + 4758.686 * e - 7193.992 * esq + 3651.957 * eoc
                g422 = -3581.690 + 16178.110 * e - 24462.770 * esq + 12422.520 * eoc
                if e > 0.715:
                    g520 = -5149.66 + 29936.92 * e - 54087.36 * esq + 31324.56 * eoc
                else:
                    g520 = 1464.74 - 4664.75 * e + 3763.64 * esq
            if e < 0.7:
                g533 = -919.22770 + 4988.6100 * e - 9064.7700 * esq + 5542.21 * eoc
                g521 = -822.71072 + 4568.6173 * e - 8491.4146 * esq + 5337.524 * eoc
                g532 = -853.66600 + 4690.2500 * e - 8624.7700 * esq + 5341.4 * eoc
            else:
                g533 = -37995.780 + 161616.52 * e - 229838.20 * esq + 109377.94 * eoc
                g521 = -51752.104 + 218913.95 * e - 309468.16 * esq + 146349.42 * eoc
                g532 = -40023.880 + 170470.89 * e - 242699.48 * esq + 115605.82 * eoc

            sini2 = sinim * sinim
            f220 = 0.75 * (1.0 + 2.0 * cosim + cosisq)
            f221 = 1.5 * sini2
            f321 = 1.875 * sinim * (1.0 - 2.0 * cosim - 3.0 * cosisq)
            f322 = -1.875 * sinim * (1.0 + 2.0 * cosim - 3.0 * cosisq)
            f441 = 35.0 * sini2 * f220
            f442 = 39.3750 * sini2 * sini2
            f522 = (
                9.84375
                * sinim
                * (sini2 * (1.0 - 2.0 * cosim - 5.0 * cosisq) + 0.33333333 * (-2.0 + 4.0 * cosim + 6.0 * cosisq))
            )
            f523 = sinim * (
                4.92187512 * sini2 * (-2.0 - 4.0 * cosim + 10.0 * cosisq)
                + 6.56250012 * (1.0 + 2.0 * cosim - 3.0 * cosisq)
            )
            f542 = 29.53125 * sinim * (2.0 - 8.0 * cosim + cosisq * (-12.0 + 8.0 * cosim + 10.0 * cosisq))
            f543 = 29.53125 * sinim * (-2.0 - 8.0 * cosim + cosisq * (12.0 + 8.0 * cosim - 10.0 * cosisq))
            xno2 = nm * nm
            ainv2 = aonv * aonv
            temp1 = 3.0 * xno2 * ainv2
            temp = temp1 * ROOT22
            d2201 = temp * f220 * g201
            d2211 = temp * f221 * g211
            temp1 = temp1 * aonv
            temp = temp1 * ROOT32
            d3210 = temp * f321 * g310
            d3222 = temp * f322 * g322
            temp1 = temp1 * aonv
            temp = 2.0 * temp1 * ROOT44
            d4410 = temp * f441 * g410
            d4422 = temp * f442 * g422
            temp1 = temp1 * aonv
            temp = temp1 * ROOT52
            d5220 = temp * f522 * g520
            d5232 = temp * f523 * g532
            temp = 2.0 * temp1 * ROOT54
            d5421 = temp * f542 * g521
            d5433 = temp * f543 * g533
            xlamo = fmod2pi(mo + nodeo + nodeo - theta - theta)
            xfact = mdot + dmdt + 2.0 * (nodedot + dnodt - RPTIM) - no
        if irez == 1:
            # one-day (synchronous) resonance
            g200 = 1.0 + emsq * (-2.5 + 0.8125 * emsq)
            g310 = 1.0 + 2.0 * emsq
            g300 = 1.0 + emsq * (-6.0 + 6.60937 * emsq)
            f220 = 0.75 * (1.0 + cosim) * (1.0 + cosim)
            f311 = 0.9375 * sinim * sinim * (1.0 + 3.0 * cosim) - 0.75 * (1.0 + cosim)
            f330 = 1.0 + cosim
            f330 = 1.875 * f330 * f330 * f330
            del1 = 3.0 * nm * nm * aonv * aonv
            del2 = 2.0 * del1 * f220 * g200 * Q22
            del3 = 3.0 * del1 * f330 * g300 * Q33 * aonv
            del1 = del1 * f311 * g310 * Q31 * aonv
            xlamo = fmod2pi(mo + nodeo + argpo - theta)
            xfact = mdot + xpidot - RPTIM + dmdt + domdt + dnodt - no

    return (
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
    )


@njit
def dspace(
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
    em,
    argpm,
    inclm,
    mm,
    nodem,
    nm,
):
    """Deep-space secular effects and resonance integration at ``t`` (min since epoch).

    ``atime, xli, xni`` is the integrator state (min, rad, rad/min) carried between calls;
    pass ``(0.0, xlamo, no)`` for a fresh start. The integration restarts from epoch when
    ``t`` is behind the state or on the other side of epoch, so any sequence of calls gives
    the result of a fresh integration from epoch (fixed 720 min steps from epoch).
    Returns (em, argpm, inclm, mm, nodem, nm, atime, xli, xni).
    """
    theta = fmod2pi(gsto + t * RPTIM)
    em = em + dedt * t
    inclm = inclm + didt * t
    argpm = argpm + domdt * t
    nodem = nodem + dnodt * t
    mm = mm + dmdt * t

    if irez != 0:
        if atime == 0.0 or t * atime <= 0.0 or math.fabs(t) < math.fabs(atime):
            atime = 0.0
            xni = no
            xli = xlamo
        delt = STEPP if t > 0.0 else STEPN
        ft = 0.0
        xndt = 0.0
        xldot = 0.0
        xnddt = 0.0
        while True:
            if irez != 2:
                xndt = (
                    del1 * math.sin(xli - FASX2)
                    + del2 * math.sin(2.0 * (xli - FASX4))
                    + del3 * math.sin(3.0 * (xli - FASX6))
                )
                xldot = xni + xfact
                xnddt = (
                    del1 * math.cos(xli - FASX2)
                    + 2.0 * del2 * math.cos(2.0 * (xli - FASX4))
                    + 3.0 * del3 * math.cos(3.0 * (xli - FASX6))
                )
                xnddt = xnddt * xldot
            else:
                xomi = argpo + argpdot * atime
                x2omi = xomi + xomi
                x2li = xli + xli
                xndt = (
                    d2201 * math.sin(x2omi + xli - G22)
                    + d2211 * math.sin(xli - G22)
                    + d3210 * math.sin(xomi + xli - G32)
                    + d3222 * math.sin(-xomi + xli - G32)
                    + d4410 * math.sin(x2omi + x2li - G44)
                    + d4422 * math.sin(x2li - G44)
                    + d5220 * math.sin(xomi + xli - G52)
                    + d5232 * math.sin(-xomi + xli - G52)
                    + d5421 * math.sin(xomi + x2li - G54)
                    + d5433 * math.sin(-xomi + x2li - G54)
                )
                xldot = xni + xfact
                xnddt = (
                    d2201 * math.cos(x2omi + xli - G22)
                    + d2211 * math.cos(xli - G22)
                    + d3210 * math.cos(xomi + xli - G32)
                    + d3222 * math.cos(-xomi + xli - G32)
                    + d5220 * math.cos(xomi + xli - G52)
                    + d5232 * math.cos(-xomi + xli - G52)
                    + 2.0
                    * (
                        d4410 * math.cos(x2omi + x2li - G44)
                        + d4422 * math.cos(x2li - G44)
                        + d5421 * math.cos(xomi + x2li - G54)
                        + d5433 * math.cos(-xomi + x2li - G54)
                    )
                )
                xnddt = xnddt * xldot
            if math.fabs(t - atime) >= STEPP:
                xli = xli + xldot * delt + xndt * STEP2
                xni = xni + xndt * delt + xnddt * STEP2
                atime = atime + delt
            else:
                ft = t - atime
                break

        nm = xni + xndt * ft + xnddt * ft * ft * 0.5
        xl = xli + xldot * ft + xndt * ft * ft * 0.5
        mm = xl - 2.0 * nodem + 2.0 * theta if irez != 1 else xl - nodem - argpm + theta
        dndt = nm - no
        nm = no + dndt

    return em, argpm, inclm, mm, nodem, nm, atime, xli, xni


@njit
def dpper(
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
    ep,
    inclp,
    nodep,
    argpp,
    mp,
):
    """Lunar-solar long-period periodics added to the mean elements at ``t`` (min).

    Improved mode ('i'): Lyddane modification below 0.2 rad of perturbed inclination,
    no wrapping of the node into [0, 2 pi). Returns (ep, inclp, nodep, argpp, mp).
    """
    # solar
    zm = zmos + ZNS * t
    zf = zm + 2.0 * ZES * math.sin(zm)
    sinzf = math.sin(zf)
    f2 = 0.5 * sinzf * sinzf - 0.25
    f3 = -0.5 * sinzf * math.cos(zf)
    ses = se2 * f2 + se3 * f3
    sis = si2 * f2 + si3 * f3
    sls = sl2 * f2 + sl3 * f3 + sl4 * sinzf
    sghs = sgh2 * f2 + sgh3 * f3 + sgh4 * sinzf
    shs = sh2 * f2 + sh3 * f3
    # lunar
    zm = zmol + ZNL * t
    zf = zm + 2.0 * ZEL * math.sin(zm)
    sinzf = math.sin(zf)
    f2 = 0.5 * sinzf * sinzf - 0.25
    f3 = -0.5 * sinzf * math.cos(zf)
    sel = ee2 * f2 + e3 * f3
    sil = xi2 * f2 + xi3 * f3
    sll = xl2 * f2 + xl3 * f3 + xl4 * sinzf
    sghl = xgh2 * f2 + xgh3 * f3 + xgh4 * sinzf
    shll = xh2 * f2 + xh3 * f3

    pe = ses + sel
    pinc = sis + sil
    pl = sls + sll
    pgh = sghs + sghl
    ph = shs + shll

    inclp = inclp + pinc
    ep = ep + pe
    sinip = math.sin(inclp)
    cosip = math.cos(inclp)

    if inclp >= 0.2:
        ph = ph / sinip
        pgh = pgh - cosip * ph
        argpp = argpp + pgh
        nodep = nodep + ph
        mp = mp + pl
    else:
        # Lyddane modification for low inclination
        sinop = math.sin(nodep)
        cosop = math.cos(nodep)
        alfdp = sinip * sinop
        betdp = sinip * cosop
        dalf = ph * cosop + pinc * cosip * sinop
        dbet = -ph * sinop + pinc * cosip * cosop
        alfdp = alfdp + dalf
        betdp = betdp + dbet
        nodep = fmod2pi(nodep)
        xls = mp + argpp + pl + pgh + (cosip - pinc * sinip) * nodep
        xnoh = nodep
        nodep = math.atan2(alfdp, betdp)
        if math.fabs(xnoh - nodep) > PI:
            nodep = nodep + TWOPI if nodep < xnoh else nodep - TWOPI
        mp = mp + pl
        argpp = xls - mp - cosip * nodep

    return ep, inclp, nodep, argpp, mp
