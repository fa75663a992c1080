"""Walker constellations as SGP4 mean element sets.

:func:`walker` builds the idealized shells that regulators see in filings (``T/P/F`` Walker
patterns at one altitude and inclination) as an :class:`~orbitshare.elements.elementset.ElementSet` that
propagates with SGP4 like any published TLE/OMM.

Mean altitude
-------------
A filing's "altitude" is not an SGP4 element. This module defines it, and every claim about
accuracy in this project refers to this definition:

    **mean altitude** = the time mean of ``|r_TEME(t)| - 6378.137 km`` over the whole
    revolutions that fit in one day after epoch (one revolution when the period exceeds a
    day), where ``r_TEME`` is the position SGP4/SDP4 (WGS72 constants, as in the reference
    implementation) computes from the produced mean elements and 6378.137 km is the WGS84
    equatorial radius (:data:`orbitshare.constants.RE_KM`, the radius used for altitudes).

Why whole revolutions: SGP4 adds a J3 long-period term to the eccentricity vector
(``aynl = -0.5 (J3/J2) sin i / p``) which makes a "circular" orbit's radius swing by
about ``±7.5 km · sin i`` once per revolution. The mean over exactly 24 h therefore depends
on the orbital phase at epoch whenever a day is not a whole number of revolutions; the
excess is bounded by ``7.5 km · sin i · |sin(pi f)| / (pi N)`` (``N`` revolutions per day,
``f`` its fractional part): below 0.16 km in LEO, up to about 1.5 km for 16-hour orbits
(about 25,000 km). Averaging over whole revolutions removes that phase dependence, so all
satellites of one shell get the same mean motion and keep their Walker spacing.

How the mean motion is found (analytic, no iteration over SGP4 itself)
------------------------------------------------------------------------
In SGP4 (bstar = 0) the radius is ``r = rl (1 - 1.5 J2/2 sqrt(1-e^2) (3cos^2 i - 1) / p^2)
+ J2/4 sin^2 i cos 2u / p`` (Earth radii) with ``rl = a (1 - e cos E)`` and ``p = a (1-e^2)``,
``a = (xke / n_Brouwer)^(2/3)``. Averaged over a revolution (``<cos 2u> = 0``,
``<1 - e cos E> = 1 + e^2/2``)::

    R_mean = a (1 + e^2/2) - 0.75 J2 (3 cos^2 i - 1) (1 + e^2/2) / (a sqrt(1-e^2) (1-e^2)^2)

which is a quadratic in ``a`` for the requested ``R_mean = (h + 6378.137) / 6378.135``.
Then ``n_Brouwer = xke a^-1.5`` and the Kozai mean motion written to the element set is the
exact inverse of SGP4's un-Kozai step (``initl``): ``n_Kozai = n_Brouwer (1 + del(n_Kozai))``,
solved by fixed-point iteration on SGP4's closed-form ``del`` (converges to machine precision
in a few steps because ``del`` is about 1e-3). The small J3 eccentricity term adds
``a·aynl^2/2`` (under 0.01 km) and is included. Deep-space (SDP4) lunar-solar terms and the
24-hour resonance change the mean radius by well under 0.1 km over a day.

Tests (``tests/test_walker.py``) check the result against the ``sgp4`` package, the
independent reference implementation, for 300–36,000 km and 0–150 degrees.

With ``bstar != 0`` the drag terms lower the orbit after epoch; the altitude is matched for
the drag-free orbit (the default ``bstar = 0``).
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from typing import Any

import numpy as np

from orbitshare.constants import (
    MIN_PER_DAY,
    RE_KM,
    TWOPI,
    WGS72_J2,
    WGS72_J3,
    WGS72_RE_KM,
    WGS72_XKE_PER_MIN,
)
from orbitshare.elements.elementset import ElementSet
from orbitshare.errors import WalkerParameterError

__all__ = [
    "SHELL_FIELDS",
    "WalkerParameterError",
    "mean_motion_for_altitude",
    "parse_epoch",
    "shell_problems",
    "walker",
]

MAX_ALTITUDE_KM = 50_000.0
"""Upper bound for ``altitude_km`` (well above GEO, below the Moon's influence)."""


# ----------------------------------------------------------------------------------------
# epoch
# ----------------------------------------------------------------------------------------


def parse_epoch(epoch: datetime | np.datetime64 | str, name: str = "epoch") -> np.datetime64:
    """Return ``epoch`` as ``numpy.datetime64[ns]`` in UTC.

    Accepts a timezone-aware :class:`datetime.datetime`, a ``numpy.datetime64`` (numpy has no
    time zones; its values are taken as UTC, the convention of the rest of orbitshare) or an
    ISO-8601 string with an explicit offset (``Z`` or ``+hh:mm``). Naive datetimes and strings
    without an offset raise :class:`WalkerParameterError`, because a silent local-time
    interpretation would shift every satellite.
    """
    if isinstance(epoch, np.datetime64):
        if np.isnat(epoch):
            raise WalkerParameterError(f"{name}: NaT is not an epoch")
        return epoch.astype("datetime64[ns]")
    if isinstance(epoch, str):
        text = epoch.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise WalkerParameterError(f"{name}: {epoch!r} is not an ISO-8601 date-time ({exc})") from None
        if dt.tzinfo is None:
            raise WalkerParameterError(f"{name}: {epoch!r} has no time zone; write e.g. '2026-01-01T00:00:00Z'")
        epoch = dt
    if isinstance(epoch, datetime):
        if epoch.tzinfo is None or epoch.tzinfo.utcoffset(epoch) is None:
            raise WalkerParameterError(
                f"{name}: naive datetime {epoch!r}; pass a timezone-aware datetime (e.g. tzinfo=datetime.timezone.utc)"
            )
        utc = epoch.astimezone(UTC).replace(tzinfo=None)
        return np.datetime64(utc.isoformat(), "ns")
    raise WalkerParameterError(f"{name}: expected datetime, numpy.datetime64 or ISO string, got {type(epoch).__name__}")


# ----------------------------------------------------------------------------------------
# mean motion
# ----------------------------------------------------------------------------------------


def _unkozai_del(n_kozai: float, cosi: float, ecc: float) -> float:
    """SGP4 ``initl``: the ``del`` with ``n_Brouwer = n_Kozai / (1 + del)`` (rad/min in)."""
    x2o3 = 2.0 / 3.0
    omeosq = 1.0 - ecc * ecc
    rteosq = math.sqrt(omeosq)
    ak = (WGS72_XKE_PER_MIN / n_kozai) ** x2o3
    d1 = 0.75 * WGS72_J2 * (3.0 * cosi * cosi - 1.0) / (rteosq * omeosq)
    del_ = d1 / (ak * ak)
    adel = ak * (1.0 - del_ * del_ - del_ * (1.0 / 3.0 + 134.0 * del_ * del_ / 81.0))
    return d1 / (adel * adel)


def mean_motion_for_altitude(altitude_km: float, inclination_deg: float, eccentricity: float = 0.0) -> float:
    """Kozai mean motion (rev/day, as written in a TLE) whose SGP4 mean altitude is ``altitude_km``.

    See the module docstring for the definition of mean altitude and the derivation.
    """
    h = float(altitude_km)
    e = float(eccentricity)
    cosi = math.cos(math.radians(float(inclination_deg)))
    sini = math.sin(math.radians(float(inclination_deg)))
    con41 = 3.0 * cosi * cosi - 1.0
    omeosq = 1.0 - e * e
    r_mean = (h + RE_KM) / WGS72_RE_KM  # Earth radii (WGS72)
    kepler = 1.0 + 0.5 * e * e  # <1 - e cos E>
    # R = a*kepler - k/a, with the short-period J2 factor (betal = sqrt(1-e^2), p = a(1-e^2))
    k = 0.75 * WGS72_J2 * con41 * kepler / (math.sqrt(omeosq) * omeosq * omeosq)
    # J3 long-period eccentricity (SGP4 aycof / p): adds a*aynl^2/2 to the mean radius
    aycof = -0.5 * (WGS72_J3 / WGS72_J2) * sini
    a = 0.5 * (r_mean / kepler + math.sqrt((r_mean / kepler) ** 2 + 4.0 * k / kepler))
    for _ in range(3):  # tiny J3 correction, fixed point
        aynl = aycof / (a * omeosq)
        target = r_mean - 0.5 * a * aynl * aynl
        a = 0.5 * (target / kepler + math.sqrt((target / kepler) ** 2 + 4.0 * k / kepler))
    n_brouwer = WGS72_XKE_PER_MIN * a**-1.5  # rad/min
    n_kozai = n_brouwer
    for _ in range(50):
        new = n_brouwer * (1.0 + _unkozai_del(n_kozai, cosi, e))
        if abs(new - n_kozai) <= 1e-15 * new:
            n_kozai = new
            break
        n_kozai = new
    return n_kozai * MIN_PER_DAY / TWOPI


# ----------------------------------------------------------------------------------------
# the generator
# ----------------------------------------------------------------------------------------


def _as_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise WalkerParameterError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise WalkerParameterError(f"{name} must be >= {minimum}, got {value}")
    return value


def _as_float(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise WalkerParameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise WalkerParameterError(f"{name} must be finite, got {value!r}")
    return out


#: The parameters of one Walker shell checked by :func:`shell_problems`, in the order they are checked.
SHELL_FIELDS = ("altitude_km", "inclination_deg", "planes", "sats_per_plane", "phasing", "pattern")

#: What each shell parameter must be (``phasing`` also < ``planes``).
SHELL_EXPECTED = {
    "altitude_km": f"a number of km in (0, {MAX_ALTITUDE_KM:.0f})",
    "inclination_deg": "a number of degrees in [0, 180]",
    "planes": "an integer >= 1",
    "sats_per_plane": "an integer >= 1",
    "phasing": "an integer >= 0",
    "pattern": "'delta' or 'star'",
}


def _real(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return None


def shell_problems(
    altitude_km: Any,
    inclination_deg: Any,
    planes: Any,
    sats_per_plane: Any,
    phasing: Any = 0,
    pattern: Any = "delta",
) -> tuple[dict[str, Any], list[WalkerParameterError]]:
    """Check one Walker shell's parameters: the one home of these rules (used by :func:`walker` and
    by the experiment reader).

    Returns ``(values, problems)``: the values as ``float`` (km, degrees), ``int`` and ``str`` for
    the fields that are valid, and one :class:`~orbitshare.errors.WalkerParameterError` per invalid
    field, in the order of :data:`SHELL_FIELDS`, each with ``field``, ``expected`` and ``value``.

    >>> values, problems = shell_problems(550, 53, 0, 2.0, 0)
    >>> values["altitude_km"], values["sats_per_plane"], [str(p) for p in problems]
    (550.0, 2, ['planes: expected an integer >= 1, got 0'])
    """
    values: dict[str, Any] = {}
    problems: list[WalkerParameterError] = []

    def bad(field: str, value: Any, expected: str | None = None, message: str | None = None) -> None:
        expected = expected or SHELL_EXPECTED[field]
        problems.append(
            WalkerParameterError(
                message or f"{field}: expected {expected}, got {value!r}", field=field, expected=expected, value=value
            )
        )

    h = _real(altitude_km)
    if h is None or not 0.0 < h < MAX_ALTITUDE_KM:
        bad("altitude_km", altitude_km)
    else:
        values["altitude_km"] = h
    inc = _real(inclination_deg)
    if inc is None or not 0.0 <= inc <= 180.0:
        bad("inclination_deg", inclination_deg)
    elif 0.0 < math.radians(inc) < sys.float_info.min:
        # SGP4 divides by sin(i): a subnormal sine gives NaN positions (the sgp4 package as well).
        bad(
            "inclination_deg",
            inclination_deg,
            "a number of degrees whose value in radians is 0 or a normal double",
            f"inclination_deg {inc} is too small for SGP4 to propagate (its value in radians is "
            f"subnormal); use 0 for an equatorial shell",
        )
    else:
        values["inclination_deg"] = inc
    for field, given in (("planes", planes), ("sats_per_plane", sats_per_plane)):
        n = _integer(given)
        if n is None or n < 1:
            bad(field, given)
        else:
            values[field] = n
    f = _integer(phasing)
    n_planes = values.get("planes")
    if n_planes is None:
        if f is None or f < 0:
            bad("phasing", phasing)
        else:
            values["phasing"] = f
    elif f is None or not 0 <= f < n_planes:
        bad("phasing", phasing, f"an integer in [0, planes) = [0, {n_planes - 1}]")
    else:
        values["phasing"] = f
    if pattern not in ("delta", "star"):
        bad("pattern", pattern)
    else:
        values["pattern"] = pattern
    return values, problems


def walker(
    altitude_km: float,
    inclination_deg: float,
    planes: int,
    sats_per_plane: int,
    phasing: int,
    epoch: datetime | np.datetime64 | str,
    *,
    pattern: str = "delta",
    raan0_deg: float = 0.0,
    eccentricity: float = 0.0,
    arg_perigee_deg: float = 0.0,
    bstar: float = 0.0,
    norad_start: int = 900000,
    name_prefix: str = "WALKER",
    intldesg: str = "",
) -> ElementSet:
    """A Walker constellation ``T/P/F`` as SGP4 mean elements (an ``ElementSet``).

    Parameters
    ----------
    altitude_km : float
        Mean altitude in km (0 < h < 50,000), as defined in the module docstring: the
        time-mean of ``|r_TEME| - 6378.137 km`` over the whole revolutions in one day of SGP4
        (WGS72) propagation. Met to better than 0.1 km for circular and near-circular
        orbits (e <= 0.01); the first-order theory leaves about 0.5 km at e = 0.05.
    inclination_deg : float
        Inclination in degrees, 0–180.
    planes : int
        Number of orbital planes ``P`` (>= 1).
    sats_per_plane : int
        Satellites per plane ``S`` (>= 1); ``T = P * S`` satellites in all.
    phasing : int
        Walker phasing factor ``F``, ``0 <= F < P``.
    epoch : datetime | numpy.datetime64 | str
        Epoch of all elements, UTC; timezone-aware (a naive datetime or an ISO string
        without offset is an error; ``numpy.datetime64`` is taken as UTC).
    pattern : {"delta", "star"}
        ``"delta"``: ascending nodes spread over 360 degrees; ``"star"``: over 180 degrees
        (polar "Walker star" / Street-of-coverage layout).
    raan0_deg : float
        Right ascension of the ascending node of plane 0 (degrees, TEME).
    eccentricity, arg_perigee_deg, bstar : float
        Copied to every satellite (eccentricity in [0, 0.5), perigee must stay above the
        surface). ``bstar`` is the SGP4 drag term (1/earth radii); the altitude is matched
        for the drag-free orbit.
    norad_start : int
        Catalog number of the first satellite; satellite ``k`` gets ``norad_start + k``
        (int64; numbers above 99,999 need Alpha-5 in TLEs, above 339,999 OMM only).
    name_prefix : str
        Satellite names are ``f"{name_prefix}-P{p:0Wd}S{j:0Wd}"`` with 1-based plane ``p``
        and slot ``j`` and ``W = max(2, digits)`` so that names sort in index order.
    intldesg : str
        International designator written for every satellite (default blank).

    Conventions
    -----------
    Satellite ``k = p * S + j`` (plane ``p = 0..P-1``, slot ``j = 0..S-1``, plane-major order)
    has

    * RAAN ``raan0 + p * 360/P`` (delta) or ``raan0 + p * 180/P`` (star), modulo 360;
    * mean anomaly ``M = 360 j / S + 360 F p / T`` degrees, modulo 360 (Walker 1984:
      the satellite in slot ``j`` of plane ``p`` leads the one in the same slot of plane
      ``p-1`` by ``F`` times the pattern unit ``360/T``). With the default
      ``arg_perigee_deg = 0`` and a circular orbit, ``M`` is the argument of latitude.

    Returns
    -------
    orbitshare.elements.elementset.ElementSet
        ``T`` records with the same epoch and Kozai mean motion (rev/day), classification
        ``"U"``, element-set number 999, revolution number 0, ephemeris type 0.

    Raises
    ------
    WalkerParameterError
        (an :class:`~orbitshare.errors.OrbitshareError` and ``ValueError``) naming the
        parameter that is out of range.

    Examples
    --------
    A 2 x 2 shell at 550 km and 53 degrees:

    >>> shell = walker(550.0, 53.0, 2, 2, 1, "2026-01-01T00:00:00Z")
    >>> len(shell), shell.inclination.tolist()
    (4, [53.0, 53.0, 53.0, 53.0])
    >>> shell.raan.tolist(), shell.mean_anomaly.tolist()
    ([0.0, 0.0, 180.0, 180.0], [0.0, 180.0, 90.0, 270.0])
    >>> shell.name.tolist()
    ['WALKER-P01S01', 'WALKER-P01S02', 'WALKER-P02S01', 'WALKER-P02S02']
    """
    shell, problems = shell_problems(altitude_km, inclination_deg, planes, sats_per_plane, phasing, pattern)
    if problems:
        raise problems[0]
    h, inc = shell["altitude_km"], shell["inclination_deg"]
    n_planes, n_slots, f = shell["planes"], shell["sats_per_plane"], shell["phasing"]
    raan0 = _as_float(raan0_deg, "raan0_deg")
    ecc = _as_float(eccentricity, "eccentricity")
    if not 0.0 <= ecc < 0.5:
        raise WalkerParameterError(f"eccentricity must be in [0, 0.5), got {ecc}")
    argp = _as_float(arg_perigee_deg, "arg_perigee_deg") % 360.0
    b = _as_float(bstar, "bstar")
    first = _as_int(norad_start, "norad_start", 1)
    if not isinstance(name_prefix, str):
        raise WalkerParameterError(f"name_prefix must be a string, got {name_prefix!r}")
    if not isinstance(intldesg, str):
        raise WalkerParameterError(f"intldesg must be a string, got {intldesg!r}")
    t_epoch = parse_epoch(epoch)

    n_rev_day = mean_motion_for_altitude(h, inc, ecc)
    a_km = (WGS72_XKE_PER_MIN / (n_rev_day * TWOPI / MIN_PER_DAY)) ** (2.0 / 3.0) * WGS72_RE_KM
    if a_km * (1.0 - ecc) <= RE_KM:
        raise WalkerParameterError(f"eccentricity {ecc} puts perigee below the surface at altitude_km={h}")

    total = n_planes * n_slots
    p = np.repeat(np.arange(n_planes, dtype=np.int64), n_slots)
    j = np.tile(np.arange(n_slots, dtype=np.int64), n_planes)
    spread = 360.0 if pattern == "delta" else 180.0
    raan = np.mod(raan0 + p * (spread / n_planes), 360.0)
    # exact rational phase in units of 360/T: j*P + F*p  (avoids round-off before the mod)
    mean_anomaly = np.mod((j * n_planes + f * p) % total * (360.0 / total), 360.0)

    wp = max(2, len(str(n_planes)))
    ws = max(2, len(str(n_slots)))
    names = np.array(
        [f"{name_prefix}-P{pp + 1:0{wp}d}S{jj + 1:0{ws}d}" for pp, jj in zip(p.tolist(), j.tolist(), strict=True)],
        dtype=object,
    )

    return ElementSet.from_arrays(
        norad=first + np.arange(total, dtype=np.int64),
        name=names,
        intldesg=np.array([intldesg] * total, dtype=object),
        classification=np.full(total, "U", dtype="<U1"),
        epoch=np.full(total, t_epoch, dtype="datetime64[ns]"),
        mean_motion=np.full(total, n_rev_day, dtype=np.float64),
        eccentricity=np.full(total, ecc, dtype=np.float64),
        inclination=np.full(total, inc, dtype=np.float64),
        raan=raan.astype(np.float64),
        arg_perigee=np.full(total, argp, dtype=np.float64),
        mean_anomaly=mean_anomaly.astype(np.float64),
        bstar=np.full(total, b, dtype=np.float64),
        mean_motion_dot=np.zeros(total, dtype=np.float64),
        mean_motion_ddot=np.zeros(total, dtype=np.float64),
        element_set_no=np.full(total, 999, dtype=np.int64),
        rev_at_epoch=np.zeros(total, dtype=np.int64),
        ephemeris_type=np.zeros(total, dtype=np.int64),
    )
