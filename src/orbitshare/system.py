"""Satellite systems and their downlink bands: the one home of a system's rules and messages.

A :class:`System` is what the engine streams: a name, an element set, what counts as coverage
(elevation mask, degrees; minimum satellites in view), and what it offers (downlink :class:`Band`
s in MHz, capacity per satellite and per beam in Mbit/s, beams a cell can take, the area of a service
cell in km², gateway sites and their elevation mask in degrees, inter-satellite links, landing rights as
ISO 3166-1 alpha-3 lists). Every field is checked when the object is made; an invalid one raises
:class:`~orbitshare.errors.SystemDefinitionError` whose ``field`` is the field's name as written in
an experiment file (``elevation_mask_deg``, ``bands[1].low_mhz``, ``serve_countries[2]``, ...).
:meth:`System.check_fields` returns every problem of a set of field values at once; the experiment
reader reports each under its own key path (``systems[0].bands[1].low_mhz: expected ...``).

>>> Band("Ku", 10700, 12700).width_mhz
2000.0
>>> System.check_fields(elevation_mask_deg=95, min_visible=2)[0].field
'elevation_mask_deg'
>>> print(System.check_fields(bands=[("Ku", 10700, 12700), ("Ka", 12000, 13000)])[0])
System.bands[1]: expected a band not overlapping bands[0] ('Ku', 10700-12700 MHz), got 'Ka', 12000-13000 MHz
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orbitshare.elements.elementset import ElementSet
from orbitshare.errors import ParameterError, ParameterTypeError, SystemDefinitionError

__all__ = [
    "Band",
    "System",
    "as_systems",
    "MAX_MIN_VISIBLE",
    "MAX_NAME_LENGTH",
    "LANDING_SCENARIOS",
    "field_detail",
    "label_problem",
]

MAX_MIN_VISIBLE = 32767
"""Largest ``min_visible``: per-step visible-satellite counts are int16 (saturating at 32767)."""

MAX_NAME_LENGTH = 100
"""Most characters of a system's name, operator or band name (labels in tables, files and reports)."""

LANDING_SCENARIOS = ("all", "authorised", "authorised+pending")
"""The named landing-rights scenarios a System may record (besides the path of a .csv table)."""

_BAND_FIELDS = ("name", "low_mhz", "high_mhz")
_CAPACITY_RULE = "(capacity = efficiency x bandwidth x beams)"
_BEAM_CAPACITY_RULE = "(capacity = beams x beam_capacity_mbps)"

# A problem found by the checks below: (field as written in an experiment file, "expected ..., got ...").
_Problem = tuple[str, str]


def _is_real(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))


def _is_integer(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer))


def _num_text(x: float) -> str:
    """A number in a message: 10700 rather than 10700.0."""
    return f"{x:g}" if x == int(x) and abs(x) < 1e15 else repr(x)


def _as_float(v: Any) -> float | None:
    """``float(v)`` of a real number, None when a float cannot hold it (a Python int beyond ~1.8e308)."""
    try:
        return float(v)
    except OverflowError:
        return None


def _positive(v: Any) -> bool:
    """A finite real number > 0."""
    x = _as_float(v) if _is_real(v) else None
    return x is not None and math.isfinite(x) and x > 0


def _shown(v: Any) -> str:
    """``repr(v)``, shortened past 60 characters (a 400-digit integer, a 10,000-character name)."""
    text = repr(v)
    if len(text) <= 60:
        return text
    what = (
        f"{len(v)} characters"
        if isinstance(v, str)
        else f"{len(text.lstrip('-'))} digits"
        if _is_integer(v)
        else "long"
    )
    return f"{text[:40]}... ({what})"


