"""The run report: ``report.md`` and ``report.html``.

:func:`write_report` writes into a run directory (every file atomically: temporary file in the same
directory, then ``os.replace``, via :func:`orbitshare.atomic.atomic_path`; existing files are replaced)::

    write_report(out_dir, *, countries, groups, equity, figures, meta)  -> (report.md, report.html)

The CSV tables it links are written by :func:`orbitshare.report.tables.write_tables`, the figures it
shows by :func:`orbitshare.report.figures.write_figures`.

``report.md`` and ``report.html`` are rendered from one list of blocks (headings, paragraphs, lists,
tables, figures) by two small renderers, so they hold the same content; text is escaped for Markdown
and for HTML respectively. ``report.html`` stands alone: its style and a small script inline, every figure
embedded as a ``data:`` URI (base64 PNG), no external resource; it links only the CSV files next to it.
``report.md`` links the PNG files. Every table scrolls sideways on a narrow screen (a ``div`` with
``overflow-x:auto``); the table of every country (:data:`COUNTRIES_TABLE_ID`) sorts by a click on any column
header and is filtered by a text box. A map whose values are uniform (marked by
:func:`orbitshare.report.figures.map_figure`, :data:`~orbitshare.report.figures.UNIFORM_KEY`) is replaced by one
sentence in both files. The period is stated once, in words, in the headline. Content: the inputs (``meta``), the
headline findings for LDCs, LLDCs and SIDS against the rest (population covered, capacity per person,
service ratio, MHz reaching a person (the union of the bands in view, never a sum over systems), from the
groups Dataset; under landing rights also the LDC/LLDC/SIDS
that no system may serve), the groups table, coverage and capacity by system, who may be served
(per system the countries and people it may serve, from ``may_serve``), the top and bottom 10
countries by capacity per person (UN members with more than 1 million people on the grid) and every country
(rank, name, code, groups, population, the headline indicators), the
inequality indices and the Theil decompositions, the spectrum definitions (band MHz in view, effective
MHz after co-frequency sharing, the union; ``meta["inline_angle_deg"]`` and ``meta["split"]`` when given),
and the figures. Under an allocation rule (capacity rule
"maxmin" or "throughput") a section "Capacity as delivered" follows the headline: one paragraph explaining
the model with the run's parameters (:func:`model_paragraph`), the LDC/LLDC/SIDS headline against the world
(demand met, served per subscriber, population share at each threshold), per system the capacity offered and
delivered, and the note ``meta["served_maps_note"]`` (:data:`MAPS_NOTE`) on maps drawn in place of the
proportional rule's; the countries are ranked by served per subscriber.

``meta`` (all optional; :func:`report_meta` collects them from the coverage and geography Datasets):
``title``; ``systems`` (names, or dicts with ``name``, ``element_count``, ``element_source``,
``element_epoch_min|median|max``); ``period_start``, ``period_end`` (ISO text), ``time_step_s``;
``grid_resolution_deg``; ``geography_source`` (and ``geography_detail``); ``created``, ``run_id``,
``config``; any other key is listed among the inputs as it is.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from orbitshare.atomic import atomic_path
from orbitshare.report.figures import UNIFORM_KEY, png_text, png_title
from orbitshare.report.tables import format_index, format_number, plain_text

__all__ = [
    "write_report",
    "report_meta",
    "model_paragraph",
    "allocation",
    "GROUP_LABELS",
    "MAPS_NOTE",
    "COUNTRIES_TABLE_ID",
]

#: Display names of the groups of :func:`orbitshare.analysis.accounts.group_accounts`.
GROUP_LABELS = {
    "ldc": "LDC",
    "lldc": "LLDC",
    "sids": "SIDS",
    "rest": "rest",
    "itu_region_1": "ITU Region 1",
    "itu_region_2": "ITU Region 2",
    "itu_region_3": "ITU Region 3",
    "world": "world",
}
_GROUP_LONG = {
    "ldc": "Least Developed Countries",
    "lldc": "Landlocked Developing Countries",
    "sids": "Small Island Developing States",
}
_PARTITION_LABELS = {
    "ldc": "LDC vs others",
    "lldc": "LLDC vs others",
    "sids": "SIDS vs others",
    "itu_region": "ITU Regions (1, 2, 3, none)",
}
_MIN_POPULATION = 1e6  # persons: the top/bottom country tables skip smaller countries
_TOP_N = 10


# ============================================================================ formatting
def _pct(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    return f"{100.0 * float(x):.1f} %"


def _people(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    x = float(x)
    if x >= 1e9:
        return f"{x / 1e9:.2f} billion"
    if x >= 1e6:
        return f"{x / 1e6:.1f} million"
    return f"{x:,.0f}"


def _count(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    return f"{float(x):,.0f}"


def _when(iso: Any) -> str:
    """ISO 8601 time text as ``YYYY-MM-DD HH:MM`` (UTC; seconds dropped when zero); other text as it is.

    >>> _when("2024-03-01T00:00:00Z"), _when("2024-03-01T06:30:15+00:00"), _when("soon")
    ('2024-03-01 00:00', '2024-03-01 06:30:15', 'soon')
    """
    try:
        t = _dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(_dt.UTC).replace(tzinfo=None)
    return t.strftime("%Y-%m-%d %H:%M:%S" if t.second else "%Y-%m-%d %H:%M")


def _span(p0: Any, p1: Any) -> str:
    """The period ``p0`` to ``p1`` (ISO text) in words, once: ``2024-03-01 00:00 to 2024-03-02 00:00 UTC (1 day)``.

    >>> _span("2024-03-01T00:00:00Z", "2024-03-01T06:00:00Z")
    '2024-03-01 00:00 to 06:00 UTC (6 h)'
    """
    a, b = _when(p0) if p0 else "?", _when(p1) if p1 else "?"
    if a[:10] == b[:10] and len(a) > 10:
        b = b[11:]
    text = f"{a} to {b} UTC"
    try:
        t0 = _dt.datetime.fromisoformat(str(p0).replace("Z", "+00:00"))
        t1 = _dt.datetime.fromisoformat(str(p1).replace("Z", "+00:00"))
        hours = (t1 - t0).total_seconds() / 3600.0
    except (ValueError, TypeError):
        return text
    if hours >= 48 or (hours >= 24 and hours % 24 == 0):
        days = hours / 24.0
        return text + f" ({format_number(days)} day{'s' if days != 1 else ''})"
    return text + f" ({format_number(hours)} h)"


# ============================================================================ meta
def report_meta(coverage: xr.Dataset | None = None, geography: xr.Dataset | None = None, **extra: Any) -> dict:
    """``meta`` for :func:`write_report` from the coverage Dataset's and the geography's attributes.

    Systems with element counts, sources and epochs (``coverage.attrs["systems"]``), period
    (``period_start``, ``period_end``: ISO text) and step (``time_step_s``, s), grid resolution
    (``grid_resolution_deg``, deg), geography source; ``extra`` keys are added (and override).

    >>> import xarray as xr
    >>> cov = xr.Dataset(coords={"system": ["S1"]}, attrs={"time_step_s": 60.0, "grid_resolution_deg": 1.0})
    >>> report_meta(cov, run_id="r1")
    {'systems': ['S1'], 'time_step_s': 60.0, 'grid_resolution_deg': 1.0, 'run_id': 'r1'}
    """
    meta: dict[str, Any] = {}
    if coverage is not None:
        a = coverage.attrs
        systems = None
        if "systems" in a:
            try:
                systems = json.loads(a["systems"])
            except (TypeError, ValueError):
                systems = None
        if systems is None and "system" in coverage.coords:
            systems = [str(s) for s in coverage["system"].values]
        if systems is not None:
            meta["systems"] = systems
        for src, dst in (
            ("time_coverage_start", "period_start"),
            ("time_coverage_end", "period_end"),
            ("time_step_s", "time_step_s"),
            ("grid_resolution_deg", "grid_resolution_deg"),
        ):
            if src in a:
                meta[dst] = a[src]
    if geography is not None:
        g = geography.attrs
        if "geography_source" in g:
            meta["geography_source"] = g["geography_source"]
        detail = "; ".join(str(g[k]) for k in ("countries", "places_and_population", "land") if k in g)
        if detail:
            meta["geography_detail"] = detail
        if "grid_resolution_deg" not in meta and "resolution_deg" in g:
            meta["grid_resolution_deg"] = g["resolution_deg"]
    meta.update(extra)
    return meta


# ============================================================================ document model
@dataclass
class _Code:
    text: str


@dataclass
class _Link:
    text: str
    href: str


@dataclass
class _Block:
    kind: str  # "h", "p", "ul", "table", "figure"
    level: int = 0
    spans: list = field(default_factory=list)  # "h", "p": list of str | _Code | _Link
    items: list = field(default_factory=list)  # "ul": list of span lists
    header: list = field(default_factory=list)  # "table"
    rows: list = field(default_factory=list)
    align: list = field(default_factory=list)  # "l" / "r" per column
    src: str = ""  # "figure": relative link (Markdown)
    path: str = ""  # "figure": the PNG file, embedded in the HTML as a data: URI
    caption: str = ""
    sort: list = field(default_factory=list)  # "table": per row the raw sort keys (float, str or None)
    table_id: str = ""  # "table": set on a sortable, filterable table (HTML)


def _spans(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~$])")


def _md_text(s: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", plain_text(s))


def _md_spans(spans) -> str:
    out = []
    for sp in spans:
        if isinstance(sp, _Code):
            t = plain_text(sp.text).replace("`", "'")
            out.append(f"`{t}`")
        elif isinstance(sp, _Link):
            out.append(f"[{_md_text(sp.text)}]({sp.href})")
        else:
            out.append(_md_text(sp))
    return "".join(out)


def _html_text(s: Any) -> str:
    """``s`` as HTML text or attribute value: :func:`~orbitshare.report.tables.plain_text`, then escaped."""
    return html.escape(plain_text(s), quote=True)


def _html_spans(spans) -> str:
    out = []
    for sp in spans:
        if isinstance(sp, _Code):
            out.append(f"<code>{_html_text(sp.text)}</code>")
        elif isinstance(sp, _Link):
            out.append(f'<a href="{_html_text(sp.href)}">{_html_text(sp.text)}</a>')
        else:
            out.append(_html_text(sp))
    return "".join(out)


def _render_md(blocks) -> str:
    lines = []
    for b in blocks:
        if b.kind == "h":
            lines += ["#" * b.level + " " + _md_spans(b.spans), ""]
        elif b.kind == "p":
            lines += [_md_spans(b.spans), ""]
        elif b.kind == "ul":
            lines += ["- " + _md_spans(it) for it in b.items] + [""]
        elif b.kind == "table":
            lines.append("| " + " | ".join(_md_spans(_spans(h)) for h in b.header) + " |")
            lines.append("|" + "|".join("---:" if a == "r" else ":---" for a in b.align) + "|")
            for r in b.rows:
                lines.append("| " + " | ".join(_md_spans(_spans(c)) for c in r) + " |")
            lines.append("")
        elif b.kind == "figure":
            lines += [f"![{_md_text(b.caption)}]({b.src})", "", f"*{_md_text(b.caption)}*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:72rem;margin:2rem auto;
padding:0 1rem;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1.2rem;font-size:0.92rem}
th,td{border:1px solid #ccc;padding:0.25rem 0.5rem}th{background:#f2f2f2}
td.r,th.r{text-align:right}td.l,th.l{text-align:left}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:0.9rem;color:#444}code{background:#f4f4f4;padding:0 0.2rem}
.scroll{overflow-x:auto;max-width:100%}.scroll table{margin-top:0}
table.sortable th{cursor:pointer;user-select:none}table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
input.filter{font-size:0.95rem;padding:0.2rem 0.4rem;margin:0.3rem 0;width:min(24rem,100%)}
"""

