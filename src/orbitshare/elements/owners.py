"""Operating country of each satellite: catalogs and code tables → ISO 3166-1 alpha-3.

:func:`satellite_owners` attributes every record of an :class:`~orbitshare.elements.elementset.ElementSet`
to one country (ISO alpha-3) or to ``"unattributed"``, from these sources, tried in order per
satellite (the first source that yields an ISO code wins):

``"celestrak"``
    A CelesTrak SATCAT CSV with ``NORAD_CAT_ID`` and ``OWNER`` columns (``satcat=`` path, or
    ``<data_dir>/satcat/satcat.csv``). ``OWNER`` codes via the project table, scheme ``celestrak``.
    When ``satcat=`` is given and ``"celestrak"`` is not in ``sources``, it is tried first.
``"gcat"``
    Jonathan McDowell's GCAT payload catalog ``psatcat.tsv`` (``<data_dir>/satcat/gcat_psatcat*.tsv``
    or ``psatcat.tsv``; CC BY 4.0, planet4589.org). ``#JCAT`` ``Snnnnn`` is NORAD ``nnnnn``. The
    country column is ``UNState`` (the state of registry; psatcat has no separate owner column).
    Decorations are stripped: ``[US]`` (attributed by GCAT but not formally registered) and a
    trailing ``*`` or ``?`` map like ``US``; ``-`` (no state) gives no attribution. Codes via the
    project table, scheme ``gcat``.
``"ucs"``
    The UCS Satellite Database (``<data_dir>/satcat/ucs_satellite_database*.csv``, or the official
    tab-separated ``.txt``): ``NORAD Number`` → ``Country of Operator/Owner`` name → scheme ``ucs``.
``"name"``
    Constellations whose operator country follows from the object name (``STARLINK-…`` → USA,
    ``ONEWEB-…`` → GBR, ``QIANFAN-…`` → CHN, …; scheme ``name``). Needs no file; it covers the
    batches launched after the catalogs above were last updated.

Rules
-----
* A code that the table does not know is **never** an exception: the satellite stays
  ``"unattributed"`` with ``kind = "unmapped"`` and the code is counted in :attr:`Owners.unmapped`
  (and listed by :meth:`Owners.report`). CelesTrak and GCAT add codes from time to time.
* Intergovernmental organisations (ESA, EUMETSAT, Arabsat, …) and multinational owners
  (``China/Brazil``, UCS ``Multinational``) have no single operating country: such a code gives
  ``"unattributed"`` with ``kind = "igo"`` or ``"multinational"`` — unless a later source names a
  single country for the same satellite (for example GCAT ``I-ESA`` and UCS ``France``), in which
  case that country is used and ``owner_source`` says which source decided.
* Historical states map to their successor by convention (SU → RUS, DD → DEU, CSSR → CZE), and
  sub-national units to their state; territories keep their own code (HKG, BMU).
* ``administration=`` (the notifying administration or operator country of a *filed* system, e.g.
  Walker shells from ``tle/`` or :func:`orbitshare.walker`) overrides every catalog:
  ``owner_source = "administration"``.

The mapping tables ship in ``orbitshare/data/owner_codes.csv`` (:func:`owner_table`); the catalogs
themselves are read at run time from the data directory and are never shipped.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.filings import Shell, load_filings
from orbitshare.errors import DataError, ParameterError

__all__ = [
    "satellite_owners",
    "owner_table",
    "owner_rows",
    "filing_administrations",
    "Owners",
    "SOURCES",
    "SCHEMES",
    "UNATTRIBUTED",
]

#: The label of satellites without a single operating country.
UNATTRIBUTED = "unattributed"
#: Catalog sources understood by :func:`satellite_owners`.
SOURCES = ("celestrak", "gcat", "ucs", "name")
#: Code schemes of the shipped table (:func:`owner_table`).
SCHEMES = ("gcat", "celestrak", "ucs", "name")
#: ``kind`` values of the table, plus ``unmapped`` (code not in the table) and ``not_found``
#: (no record in any source) in :class:`Owners`.
KINDS = (
    "state",
    "subnational",
    "territory",
    "company",
    "igo",
    "multinational",
    "historical",
    "unknown",
    "unmapped",
    "not_found",
    "administration",
)

_ISO3_RE = re.compile(r"[A-Z]{3}")


# ============================================================================ mapping tables
@functools.cache
def owner_rows() -> tuple[dict[str, str], ...]:
    """Every row of the shipped ``owner_codes.csv`` (keys ``scheme, code, iso3, kind, name, note``), cached."""
    text = (resources.files("orbitshare") / "data" / "owner_codes.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    return tuple(csv.DictReader(lines))


def owner_table(scheme: str) -> dict[str, dict[str, str]]:
    """The shipped mapping table of one code scheme as ``{code: {"iso3", "kind", "name", "note"}}``.

    ``scheme``: ``"gcat"`` (GCAT state codes), ``"celestrak"`` (SATCAT ``OWNER`` codes), ``"ucs"``
    (UCS country names) or ``"name"`` (upper-case object-name prefixes). ``iso3`` is ``""`` where no
    single country applies (``kind`` says why). Returns a new dict each call.
    """
    if scheme not in SCHEMES:
        raise ParameterError(f"owner_table: scheme: expected one of {SCHEMES}, got {scheme!r}")
    return {
        r["code"]: {"iso3": r["iso3"], "kind": r["kind"], "name": r["name"], "note": r["note"]}
        for r in owner_rows()
        if r["scheme"] == scheme
    }


# ============================================================================ result
@dataclass(frozen=True)
class Owners:
    """Owner attribution of ``n`` satellites (arrays aligned with ``elements.norad``).

    ``norad`` int64[n]; ``owner`` object[n]: ISO alpha-3 or ``"unattributed"``;
    ``owner_source`` object[n]: ``"administration"``, a source name, or ``""`` (no record);
    ``owner_code`` object[n]: the code as written by the deciding source (``"[US]"``, ``"USA"``);
    ``owner_kind`` object[n]: see :data:`KINDS`. ``unmapped``: ``{(source, code): count}`` of codes
    missing from the table; ``sources``: the sources tried, in order; ``files``: the files read.
    """

    norad: np.ndarray
    owner: np.ndarray
    owner_source: np.ndarray
    owner_code: np.ndarray
    owner_kind: np.ndarray
    sources: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    unmapped: dict[tuple[str, str], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.owner)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The ``owner`` array (so that an Owners can stand where an array of ISO3 codes is expected)."""
        return np.asarray(self.owner, dtype=dtype)

    def counts(self) -> dict[str, int]:
        """Satellites per owner (ISO3 or ``"unattributed"``), largest first."""
        return dict(Counter(self.owner.tolist()).most_common())

    def shares(self) -> dict[str, float]:
        """Fraction of satellites per owner, largest first (sums to 1; empty when n = 0)."""
        n = len(self)
        return {k: v / n for k, v in self.counts().items()} if n else {}

    def share(self, iso3: str) -> float:
        """Fraction of satellites attributed to ``iso3`` (0 when n = 0)."""
        n = len(self)
        return float(np.count_nonzero(self.owner == iso3)) / n if n else 0.0

    def by_source(self) -> dict[str, int]:
        """Satellites per deciding source (``""`` = no record anywhere)."""
        return dict(Counter(self.owner_source.tolist()).most_common())

    def report(self) -> str:
        """A short plain-text summary: coverage per source, unattributed by kind, unmapped codes."""
        n = len(self)
        lines = [f"{n} satellites; sources tried: {', '.join(self.sources) or '-'}"]
        for src, k in self.by_source().items():
            lines.append(f"  decided by {src or '(no record)'}: {k}")
        un = self.owner == UNATTRIBUTED
        if un.any():
            kinds = Counter(self.owner_kind[un].tolist()).most_common()
            lines.append(f"  unattributed: {int(un.sum())} (" + ", ".join(f"{k} {v}" for k, v in kinds) + ")")
        if self.unmapped:
            lines.append(
                "  unmapped codes: " + ", ".join(f"{s}:{c} ×{k}" for (s, c), k in sorted(self.unmapped.items()))
            )
        return "\n".join(lines)

    def to_dataset(self) -> xr.Dataset:
        """As an ``xarray.Dataset`` on dim ``satellite`` (NORAD numbers)."""

        def var(a: np.ndarray, long_name: str) -> tuple[str, np.ndarray, dict[str, str]]:
            return ("satellite", np.asarray(a, dtype=str), {"long_name": long_name})

        return xr.Dataset(
            {
                "owner": var(self.owner, "operating country (ISO 3166-1 alpha-3) or 'unattributed'"),
                "owner_source": var(self.owner_source, "source that decided the owner"),
                "owner_code": var(self.owner_code, "owner code as written in that source"),
                "owner_kind": var(self.owner_kind, "kind of owner code"),
            },
            coords={
                "satellite": ("satellite", np.asarray(self.norad, np.int64), {"long_name": "NORAD catalog number"})
            },
            attrs={"owner_sources": ",".join(self.sources), "owner_files": ";".join(self.files)},
        )