def label_problem(value: Any, *, empty_ok: bool = False) -> str | None:
    """None when ``value`` is a good label (a system's name or operator, a band's name): a string of at most
    :data:`MAX_NAME_LENGTH` printable characters (no control characters: no NUL, tab, CR or line
    break, which would break the tables, file names and reports it lands in), not only blanks unless
    ``empty_ok``; else the ``expected ..., got ...`` text.

    >>> print(label_problem("Star" + chr(13) + "link"))
    expected printable characters (no control characters such as NUL, tab, CR or line breaks), got 'Star\\rlink'
    """
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        return f"expected {'a string' if empty_ok else 'a non-empty string'}, got {_shown(value)}"
    if not value.isprintable():
        return (
            "expected printable characters (no control characters such as NUL, tab, CR or line breaks), "
            f"got {_shown(value)}"
        )
    if len(value) > MAX_NAME_LENGTH:
        return f"expected at most {MAX_NAME_LENGTH} characters, got {_shown(value)}"
    return None


def _error(owner: str, field: str, detail: str, context: str = "", system: str = "") -> SystemDefinitionError:
    return SystemDefinitionError(f"{owner}.{field}: {detail}{context}", field=field, system=system)


def field_detail(err: SystemDefinitionError) -> str:
    """The message of ``err`` without its ``System.<field>: `` / ``Band.<field>: `` prefix and without the
    ``(system ...)`` / ``(band ...)`` context: what a configuration reader prints after its own key path.

    >>> field_detail(System.check_fields(min_visible=0)[0])
    'expected an integer in [1, 32767], got 0'
    """
    text = str(err)
    for owner in ("System", "Band"):
        prefix = f"{owner}.{err.field}: "
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if err.system and text.endswith(f" (system {err.system!r})"):
        text = text[: -len(f" (system {err.system!r})")]
    return text


# ---------------------------------------------------------------------------------------- bands
def _band_problems(name: Any, low: Any, high: Any) -> list[_Problem]:
    """The problems of one band's fields (all of them); fields named as in an experiment file."""
    out: list[_Problem] = []
    problem = label_problem(name)
    if problem is not None:
        out.append(("name", problem))
    good = True
    for field, v in (("low_mhz", low), ("high_mhz", high)):
        if not _positive(v):
            out.append((field, f"expected a number of MHz > 0, got {_shown(v)}"))
            good = False
    if good and not float(low) < float(high):
        out.append(("low_mhz", f"expected a number < high_mhz ({_num_text(float(high))}), got {_shown(low)}"))
    return out


def _band_fields(obj: Any) -> tuple[Any, Any, Any] | None:
    """(name, low_mhz, high_mhz) of a Band, a 3-sequence or a mapping with those keys; None otherwise."""
    if isinstance(obj, Band):
        return obj.name, obj.low_mhz, obj.high_mhz
    if isinstance(obj, dict):
        if set(obj) != set(_BAND_FIELDS):
            return None
        return obj["name"], obj["low_mhz"], obj["high_mhz"]
    if isinstance(obj, (tuple, list)) and len(obj) == 3:
        return obj[0], obj[1], obj[2]
    return None


@dataclass(frozen=True)
class Band:
    """A downlink band: ``name`` (e.g. "Ku"; printable, as a system's name), ``low_mhz`` < ``high_mhz``, both
    > 0, MHz.

    >>> Band("Ku", 10700, 12700)
    Band(name='Ku', low_mhz=10700.0, high_mhz=12700.0)
    >>> Band("Ku", 10700, 12700).width_mhz
    2000.0
    """

    name: str
    low_mhz: float
    high_mhz: float

    def __post_init__(self) -> None:
        problems = _band_problems(self.name, self.low_mhz, self.high_mhz)
        if problems:
            field, detail = problems[0]
            context = f" (band {self.name!r})" if field != "name" else ""
            raise _error("Band", field, detail, context)
        object.__setattr__(self, "low_mhz", float(self.low_mhz))
        object.__setattr__(self, "high_mhz", float(self.high_mhz))

    @property
    def width_mhz(self) -> float:
        """Bandwidth, MHz."""
        return self.high_mhz - self.low_mhz

    @classmethod
    def coerce(cls, obj: Any) -> Band:
        """A Band from a Band, a ``(name, low_mhz, high_mhz)`` sequence or a mapping with those keys."""
        if isinstance(obj, dict):
            unknown = set(obj) - set(_BAND_FIELDS)
            if unknown:
                raise ParameterError(f"unknown key(s) {sorted(unknown)}; a band has name, low_mhz, high_mhz")
        values = _band_fields(obj)
        if values is None:
            raise ParameterTypeError(f"expected a Band or (name, low_mhz, high_mhz), got {obj!r}")
        return obj if isinstance(obj, Band) else cls(*values)


