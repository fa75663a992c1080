"""Filed constellation shells: orbitshare's filings table and the TLE files made from it.

The table ``orbitshare/data/filings.csv`` (shipped with the package) is the project's own
record of what operators filed with regulators (FCC, ITU) or announced. Its facts
(altitude, inclination, planes, satellites per plane, totals, status, source and confidence)
come from the reference fact table ``shared/data/constellations/constellation_shells.csv``
(section 6 of ``shared/data/README.md``), itself written from the filings and press;
``tests/test_filings.py`` checks every shell against it. Values in the table are *filed*
orbits, not the orbits flown today (see ``observed_shells_2026-08-18.csv`` for those).

Columns (one row per shell)
---------------------------
``system_id``
    file stem of the system's TLE file (``tle/<system_id>.tle``); ``filing_elements`` key.
``system, operator, operator_country_iso3``
    display name, operator and the operator's country (ISO 3166-1 alpha-3; this is the
    operator's country as in the reference table, not necessarily the notifying ITU
    administration).
``filing, shell``
    the filing or phase, and the shell id (unique in the table).
``altitude_km, inclination_deg``
    filed altitude (taken as the SGP4 *mean altitude* of :mod:`orbitshare.walker`) and
    inclination.
``planes, sats_per_plane, total_sats``
    Walker ``P``, ``S`` and ``T = P·S`` (always consistent; checked on load).
``phasing, pattern``
    Walker ``F`` and ``delta``/``star`` (nodes over 360°/180°).
``planes_assumed, phasing_assumed, pattern_assumed``
    1 where the value is our assumption rather than a published fact:

    * **phasing**: filings rarely publish ``F``; we use ``F = 1`` (``F = 0`` for one plane)
      unless known (Globalstar, Walker 48/8/1).
    * **planes** where only the total is public (Guowang, Qianfan): ``planes`` is the
      divisor of ``total_sats`` nearest ``sqrt(total_sats)`` (the smaller on a tie), so that
      ``planes × sats_per_plane == total_sats`` (:func:`assumed_planes`). For Qianfan this
      gives 36 × 36, consistent with two 18-satellite launch batches sharing a plane in the
      2026-08-18 OMM (``2024-232`` and ``2026-108`` both near node 15.8°).
    * **pattern**: ``delta`` unless known; OneWeb and Iridium are ``star`` (their observed
      ascending nodes spread over about 170° and 160° in the 2026-08-18 OMM).
``norad_first, name_prefix``
    the first catalog number of the shell and the satellite name prefix (see below).
``status, status_note, source, confidence``
    ``deployed | deploying | authorized | planned``; free text; the source as in the
    reference table; ``high | medium | low`` as in the reference table.
``as_of``
    date of the reference snapshot the row was taken from (``shared/data``, 2026-08-18).
``assumptions``
    the row's assumptions in words.

Catalog numbers and names
-------------------------
Every shell owns a block of 4,000 catalog numbers: in table order, shell ``k`` (0-based)
starts at ``norad_first = 200000 + 4000·k`` (the column makes this explicit, so that new rows
can take the next free block without renumbering). The 25 shells use 200000–299999, which
the TLE Alpha-5 scheme can write (it reaches 339,999) and which lies far above the
catalog numbers assigned to real objects (about 100,300 in 2026). Within a shell, satellite
``k = p·S + j`` gets ``norad_first + k`` and the name
``f"{name_prefix}-P{p+1:02d}S{j+1:02d}"`` (:func:`orbitshare.elements.walker.walker`). Every shell's
first plane has RAAN 0° at the epoch (filings do not fix nodes).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import NoReturn

import numpy as np

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.tle import ALPHA5_MAX
from orbitshare.elements.walker import parse_epoch, walker
from orbitshare.errors import DataError, OrbitshareError, ParameterError

__all__ = [
    "Shell",
    "load_filings",
    "filing_systems",
    "read_manifest",
    "filing_elements",
    "generate_tle_dir",
    "assumed_planes",
    "DEFAULT_EPOCH",
    "NORAD_BLOCK",
    "ALPHA5_MAX",
]

DEFAULT_EPOCH = "2026-01-01T00:00:00Z"
NORAD_BLOCK = 4000  # catalog numbers reserved per shell

_COLUMNS = (
    "system_id",
    "system",
    "operator",
    "operator_country_iso3",
    "filing",
    "shell",
    "altitude_km",
    "inclination_deg",
    "planes",
    "sats_per_plane",
    "total_sats",
    "phasing",
    "pattern",
    "planes_assumed",
    "phasing_assumed",
    "pattern_assumed",
    "norad_first",
    "name_prefix",
    "status",
    "status_note",
    "source",
    "confidence",
    "as_of",
    "assumptions",
)
_STATUS = ("deployed", "deploying", "authorized", "planned")
_CONFIDENCE = ("high", "medium", "low")


@dataclass(frozen=True)
class Shell:
    """One row of the filings table (types converted; see the module docstring)."""

    system_id: str
    system: str
    operator: str
    operator_country_iso3: str
    filing: str
    shell: str
    altitude_km: float
    inclination_deg: float
    planes: int
    sats_per_plane: int
    total_sats: int
    phasing: int
    pattern: str
    planes_assumed: bool
    phasing_assumed: bool
    pattern_assumed: bool
    norad_first: int
    name_prefix: str
    status: str
    status_note: str
    source: str
    confidence: str
    as_of: str
    assumptions: str

    @property
    def norad_last(self) -> int:
        """Last catalog number used by the shell (inclusive)."""
        return self.norad_first + self.total_sats - 1

    def summary(self) -> str:
        """``id:altitude/inclination/PxS``, e.g. ``G1-S1:550/53.0/72x22``."""
        return f"{self.shell}:{self.altitude_km:g}/{float(self.inclination_deg)!r}/{self.planes}x{self.sats_per_plane}"


def assumed_planes(total_sats: int) -> int:
    """The divisor of ``total_sats`` nearest ``sqrt(total_sats)`` (the smaller on a tie)."""
    total = int(total_sats)
    if total < 1:
        raise ParameterError(f"total_sats must be >= 1, got {total_sats}")
    root = math.sqrt(total)
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    return min(divisors, key=lambda d: (abs(d - root), d))


def _default_path() -> Traversable:
    return resources.files("orbitshare") / "data" / "filings.csv"


def load_filings(path: str | os.PathLike[str] | None = None) -> list[Shell]:
    """Read the filings table (default: the one shipped in ``orbitshare/data``).

    Raises :class:`~orbitshare.errors.DataError` naming the file, line and column of the
    first bad value (missing column, non-number, ``P·S != T``, bad phasing/pattern/status,
    duplicate shell id, overlapping or non-Alpha-5 catalog-number ranges).
    """
    if path is None:
        text = _default_path().read_text(encoding="utf-8")
        where = "orbitshare/data/filings.csv"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot read filings table {path}: {exc}") from None
        where = str(path)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    shells: list[Shell] = []
    for lineno, row in enumerate(reader, start=2):
        shells.append(_parse_row(row, where, lineno))
    _check_table(shells, where)
    return shells


def _parse_row(row: dict[str, str], where: str, lineno: int) -> Shell:
    def fail(column: str, expectation: str) -> NoReturn:
        raise DataError(f"{where} line {lineno}, column {column}: {expectation}, got {row.get(column)!r}")

    def as_float(column: str) -> float:
        try:
            value = float(row[column])
        except (TypeError, ValueError):
            fail(column, "expected a number")
        if not math.isfinite(value):
            fail(column, "expected a finite number")
        return value

    def as_int(column: str, minimum: int = 0) -> int:
        try:
            value = int(row[column])
        except (TypeError, ValueError):
            fail(column, "expected an integer")
        if value < minimum:
            fail(column, f"expected an integer >= {minimum}")
        return value

    def as_flag(column: str) -> bool:
        if row[column] not in ("0", "1"):
            fail(column, "expected 0 or 1")
        return row[column] == "1"

    def as_text(column: str, required: bool = True) -> str:
        value = (row[column] or "").strip()
        if required and not value:
            fail(column, "expected a value")
        return value

    shell = Shell(
        system_id=as_text("system_id"),
        system=as_text("system"),
        operator=as_text("operator"),
        operator_country_iso3=as_text("operator_country_iso3"),
        filing=as_text("filing"),
        shell=as_text("shell"),
        altitude_km=as_float("altitude_km"),
        inclination_deg=as_float("inclination_deg"),
        planes=as_int("planes", 1),
        sats_per_plane=as_int("sats_per_plane", 1),
        total_sats=as_int("total_sats", 1),
        phasing=as_int("phasing", 0),
        pattern=as_text("pattern"),
        planes_assumed=as_flag("planes_assumed"),
        phasing_assumed=as_flag("phasing_assumed"),
        pattern_assumed=as_flag("pattern_assumed"),
        norad_first=as_int("norad_first", 1),
        name_prefix=as_text("name_prefix"),
        status=as_text("status"),
        status_note=as_text("status_note", required=False),
        source=as_text("source"),
        confidence=as_text("confidence"),
        as_of=as_text("as_of"),
        assumptions=as_text("assumptions", required=False),
    )
    if not shell.system_id.isidentifier() or shell.system_id != shell.system_id.lower():
        fail("system_id", "expected a lower-case identifier (it names a file)")
    if len(shell.operator_country_iso3) != 3 or not shell.operator_country_iso3.isupper():
        fail("operator_country_iso3", "expected an ISO 3166-1 alpha-3 code")
    if not 0.0 < shell.altitude_km < 50_000.0:
        fail("altitude_km", "expected 0 < altitude_km < 50000")
    if not 0.0 <= shell.inclination_deg <= 180.0:
        fail("inclination_deg", "expected 0 <= inclination_deg <= 180")
    if shell.planes * shell.sats_per_plane != shell.total_sats:
        fail("total_sats", f"expected planes x sats_per_plane = {shell.planes * shell.sats_per_plane}")
    if shell.phasing >= shell.planes:
        fail("phasing", f"expected 0 <= phasing < planes ({shell.planes})")
    if shell.pattern not in ("delta", "star"):
        fail("pattern", "expected 'delta' or 'star'")
    if shell.status not in _STATUS:
        fail("status", f"expected one of {', '.join(_STATUS)}")
    if shell.confidence not in _CONFIDENCE:
        fail("confidence", f"expected one of {', '.join(_CONFIDENCE)}")
    if shell.total_sats > NORAD_BLOCK:
        fail("total_sats", f"expected at most {NORAD_BLOCK} (one catalog-number block)")
    if shell.norad_last > ALPHA5_MAX:
        fail("norad_first", f"expected norad_first + total_sats - 1 <= {ALPHA5_MAX} (Alpha-5)")
    try:
        parse_epoch(shell.as_of + "T00:00:00Z", "as_of")
    except OrbitshareError:
        fail("as_of", "expected a date YYYY-MM-DD")
    return shell


def _check_table(shells: list[Shell], where: str) -> None:
    if not shells:
        raise DataError(f"{where}: no rows")
    seen: dict[str, int] = {}
    for i, s in enumerate(shells):
        if s.shell in seen:
            raise DataError(f"{where}: shell id {s.shell!r} appears twice (lines {seen[s.shell] + 2} and {i + 2})")
        seen[s.shell] = i
    ranges = sorted((s.norad_first, s.norad_last, s.shell) for s in shells)
    for (a0, a1, a), (b0, _b1, b) in zip(ranges, ranges[1:], strict=False):
        if b0 <= a1:
            raise DataError(f"{where}: catalog-number ranges of shells {a} ({a0}-{a1}) and {b} (from {b0}) overlap")
    # the rows of one system must be contiguous (one TLE file per system, in table order)
    order: list[str] = []
    for s in shells:
        if not order or order[-1] != s.system_id:
            if s.system_id in order:
                raise DataError(f"{where}: rows of system_id {s.system_id!r} are not contiguous")
            order.append(s.system_id)


def filing_systems(shells: list[Shell] | None = None) -> list[str]:
    """The ``system_id`` values in table order (default: of the shipped filings table).

    >>> filing_systems()[:3]
    ['starlink_gen1', 'starlink_gen2_granted', 'oneweb_phase1']
    """
    shells = load_filings() if shells is None else shells
    out: list[str] = []
    for s in shells:
        if s.system_id not in out:
            out.append(s.system_id)
    return out


def _select(system: str, shells: list[Shell]) -> list[Shell]:
    key = system.strip()
    chosen = [s for s in shells if s.system_id == key.lower()]
    if not chosen:
        chosen = [s for s in shells if s.system.lower() == key.lower()]
    if not chosen:
        raise ParameterError(f"unknown system {system!r}; known system_id values: {', '.join(filing_systems(shells))}")
    return chosen


def filing_elements(
    system: str, epoch: datetime | np.datetime64 | str = DEFAULT_EPOCH, *, shells: list[Shell] | None = None
) -> ElementSet:
    """All shells of one system as Walker shells (an ``ElementSet``).

    ``system`` is a ``system_id`` (``"starlink_gen1"``) or a display name from the table
    (``"Starlink Gen1"``, case-insensitive). Each shell is
    ``walker(altitude_km, inclination_deg, planes, sats_per_plane, phasing, epoch,
    pattern=pattern, norad_start=norad_first, name_prefix=name_prefix)``: circular, RAAN of
    plane 0 = 0°, bstar = 0, SGP4 mean altitude equal to the filed altitude. Records come in
    table (shell) order, then plane-major order. An unknown ``system`` raises
    :class:`~orbitshare.errors.ParameterError` listing the known ones.
    """
    shells = load_filings() if shells is None else shells
    parts = [
        walker(
            s.altitude_km,
            s.inclination_deg,
            s.planes,
            s.sats_per_plane,
            s.phasing,
            epoch,
            pattern=s.pattern,
            norad_start=s.norad_first,
            name_prefix=s.name_prefix,
        )
        for s in _select(system, shells)
    ]
    return parts[0] if len(parts) == 1 else ElementSet.concat(parts)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


MANIFEST_HEADER = ("file", "system_id", "system", "filings", "shells", "n_sats", "norad_range", "epoch", "sha256")


def generate_tle_dir(
    out_dir: str | os.PathLike[str],
    epoch: datetime | np.datetime64 | str = DEFAULT_EPOCH,
    *,
    filings_path: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write one 3-line TLE file per system of the filings table, plus ``MANIFEST``.

    Files: ``<out_dir>/<system_id>.tle`` (ASCII, LF line endings, in table order) and
    ``<out_dir>/MANIFEST``, a tab-separated table with the header row
    ``file  system_id  system  filings  shells  n_sats  norad_range  epoch  sha256``
    (``shells`` as ``id:altitude_km/inclination_deg/PxS`` joined by ``"; "``, ``filings``
    joined by ``" | "``, ``sha256`` of the file's bytes). Output is deterministic: the same
    table and epoch give the same bytes. Every file is written to a temporary file in
    ``out_dir`` and moved into place with :func:`os.replace`, so readers never see a partial
    file. Files in ``out_dir`` not named by the table are left alone.

    Returns the written paths (TLE files in table order, ``MANIFEST`` last).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_epoch = parse_epoch(epoch)
    epoch_text = str(t_epoch.astype("datetime64[s]")) + "Z"
    shells = load_filings(filings_path)
    written: list[Path] = []
    manifest = ["\t".join(MANIFEST_HEADER)]
    for system_id in filing_systems(shells):
        rows = [s for s in shells if s.system_id == system_id]
        elements = filing_elements(system_id, t_epoch, shells=shells)
        text = elements.to_tle(three_line=True)
        data = text.replace("\r\n", "\n").encode("ascii")
        if not data.endswith(b"\n"):
            data += b"\n"
        path = out / f"{system_id}.tle"
        _atomic_write(path, data)
        written.append(path)
        filings = []
        for s in rows:
            if s.filing not in filings:
                filings.append(s.filing)
        n_sats = sum(s.total_sats for s in rows)
        if len(elements) != n_sats:
            raise OrbitshareError(f"{system_id}: generated {len(elements)} records, table says {n_sats}")
        manifest.append(
            "\t".join(
                (
                    path.name,
                    system_id,
                    rows[0].system,
                    " | ".join(filings),
                    "; ".join(s.summary() for s in rows),
                    str(n_sats),
                    f"{min(s.norad_first for s in rows)}-{max(s.norad_last for s in rows)}",
                    epoch_text,
                    hashlib.sha256(data).hexdigest(),
                )
            )
        )
    manifest_path = out / "MANIFEST"
    _atomic_write(manifest_path, ("\n".join(manifest) + "\n").encode("utf-8"))
    written.append(manifest_path)
    return written


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of a ``MANIFEST`` written by :func:`generate_tle_dir` as dicts."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