# ============================================================================ catalog readers
def _data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    d = data_dir if data_dir is not None else os.environ.get("ORBITSHARE_DATA_DIR")
    if not d:
        raise DataError(
            "satellite_owners: no data directory; pass data_dir= or set ORBITSHARE_DATA_DIR "
            "(the catalogs are read from <data_dir>/satcat/)"
        )
    return Path(d)


def _find(data_dir: Path, patterns: Iterable[str], what: str) -> Path:
    for base in (data_dir / "satcat", data_dir):
        for pat in patterns:
            hits = sorted(p for p in base.glob(pat) if p.is_file())
            if hits:
                return hits[-1]  # newest by the date in the name
    raise DataError(
        f"satellite_owners: no {what} in {data_dir / 'satcat'} "
        f"(looked for {', '.join(patterns)}); add the file or drop the source"
    )


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, int(st.st_mtime_ns))


_GCAT_DECOR = re.compile(r"[\[\]*?]")


@functools.lru_cache(maxsize=8)
def _read_gcat(stamp: tuple[str, int, int]) -> dict[int, str]:
    """NORAD → raw UNState code (as written), from a GCAT psatcat TSV."""
    path = Path(stamp[0])
    out: dict[int, str] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        header = fh.readline().rstrip("\r\n").lstrip("#").split("\t")
        try:
            i_id, i_st = header.index("JCAT"), header.index("UNState")
        except ValueError:
            raise DataError(f"{path}: not a GCAT psatcat file (need columns #JCAT and UNState)") from None
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\r\n").split("\t")
            if len(f) <= i_st or not f[i_id].startswith("S") or not f[i_id][1:].isdigit():
                continue
            out[int(f[i_id][1:])] = f[i_st].strip()
    return out