def _bands_problems(bands: Any) -> tuple[tuple[Band, ...], list[_Problem]]:
    """The bands of a system (those without problems) and the problems of all of them, band by band: its
    own fields, then its name repeated or its range overlapping an earlier band."""
    if isinstance(bands, (str, Band)):
        return (), [("bands", f"expected a sequence of Band, got {bands!r} (write (band,))")]
    try:
        items = tuple(bands)
    except TypeError:
        return (), [("bands", f"expected a sequence of Band, got {type(bands).__name__}")]
    problems: list[_Problem] = []
    good: list[tuple[int, Band]] = []
    for i, b in enumerate(items):
        values = _band_fields(b)
        if values is None:
            problems.append((f"bands[{i}]", f"expected a Band or (name, low_mhz, high_mhz), got {b!r}"))
            continue
        mine = _band_problems(*values)
        problems.extend((f"bands[{i}].{field}", detail) for field, detail in mine)
        if mine:
            continue
        band = b if isinstance(b, Band) else Band(*values)
        for k, other in good:
            if other.name == band.name:
                problems.append(
                    (
                        f"bands[{i}].name",
                        f"expected a band name unique within the system, got {band.name!r} (also bands[{k}])",
                    )
                )
            elif band.low_mhz < other.high_mhz and other.low_mhz < band.high_mhz:
                problems.append(
                    (
                        f"bands[{i}]",
                        f"expected a band not overlapping bands[{k}] ({other.name!r}, {_num_text(other.low_mhz)}-"
                        f"{_num_text(other.high_mhz)} MHz), got {band.name!r}, {_num_text(band.low_mhz)}-"
                        f"{_num_text(band.high_mhz)} MHz",
                    )
                )
        good.append((i, band))
    return tuple(b for _, b in good), problems


# ---------------------------------------------------------------------------------------- systems
def _iso3_problems(value: Any, field: str) -> tuple[tuple[str, ...], list[_Problem]]:
    """The codes of a sequence of ISO 3166-1 alpha-3 codes (upper-cased, first occurrence kept) and the
    problems of its items (one per malformed item)."""
    expected = "a sequence of ISO 3166-1 alpha-3 codes"
    if isinstance(value, str):
        return (), [(field, f"expected {expected}, got the string {value!r} (write ({value!r},))")]
    try:
        items = tuple(value)
    except TypeError:
        return (), [(field, f"expected {expected}, got {type(value).__name__}")]
    out: list[str] = []
    problems: list[_Problem] = []
    for j, c in enumerate(items):
        if not (isinstance(c, str) and len(c) == 3 and c.isascii() and c.isalpha()):
            problems.append((f"{field}[{j}]", f"expected an ISO 3166-1 alpha-3 code (three letters), got {c!r}"))
        elif c.upper() not in out:
            out.append(c.upper())
    return tuple(out), problems


