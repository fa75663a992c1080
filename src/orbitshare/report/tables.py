"""The run's CSV tables, and the number formats the report shares.

:func:`write_tables` writes into a run directory (every file atomically: temporary file in the same
directory, then ``os.replace``, via :func:`orbitshare.atomic.atomic_path`; existing files are replaced)::

    write_tables(out_dir, countries, groups, equity)  -> [countries.csv, groups.csv, equity.csv, indicators.csv]

``countries.csv``: one row per country of the "countries" Dataset
(:func:`orbitshare.analysis.accounts.country_accounts`): first its coordinates on ``country`` (``country``,
``country_name``, ``m49``, ``ldc``, ``lldc``, ``sids``, ``itu_region``, ``un_member``; booleans as
``1``/``0``), then every data variable on ``country``, in the
Dataset's order. A variable with further dimensions is flattened into one column per label, in the
order of its dimensions: ``population_covered_fraction[starlink]``, ``band_mhz_in_view[starlink][Ku]``.
Under an allocation rule the served columns come the same way: ``adoption``, ``subscribers``, ``demand_mbps``,
``system_demand_mbps[<system>]``, ``served_total_mbps``, ``served_mbps[<system>]``, ``demand_met_fraction``,
``system_demand_met_fraction[<system>]``, ``served_per_subscriber_mbps``,
``system_served_per_subscriber_mbps[<system>]``, ``share_population_at_least_10mbps`` (one per threshold).
Floats are written as ``repr(float(v))`` (shortest text that reads back to the same float64, so
``float(cell) == value`` exactly; ``nan``, ``inf`` for NaN and infinity), integers as integers.
Variables not on ``country`` (``satellites_unattributed(system)``) are not in the table; the report
lists them. ``groups.csv``: the same for the "groups" Dataset, one row per group (``group_member``
left out: membership follows from the flags in ``countries.csv``). ``equity.csv``: the "equity"
Dataset in long format, columns ``quantity, scope, system, index, partition, value``; ``index`` is the
variable name (``gini``, ``theil_T``, ``theil_L``, ``palma``, ``atkinson_0.5``, ``atkinson_1`` — the
Atkinson index per ``epsilon`` —, ``zero_population_share``, and ``theil_T_between``, ``theil_T_within``,
``theil_L_between``, ``theil_L_within`` with ``partition`` = ``ldc``, ``lldc``, ``sids``, ``itu_region``;
``partition`` is empty for the overall indices). The Lorenz curves are in the figure only
(:mod:`orbitshare.report.figures`).

``indicators.csv``: the "countries" Dataset in tidy (long) format for data tools, one row per country,
indicator and system, columns ``country, m49, system, indicator, value, unit``: every data variable on
``country`` (in the Dataset's order, countries in theirs), ``system`` empty for the indicators of all systems
together, a further dimension in the indicator's name as in the wide table (``band_mhz_in_view[Ku]``),
``unit`` the variable's UDUNITS ``units`` (``1`` for counts of persons and fractions, ``Mbit/s``, ``MHz``,
``km2``). Values as in ``countries.csv``.

Country codes are text in every table: ISO 3166-1 alpha-3 as given, UN M49 as three digits, zero-padded
(``004`` for Afghanistan; empty when a territory has none), also when a Dataset holds them as integers.

Every cell and column header of every CSV file orbitshare writes goes through :func:`csv_safe`: text
that a spreadsheet would run as a formula (first character ``=``, ``+``, ``-``, ``@``, TAB, CR or LF,
the OWASP rule; a system named ``=HYPERLINK(...)``) gets a leading ``'``; numbers (``-1.5``, ``-inf``)
are written as they are.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import xarray as xr

from orbitshare.atomic import atomic_path

__all__ = ["csv_safe", "code_text", "plain_text", "write_csv_rows", "format_number", "format_index", "write_tables"]


# ============================================================================ formatting
def format_number(x: float | None, digits: int = 4) -> str:
    """``x`` (any unit) with ``digits`` significant digits (``.{digits}g``); ``n/a`` for NaN/None, ``∞`` for inf.

    >>> format_number(1234.5678)
    '1235'
    >>> format_number(0.000123456, 3)
    '0.000123'
    >>> format_number(float("nan")), format_number(None), format_number(float("-inf"))
    ('n/a', 'n/a', '−∞')
    """
    if x is None:
        return "n/a"
    v = float(x)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.{digits}g}"


def format_index(x: float | None) -> str:
    """An inequality index (unit 1) as the report prints it: 4 decimals (``0.4123``), ``n/a``, ``∞``.

    >>> format_index(0.25), format_index(float("inf")), format_index(None)
    ('0.2500', '∞', 'n/a')
    """
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    return f"{float(x):.4f}"


def _cell(v: Any) -> str:
    """A value as CSV text that reads back exactly (floats: repr; bools: 1/0)."""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, np.datetime64):
        return "" if np.isnat(v) else np.datetime_as_string(v) + "Z"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


# ============================================================================ text safety
#: Line breaks and control characters (C0, DEL, C1, U+2028/U+2029, bidirectional embeddings, overrides
#: and isolates): in a name they would start a new Markdown block or reorder the text shown.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain_text(s: Any) -> str:
    """``s`` as one line of text: every line break and control character becomes a space.

    Applied to all text of the report (:mod:`orbitshare.report.document`: Markdown and HTML) and of the
    figures (:mod:`orbitshare.report.figures`), so that a system or country name (``"S1\\r\\n# Injected"``)
    cannot add a line, a heading or a block.

    >>> plain_text("S1\\r\\n# Injected\\u2028x")
    'S1  # Injected x'
    """
    return _CONTROL.sub(" ", str(s))


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"; LF added).
_FORMULA_START = frozenset("=+-@\t\r\n")
#: A cell that is a number as the tables write it (int, repr(float), ``inf``, ``nan``), optional sign.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


def csv_safe(cell: str) -> str:
    """``cell`` (text of a CSV cell or header) neutralised against formula injection in spreadsheets.

    Text whose first character, or first after leading spaces, is ``=``, ``+``, ``-``, ``@``, TAB, CR
    or LF gets a leading ``'`` (the OWASP rule), unless the cell is a number (``-1.5``, ``+2e-3``,
    ``-inf``, ``nan``), which is returned as it is, so that ``float(cell)`` still reads it back exactly.
    Every other text is returned unchanged. Every CSV writer of orbitshare passes its cells through here
    (:func:`write_csv_rows`).

    >>> print(csv_safe('=HYPERLINK("http://x","y")'), csv_safe("+cmd|' /C calc'!A0"), csv_safe("@SUM(A1)"))
    '=HYPERLINK("http://x","y") '+cmd|' /C calc'!A0 '@SUM(A1)
    >>> csv_safe("-1.5"), csv_safe("-inf"), csv_safe("S-2 (test)"), csv_safe(""), csv_safe(" =1+1")
    ('-1.5', '-inf', 'S-2 (test)', '', "' =1+1")
    """
    text = str(cell)
    head = text.lstrip(" ")
    if not head or (text[0] not in _FORMULA_START and head[0] not in _FORMULA_START):
        return text
    if _NUMBER.fullmatch(text.strip(" ")):
        return text
    return "'" + text


# ============================================================================ tables
def _flat_columns(ds: xr.Dataset, dim: str, skip: Sequence[str] = ()) -> list[tuple[str, np.ndarray]]:
    """[(column name, 1-D array over ``dim``)] from the coordinates and data variables on ``dim``."""
    cols: list[tuple[str, np.ndarray]] = [(dim, ds[dim].values)]
    for name, c in ds.coords.items():
        if name != dim and c.dims == (dim,):
            values = c.values
            if name in _CODE_COLUMNS:
                values = np.array([code_text(x, _CODE_COLUMNS[str(name)]) for x in values], dtype=object)
            cols.append((str(name), values))
    for name, v in ds.data_vars.items():
        if dim not in v.dims or name in skip:
            continue
        others = [d for d in v.dims if d != dim]
        v = v.transpose(*others, dim)
        if not others:
            cols.append((str(name), v.values))
            continue
        labels = [[_cell(x) for x in (ds[d].values if d in ds.coords else range(ds.sizes[d]))] for d in others]
        arr = v.values
        for idx in itertools.product(*[range(len(lb)) for lb in labels]):
            suffix = "".join(f"[{labels[k][i]}]" for k, i in enumerate(idx))
            cols.append((f"{name}{suffix}", arr[idx]))
    return cols


def code_text(v: Any, width: int = 3) -> str:
    """A numeric code (UN M49) as text of ``width`` digits, zero-padded; text without digits as it is; ""
    for a missing code (empty, None, NaN, a negative number).

    >>> code_text(4), code_text("4"), code_text("004"), code_text(np.int16(32)), code_text(""), code_text(-1)
    ('004', '004', '004', '032', '', '')
    """
    if v is None:
        return ""
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(float(v)) or float(v) < 0 or float(v) != int(v):
            return ""
        v = int(v)
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return "" if int(v) < 0 else f"{int(v):0{width}d}"
    text = str(v).strip()
    return text.zfill(width) if text.isdigit() else text


#: coordinates on ``country`` written as codes (text of fixed width) in every table
_CODE_COLUMNS = {"m49": 3}


def write_csv_rows(f: TextIO, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write ``header`` and ``rows`` (cells as text) as CSV to the text file ``f`` (opened with ``newline=""``).

    The one CSV writer of orbitshare: rows end in ``\\n``, fields are quoted where needed, every cell
    goes through :func:`csv_safe`, and a row with a CR in a cell has all its fields quoted (Python's
    writer leaves a lone CR unquoted, and a reader would start a new row there).
    """
    w = csv.writer(f, lineterminator="\n")
    quoted = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in itertools.chain([header], rows):
        cells = [csv_safe(c) for c in row]
        (quoted if any("\r" in c for c in cells) else w).writerow(cells)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    """Write ``header`` and ``rows`` to ``path`` atomically with :func:`write_csv_rows`; return ``path``."""
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        write_csv_rows(f, header, rows)
    return path