def _csv_rows(path: Path) -> csv.DictReader[str]:
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    delim = "\t" if text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else ","
    return csv.DictReader(text.splitlines(), delimiter=delim)


def _norad(v: str | None) -> int | None:
    v = (v or "").strip()
    if v.endswith(".0"):
        v = v[:-2]
    return int(v) if v.isdigit() else None


@functools.lru_cache(maxsize=8)
def _read_ucs(stamp: tuple[str, int, int]) -> dict[int, str]:
    """NORAD → ``Country of Operator/Owner`` from the UCS database (CSV or tab-separated text)."""
    path = Path(stamp[0])
    out: dict[int, str] = {}
    rows = _csv_rows(path)
    cols = [c.strip() for c in (rows.fieldnames or [])]
    if "NORAD Number" not in cols or "Country of Operator/Owner" not in cols:
        raise DataError(
            f"{path}: not a UCS satellite database (need 'NORAD Number' and 'Country of Operator/Owner' columns)"
        )
    for r in rows:
        r = {(k or "").strip(): v for k, v in r.items()}
        n = _norad(r.get("NORAD Number"))
        if n is not None:
            out[n] = (r.get("Country of Operator/Owner") or "").strip()
    return out


@functools.lru_cache(maxsize=8)
def _read_satcat(stamp: tuple[str, int, int]) -> dict[int, str]:
    """NORAD → ``OWNER`` code from a CelesTrak SATCAT CSV."""
    path = Path(stamp[0])
    rows = _csv_rows(path)
    cols = [c.strip() for c in (rows.fieldnames or [])]
    if "NORAD_CAT_ID" not in cols or "OWNER" not in cols:
        raise DataError(f"{path}: not a CelesTrak SATCAT CSV (need NORAD_CAT_ID and OWNER columns)")
    out: dict[int, str] = {}
    for r in rows:
        n = _norad(r.get("NORAD_CAT_ID"))
        if n is not None:
            out[n] = (r.get("OWNER") or "").strip()
    return out