def _capacity_problems(
    values: dict[str, Any], bands: tuple[Band, ...], bad_bands: bool, out: dict[str, Any], problems: list[_Problem]
) -> None:
    """The capacity fields: at most one way of giving a satellite's capacity S (Mbit/s):
    ``capacity_per_sat_mbps`` (``beams`` optional: each beam S / beams), ``spectral_efficiency_bps_per_hz``
    with ``beams`` and bands (S = efficiency x bandwidth x beams), or ``beam_capacity_mbps`` with ``beams``
    (S = beams x beam capacity). Good values go to ``out``, problems to ``problems``."""
    good = True
    for field, expected in (
        ("capacity_per_sat_mbps", "a number of Mbit/s > 0"),
        ("spectral_efficiency_bps_per_hz", "a number of bit/s/Hz > 0"),
        ("beam_capacity_mbps", "a number of Mbit/s > 0"),
    ):
        v = values[field]
        if v is None:
            continue
        if not _positive(v):
            problems.append((field, f"expected {expected}, got {_shown(v)}"))
            good = False
        else:
            out[field] = float(v)
    beams = values["beams"]
    if beams is not None:
        if not _is_integer(beams) or int(beams) < 1:
            problems.append(("beams", f"expected an integer >= 1, got {_shown(beams)}"))
            good = False
        else:
            out["beams"] = int(beams)
    if not good:
        return
    cap, eff = values["capacity_per_sat_mbps"], values["spectral_efficiency_bps_per_hz"]
    beam = values["beam_capacity_mbps"]
    if cap is not None and eff is not None:
        problems.append(
            (
                "capacity_per_sat_mbps",
                "expected either capacity_per_sat_mbps or spectral_efficiency_bps_per_hz with beams, got both",
            )
        )
    elif beam is not None and (cap is not None or eff is not None):
        other = "capacity_per_sat_mbps" if cap is not None else "spectral_efficiency_bps_per_hz"
        problems.append(("beam_capacity_mbps", f"expected either {other} or beam_capacity_mbps with beams, got both"))
    elif cap is not None:
        return
    elif beam is not None and beams is None:
        problems.append(
            ("beams", f"expected an integer >= 1 with beam_capacity_mbps {_BEAM_CAPACITY_RULE}, got nothing")
        )
    elif beam is not None:
        capacity = _as_float(beams)
        capacity = None if capacity is None else float(beam) * capacity
        if capacity is None or not math.isfinite(capacity):
            problems.append(
                (
                    "beams",
                    f"expected a capacity (beams x beam_capacity_mbps) that is a finite number of Mbit/s, "
                    f"got {_shown(beams)} beams",
                )
            )
    elif eff is not None and beams is None:
        problems.append(
            ("beams", f"expected an integer >= 1 with spectral_efficiency_bps_per_hz {_CAPACITY_RULE}, got nothing")
        )
    elif beams is not None and eff is None:
        problems.append(
            (
                "spectral_efficiency_bps_per_hz",
                f"expected a number of bit/s/Hz > 0 with beams {_CAPACITY_RULE}, got nothing",
            )
        )
    elif eff is not None and not bad_bands and not bands:
        problems.append(
            (
                "bands",
                "expected at least one band with spectral_efficiency_bps_per_hz (for the bandwidth), got none",
            )
        )
    elif eff is not None and beams is not None and not bad_bands:
        # the capacity per satellite must be a number a float holds (not inf, no OverflowError later)
        width = math.fsum(b.width_mhz for b in bands)
        capacity = _as_float(beams)
        capacity = None if capacity is None else float(eff) * width * capacity
        if capacity is None or not math.isfinite(capacity):
            problems.append(
                (
                    "beams",
                    f"expected a capacity (efficiency x bandwidth x beams) that is a finite number of Mbit/s, "
                    f"got {_shown(beams)} beams",
                )
            )


def _site_problem(site: Any) -> tuple[float, float] | None:
    """``(lat_deg, lon_deg)`` of a gateway site given as a pair of real numbers with the latitude in
    [-90, 90] and the longitude in [-180, 180]; None when it is not one."""
    if isinstance(site, (str, bytes)):
        return None
    try:
        lat, lon = site
    except (TypeError, ValueError):
        return None
    if not (_is_real(lat) and _is_real(lon)):
        return None
    la, lo = _as_float(lat), _as_float(lon)
    if la is None or lo is None or not (-90.0 <= la <= 90.0 and -180.0 <= lo <= 180.0):
        return None
    return la, lo


