"""Satellite systems and their downlink bands: the one home of a system's rules and messages.

A :class:`System` is what the engine streams: a name, an element set, what counts as coverage
(elevation mask, degrees; minimum satellites in view), and what it offers (downlink :class:`Band`
s in MHz, capacity per satellite in Mbit/s, landing rights as ISO 3166-1 alpha-3 lists). Every
field is checked when the object is made; an invalid one raises
:class:`~orbitshare.errors.SystemDefinitionError` naming the field, and the experiment reader
reports that message under the field's key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orbitshare.elements.elementset import ElementSet

__all__ = ["Band", "System", "as_systems"]


def _is_real(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))


@dataclass(frozen=True)
class Band:
    """A downlink band: ``name`` (e.g. "Ku"), ``low_mhz`` < ``high_mhz``, both > 0, MHz."""

    name: str
    low_mhz: float
    high_mhz: float

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Band.name: expected a non-empty string, got {self.name!r}")
        for field in ("low_mhz", "high_mhz"):
            v = getattr(self, field)
            if not _is_real(v) or not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"Band.{field}: expected a finite frequency > 0 MHz, got {v!r} (band {self.name!r})")
            object.__setattr__(self, field, float(v))
        if not self.low_mhz < self.high_mhz:
            raise ValueError(
                f"Band.low_mhz: expected low_mhz < high_mhz, got {self.low_mhz:g} >= {self.high_mhz:g} "
                f"(band {self.name!r})"
            )

    @property
    def width_mhz(self) -> float:
        return self.high_mhz - self.low_mhz

    @classmethod
    def coerce(cls, obj) -> Band:
        """A Band from a Band, a ``(name, low_mhz, high_mhz)`` sequence or a mapping with those keys."""
        if isinstance(obj, Band):
            return obj
        if isinstance(obj, dict):
            unknown = set(obj) - {"name", "low_mhz", "high_mhz"}
            if unknown:
                raise ValueError(f"unknown key(s) {sorted(unknown)}; a band has name, low_mhz, high_mhz")
            return cls(**obj)
        if isinstance(obj, (tuple, list)) and len(obj) == 3:
            return cls(*obj)
        raise TypeError(f"expected a Band or (name, low_mhz, high_mhz), got {obj!r}")


def _is_real(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))


def _iso3_tuple(value, field: str, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError(
            f"System.{field}: expected a sequence of ISO 3166-1 alpha-3 codes, got the string "
            f"{value!r} (write ({value!r},)) (system {name!r})"
        )
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(
            f"System.{field}: expected a sequence of ISO 3166-1 alpha-3 codes, got "
            f"{type(value).__name__} (system {name!r})"
        ) from None
    out = []
    for c in items:
        if not (isinstance(c, str) and len(c) == 3 and c.isascii() and c.isalpha()):
            raise ValueError(
                f"System.{field}: expected ISO 3166-1 alpha-3 codes (three letters), got {c!r} (system {name!r})"
            )
        if c.upper() not in out:
            out.append(c.upper())
    return tuple(out)


@dataclass(frozen=True)
class System:
    """A satellite system: a name, its element set, what counts as coverage, and what it offers.

    name : str                  label on the ``system`` dimension (non-empty, unique in a run)
    elements : ElementSet       its satellites
    elevation_mask_deg : float  minimum elevation seen from the ground, degrees, in (−90, 90)
    min_visible : int           a step is covered where at least this many satellites are visible (≥ 1)
    operator : str              the operator's name ("" when unknown)
    administration : str        the notifying administration, ISO 3166-1 alpha-3 (upper-cased), or ""
    bands : tuple[Band, ...]    downlink bands (:class:`orbitshare.system.Band`, or ``(name, low_mhz,
                                high_mhz)`` tuples); names unique within the system
    capacity_per_sat_mbps : float | None   capacity of each satellite, Mbps (> 0)
    spectral_efficiency_bps_per_hz : float | None   with ``beams`` (and ``bands``) instead of
                                capacity_per_sat_mbps: capacity = efficiency × Σ band widths (MHz) × beams
    beams : int | None          beams per satellite (≥ 1), with spectral_efficiency_bps_per_hz
    serve_countries : tuple[str, ...] | None   landing rights: the only countries (ISO3) it may serve;
                                None = no allow list
    exclude_countries : tuple[str, ...]   countries it may not serve (wins over serve_countries)

    A system with neither serve_countries nor exclude_countries may serve every cell, ocean included;
    see :func:`orbitshare.engine.service.served_share` for the served share of a cell otherwise. Capacity is
    optional here; :func:`orbitshare.engine.service.service` requires exactly one of the two ways.
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

    @property
    def bandwidth_mhz(self) -> float:
        """Σ of the band widths, MHz (0 without bands)."""
        return float(sum(b.width_mhz for b in self.bands))

    @property
    def capacity_mbps(self) -> float | None:
        """Capacity per satellite, Mbps: ``capacity_per_sat_mbps``, or spectral efficiency (bit/s/Hz) ×
        Σ band widths (MHz) × beams; None when neither is given."""
        if self.capacity_per_sat_mbps is not None:
            return self.capacity_per_sat_mbps
        if self.spectral_efficiency_bps_per_hz is not None:
            return self.spectral_efficiency_bps_per_hz * self.bandwidth_mhz * self.beams
        return None

    @property
    def has_landing_rights(self) -> bool:
        """True when serve_countries or exclude_countries restrict where it may serve."""
        return self.serve_countries is not None or bool(self.exclude_countries)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"System.name: expected a non-empty string, got {self.name!r}")
        if not isinstance(self.elements, ElementSet):
            raise TypeError(
                f"System.elements: expected an ElementSet, got {type(self.elements).__name__} (system {self.name!r})"
            )
        m = self.elevation_mask_deg
        if (
            isinstance(m, bool)
            or not isinstance(m, (int, float, np.integer, np.floating))
            or not (math.isfinite(float(m)) and -90.0 < float(m) < 90.0)
        ):
            raise ValueError(
                f"System.elevation_mask_deg: expected degrees strictly between -90 and 90, got {m!r} "
                f"(system {self.name!r})"
            )
        object.__setattr__(self, "elevation_mask_deg", float(m))
        mv = self.min_visible
        if isinstance(mv, bool) or not isinstance(mv, (int, np.integer)) or not (1 <= int(mv) <= 32767):
            raise ValueError(
                f"System.min_visible: expected an integer in [1, 32767], got {mv!r} (system {self.name!r})"
            )
        object.__setattr__(self, "min_visible", int(mv))
        self._validate_service()

    def _validate_service(self):
        name = self.name
        for field in ("operator", "administration"):
            if getattr(self, field) is None:
                object.__setattr__(self, field, "")
        if self.exclude_countries is None:
            object.__setattr__(self, "exclude_countries", ())
        if not isinstance(self.operator, str):
            raise ValueError(
                f"System.operator: expected a string, got {type(self.operator).__name__} (system {name!r})"
            )
        adm = self.administration
        if not isinstance(adm, str) or (adm and not (len(adm) == 3 and adm.isascii() and adm.isalpha())):
            raise ValueError(
                f"System.administration: expected an ISO 3166-1 alpha-3 code or '', got {adm!r} (system {name!r})"
            )
        object.__setattr__(self, "administration", adm.upper())
        # bands
        if isinstance(self.bands, (str, Band)):
            raise ValueError(
                f"System.bands: expected a sequence of Band, got {self.bands!r} (write (band,)) (system {name!r})"
            )
        try:
            items = tuple(self.bands)
        except TypeError:
            raise ValueError(
                f"System.bands: expected a sequence of Band, got {type(self.bands).__name__} (system {name!r})"
            ) from None
        bands = []
        for i, b in enumerate(items):
            try:
                bands.append(Band.coerce(b))
            except (TypeError, ValueError) as e:
                raise ValueError(f"System.bands[{i}]: {e} (system {name!r})") from None
        names = [b.name for b in bands]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"System.bands: duplicate band name(s) {', '.join(map(repr, dup))} (system {name!r})")
        object.__setattr__(self, "bands", tuple(bands))
        # capacity: one way or none here
        for field in ("capacity_per_sat_mbps", "spectral_efficiency_bps_per_hz"):
            v = getattr(self, field)
            if v is None:
                continue
            if not _is_real(v) or not (math.isfinite(float(v)) and float(v) > 0):
                raise ValueError(f"System.{field}: expected a finite number > 0, got {v!r} (system {name!r})")
            object.__setattr__(self, field, float(v))
        bm = self.beams
        if bm is not None:
            if isinstance(bm, bool) or not isinstance(bm, (int, np.integer)) or int(bm) < 1:
                raise ValueError(f"System.beams: expected an integer >= 1, got {bm!r} (system {name!r})")
            object.__setattr__(self, "beams", int(bm))
        cap, eff = self.capacity_per_sat_mbps, self.spectral_efficiency_bps_per_hz
        if cap is not None and (eff is not None or bm is not None):
            raise ValueError(
                f"System.capacity_per_sat_mbps: give either capacity_per_sat_mbps or "
                f"spectral_efficiency_bps_per_hz with beams, not both (system {name!r})"
            )
        if eff is not None and bm is None:
            raise ValueError(
                f"System.beams: required with spectral_efficiency_bps_per_hz (capacity = "
                f"efficiency x bandwidth x beams) (system {name!r})"
            )
        if bm is not None and eff is None:
            raise ValueError(
                f"System.spectral_efficiency_bps_per_hz: required with beams (capacity = "
                f"efficiency x bandwidth x beams) (system {name!r})"
            )
        if eff is not None and not bands:
            raise ValueError(
                f"System.bands: spectral_efficiency_bps_per_hz needs at least one band for the "
                f"bandwidth (system {name!r})"
            )
        # landing rights
        if self.serve_countries is not None:
            object.__setattr__(self, "serve_countries", _iso3_tuple(self.serve_countries, "serve_countries", name))
        object.__setattr__(self, "exclude_countries", _iso3_tuple(self.exclude_countries, "exclude_countries", name))

    @classmethod
    def from_elements(cls, elements: ElementSet, name: str | None = None) -> System:
        """A System with the default mask; ``name`` defaults to the element file's stem, else "system"."""
        if name is None:
            name = Path(elements.source).stem if getattr(elements, "source", None) else "system"
            name = name or "system"
        return cls(name, elements)


def as_systems(systems) -> list[System]:
    if isinstance(systems, (System, ElementSet)):
        systems = [systems]
    try:
        items = list(systems)
    except TypeError:
        raise TypeError(
            f"systems: expected a System, an ElementSet or a sequence of them, got {type(systems).__name__}"
        ) from None
    if not items:
        raise ValueError("systems: expected at least one System")
    out, derived = [], []
    for i, s in enumerate(items):
        if isinstance(s, ElementSet):
            out.append(System.from_elements(s))
            derived.append(True)
        elif isinstance(s, System):
            out.append(s)
            derived.append(False)
        else:
            raise TypeError(f"systems[{i}]: expected a System or an ElementSet, got {type(s).__name__}")
    # names of bare element sets are made unique ("system", "system_2", ...); explicit names must be
    names = [s.name for s in out]
    explicit = [n for n, d in zip(names, derived) if not d]
    dup = sorted({n for n in explicit if explicit.count(n) > 1})
    if dup:
        raise ValueError(
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