# ============================================================================ attribution
def _lookup(table: dict[str, dict[str, str]], code: str, clean: str) -> tuple[str, str]:
    """(iso3, kind) for a code; kind 'unmapped' when the table lacks it."""
    row = table.get(clean)
    if row is None:
        return "", "unmapped"
    return row["iso3"], row["kind"]


def _name_matcher() -> tuple[dict[str, dict[str, str]], re.Pattern[str]]:
    table = owner_table("name")
    prefixes = sorted(table, key=len, reverse=True)
    pat = re.compile(r"\s*(" + "|".join(re.escape(p) for p in prefixes) + r")(?![A-Z])")
    return table, pat


def _administration_array(
    administration: str | Sequence[str | None] | Mapping[int, str] | None, norad: np.ndarray
) -> np.ndarray:
    """Per-satellite override (object array; '' = none) from str / sequence / {norad: iso3}."""
    n = len(norad)
    if administration is None:
        return np.full(n, "", dtype=object)
    if isinstance(administration, str):
        vals = np.full(n, administration, dtype=object)
    elif isinstance(administration, Mapping):
        vals = np.array([administration.get(int(k), "") or "" for k in norad], dtype=object)
    else:
        vals = np.array(["" if v is None else str(v) for v in administration], dtype=object)
        if len(vals) != n:
            raise ParameterError(f"administration: expected {n} values (one per satellite), got {len(vals)}")
    bad = sorted({v for v in vals.tolist() if v and not _ISO3_RE.fullmatch(v)})
    if bad:
        raise ParameterError(f"administration: expected ISO 3166-1 alpha-3 codes such as 'USA', got {bad[:5]}")
    return vals


def filing_administrations(elements: ElementSet, shells: list[Shell] | None = None) -> np.ndarray:
    """object[n]: the filed operator country of each satellite of a filed system, ``""`` elsewhere.

    A satellite belongs to a shell of :func:`orbitshare.elements.filings.load_filings` (or ``shells``) when its
    NORAD number lies in ``[norad_first, norad_first + total_sats)`` (the catalog block the filings
    table assigns, as in ``tle/`` and :func:`orbitshare.elements.filings.filing_elements`). Pass the result as
    ``satellite_owners(..., administration=...)``.
    """
    norad = np.asarray(elements.norad, dtype=np.int64)
    out = np.full(len(norad), "", dtype=object)
    for sh in load_filings() if shells is None else shells:
        hit = (norad >= sh.norad_first) & (norad < sh.norad_first + sh.total_sats)
        out[hit] = sh.operator_country_iso3
    return out