def _delivery_problems(values: dict[str, Any], out: dict[str, Any], problems: list[_Problem]) -> None:
    """The fields that limit what a satellite delivers: ``max_beams_per_cell`` (an integer >= 1),
    ``service_cell_km2`` (None, or a number of km² > 0), ``gateway_sites`` (None, or (lat_deg, lon_deg)
    pairs), ``gateway_mask_deg`` (degrees in [0, 90)) and ``isl`` (a bool). Good values go to ``out``,
    problems to ``problems``."""
    k = values["max_beams_per_cell"]
    if not _is_integer(k) or int(k) < 1:
        problems.append(("max_beams_per_cell", f"expected an integer >= 1, got {_shown(k)}"))
    else:
        out["max_beams_per_cell"] = int(k)
    area = values["service_cell_km2"]
    if area is not None:
        if not _positive(area):
            problems.append(("service_cell_km2", f"expected a number of km2 > 0, got {_shown(area)}"))
        else:
            out["service_cell_km2"] = float(area)
    sites = values["gateway_sites"]
    expected = "a sequence of (lat_deg, lon_deg) gateway sites, or None (anywhere)"
    if sites is not None:
        if isinstance(sites, (str, bytes)):
            problems.append(("gateway_sites", f"expected {expected}, got {_shown(sites)}"))
        else:
            try:
                items = tuple(sites)
            except TypeError:
                problems.append(("gateway_sites", f"expected {expected}, got {type(sites).__name__}"))
            else:
                good: list[tuple[float, float]] = []
                for j, site in enumerate(items):
                    pair = _site_problem(site)
                    if pair is None:
                        problems.append(
                            (
                                f"gateway_sites[{j}]",
                                "expected a (lat_deg, lon_deg) pair with the latitude in [-90, 90] and the "
                                f"longitude in [-180, 180], got {_shown(site)}",
                            )
                        )
                    else:
                        good.append(pair)
                if len(good) == len(items):
                    out["gateway_sites"] = tuple(good)
    m = values["gateway_mask_deg"]
    mf = _as_float(m) if _is_real(m) else None
    if mf is None or not (math.isfinite(mf) and 0.0 <= mf < 90.0):
        problems.append(("gateway_mask_deg", f"expected a number of degrees in [0, 90), got {_shown(m)}"))
    else:
        out["gateway_mask_deg"] = mf
    isl = values["isl"]
    if not isinstance(isl, (bool, np.bool_)):
        problems.append(("isl", f"expected true or false, got {_shown(isl)}"))
    else:
        out["isl"] = bool(isl)


def _system_problems(values: dict[str, Any]) -> tuple[dict[str, Any], list[_Problem]]:
    """Normalised field values of a system (those without problems) and every problem, in the order of
    the fields in an experiment file. ``values`` holds every field but ``elements``."""
    out: dict[str, Any] = {}
    problems: list[_Problem] = []
    name = values["name"]
    problem = label_problem(name)
    if problem is not None:
        problems.append(("name", problem))
    operator = values["operator"]
    if operator is None:
        out["operator"] = ""
    elif (problem := label_problem(operator, empty_ok=True)) is not None:
        problems.append(("operator", problem))
    adm = values["administration"]
    if adm is None:
        out["administration"] = ""
    elif not isinstance(adm, str) or (adm and not (len(adm) == 3 and adm.isascii() and adm.isalpha())):
        problems.append(("administration", f"expected an ISO 3166-1 alpha-3 code (three letters) or '', got {adm!r}"))
    else:
        out["administration"] = adm.upper()
    # bands
    bands, band_problems = _bands_problems(values["bands"])
    problems.extend(band_problems)
    out["bands"] = bands
    # capacity: one way or none; then what limits its delivery (beams per cell, gateways, links)
    _capacity_problems(values, bands, bool(band_problems), out, problems)
    _delivery_problems(values, out, problems)
    # coverage
    m = values["elevation_mask_deg"]
    mf = _as_float(m) if _is_real(m) else None
    if mf is None or not (math.isfinite(mf) and -90.0 < mf < 90.0):
        problems.append(("elevation_mask_deg", f"expected a number of degrees in (-90, 90), got {_shown(m)}"))
    else:
        out["elevation_mask_deg"] = mf
    pfd = values["pfd_dbw_m2_40khz"]
    if pfd is not None:
        pf = _as_float(pfd) if _is_real(pfd) else None
        if pf is None or not math.isfinite(pf):
            problems.append(
                ("pfd_dbw_m2_40khz", f"expected a finite number of dB(W/m2) in 40 kHz or None, got {_shown(pfd)}")
            )
        else:
            out["pfd_dbw_m2_40khz"] = pf
    mv = values["min_visible"]
    if not _is_integer(mv) or not 1 <= int(mv) <= MAX_MIN_VISIBLE:
        problems.append(("min_visible", f"expected an integer in [1, {MAX_MIN_VISIBLE}], got {_shown(mv)}"))
    else:
        out["min_visible"] = int(mv)
    # landing rights
    for field in ("serve_countries", "exclude_countries"):
        v = values[field]
        if v is None:
            out[field] = None if field == "serve_countries" else ()
            continue
        codes, iso_problems = _iso3_problems(v, field)
        problems.extend(iso_problems)
        out[field] = codes
    scenario = values["landing_rights"]
    if isinstance(scenario, str) and (scenario in LANDING_SCENARIOS or scenario.lower().endswith(".csv")):
        out["landing_rights"] = scenario
    else:
        problems.append(
            (
                "landing_rights",
                "expected 'all', 'authorised', 'authorised+pending' or a path to a .csv landing-rights table, "
                f"got {scenario!r}",
            )
        )
    return out, problems


