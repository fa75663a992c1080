"""The Article 22 EPFD↓ limits (ITU Radio Regulations, No. 22.5C) and the check of an EPFD distribution.

The limits are a fact table, ``orbitshare/data/epfd_limits.csv`` (its ``#`` header says what, the columns,
the sources and the caveats): one row per point of a *mask*, a staircase of (level dB(W/m²) in the
reference bandwidth, percentage of time during which EPFD↓ may not exceed the level). A mask is the rows of
one (table, band, regions, antenna diameter, reference bandwidth).

* :func:`read_epfd_limits` reads and checks a table (DataError naming file, line and field);
* :func:`epfd_mask` picks the mask of a frequency (MHz) and antenna diameter (m) as an :class:`EpfdMask`;
* :func:`check_epfd` compares per-cell exceedance counts with a mask, exactly at its points;
* :func:`level_exceeded` and :func:`margin_db` read levels and margins off a per-cell histogram;
* :func:`never_exceed_level_dbw_m2` adds the latitude-dependent 100 %-of-time limit of RR Nos. 22.5C.4 and
  22.5C.8 (not in the table).

Units: levels dB(W/m²) in ``reference_bandwidth_khz`` (kHz), frequencies MHz, diameters m, percentages of
time 0..100, fractions of time 0..1.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from orbitshare.errors import DataError, ParameterError
from orbitshare.landing import _parse_date, _problem, fact_table_rows, read_table_text

__all__ = [
    "COLUMNS",
    "FSS_TABLES",
    "EpfdMask",
    "check_epfd",
    "default_path",
    "epfd_mask",
    "level_exceeded",
    "margin_db",
    "never_exceed_level_dbw_m2",
    "read_epfd_limits",
]

#: The columns of an EPFD limits table, in file order.
COLUMNS: tuple[str, ...] = (
    "table",
    "band_low_mhz",
    "band_high_mhz",
    "regions",
    "antenna_diameter_m",
    "epfd_dbw_m2",
    "reference_bandwidth_khz",
    "percent_time_not_exceeded",
    "reference_pattern",
    "rr_edition",
    "as_of",
    "source",
)

#: The tables a row may name.
TABLES: tuple[str, ...] = ("22-1A", "22-1B", "22-1C", "22-1D")

#: The FSS tables (reference pattern ITU-R S.1428-1) that :func:`epfd_mask` searches when no table is named.
FSS_TABLES: tuple[str, ...] = ("22-1A", "22-1B", "22-1C")

_MASK_KEY: tuple[str, ...] = (
    "table",
    "band_low_mhz",
    "band_high_mhz",
    "regions",
    "antenna_diameter_m",
    "reference_bandwidth_khz",
)

# RR No. 22.5C.4 (Table 22-1A, antennas > 60 cm) and No. 22.5C.8 (Table 22-1D, antennas >= 180 cm), 40 kHz:
# 100 % of the time, -160 dB(W/m²) for |lat| <= 57.5°, -160 + 3.4 (57.5 - |lat|) / 4 for 57.5° < |lat| <= 63.75°,
# -165.3 above. Source: the same transcription as the table (docs/epfd_limits.md); not in the CSV.
_LAT_NOTES: dict[str, tuple[str, float]] = {"22-1A": ("22.5C.4", 0.6), "22-1D": ("22.5C.8", 1.8 - 1e-9)}
_LAT_FLAT_DEG = 57.5
_LAT_STEEP_DEG = 63.75


def default_path() -> Path:
    """Path of the shipped table ``orbitshare/data/epfd_limits.csv``."""
    return Path(str(resources.files("orbitshare") / "data" / "epfd_limits.csv"))


# --------------------------------------------------------------------------- reading
def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _regions(text: str) -> str | None:
    """The regions field normalised ("1 3"), or None when it is not ITU Regions 1..3 without repeats."""
    parts = text.split()
    if not parts or any(p not in ("1", "2", "3") for p in parts) or len(set(parts)) != len(parts):
        return None
    return " ".join(sorted(parts))


def _check_row(label: str, number: int, fields: list[str], problems: list[str]) -> list[object] | None:
    """The validated values of one data row (in :data:`COLUMNS` order, then the line), or None."""
    values = [f.strip() for f in fields]
    table, low_t, high_t, regions_t, diam_t, level_t, bw_t, pct_t, pattern, edition, as_of_t, source = values
    before = len(problems)

    def bad(name: str, message: str) -> None:
        problems.append(_problem(label, number, name, message))

    if table not in TABLES:
        bad("table", f"expected one of {', '.join(TABLES)}, got {table!r}")
    low, high = _number(low_t), _number(high_t)
    if low is None or low <= 0:
        bad("band_low_mhz", f"expected a frequency in MHz > 0, got {low_t!r}")
    if high is None or low is None or high <= low:
        bad("band_high_mhz", f"expected a frequency in MHz above band_low_mhz, got {high_t!r}")
    regions = _regions(regions_t)
    if regions is None:
        bad("regions", f"expected ITU Regions 1, 2, 3 separated by spaces, got {regions_t!r}")
    diameter = _number(diam_t)
    if diameter is None or diameter <= 0:
        bad("antenna_diameter_m", f"expected a diameter in m > 0, got {diam_t!r}")
    level = _number(level_t)
    if level is None or not -300.0 < level < 0.0:
        bad("epfd_dbw_m2", f"expected a level in dB(W/m2) in (-300, 0), got {level_t!r}")
    bandwidth = _number(bw_t)
    if bandwidth is None or bandwidth <= 0:
        bad("reference_bandwidth_khz", f"expected a bandwidth in kHz > 0, got {bw_t!r}")
    percent = _number(pct_t)
    if percent is None or not 0.0 <= percent <= 100.0:
        bad("percent_time_not_exceeded", f"expected a percentage in [0, 100], got {pct_t!r}")
    for name, text in (("reference_pattern", pattern), ("rr_edition", edition), ("source", source)):
        if not text:
            bad(name, "expected text, got nothing")
    day = _parse_date(as_of_t)
    if day is None:
        bad("as_of", f"expected an ISO date YYYY-MM-DD, got {as_of_t!r}")
    if len(problems) > before:
        return None
    return [table, low, high, regions, diameter, level, bandwidth, percent, pattern, edition, day, source, number]


def _check_masks(label: str, frame: pd.DataFrame, problems: list[str]) -> None:
    """Each mask: levels and percentages ascending in file order, from 0 % to 100 %, one pattern/edition."""
    for _, mask in frame.groupby(list(_MASK_KEY), sort=False):
        levels = mask["epfd_dbw_m2"].to_numpy()
        percents = mask["percent_time_not_exceeded"].to_numpy()
        lines = mask["line"].to_numpy()
        for k in range(1, len(mask)):
            if levels[k] < levels[k - 1] or percents[k] < percents[k - 1]:
                problems.append(
                    _problem(
                        label,
                        int(lines[k]),
                        "epfd_dbw_m2",
                        "expected the points of a mask with ascending levels and percentages, got "
                        f"({levels[k]:g}, {percents[k]:g}) after ({levels[k - 1]:g}, {percents[k - 1]:g})",
                    )
                )
                break
        if percents[0] != 0.0 or percents[-1] != 100.0:
            problems.append(
                _problem(
                    label,
                    int(lines[0]),
                    "percent_time_not_exceeded",
                    f"expected a mask from 0 % to 100 % of the time, got {percents[0]:g} .. {percents[-1]:g}",
                )
            )
        for name in ("reference_pattern", "rr_edition"):
            if mask[name].nunique() > 1:
                problems.append(_problem(label, int(lines[0]), name, "expected one value for the whole mask"))


def read_epfd_limits(path: str | Path | None = None) -> pd.DataFrame:
    """The EPFD↓ limits table (``path`` None: the shipped ``orbitshare/data/epfd_limits.csv``).

    Columns :data:`COLUMNS` (numbers as float64, ``as_of`` as ``datetime64[ns]``, ``regions`` as text such
    as ``"1 3"``) plus ``line`` (the row's line in the file). Raises :class:`~orbitshare.errors.DataError`
    naming the file, line and field of every problem at once: not a readable ``.csv``, a wrong header, a
    malformed value, or a mask whose points do not ascend from 0 % to 100 %.

    >>> t = read_epfd_limits()
    >>> sorted(set(t["table"]))
    ['22-1A', '22-1B', '22-1C', '22-1D']
    """
    file = default_path() if path is None else Path(path)
    label = str(file)
    text = read_table_text(file, label, "EPFD limits table", DataError)
    problems: list[str] = []
    records = [
        record
        for number, fields in fact_table_rows(text, label, COLUMNS, problems)
        if (record := _check_row(label, number, fields, problems)) is not None
    ]
    frame = pd.DataFrame(records, columns=[*COLUMNS, "line"])
    if not problems:
        _check_masks(label, frame, problems)
    if problems:
        raise DataError("\n".join(problems))
    for name in ("band_low_mhz", "band_high_mhz", "antenna_diameter_m", "epfd_dbw_m2", "reference_bandwidth_khz"):
        frame[name] = frame[name].astype(np.float64)
    frame["percent_time_not_exceeded"] = frame["percent_time_not_exceeded"].astype(np.float64)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["line"] = frame["line"].astype(np.int64)
    return frame


@functools.lru_cache(maxsize=1)
def _shipped_limits() -> pd.DataFrame:
    """The shipped table, read once (callers must not modify it)."""
    return read_epfd_limits()


# --------------------------------------------------------------------------- the mask
def _allowed_fraction(percent_not_exceeded: np.ndarray) -> np.ndarray:
    """Fraction of time (0..1) the level may be exceeded; rounded so 100 - 99.997 is 3e-5 exactly enough."""
    return np.round(100.0 - percent_not_exceeded, 9) / 100.0


@dataclass(frozen=True, eq=False)
class EpfdMask:
    """One Article 22 limit mask: EPFD↓ may exceed ``levels_dbw_m2[k]`` (dB(W/m²) in
    ``reference_bandwidth_khz``) for at most ``100 - percent_time_not_exceeded[k]`` % of the time.

    Levels and percentages ascend together (a level may repeat: a vertical step; a percentage may repeat: a
    horizontal one). ``table`` ("22-1A" ...), band in MHz, ``antenna_diameter_m`` in m."""

    table: str
    band_low_mhz: float
    band_high_mhz: float
    antenna_diameter_m: float
    reference_bandwidth_khz: float
    levels_dbw_m2: np.ndarray
    percent_time_not_exceeded: np.ndarray
    rr_edition: str
    source: str
    regions: tuple[int, ...] = (1, 2, 3)
    reference_pattern: str = "ITU-R S.1428-1"
    allowed_fractions: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        levels = np.array(self.levels_dbw_m2, dtype=np.float64)
        percents = np.array(self.percent_time_not_exceeded, dtype=np.float64)
        if levels.ndim != 1 or levels.shape != percents.shape or levels.size == 0:
            raise ParameterError("EpfdMask: levels_dbw_m2 and percent_time_not_exceeded must be 1-D, same length")
        if np.any(np.diff(levels) < 0) or np.any(np.diff(percents) < 0):
            raise ParameterError("EpfdMask: levels_dbw_m2 and percent_time_not_exceeded must both ascend")
        allowed = _allowed_fraction(percents)
        for name, arr in (("levels_dbw_m2", levels), ("percent_time_not_exceeded", percents)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        allowed.setflags(write=False)
        object.__setattr__(self, "allowed_fractions", allowed)

    def allowed_exceedance_fraction(self, level_dbw_m2: float) -> float:
        """The fraction of time (0..1) the mask lets EPFD↓ exceed ``level_dbw_m2`` (dB(W/m²)).

        At a mask level: that point's fraction (the smallest where the level repeats). Below the first
        level: 1. Above the last level: its fraction (0 for every RR mask). Between two levels L_a < L < L_b:
        log10 of the fraction linear in dB, from the smallest fraction at L_a to the largest at L_b; where
        either is 0, the fraction at L_a. The RR tables give points only: this rule between them is an
        assumption (docs/epfd_limits.md); :func:`check_epfd` does not use it.
        """
        level = float(level_dbw_m2)
        if math.isnan(level):
            raise ParameterError("allowed_exceedance_fraction: level_dbw_m2 must be a number, got NaN")
        levels, allowed = self.levels_dbw_m2, self.allowed_fractions
        if level < levels[0]:
            return 1.0
        at = np.nonzero(levels == level)[0]
        if at.size:
            return float(allowed[at].min())
        if level > levels[-1]:
            return float(allowed[-1])
        b = int(np.searchsorted(levels, level, side="right"))  # first point above the level
        a = b - 1  # the last point below it (the strictest of a repeated level: the last in order)
        q_a, q_b = float(allowed[a]), float(allowed[b])
        if q_a <= 0.0 or q_b <= 0.0:
            return q_a
        t = (level - levels[a]) / (levels[b] - levels[a])
        return float(10.0 ** (math.log10(q_a) + t * (math.log10(q_b) - math.log10(q_a))))


def _mask_from_rows(rows: pd.DataFrame) -> EpfdMask:
    first = rows.iloc[0]
    return EpfdMask(
        table=str(first["table"]),
        band_low_mhz=float(first["band_low_mhz"]),
        band_high_mhz=float(first["band_high_mhz"]),
        antenna_diameter_m=float(first["antenna_diameter_m"]),
        reference_bandwidth_khz=float(first["reference_bandwidth_khz"]),
        levels_dbw_m2=rows["epfd_dbw_m2"].to_numpy(np.float64),
        percent_time_not_exceeded=rows["percent_time_not_exceeded"].to_numpy(np.float64),
        rr_edition=str(first["rr_edition"]),
        source=str(first["source"]),
        regions=tuple(int(r) for r in str(first["regions"]).split()),
        reference_pattern=str(first["reference_pattern"]),
    )


def _available(frame: pd.DataFrame) -> str:
    parts = frame.groupby(["table", "band_low_mhz", "band_high_mhz", "regions"], sort=False)
    return "; ".join(
        f"{t} {lo:g}-{hi:g} MHz (Region {r}): "
        + ", ".join(f"{d:g} m" for d in sorted(set(g["antenna_diameter_m"])))
        + " at "
        + "/".join(f"{b:g}" for b in sorted(set(g["reference_bandwidth_khz"])))
        + " kHz"
        for (t, lo, hi, r), g in parts
    )


def epfd_mask(
    frequency_mhz: float,
    antenna_diameter_m: float,
    *,
    table: str | None = None,
    region: int | None = None,
    reference_bandwidth_khz: float = 40.0,
    path: str | Path | None = None,
) -> EpfdMask:
    """The Article 22 mask at ``frequency_mhz`` (MHz, band edges included) for an antenna of
    ``antenna_diameter_m`` (m, one of the table's reference diameters) in ``reference_bandwidth_khz`` (kHz).

    ``table`` None searches the FSS tables :data:`FSS_TABLES` (S.1428-1 pattern); Table 22-1D (BSS, pattern
    BO.1443-3) only when named. ``region`` (1, 2, 3) None accepts a band row of any Region. Raises
    :class:`~orbitshare.errors.ParameterError` naming what the table offers when nothing matches.

    >>> m = epfd_mask(11700.0, 0.6)
    >>> m.table, float(m.levels_dbw_m2[0]), float(m.levels_dbw_m2[-1]), float(m.percent_time_not_exceeded[3])
    ('22-1A', -175.4, -160.0, 99.73)
    """
    if table is not None and table not in TABLES:
        raise ParameterError(f"table must be one of {', '.join(TABLES)} or None, got {table!r}")
    if region is not None and region not in (1, 2, 3):
        raise ParameterError(f"region must be 1, 2, 3 or None, got {region!r}")
    f = float(frequency_mhz)
    frame = _shipped_limits() if path is None else read_epfd_limits(path)
    tables = (table,) if table is not None else FSS_TABLES
    pool = frame[frame["table"].isin(tables)]
    if region is not None:
        pool = pool[pool["regions"].str.split().apply(lambda rs: str(region) in rs)]
    in_band = pool[(pool["band_low_mhz"] <= f) & (f <= pool["band_high_mhz"])]
    hit = in_band[
        (np.abs(in_band["antenna_diameter_m"] - float(antenna_diameter_m)) <= 1e-6)
        & (np.abs(in_band["reference_bandwidth_khz"] - float(reference_bandwidth_khz)) <= 1e-9)
    ]
    if hit.empty:
        where = in_band if not in_band.empty else pool
        raise ParameterError(
            f"no Article 22 mask for {f:g} MHz, {float(antenna_diameter_m):g} m, {float(reference_bandwidth_khz):g}"
            f" kHz (table {table or ' or '.join(FSS_TABLES)}, region {region or 'any'}); available: "
            + (_available(where) if not where.empty else "none")
        )
    first = hit.iloc[0]
    same = (hit[list(_MASK_KEY)] == first[list(_MASK_KEY)]).all(axis=1)
    return _mask_from_rows(hit[same])


# --------------------------------------------------------------------------- checks
def check_epfd(exceed_counts: ArrayLike, n_steps: int, mask: EpfdMask) -> tuple[np.ndarray, np.ndarray]:
    """Compare per-cell exceedance counts with an Article 22 mask.

    ``exceed_counts[..., k]`` is the number of the ``n_steps`` time steps whose EPFD↓ exceeded (strictly)
    ``mask.levels_dbw_m2[k]``. Returns ``(exceeded, worst_ratio)`` over the leading axes: ``exceeded`` is True
    where at some point k the observed fraction of time ``counts / n_steps`` is larger than the mask's allowed
    fraction ``(100 - percent_time_not_exceeded[k]) / 100``; ``worst_ratio`` is the largest ratio observed /
    allowed over k (``inf`` where the allowed fraction is 0 and a step exceeded the level, 0 where nothing did).

    The check is exact at the mask points: with every step counted, a cell passes a point if and only if
    its distribution meets the limit there. Between two points the fraction of time above a level L lies
    between the fractions at the neighbouring points, so the mask's curve between them (however the RR's points
    are joined) can still be crossed by a cell that meets every point: passing here is necessary, not
    sufficient. :func:`margin_db` on a histogram checks between points at the histogram's bin width.

    >>> m = EpfdMask("22-1A", 10700, 12750, 0.6, 40, np.array([-175.4, -160.0]), np.array([0.0, 100.0]), "", "")
    >>> check_epfd(np.array([[1000, 0], [1000, 1]]), 1000, m)
    (array([False,  True]), array([ 1., inf]))
    """
    counts = np.asarray(exceed_counts)
    k = mask.levels_dbw_m2.size
    if counts.ndim == 0 or counts.shape[-1] != k:
        raise ParameterError(f"exceed_counts must have a last axis of {k} (one per mask level), got {counts.shape}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise ParameterError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    if counts.size and (np.any(counts < 0) or np.any(counts > n_steps)):
        raise ParameterError(f"exceed_counts must be counts in [0, n_steps={n_steps}]")
    counts = counts.astype(np.float64)
    allowed = mask.allowed_fractions
    allowed_counts = np.floor(allowed * n_steps * (1.0 + 1e-12) + 1e-9)
    exceeded = np.any(counts > allowed_counts, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(allowed > 0.0, counts / n_steps / np.where(allowed > 0.0, allowed, 1.0), 0.0)
    ratio = np.where((allowed == 0.0) & (counts > 0), np.inf, ratio)
    worst = ratio.max(axis=-1) if k else np.zeros(counts.shape[:-1])
    return exceeded, worst


def _tails(hist_counts: ArrayLike, bin_edges_db: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tail counts (..., nbins + 1): samples at or above each edge, totals (...), edges (nbins + 1))."""
    hist = np.asarray(hist_counts, dtype=np.float64)
    edges = np.asarray(bin_edges_db, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ParameterError("bin_edges_db must be 1-D, ascending, with at least 2 edges")
    if hist.ndim == 0 or hist.shape[-1] != edges.size - 1:
        raise ParameterError(f"hist_counts must have a last axis of {edges.size - 1} bins, got {hist.shape}")
    if hist.size and np.any(hist < 0):
        raise ParameterError("hist_counts must be counts >= 0")
    above = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]
    tails = np.concatenate([above, np.zeros((*hist.shape[:-1], 1))], axis=-1)
    return tails, tails[..., 0], edges


def level_exceeded(hist_counts: ArrayLike, bin_edges_db: ArrayLike, percent_time: ArrayLike) -> np.ndarray:
    """The EPFD↓ level (dB) exceeded for ``percent_time`` % of the time, from per-cell histograms.

    ``hist_counts[..., j]`` counts the steps with EPFD in ``[bin_edges_db[j], bin_edges_db[j + 1])`` (every
    step in some bin: the engine clips into the end bins). Returns the lowest edge e such that the steps at or
    above e are at most ``percent_time`` % of all: the true level lies in the bin below e, so the result is
    an upper bound within one bin width (the resolution); a clipped last bin makes it a lower bound there.
    ``percent_time`` scalar gives shape ``hist.shape[:-1]``, a 1-D array adds a last axis; NaN for a cell
    with no steps.

    >>> level_exceeded([0, 90, 9, 1], [-200.0, -190.0, -180.0, -170.0, -160.0], [0.0, 1.0, 10.0])
    array([-160., -170., -180.])
    """
    tails, totals, edges = _tails(hist_counts, bin_edges_db)
    p = np.asarray(percent_time, dtype=np.float64)
    if p.ndim > 1 or not np.all((p >= 0.0) & (p <= 100.0)):
        raise ParameterError("percent_time must be a percentage in [0, 100] or a 1-D array of them")
    if p.ndim == 0:
        threshold = float(p) / 100.0 * totals * (1.0 + 1e-12)
        j = np.sum(tails > threshold[..., None], axis=-1)
        empty = totals == 0
    else:
        threshold = totals[..., None] * (p / 100.0) * (1.0 + 1e-12)
        j = np.sum(tails[..., None, :] > threshold[..., None], axis=-1)
        empty = np.broadcast_to((totals == 0)[..., None], j.shape)
    result: np.ndarray = np.where(empty, np.nan, edges[j])
    return result


def margin_db(hist_counts: ArrayLike, bin_edges_db: ArrayLike, mask: EpfdMask) -> np.ndarray:
    """Per cell, min over the mask points with an allowed fraction < 1 of (limit level − the level exceeded
    for that point's allowed percentage of time), dB; positive: room under the limit, negative: exceeded.

    Each level comes from :func:`level_exceeded` (an upper bound within one bin), so the margin is a lower
    bound within one bin width. NaN for a cell with no steps."""
    points = mask.allowed_fractions < 1.0
    levels = level_exceeded(hist_counts, bin_edges_db, 100.0 * mask.allowed_fractions[points])
    result: np.ndarray = np.min(mask.levels_dbw_m2[points] - levels, axis=-1)
    return result


def never_exceed_level_dbw_m2(mask: EpfdMask, latitude_deg: ArrayLike) -> np.ndarray:
    """The level EPFD↓ may exceed 0 % of the time at an earth station at ``latitude_deg`` (deg), dB(W/m²).

    The mask's last level, except where RR No. 22.5C.4 (Table 22-1A, antennas larger than 60 cm) or
    No. 22.5C.8 (Table 22-1D, 180 cm and more) add a latitude-dependent limit in 40 kHz: −160 for
    |lat| ≤ 57.5°, −160 + 3.4 (57.5 − |lat|) / 4 up to 63.75°, −165.3 above; the smaller of the two applies.

    >>> m = epfd_mask(11000.0, 1.2)
    >>> never_exceed_level_dbw_m2(m, [0.0, 60.0, 70.0]).round(3)
    array([-160.   , -162.125, -165.3  ])
    """
    lat = np.abs(np.asarray(latitude_deg, dtype=np.float64))
    top = np.full(lat.shape, float(mask.levels_dbw_m2[-1]))
    note = _LAT_NOTES.get(mask.table)
    if note is None or mask.antenna_diameter_m <= note[1] or abs(mask.reference_bandwidth_khz - 40.0) > 1e-9:
        return top
    ramp = np.where(
        lat <= _LAT_FLAT_DEG,
        -160.0,
        np.where(lat <= _LAT_STEEP_DEG, -160.0 + 3.4 * (_LAT_FLAT_DEG - lat) / 4.0, -165.3),
    )
    result: np.ndarray = np.minimum(top, ramp)
    return result