def satellite_owners(
    elements: ElementSet,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    sources: Sequence[str] = ("gcat", "ucs", "name"),
    satcat: str | os.PathLike[str] | None = None,
    administration: str | Sequence[str | None] | Mapping[int, str] | None = None,
) -> Owners:
    """Operating country (ISO alpha-3 or ``"unattributed"``) of every satellite of ``elements``.

    Parameters
    ----------
    elements : ElementSet (or anything with ``norad`` and optional ``name`` arrays)
    data_dir : path, optional
        Folder holding ``satcat/`` with the catalogs (default ``$ORBITSHARE_DATA_DIR``). Needed only
        for the file-based sources ``gcat``, ``ucs`` and ``celestrak``.
    sources : sequence of {"celestrak", "gcat", "ucs", "name"}
        Tried in this order per satellite; the first that yields an ISO code wins (see the module
        docstring for IGO/multinational codes).
    satcat : path, optional
        A CelesTrak SATCAT CSV with an ``OWNER`` column; enables (and prepends) ``"celestrak"``.
    administration : str, sequence of str or {norad: iso3}, optional
        Operating country / notifying administration of a filed system; overrides all sources
        (``""``/None entries do not override).

    Returns :class:`Owners`. Raises :class:`~orbitshare.errors.ParameterError` (a ``ValueError``)
    for an unknown source or a malformed ``administration``, ``DataError`` when a requested
    catalog file is missing or unreadable. Unknown codes never raise: they are counted in
    ``Owners.unmapped``.
    """
    tried = tuple(sources)
    if satcat is not None and "celestrak" not in tried:
        tried = ("celestrak",) + tried
    bad = [s for s in tried if s not in SOURCES]
    if bad:
        raise ParameterError(f"satellite_owners: sources: unknown {bad}; expected some of {SOURCES}")
    norad = np.asarray(elements.norad, dtype=np.int64)
    names = getattr(elements, "name", None)
    names = np.full(len(norad), "", dtype=object) if names is None else np.asarray(names, dtype=object)
    n = len(norad)
    admin = _administration_array(administration, norad)

    # load the catalogs and tables
    files: list[str] = []
    catalogs: dict[str, dict[int, str]] = {}
    for src in tried:
        if src == "name":
            continue
        if src == "celestrak" and satcat is not None:
            path = Path(satcat)
            if not path.is_file():
                raise DataError(f"satellite_owners: satcat: no such file {path}")
        else:
            ddir = _data_dir(data_dir)
            pats = {
                "gcat": ("gcat_psatcat*.tsv", "psatcat*.tsv"),
                "ucs": ("ucs_satellite_database*.csv", "UCS*Database*.txt", "ucs*.txt"),
                "celestrak": ("satcat.csv", "celestrak_satcat*.csv"),
            }[src]
            path = _find(
                ddir, pats, {"gcat": "GCAT psatcat", "ucs": "UCS database", "celestrak": "CelesTrak SATCAT"}[src]
            )
        reader = {"gcat": _read_gcat, "ucs": _read_ucs, "celestrak": _read_satcat}[src]
        catalogs[src] = reader(_stamp(path))
        files.append(str(path))
    tables = {s: owner_table(s) for s in ("gcat", "ucs", "celestrak")}
    name_table, name_pat = _name_matcher()

    owner = np.full(n, UNATTRIBUTED, dtype=object)
    osrc = np.full(n, "", dtype=object)
    ocode = np.full(n, "", dtype=object)
    okind = np.full(n, "not_found", dtype=object)
    unmapped: Counter = Counter()
    for i in range(n):
        if admin[i]:
            owner[i], osrc[i], ocode[i], okind[i] = admin[i], "administration", admin[i], "administration"
            continue
        first = None  # first record found that did not give an ISO code
        k = int(norad[i])
        for src in tried:
            if src == "name":
                m = name_pat.match(str(names[i]).upper())
                if m is None:
                    continue
                code = m.group(1)
                iso, kind = name_table[code]["iso3"], name_table[code]["kind"]
            else:
                code = catalogs[src].get(k)
                if code is None:
                    continue
                clean = _GCAT_DECOR.sub("", code).strip() if src == "gcat" else code
                if clean in ("", "-"):
                    continue  # the catalog knows the object but names no country
                iso, kind = _lookup(tables[src], code, clean)
                if kind == "unmapped":
                    unmapped[(src, clean)] += 1
            if iso:
                owner[i], osrc[i], ocode[i], okind[i] = iso, src, code, kind
                first = None
                break
            if first is None:
                first = (src, code, kind)
        if first is not None:
            osrc[i], ocode[i], okind[i] = first
    return Owners(
        norad=norad,
        owner=owner,
        owner_source=osrc,
        owner_code=ocode,
        owner_kind=okind,
        sources=tried,
        files=tuple(files),
        unmapped=dict(unmapped),
    )