@dataclass(frozen=True)
class System:
    """A satellite system: a name, its element set, what counts as coverage, and what it offers.

    name : str                  label on the ``system`` dimension (non-empty, unique in a run, at most
                                100 printable characters: :func:`label_problem`)
    elements : ElementSet       its satellites
    elevation_mask_deg : float  minimum elevation seen from the ground, degrees, in (−90, 90)
    min_visible : int           a step is covered where at least this many satellites are visible (≥ 1)
    operator : str              the operator's name ("" when unknown; printable, as ``name``)
    administration : str        the notifying administration, ISO 3166-1 alpha-3 (upper-cased), or ""
    bands : tuple[Band, ...]    downlink bands (:class:`orbitshare.system.Band`, or ``(name, low_mhz,
                                high_mhz)`` tuples); names unique and bands not overlapping within the system
    capacity_per_sat_mbps : float | None   capacity of each satellite, Mbit/s (> 0)
    spectral_efficiency_bps_per_hz : float | None   with ``beams`` (and ``bands``) instead of
                                capacity_per_sat_mbps: capacity = efficiency × Σ band widths (MHz) × beams
    beams : int | None          beams per satellite (≥ 1): with spectral_efficiency_bps_per_hz or
                                beam_capacity_mbps, or with capacity_per_sat_mbps (each beam capacity / beams)
    serve_countries : tuple[str, ...] | None   landing rights: the only countries (ISO3) it may serve;
                                None = no allow list
    exclude_countries : tuple[str, ...]   countries it may not serve (wins over serve_countries)
    landing_rights : str        the landing-rights scenario serve/exclude come from ("all", "authorised",
                                "authorised+pending" or a .csv table path): provenance only, the engine
                                reads serve_countries and exclude_countries
                                (:func:`orbitshare.landing.servable_countries` resolves a scenario)
    beam_capacity_mbps : float | None   capacity of one beam, Mbit/s (> 0); with ``beams`` a third way of
                                giving the capacity: capacity = beams × beam_capacity_mbps
    max_beams_per_cell : int    beams of a satellite system a cell can take at once (≥ 1): the cell's cap
                                is max_beams_per_cell × :attr:`beam_mbps`
    gateway_sites : tuple[tuple[float, float], ...] | None   (lat_deg, lon_deg) of the system's gateways
                                (latitude in [−90, 90], longitude in [−180, 180]); None = "anywhere" (a
                                satellite always has a gateway)
    gateway_mask_deg : float    a gateway sees a satellite above this elevation, degrees, in [0, 90)
    isl : bool                  inter-satellite links: a satellite delivers without a gateway in view
    service_cell_km2 : float | None   area of one service cell, km² (> 0): the ground footprint of one user
                                beam, the unit ``max_beams_per_cell`` counts (Starlink ≈ 379 km²). A grid
                                cell of land area A km² holds n_c = max(1, A / service_cell_km2) service
                                cells: one satellite gives it at most min(beams, n_c) beams and it takes at
                                most max_beams_per_cell × n_c beams. None = a grid cell is one service cell
                                (n_c = 1)
    pfd_dbw_m2_40khz : float | None   power flux-density at the ground from one satellite in its service
                                area, dB(W/m²) in 40 kHz (finite): what :func:`orbitshare.epfd` sums; None =
                                unknown, the system takes no part in the EPFD

    A system with neither serve_countries nor exclude_countries may serve every cell, ocean included;
    see :func:`orbitshare.engine.service.served_share` for the served share of a cell otherwise. Capacity is
    optional here; :func:`orbitshare.engine.service.service` requires exactly one of the three ways
    (``capacity_per_sat_mbps``, with or without ``beams``; ``spectral_efficiency_bps_per_hz`` with ``beams``;
    ``beam_capacity_mbps`` with ``beams``).

    An invalid field raises :class:`~orbitshare.errors.SystemDefinitionError` (the first problem;
    :meth:`check_fields` lists them all).
    """

    name: str
    elements: ElementSet
    elevation_mask_deg: float = 25.0
    min_visible: int = 1
    operator: str = ""
    administration: str = ""
    bands: tuple = ()
    capacity_per_sat_mbps: float | None = None
    spectral_efficiency_bps_per_hz: float | None = None
    beams: int | None = None
    serve_countries: tuple | None = None
    exclude_countries: tuple = ()
    landing_rights: str = "all"
    beam_capacity_mbps: float | None = None
    max_beams_per_cell: int = 1
    gateway_sites: tuple[tuple[float, float], ...] | None = None
    gateway_mask_deg: float = 25.0
    isl: bool = False
    service_cell_km2: float | None = None
    pfd_dbw_m2_40khz: float | None = None

    @property
    def bandwidth_mhz(self) -> float:
        """Σ of the band widths, MHz (0 without bands)."""
        return float(sum(b.width_mhz for b in self.bands))

    @property
    def capacity_mbps(self) -> float | None:
        """Capacity per satellite S, Mbit/s: ``capacity_per_sat_mbps``, or spectral efficiency (bit/s/Hz) ×
        Σ band widths (MHz) × beams, or beams × ``beam_capacity_mbps``; None when none is given."""
        if self.capacity_per_sat_mbps is not None:
            return self.capacity_per_sat_mbps
        if self.spectral_efficiency_bps_per_hz is not None and self.beams is not None:
            return self.spectral_efficiency_bps_per_hz * self.bandwidth_mhz * self.beams
        if self.beam_capacity_mbps is not None and self.beams is not None:
            return self.beams * self.beam_capacity_mbps
        return None

    @property
    def beam_mbps(self) -> float | None:
        """Capacity of one beam P, Mbit/s (the most one satellite gives one cell): ``beam_capacity_mbps``
        when given, else S / beams when beams are given, else S (one beam); None without a capacity.

        >>> from orbitshare.elements.walker import walker
        >>> es = walker(550, 53, 1, 1, 0, "2026-01-01T00:00:00Z")
        >>> System("a", es, capacity_per_sat_mbps=20000, beams=8).beam_mbps
        2500.0
        >>> System("b", es, beam_capacity_mbps=2500, beams=8, max_beams_per_cell=2).cell_cap_mbps
        5000.0
        """
        if self.beam_capacity_mbps is not None:
            return self.beam_capacity_mbps
        capacity = self.capacity_mbps
        if capacity is None:
            return None
        return capacity / self.beams if self.beams is not None else capacity

    @property
    def cell_cap_mbps(self) -> float | None:
        """Most a cell takes from this system K, Mbit/s: ``max_beams_per_cell`` × :attr:`beam_mbps`; None
        without a capacity."""
        beam = self.beam_mbps
        return None if beam is None else self.max_beams_per_cell * beam

    @property
    def delivers_anywhere(self) -> bool:
        """True when a satellite delivers without a gateway in view (``isl``, or gateways "anywhere")."""
        return self.isl or self.gateway_sites is None

    @property
    def has_landing_rights(self) -> bool:
        """True when serve_countries or exclude_countries restrict where it may serve."""
        return self.serve_countries is not None or bool(self.exclude_countries)

    def __post_init__(self) -> None:
        if not isinstance(self.elements, ElementSet):
            raise ParameterTypeError(
                f"System.elements: expected an ElementSet, got {type(self.elements).__name__} (system {self.name!r})"
            )
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "elements"}
        normalised, problems = _system_problems(values)
        if problems:
            raise _system_errors(problems, self.name)[0]
        for key, value in normalised.items():
            object.__setattr__(self, key, value)

    @classmethod
    def check_fields(cls, **fields: Any) -> list[SystemDefinitionError]:
        """Every problem that ``System(name, elements, **fields)`` would have in these fields, the fields
        not given at their defaults; ``[]`` when they are all valid. ``name`` is checked only when given.

        Each error's ``field`` is the field's name as written in an experiment file (``bands[1].low_mhz``,
        ``serve_countries[2]``); :func:`field_detail` gives its message without the ``System.<field>:``
        prefix.

        Examples
        --------
        >>> [e.field for e in System.check_fields(min_visible=0, bands=[("Ku", 12700, 10700)])]
        ['bands[0].low_mhz', 'min_visible']
        """
        names = [f.name for f in dataclasses.fields(cls) if f.name != "elements"]
        unknown = sorted(set(fields) - set(names))
        if unknown:
            raise ParameterError(f"System.check_fields: unknown field(s) {unknown}; a System has {', '.join(names)}")
        values = {f.name: f.default for f in dataclasses.fields(cls) if f.name in names}
        values.update(fields)
        values["name"] = fields.get("name", "system")
        _, problems = _system_problems(values)
        name = values["name"]
        return _system_errors(problems, name if "name" in fields and isinstance(name, str) else "")

    @classmethod
    def from_elements(cls, elements: ElementSet, name: str | None = None) -> System:
        """A System with the default mask; ``name`` defaults to the element file's stem, else "system"."""
        if name is None:
            source = getattr(elements, "source", None)
            name = Path(source).stem if source else "system"
            name = name or "system"
        return cls(name, elements)