def _write_flat(path: str | os.PathLike, ds: xr.Dataset, dim: str, skip: Sequence[str] = ()) -> Path:
    cols = _flat_columns(ds, dim, skip)
    n = ds.sizes[dim]
    rows = ([_cell(col[i]) for _, col in cols] for i in range(n))
    return _write_csv(Path(path), [name for name, _ in cols], rows)


def _equity_rows(equity: xr.Dataset) -> list[list[str]]:
    rows = []
    base = ("quantity", "scope", "system")
    for name, v in equity.data_vars.items():
        if not set(base) <= set(v.dims) or not set(v.dims) <= set(base) | {"epsilon", "partition"}:
            continue
        extra = [d for d in ("epsilon", "partition") if d in v.dims]
        v = v.transpose(*base, *extra)
        labels = {d: [_cell(x) for x in equity[d].values] for d in base + tuple(extra)}
        for idx in np.ndindex(*v.shape):
            lab = {d: labels[d][i] for d, i in zip(base + tuple(extra), idx, strict=True)}
            index = name
            if "epsilon" in lab:
                index = f"{name}_{float(lab['epsilon']):g}"
            rows.append(
                [lab["quantity"], lab["scope"], lab["system"], index, lab.get("partition", ""), _cell(v.values[idx])]
            )
    return rows