#: the inline script of report.html: a click on a header of a ``table.sortable`` sorts its rows by that
#: column (``data-v`` numbers, else the text; empty keys last; a second click reverses), and the text box
#: ``input.filter[data-table]`` hides the rows not containing its text
_SCRIPT = """
(function(){
function key(td){var v=td.getAttribute("data-v");if(v===null)v=td.textContent.trim();if(v==="")return null;
var n=Number(v);return isNaN(n)?v.toLowerCase():n;}
function cmp(x,y){if(x===null||y===null)return x===y?0:(x===null?1:-1);
if(typeof x!==typeof y)return typeof x==="number"?-1:1;return x<y?-1:(x>y?1:0);}
Array.prototype.forEach.call(document.querySelectorAll("table.sortable"),function(t){
var heads=t.tHead.rows[0].cells,body=t.tBodies[0];
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener("click",function(){
var asc=th.getAttribute("aria-sort")!=="ascending";
Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",asc?"ascending":"descending");
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);
if(x===null||y===null)return cmp(x,y);return asc?cmp(x,y):cmp(y,x);});
rows.forEach(function(r){body.appendChild(r);});});});});
Array.prototype.forEach.call(document.querySelectorAll("input.filter"),function(f){
var t=document.getElementById(f.getAttribute("data-table"));
f.addEventListener("input",function(){var q=f.value.trim().toLowerCase();
Array.prototype.forEach.call(t.tBodies[0].rows,function(r){
r.style.display=r.textContent.toLowerCase().indexOf(q)<0?"none":"";});});});
})();
"""