def _system_errors(problems: Iterable[_Problem], name: Any) -> list[SystemDefinitionError]:
    system = name if isinstance(name, str) and name.strip() else ""
    context = f" (system {system!r})" if system else ""
    return [_error("System", field, detail, context, system) for field, detail in problems]


def as_systems(systems: Any) -> list[System]:
    """A list of :class:`System` from a System, an ElementSet or a sequence of them; bare element sets get
    the default mask and names from their files, made unique (``system``, ``system_2``, ...)."""
    if isinstance(systems, (System, ElementSet)):
        systems = [systems]
    try:
        items = list(systems)
    except TypeError:
        raise ParameterTypeError(
            f"systems: expected a System, an ElementSet or a sequence of them, got {type(systems).__name__}"
        ) from None
    if not items:
        raise ParameterError("systems: expected at least one System")
    out, derived = [], []
    for i, s in enumerate(items):
        if isinstance(s, ElementSet):
            out.append(System.from_elements(s))
            derived.append(True)
        elif isinstance(s, System):
            out.append(s)
            derived.append(False)
        else:
            raise ParameterTypeError(f"systems[{i}]: expected a System or an ElementSet, got {type(s).__name__}")
    # names of bare element sets are made unique ("system", "system_2", ...); explicit names must be
    names = [s.name for s in out]
    explicit = [n for n, d in zip(names, derived, strict=True) if not d]
    dup = sorted({n for n in explicit if explicit.count(n) > 1})
    if dup:
        raise ParameterError(
            f"systems: duplicate system name(s) {', '.join(map(repr, dup))}; names label the "
            "'system' dimension and must be unique"
        )
    taken = set(explicit)
    for i, d in enumerate(derived):
        if d:
            base, name, k = out[i].name, out[i].name, 1
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            taken.add(name)
            if name != base:
                out[i] = dataclasses.replace(out[i], name=name)
    return out