def _indicator_rows(countries: xr.Dataset) -> Iterable[list[str]]:
    """The rows of ``indicators.csv`` (module docstring): country, m49, system, indicator, value, unit."""
    dim = "country"
    codes = [_cell(c) for c in countries[dim].values]
    m49 = (
        [code_text(x) for x in countries["m49"].values]
        if "m49" in countries.coords and countries["m49"].dims == (dim,)
        else [""] * len(codes)
    )
    series: list[tuple[str, str, str, np.ndarray]] = []  # (system, indicator, unit, values over country)
    for name, v in countries.data_vars.items():
        if dim not in v.dims:
            continue
        unit = str(v.attrs.get("units", ""))
        others = [d for d in v.dims if d != dim]
        has_system = "system" in others
        rest = [d for d in others if d != "system"]
        v = v.transpose(*(["system"] if has_system else []), *rest, dim)
        systems = [_cell(x) for x in countries["system"].values] if has_system else [""]
        labels = [
            [_cell(x) for x in (countries[d].values if d in countries.coords else range(v.sizes[d]))] for d in rest
        ]
        arr = v.values if has_system else v.values[None]
        for i, system in enumerate(systems):
            for idx in itertools.product(*[range(len(lb)) for lb in labels]):
                suffix = "".join(f"[{labels[k][j]}]" for k, j in enumerate(idx))
                series.append((system, f"{name}{suffix}", unit, arr[(i, *idx)]))
    for k, code in enumerate(codes):
        for system, indicator, unit, values in series:
            yield [code, m49[k], system, indicator, _cell(values[k]), unit]


def write_tables(
    out_dir: str | os.PathLike, countries: xr.Dataset, groups: xr.Dataset | None, equity: xr.Dataset | None
) -> list[Path]:
    """Write ``countries.csv``, ``groups.csv``, ``equity.csv`` and ``indicators.csv`` (the countries in
    tidy format) into ``out_dir``; return their paths.

    ``countries``, ``groups``, ``equity``: the Datasets of :mod:`orbitshare.analysis.accounts` (values in
    their own units: persons, Mbit/s, MHz, 1). ``groups`` or ``equity`` may be None (that file is then
    not written). Formats: module docstring.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [_write_flat(out / "countries.csv", countries, "country")]
    if groups is not None:
        paths.append(_write_flat(out / "groups.csv", groups, "group", skip=("group_member",)))
    if equity is not None:
        paths.append(
            _write_csv(
                out / "equity.csv", ["quantity", "scope", "system", "index", "partition", "value"], _equity_rows(equity)
            )
        )
    paths.append(
        _write_csv(
            out / "indicators.csv",
            ["country", "m49", "system", "indicator", "value", "unit"],
            _indicator_rows(countries),
        )
    )
    return paths