def _data_uri(path: str) -> str | None:
    """The PNG file ``path`` as a ``data:image/png;base64,...`` URI, or None where it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _sort_attr(key: Any) -> str:
    """The ``data-v`` attribute of a sortable cell: a number as ``repr``, NaN/None empty, text as it is."""
    if key is None or (isinstance(key, float) and not math.isfinite(key)):
        return ' data-v=""'
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return f' data-v="{int(key)}"'
    if isinstance(key, (float, np.floating)):
        return f' data-v="{float(key)!r}"'
    return f' data-v="{_html_text(key)}"'


def _html_table(b: _Block) -> list[str]:
    """One table block as HTML lines: in a horizontally scrolling ``div``; sortable and filterable with a
    ``table_id``."""
    out = ['<div class="scroll">']
    if b.table_id:
        out.insert(
            0,
            f'<p><label>Filter: <input class="filter" type="search" data-table="{b.table_id}" '
            'placeholder="country, code or value"></label></p>',
        )
        out.append(f'<table class="sortable" id="{b.table_id}">')
    else:
        out.append("<table>")
    out.append(
        "<thead><tr>"
        + "".join(f'<th class="{a}">{_html_spans(_spans(h))}</th>' for h, a in zip(b.header, b.align, strict=True))
        + "</tr></thead>"
    )
    out.append("<tbody>")
    for k, r in enumerate(b.rows):
        keys = b.sort[k] if b.sort else [None] * len(r)
        cells = []
        for c, a, key in zip(r, b.align, keys, strict=True):
            attr = _sort_attr(key) if b.sort else ""
            cells.append(f'<td class="{a}"{attr}>{_html_spans(_spans(c))}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _figure_html(b: _Block, base: Path | None) -> str:
    """A figure block as HTML: the PNG embedded (``b.path``, else ``b.src`` under ``base``); without a
    readable file, a relative link to ``b.src`` (as before embedding)."""
    cap = _html_text(b.caption)
    path = b.path or (str(Path(base) / urllib.parse.unquote(str(b.src))) if base is not None and b.src else "")
    uri = _data_uri(path) if path else None
    if uri is None:
        src = _html_text(b.src)
        return f'<figure><a href="{src}"><img src="{src}" alt="{cap}"></a><figcaption>{cap}</figcaption></figure>'
    return f'<figure><img src="{uri}" alt="{cap}"><figcaption>{cap}</figcaption></figure>'


def _render_html(blocks, title: str, base: Path | None = None) -> str:
    """The HTML page of ``blocks``; figures embedded from their files (``base``: the directory their
    relative ``src`` is under, for blocks without a ``path``)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_html_text(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    for b in blocks:
        if b.kind == "h":
            out.append(f"<h{b.level}>{_html_spans(b.spans)}</h{b.level}>")
        elif b.kind == "p":
            out.append(f"<p>{_html_spans(b.spans)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_html_spans(it)}</li>" for it in b.items) + "</ul>")
        elif b.kind == "table":
            out += _html_table(b)
        elif b.kind == "figure":
            out.append(_figure_html(b, base))
    if any(b.kind == "table" and b.table_id for b in blocks):
        out.append(f"<script>{_SCRIPT}</script>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _h(level, *spans):
    return _Block("h", level=level, spans=list(spans))


def _p(*spans):
    return _Block("p", spans=list(spans))


def _table(header, rows, align=None):
    align = align or ["l"] + ["r"] * (len(header) - 1)
    return _Block("table", header=list(header), rows=[list(r) for r in rows], align=list(align))


# ============================================================================ report content
def _val(ds, name, **sel):
    if name not in ds:
        return None
    v = ds[name]
    sel = {k: x for k, x in sel.items() if k in v.dims}
    try:
        return float(v.sel(sel).values)
    except (KeyError, TypeError, ValueError):
        return None


def _system_meta(meta, countries):
    systems = meta.get("systems")
    if systems is None and "system" in countries.dims:
        systems = [str(s) for s in countries["system"].values]
    out = []
    for s in systems or []:
        if isinstance(s, dict):
            out.append(s)
        else:
            out.append({"name": str(s)})
    return out


def _inputs_blocks(meta, countries):
    items = []
    systems = _system_meta(meta, countries)
    if systems:
        parts = []
        for s in systems:
            t = str(s.get("name", "?"))
            info = []
            if s.get("element_count") is not None:
                info.append(f"{int(s['element_count']):,} element sets")
            if s.get("element_source"):
                info.append(f"from {s['element_source']}")
            e0, e1, e2 = (s.get(f"element_epoch_{k}") for k in ("min", "median", "max"))
            if e0 or e2:
                info.append(
                    f"element epochs {_when(e0) if e0 else '?'} to {_when(e2) if e2 else '?'} UTC"
                    + (f" (median {_when(e1)})" if e1 else "")
                )
            parts.append(t + (f" ({'; '.join(info)})" if info else ""))
        items.append([f"Systems ({len(systems)}): " + "; ".join(parts)])
    else:
        items.append(["Systems: not recorded"])
    if not any(s.get("element_epoch_min") for s in systems):
        items.append(["Element epochs: not recorded"])
    p0, p1 = meta.get("period_start"), meta.get("period_end")
    if p0 or p1:
        step = meta.get("time_step_s")
        items.append(
            [f"Period: {_span(p0, p1)}" + (f", time step {format_number(step)} s" if step is not None else "")]
        )
    else:
        items.append(["Period: not recorded"])
    res = meta.get("grid_resolution_deg")
    items.append([f"Grid: {format_number(res)}° latitude-longitude cells" if res is not None else "Grid: not recorded"])
    gs = meta.get("geography_source")
    items.append(
        [
            f"Geography: {gs}" + (f" ({meta['geography_detail']})" if meta.get("geography_detail") else "")
            if gs
            else "Geography: not recorded"
        ]
    )
    known = {
        "title",
        "systems",
        "period_start",
        "period_end",
        "time_step_s",
        "grid_resolution_deg",
        "geography_source",
        "geography_detail",
        MAPS_NOTE,
        "epfd_blocks",  # the EPFD section's blocks (orbitshare.report.epfd), not an input
        "created",  # stated under the title
        "inline_angle_deg",
        "split",
    }
    if meta.get("inline_angle_deg") is not None or meta.get("split") is not None:
        angle, split = meta.get("inline_angle_deg"), meta.get("split", "equal")
        angle_text = f"{format_number(angle)}°" if angle is not None else "the default angle"
        items.append([f"Co-frequency sharing: in-line angle {angle_text}, overlapping spectrum split {split}"])
    for k, v in meta.items():
        if k in known:
            continue
        items.append([f"{k}: " + (v if isinstance(v, str) else json.dumps(v, default=str))])
    return [_h(2, "Inputs"), _Block("ul", items=items)]


def _input_phrase(meta, countries):
    systems = _system_meta(meta, countries)
    names = ", ".join(str(s.get("name", "?")) for s in systems) or "the systems of the run"
    bits = [f"Measured for {len(systems)} system{'s' if len(systems) != 1 else ''} ({names})"]
    epochs = [(s.get("element_epoch_min"), s.get("element_epoch_max")) for s in systems]
    lo = min((e[0] for e in epochs if e[0]), default=None)
    hi = max((e[1] for e in epochs if e[1]), default=None)
    if lo or hi:
        bits.append(f"with element epochs {_when(lo) if lo else '?'} to {_when(hi) if hi else '?'} UTC")
    p0, p1 = meta.get("period_start"), meta.get("period_end")
    if p0 or p1:
        bits.append(f"over the period {_span(p0, p1)}")
    res = meta.get("grid_resolution_deg")
    if res is not None:
        bits.append(f"on a {format_number(res)}° grid")
    gs = meta.get("geography_source")
    if gs:
        bits.append(f"with the {gs} geography")
    return ", ".join(bits) + " (groups: UNSD M49 flags; values are totals over each group's countries):"


def _headline_blocks(groups, countries, meta):
    blocks = [_h(2, "Headline findings"), _p(_input_phrase(meta, countries))]
    g = groups
    rest = "rest"
    items = []
    for key in ("ldc", "lldc", "sids"):
        if key not in g["group"].values:
            continue
        label = GROUP_LABELS[key]
        n = int(g["member_count"].sel(group=key)) if "member_count" in g.coords else None
        pop = _val(g, "population", group=key)
        head = (
            f"{label} ({_GROUP_LONG[key]}; "
            + (f"{n} countries, " if n is not None else "")
            + f"{_people(pop)} people on the grid)"
        )
        facts = []
        a, b = (
            _val(g, "population_covered_any_fraction", group=key),
            _val(g, "population_covered_any_fraction", group=rest),
        )
        if a is not None:
            facts.append(
                f"{_pct(a)} of the population covered by at least one system (time mean), against {_pct(b)} in the rest"
            )
        a, b = (
            _val(g, "capacity_per_person_total_mbps", group=key),
            _val(g, "capacity_per_person_total_mbps", group=rest),
        )
        if a is not None:
            rel = f", {format_number(a / b, 3)} times the rest's" if b and math.isfinite(a / b) else ""
            facts.append(
                f"capacity per person {format_number(a)} Mbit/s against {format_number(b)} Mbit/s in the rest{rel}"
            )
        a, b = _val(g, "demand_met_fraction", group=key), _val(g, "demand_met_fraction", group=rest)
        if a is not None:
            facts.append(f"{_pct(a)} of the busy-hour demand met, against {_pct(b)} in the rest")
        a, b = _val(g, "served_per_subscriber_mbps", group=key), _val(g, "served_per_subscriber_mbps", group=rest)
        if a is not None:
            facts.append(
                f"{format_number(a)} Mbit/s served per subscriber against {format_number(b)} Mbit/s in the rest"
            )
        a, b = _val(g, "service_ratio_total", group=key), _val(g, "service_ratio_total", group=rest)
        if a is not None:
            facts.append(
                f"service ratio (share of world capacity / share of world population) "
                f"{format_number(a, 3)} against {format_number(b, 3)} in the rest"
            )
        a, b = _val(g, "mhz_available_total", group=key), _val(g, "mhz_available_total", group=rest)
        if a is not None:
            facts.append(
                f"{format_number(a)} MHz of spectrum reaching a person (mean over people of the union of the "
                f"bands in view: a band shared by several systems counts once) against {format_number(b)} MHz "
                "in the rest"
            )
        a, b = _val(g, "resource_balance_total", group=key), _val(g, "resource_balance_total", group=rest)
        if a is not None:
            facts.append(
                f"resource balance (share of capacity operated / share delivered) "
                f"{format_number(a, 3)} against {format_number(b, 3)} in the rest"
            )
        items.append([head + ": " + ("; ".join(facts) if facts else "no indicators computed") + "."])
    if "world" in g["group"].values:
        w = []
        pop = _val(g, "population", group="world")
        w.append(
            f"{_people(pop)} people in {int(g['member_count'].sel(group='world'))} countries"
            if "member_count" in g.coords
            else f"{_people(pop)} people"
        )
        a = _val(g, "population_covered_any_fraction", group="world")
        if a is not None:
            w.append(f"{_pct(a)} covered by at least one system")
        a = _val(g, "capacity_per_person_total_mbps", group="world")
        if a is not None:
            w.append(f"capacity per person {format_number(a)} Mbit/s")
        a = _val(g, "demand_met_fraction", group="world")
        if a is not None:
            w.append(f"{_pct(a)} of the busy-hour demand met")
        a = _val(g, "served_per_subscriber_mbps", group="world")
        if a is not None:
            w.append(f"{format_number(a)} Mbit/s served per subscriber")
        a = _val(g, "mhz_available_total", group="world")
        if a is not None:
            w.append(f"{format_number(a)} MHz reaching a person (union of the bands in view)")
        items.append(["World: " + "; ".join(w) + "."])
    unserved = _unserved_item(countries)
    if unserved is not None:
        items.append([unserved])
    blocks.append(_Block("ul", items=items))
    method = str(countries.attrs.get("population_covered_any_method", ""))
    if method.startswith("lower bound"):
        blocks.append(
            _p(
                "Coverage by at least one system is a lower bound here: the largest covered fraction "
                "of any one system in each cell (the per-step counts were not kept)."
            )
        )
    return blocks


# ============================================================================ capacity as delivered
#: meta key of :func:`write_report`: a sentence on the maps of an allocation (shown in "Capacity as delivered")
MAPS_NOTE = "served_maps_note"
_RULE_TEXT = {
    "maxmin": "max-min fair in the share of demand met (the cells with the smallest share met are raised first, "
    "until a capacity binds)",
    "throughput": "so as to maximise the total rate served (maximum throughput)",
}


def allocation(countries: xr.Dataset) -> bool:
    """True where the accounts come from an allocation rule ("maxmin", "throughput": ``served_total_mbps``)."""
    return "served_total_mbps" in countries


def _system_value(countries: xr.Dataset, names: Sequence[str], system: Any) -> Any:
    """The first of ``names`` present on ``system`` (coordinate or variable) for ``system``, or None."""
    for n in names:
        if n in countries.variables and countries[n].dims == ("system",):
            v = countries[n].sel(system=system).values
            return v.item() if hasattr(v, "item") else v
    return None


def _system_parameters(countries: xr.Dataset) -> list[str]:
    """Per system, its allocation parameters as text, from the coordinates (or variables) on ``system``."""
    out = []
    for s in countries["system"].values:
        bits = []
        beams = _system_value(countries, ("beams",), s)
        beam = _system_value(countries, ("beam_capacity_mbps", "beam_mbps"), s)
        sat = _system_value(countries, ("capacity_per_sat_mbps", "satellite_capacity_mbps"), s)
        if beams is not None and beam is not None and _finite(beams) and _finite(beam):
            bits.append(f"{int(beams)} beams of {format_number(beam)} Mbit/s")
        elif beam is not None and _finite(beam):
            bits.append(f"beams of {format_number(beam)} Mbit/s")
        if sat is not None and _finite(sat):
            bits.append(f"{format_number(sat)} Mbit/s per satellite")
        mb = _system_value(countries, ("max_beams_per_cell",), s)
        if mb is not None and _finite(mb):
            cap = _system_value(countries, ("cell_cap_mbps",), s)
            svc = _system_value(countries, ("service_cell_km2",), s)
            where = f"service cell of {format_number(svc)} km²" if svc is not None and _finite(svc) else "grid cell"
            bits.append(
                f"at most {int(mb)} beam{'s' if int(mb) != 1 else ''} per {where}"
                + (f" ({format_number(cap)} Mbit/s)" if cap is not None and _finite(cap) else "")
            )
        gw = _system_value(countries, ("gateways", "gateway_source"), s)
        if gw is not None and str(gw):
            bits.append(f"gateways: {gw}")
        mask = _system_value(countries, ("gateway_mask_deg",), s)
        if mask is not None and _finite(mask):
            bits.append(f"gateway mask {format_number(mask)}°")
        isl = _system_value(countries, ("isl",), s)
        if isl is not None:
            bits.append("inter-satellite links" if bool(isl) else "no inter-satellite links")
        out.append(f"{s}: " + (", ".join(bits) if bits else "parameters not recorded"))
    return out


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def model_paragraph(countries: xr.Dataset) -> str:
    """The one paragraph of the report explaining the allocation model, with the run's parameter values
    (``attrs`` ``rule``, ``busy_hour_mbps``, ``adoption_source``, ``thresholds_mbps``, ``band_sharing`` of the
    accounts, and
    the system coordinates ``beams``, ``beam_capacity_mbps``, ``max_beams_per_cell``, ``gateways``,
    ``gateway_mask_deg``, ``isl`` where present)."""
    a = countries.attrs
    rule = str(a.get("rule", "maxmin"))
    busy = a.get("busy_hour_mbps")
    adoption = str(a.get("adoption_source", "") or "")
    over = a.get("overbooking")
    text = (
        f'Capacity is allocated, not spread (capacity rule "{rule}"). A satellite\'s capacity is its number of '
        "beams times the beam capacity; it gives a grid cell at most one beam per service cell the cell holds "
        "(a service cell is the ground footprint of one user beam; without one given, the grid cell), and a "
        "cell takes at most max_beams_per_cell beams per service cell from a system. A satellite delivers "
        "only while a gateway of its system is in view above the gateway elevation mask, unless the system "
        "has inter-satellite links. Demand is subscribers times the busy-hour rate"
        + (f" of {format_number(busy)} Mbit/s per subscriber" if busy is not None else "")
        + ", subscribers being the population times the adoption"
        + (f" ({adoption})" if adoption else "")
        + "; a country's subscribers are split equally among the systems allowed to serve it (landing rights), "
        "and there is no demand at sea. At each time step the capacity goes to the cells "
        + _RULE_TEXT.get(rule, f"by the rule {rule!r}")
        + ", never above a cell's demand or its beams' capacity; the figures are time means, every step taken "
        "as busy hour."
        + (
            " Where two systems' bands overlap and their serving satellites are in line (co-frequency sharing), "
            "a system's beams on the cell carry only the share of its band the sharing leaves it, so serving "
            "that cell takes more of a satellite's beam time."
            if int(a.get("band_sharing", 0) or 0)
            else ""
        )
        + (
            f" The connectivity thresholds compare the rate of an active user: served per subscriber times "
            f"{format_number(over)} subscribers per active user (overbooking)."
            if over is not None
            else ""
        )
        + " Parameters: "
        + "; ".join(_system_parameters(countries))
        + "."
    )
    return text


def _threshold_vars(ds: xr.Dataset) -> list[tuple[str, float]]:
    out = []
    for v in ds.data_vars:
        name = str(v)
        if name.startswith("share_population_at_least_") and name.endswith("mbps"):
            try:
                out.append((name, float(name[len("share_population_at_least_") : -len("mbps")])))
            except ValueError:
                continue
    return sorted(out, key=lambda p: p[1])


def _delivered_blocks(countries: xr.Dataset, groups: xr.Dataset | None, meta: Mapping[str, Any]) -> list:
    """The "Capacity as delivered" section of an allocation: the model paragraph, the LDC/LLDC/SIDS
    headline against the world, and per system what was offered and delivered."""
    if not allocation(countries):
        return []
    blocks = [_h(2, "Capacity as delivered"), _p(model_paragraph(countries))]
    if groups is not None and allocation(groups):
        thresholds = _threshold_vars(groups)
        items = []
        for key in ("ldc", "lldc", "sids", "world"):
            if key not in groups["group"].values:
                continue
            facts = [
                f"{_pct(_val(groups, 'demand_met_fraction', group=key))} of the busy-hour demand met",
                f"{format_number(_val(groups, 'served_per_subscriber_mbps', group=key))} Mbit/s served per subscriber",
            ]
            if thresholds:
                facts.append(
                    "population where an active user gets at least "
                    + ", ".join(f"{format_number(t)} Mbit/s: {_pct(_val(groups, n, group=key))}" for n, t in thresholds)
                )
            head = "World" if key == "world" else f"{GROUP_LABELS[key]} ({_GROUP_LONG[key]})"
            items.append([f"{head}: " + "; ".join(facts) + "."])
        if items:
            blocks.append(
                _p(
                    "Headline (totals over each group's countries; the population shares weighted by population), "
                    "against the world:"
                )
            )
            blocks.append(_Block("ul", items=items))
    cols = [
        ("offered_mbps", "offered (Mbit/s)", format_number),
        ("delivered_mbps", "delivered (Mbit/s)", format_number),
        ("unused_mbps", "unused (Mbit/s)", format_number),
        ("satellite_utilisation", "satellite utilisation", _pct),
        ("gateway_fraction", "satellite-steps with a gateway", _pct),
    ]
    cols = [c for c in cols if c[0] in countries and countries[c[0]].dims == ("system",)]
    if cols:
        rows = [[str(s)] + [f(_val(countries, v, system=s)) for v, _, f in cols] for s in countries["system"].values]
        blocks.append(
            _p(
                "Per system, time means of the capacity offered by satellites able to deliver, and of the "
                "rate delivered to cells:"
            )
        )
        blocks.append(_table(["system"] + [h for _, h, _ in cols], rows))
    note = meta.get(MAPS_NOTE)
    if note:
        blocks.append(_p(str(note)))
    return blocks


def restricted(countries: xr.Dataset) -> bool:
    """True where some system may not serve some country (``may_serve`` has a 0: landing rights)."""
    return "may_serve" in countries and not bool(np.asarray(countries["may_serve"].values).all())


def _unserved_item(countries: xr.Dataset) -> str | None:
    """The headline line naming the LDC/LLDC/SIDS (UN members) that no system may serve; None without
    landing-rights restriction or without ``systems_serving``."""
    if not restricted(countries) or "systems_serving" not in countries:
        return None
    none = np.asarray(countries["systems_serving"].values) == 0
    if "un_member" in countries.coords:
        none &= np.asarray(countries["un_member"].values, bool)
    names = countries["country_name"].values if "country_name" in countries.coords else countries["country"].values
    codes = countries["country"].values
    parts = []
    for key in ("ldc", "lldc", "sids"):
        if key not in countries.coords:
            continue
        sel = np.flatnonzero(none & np.asarray(countries[key].values, bool))
        listed = ", ".join(f"{names[k]} ({codes[k]})" for k in sel) if sel.size else "none"
        parts.append(f"{GROUP_LABELS[key]}: {listed}")
    if not parts:
        return None
    return "No system may serve (landing rights) these UN members — " + "; ".join(parts) + "."


def _serving_blocks(countries: xr.Dataset) -> list:
    """The "Who may be served" section: per system the countries and people it may serve."""
    if "may_serve" not in countries or "system" not in countries.dims:
        return []
    blocks = [_h(2, "Who may be served")]
    if not restricted(countries):
        blocks.append(_p("Every system may serve every country (no landing-rights restriction)."))
        return blocks
    may = countries["may_serve"].transpose("system", "country")
    m = np.asarray(may.values) > 0
    pop = np.nan_to_num(np.asarray(countries["population"].values, np.float64), nan=0.0)
    world = float(pop.sum())
    rows = []
    for k, s in enumerate(may["system"].values):
        people = float(pop[m[k]].sum())
        rows.append(
            [str(s), f"{int(m[k].sum())} of {m.shape[1]}", _people(people), _pct(people / world if world > 0 else None)]
        )
    blocks.append(
        _p(
            "Countries and people (on the grid) each system may serve under its landing rights; capacity, "
            "MHz and covered population of a country it may not serve are 0."
        )
    )
    blocks.append(
        _table(["system", "countries it may serve", "people it may serve", "share of world population"], rows)
    )
    n0 = int((m.sum(axis=0) == 0).sum())
    p0 = float(pop[m.sum(axis=0) == 0].sum())
    blocks.append(_p(f"{n0} countries ({_people(p0)} people) may be served by no system."))
    return blocks


_GROUP_COLUMNS = (  # (variable, header, formatter)
    ("population", "population", _count),
    ("population_covered_any_fraction", "covered by any system", _pct),
    ("capacity_per_person_total_mbps", "capacity per person (Mbit/s)", format_number),
    ("service_ratio_total", "service ratio", lambda x: format_number(x, 3)),
    ("subscribers", "subscribers", _count),
    ("demand_met_fraction", "demand met", _pct),
    ("served_per_subscriber_mbps", "served per subscriber (Mbit/s)", format_number),
    ("mhz_available_total", "MHz reaching a person (union)", format_number),
    ("satellites_operated_total", "satellites operated", _count),
    ("resource_balance_total", "resource balance", lambda x: format_number(x, 3)),
)


def _groups_blocks(groups):
    blocks = [
        _h(2, "Groups"),
        _p(
            "LDC, LLDC and SIDS overlap; rest = countries in none of the three; ITU "
            "Regions 1-3; world = all countries. Per-person values and ratios are "
            "recomputed from the group totals (population-weighted), not averaged over "
            "countries."
        ),
    ]
    cols = [c for c in _GROUP_COLUMNS if c[0] in groups]
    header = ["group", "countries"] + [h for _, h, _ in cols]
    rows = []
    for gk in groups["group"].values:
        gk = str(gk)
        n = int(groups["member_count"].sel(group=gk)) if "member_count" in groups.coords else None
        rows.append(
            [GROUP_LABELS.get(gk, gk), "" if n is None else str(n)] + [f(_val(groups, v, group=gk)) for v, _, f in cols]
        )
    blocks.append(_table(header, rows))
    if "system" in groups.dims:
        systems = [str(s) for s in groups["system"].values]
        for var, what, f in (
            ("population_covered_fraction", "Population covered, by system", _pct),
            ("capacity_per_person_mbps", "Capacity per person (Mbit/s), by system", format_number),
            ("system_demand_met_fraction", "Share of the demand on the system met, by system", _pct),
            ("system_served_per_subscriber_mbps", "Rate served per subscriber (Mbit/s), by system", format_number),
        ):
            if var not in groups:
                continue
            blocks.append(_h(3, what))
            rows = [
                [GROUP_LABELS.get(str(gk), str(gk))] + [f(_val(groups, var, group=gk, system=s)) for s in systems]
                for gk in groups["group"].values
            ]
            blocks.append(_table(["group"] + systems, rows))
    return blocks


def _country_blocks(countries):
    served = allocation(countries)
    var = "served_per_subscriber_mbps" if served else "capacity_per_person_total_mbps"
    what = "rate served per subscriber" if served else "capacity per person"
    unit_head = f"{what} (Mbit/s)"
    if var not in countries:
        return []
    pop = np.asarray(countries["population"].values, np.float64)
    x = np.asarray(countries[var].values, np.float64)
    ok = (pop > _MIN_POPULATION) & np.isfinite(x)
    crit = f"population on the grid above {_MIN_POPULATION / 1e6:g} million"
    if "un_member" in countries.coords:
        ok &= np.asarray(countries["un_member"].values, bool)
        crit = "UN members with " + crit
    idx = np.nonzero(ok)[0]
    intro = (
        f"Rate served per subscriber, all systems (Mbit/s, busy hour, time mean), among {len(idx)} countries: {crit}."
        if served
        else f"Capacity delivered per person, all systems (Mbit/s, time mean), among {len(idx)} countries: {crit}."
    )
    blocks = [_h(2, f"Countries by {what}"), _p(intro)]
    if not idx.size:
        blocks.append(_p("No country qualifies."))
        return blocks + _all_countries_blocks(countries, var, unit_head)
    order = idx[np.argsort(-x[idx], kind="stable")]
    names = countries["country_name"].values if "country_name" in countries.coords else countries["country"].values
    codes = countries["country"].values
    cov = (
        countries["population_covered_any_fraction"].values if "population_covered_any_fraction" in countries else None
    )
    sr = countries["service_ratio_total"].values if "service_ratio_total" in countries else None
    dm = countries["demand_met_fraction"].values if "demand_met_fraction" in countries else None
    header = ["rank", "country", "ISO3", "population", unit_head]
    if cov is not None:
        header.append("covered by any system")
    if sr is not None:
        header.append("service ratio")
    if dm is not None:
        header.append("demand met")

    def rows(sel):
        out = []
        for k in sel:
            rank = int(np.nonzero(order == k)[0][0]) + 1
            r = [str(rank), str(names[k]), str(codes[k]), _count(pop[k]), format_number(x[k])]
            if cov is not None:
                r.append(_pct(cov[k]))
            if sr is not None:
                r.append(format_number(sr[k], 3))
            if dm is not None:
                r.append(_pct(dm[k]))
            out.append(r)
        return out

    align = ["r", "l", "l", "r", "r"] + ["r"] * (len(header) - 5)
    blocks += [
        _h(3, f"Top {min(_TOP_N, order.size)} (highest {what})"),
        _table(header, rows(order[:_TOP_N]), align),
        _h(3, f"Bottom {min(_TOP_N, order.size)} (lowest {what})"),
        _table(header, rows(order[::-1][:_TOP_N]), align),
    ]
    return blocks + _all_countries_blocks(countries, var, unit_head)


#: id of the table of every country in report.html (sortable, filterable)
COUNTRIES_TABLE_ID = "countries-table"


def _group_flags(countries: xr.Dataset, k: int) -> str:
    """The groups country ``k`` belongs to (``LDC, LLDC, SIDS``, ITU Region), as text."""
    out = [GROUP_LABELS[g] for g in ("ldc", "lldc", "sids") if g in countries.coords and bool(countries[g].values[k])]
    if "itu_region" in countries.coords and int(countries["itu_region"].values[k]) in (1, 2, 3):
        out.append(f"R{int(countries['itu_region'].values[k])}")
    return ", ".join(out)


def _all_countries_blocks(countries: xr.Dataset, var: str, unit_head: str) -> list[_Block]:
    """Every country of the accounts in one table (one row each), ranked by ``var`` (countries without a
    value last, unranked); sortable by any column and filterable in report.html."""
    n = countries.sizes["country"]
    pop = np.asarray(countries["population"].values, np.float64)
    x = np.asarray(countries[var].values, np.float64)
    names = countries["country_name"].values if "country_name" in countries.coords else countries["country"].values
    codes = countries["country"].values
    extra = [
        (v, head, f)
        for v, head, f in (
            ("population_covered_any_fraction", "covered by any system", _pct),
            ("service_ratio_total", "service ratio", lambda y: format_number(y, 3)),
            ("demand_met_fraction", "demand met", _pct),
        )
        if v in countries and countries[v].dims == ("country",)
    ]
    order = np.argsort(np.where(np.isfinite(x), -x, np.inf), kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(1, n + 1)
    header = ["rank", "country", "code", "groups", "population", unit_head] + [h for _, h, _ in extra]
    rows, keys = [], []
    for k in order:
        ranked = bool(np.isfinite(x[k]))
        r = [str(rank[k]) if ranked else "", str(names[k]), str(codes[k]), _group_flags(countries, k)]
        r += [_count(pop[k]), format_number(x[k])]
        key: list[Any] = [int(rank[k]) if ranked else None, str(names[k]), str(codes[k]), r[3], pop[k], x[k]]
        for v, _, f in extra:
            y = float(countries[v].values[k])
            r.append(f(y))
            key.append(y)
        rows.append(r)
        keys.append(key)
    table = _table(header, rows, ["r", "l", "l", "l"] + ["r"] * (len(header) - 4))
    table.sort, table.table_id = keys, COUNTRIES_TABLE_ID
    return [
        _h(3, f"All countries ({n})"),
        _p(
            f"Every country of the run, ranked by {unit_head} (countries without a value last). In report.html a "
            "click on a column header sorts the table, and the box above it filters the rows."
        ),
        table,
    ]


_INDEX_COLUMNS = (("gini", "Gini"), ("theil_T", "Theil T"), ("theil_L", "Theil L"), ("palma", "Palma"))
_QUANTITY_LABELS = {
    "capacity_per_person": "capacity per person",
    "served_per_subscriber": "served per subscriber",
    "mhz_available": "MHz in view (a system: its bands; all: their union)",
}


def _equity_blocks(equity):
    if equity is None or "gini" not in equity:
        return []
    served = "served_per_subscriber" in equity["quantity"].values
    first = (
        "Indices of the rate served per subscriber (weighted by subscribers) and of the MHz reaching a person "
        "(per system its band MHz in view, all systems the union of the bands in view; weighted by population), "
        "across countries (each country one unit) and across people (each country's "
        "piece of a grid cell one unit). "
        if served
        else "Indices of capacity per person and of the MHz reaching a person (per system its band MHz in "
        "view, all systems the union of the bands in view), across countries (each "
        "country one unit, weighted by its population) and across people (grid cells weighted by "
        "their people). "
    )
    blocks = [
        _h(2, "Inequality"),
        _p(
            first + "Gini, Theil T, Atkinson (ε = 0.5) and Palma keep people without service; "
            "Theil L and Atkinson (ε = 1) are computed among those with service, and the last column is "
            "the population share so excluded. System 'all' = all systems together."
        ),
    ]
    has_atk = "atkinson" in equity and "epsilon" in equity.dims
    header = ["quantity", "scope", "system"] + [h for _, h in _INDEX_COLUMNS]
    if has_atk:
        header += [f"Atkinson ε={float(e):g}" for e in equity["epsilon"].values]
    if "zero_population_share" in equity:
        header.append("share without service")
    rows = []
    for q in equity["quantity"].values:
        for sc in equity["scope"].values:
            for s in equity["system"].values:
                sel = {"quantity": q, "scope": sc, "system": s}
                r = [_QUANTITY_LABELS.get(str(q), str(q)), str(sc), str(s)]
                r += [format_index(_val(equity, v, **sel)) for v, _ in _INDEX_COLUMNS]
                if has_atk:
                    r += [
                        format_index(float(equity["atkinson"].sel(epsilon=e, **sel))) for e in equity["epsilon"].values
                    ]
                if "zero_population_share" in equity:
                    r.append(_pct(_val(equity, "zero_population_share", **sel)))
                rows.append(r)
    blocks.append(_table(header, rows, ["l", "l", "l"] + ["r"] * (len(header) - 3)))
    if "theil_T_between" in equity and "partition" in equity.dims:
        sys_all = "all" if "all" in equity["system"].values else equity["system"].values[-1]
        blocks += [
            _h(3, "Theil decomposition: between and within groups"),
            _p(
                f"For all systems together (system '{sys_all}'): Theil = between-group part + within-"
                "group part, for the partitions LDC, LLDC, SIDS (members vs all others) and ITU Regions. "
                "The between share is the part of the inequality explained by the partition."
            ),
        ]
        header = [
            "quantity",
            "scope",
            "partition",
            "Theil T",
            "T between",
            "T within",
            "T between share",
            "Theil L",
            "L between",
            "L within",
        ]
        rows = []
        for q in equity["quantity"].values:
            for sc in equity["scope"].values:
                for part in equity["partition"].values:
                    sel = {"quantity": q, "scope": sc, "system": sys_all}
                    tT = _val(equity, "theil_T", **sel)
                    tb = _val(equity, "theil_T_between", partition=part, **sel)
                    share = tb / tT if tT and tb is not None and math.isfinite(tb / tT) else None
                    rows.append(
                        [
                            _QUANTITY_LABELS.get(str(q), str(q)),
                            str(sc),
                            _PARTITION_LABELS.get(str(part), str(part)),
                            format_index(tT),
                            format_index(tb),
                            format_index(_val(equity, "theil_T_within", partition=part, **sel)),
                            _pct(share) if share is not None else "n/a",
                            format_index(_val(equity, "theil_L", **sel)),
                            format_index(_val(equity, "theil_L_between", partition=part, **sel)),
                            format_index(_val(equity, "theil_L_within", partition=part, **sel)),
                        ]
                    )
        blocks.append(_table(header, rows, ["l", "l", "l"] + ["r"] * 7))
    return blocks


def _href(path: Path, out_dir: Path) -> str:
    rel = os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())
    return urllib.parse.quote(Path(rel).as_posix(), safe="/._-~")


def _figure_blocks(figures, out_dir):
    items = []
    if isinstance(figures, dict):
        figures = list(figures.items())
    for f in figures or []:
        path, cap = f if isinstance(f, (tuple, list)) else (f, None)
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = Path(out_dir) / path
        uniform = png_text(path, UNIFORM_KEY)
        if uniform:
            items.append(_p(uniform))
            continue
        cap = cap or png_title(path) or path.stem.replace("_", " ")
        items.append(_Block("figure", src=_href(path, out_dir), path=str(path), caption=cap))
    return [_h(2, "Figures")] + items if items else []


def _files_blocks(out_dir):
    names = [n for n in ("countries.csv", "indicators.csv", "groups.csv", "equity.csv") if (Path(out_dir) / n).exists()]
    if not names:
        return []
    desc = {
        "countries.csv": "one row per country, every indicator and the group flags",
        "indicators.csv": "the same per-country figures in tidy form (country, m49, system, indicator, value, unit)",
        "groups.csv": "one row per group",
        "equity.csv": "inequality indices in long format (quantity, scope, system, index, partition, value)",
    }
    return [_h(2, "Tables"), _Block("ul", items=[[_Link(n, n), f": {desc[n]}"] for n in names])]


def _unattributed_blocks(countries):
    if "satellites_unattributed" not in countries or "system" not in countries["satellites_unattributed"].dims:
        return []
    v = countries["satellites_unattributed"]
    if not np.asarray(v.values).any():
        return []
    parts = [f"{s}: {int(v.sel(system=s))}" for s in v["system"].values]
    return [_p("Satellites without an operating country among the countries of the run: " + "; ".join(parts) + ".")]


def _world_mean(countries, name: str) -> np.ndarray | None:
    """Population-weighted world mean of ``name`` over countries (per system; other dims summed), or None."""
    if name not in countries:
        return None
    pop = np.nan_to_num(np.asarray(countries["population"].values, np.float64), nan=0.0)
    v = countries[name]
    extra = [d for d in v.dims if d not in ("system", "country")]
    x = np.nan_to_num(np.asarray(v.sum(extra).transpose("system", "country").values, np.float64), nan=0.0)
    return x @ pop / pop.sum() if pop.sum() > 0 else None


def _spectrum_blocks(countries, meta) -> list[_Block]:
    """What the MHz figures count (definitions), and per system the world mean band MHz in view against the
    effective MHz after co-frequency sharing."""
    if "mhz_available_total" not in countries and "band_mhz_in_view" not in countries:
        return []
    angle, split = meta.get("inline_angle_deg"), meta.get("split")
    angle_text = f"{format_number(float(angle))}°" if angle is not None else "the in-line angle (default 10°)"
    split_text = {
        "equal": "each member of an in-line group gets an equal share of the overlapping segment (FCC 47 CFR "
        "§25.261(c) style)",
        "priority": "the group's first system in the experiment's order (standing for the ITU date of receipt) "
        "keeps the overlapping segment, the others get none",
    }.get(str(split), "the overlapping segment is split equally (default) or by priority")
    blocks = [
        _h(2, "Spectrum"),
        _p(
            "MHz reaching a person: the width of the union of the bands of the systems with at least one satellite "
            "in view, time mean, mean over the people; a band used by several systems counts once, never a sum "
            "over systems. Per system, band MHz in view is the band width times the share of time with a satellite "
            "of the system in view (the whole band, whoever else uses it); effective MHz is what co-frequency "
            "sharing leaves: the serving satellite of a system is its highest one in view (a simplification: an "
            "earth station tracks the highest satellite), two systems are in line when their serving satellites "
            f"are less than {angle_text} apart as seen from the cell and their bands overlap, and then "
            f"{split_text}. Outside in-line events each system uses its whole band."
        ),
    ]
    inview, eff = _world_mean(countries, "band_mhz_in_view"), _world_mean(countries, "effective_mhz")
    if inview is not None and eff is not None:
        names = [str(x) for x in countries["system"].values]
        rows = [[n, format_number(a), format_number(b)] for n, a, b in zip(names, inview, eff, strict=True)]
        header = ["system", "band MHz in view (world, per person)", "effective MHz (world, per person)"]
        blocks.append(_table(header, rows))
    return blocks


def write_report(
    out_dir: str | os.PathLike,
    *,
    countries: xr.Dataset,
    groups: xr.Dataset | None,
    equity: xr.Dataset | None,
    figures: Sequence[Any] | Mapping[Any, str] | None,
    meta: Mapping[str, Any] | None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; return ``(md_path, html_path)``.

    ``countries``, ``groups``, ``equity``: the Datasets of :mod:`orbitshare.analysis.accounts` (persons,
    Mbit/s, MHz, 1). ``figures``: paths (absolute, or relative to ``out_dir``), ``(path, caption)``
    pairs or a mapping path → caption; without a caption the PNG's ``Title`` chunk (written by
    :func:`orbitshare.report.figures.write_figures`) is used. ``meta``: the inputs to name (module
    docstring; :func:`report_meta`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    title = str(meta.get("title") or "orbitshare run report")
    blocks = [_h(1, title)]
    if meta.get("created"):
        blocks.append(_p(f"Created {meta['created']}."))
    blocks += _inputs_blocks(meta, countries)
    if groups is not None:
        blocks += _headline_blocks(groups, countries, meta)
    blocks += _delivered_blocks(countries, groups, meta)
    if groups is not None:
        blocks += _groups_blocks(groups)
    blocks += _serving_blocks(countries)
    blocks += _country_blocks(countries)
    blocks += _unattributed_blocks(countries)
    blocks += _spectrum_blocks(countries, meta)
    blocks += _equity_blocks(equity)
    blocks += list(meta.get("epfd_blocks", ()))  # the EPFD section (orbitshare.report.epfd.epfd_blocks)
    blocks += _figure_blocks(figures, out)
    blocks += _files_blocks(out)
    md_path, html_path = out / "report.md", out / "report.html"
    for path, text in ((md_path, _render_md(blocks)), (html_path, _render_html(blocks, title, base=out))):
        with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return md_path, html_path
