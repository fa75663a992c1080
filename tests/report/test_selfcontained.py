"""report.html on its own: embedded images, a sortable and filterable table of every country, scrolling
tables, uniform maps replaced by a sentence, the per-country choropleth, and (when headless Chromium is
installed) the page as a browser runs it.

The toy world is the one of ``test_report.py`` (eight countries on a 10° grid).
"""

import base64
import html.parser
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from orbitshare.report.document import COUNTRIES_TABLE_ID, write_report
from orbitshare.report.figures import (
    UNIFORM_KEY,
    map_figure,
    png_text,
    uniform_value,
    write_choropleth,
    write_figures,
)
from orbitshare.report.tables import write_tables

pytest.importorskip("matplotlib")

_spec = importlib.util.spec_from_file_location("report_world", Path(__file__).parent / "test_report.py")
assert _spec is not None and _spec.loader is not None
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)


class _Tags(html.parser.HTMLParser):
    """Start tags with their attributes and the tags open around each, and the rows of one table."""

    VOID = {"img", "meta", "br", "hr", "link", "input", "col", "source"}

    def __init__(self, table_id=COUNTRIES_TABLE_ID):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.table_id = [], [], table_id
        self.in_table, self.rows, self.texts = False, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a, [t for t, _ in self.stack]))
        if tag == "table" and a.get("id") == self.table_id:
            self.in_table = True
        if self.in_table and tag == "tr":
            self.rows.append([])
        if self.in_table and tag in ("td", "th"):
            self.rows[-1].append([a.get("data-v"), ""])
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        self.texts.append(data)
        if self.in_table and self.rows and self.rows[-1] and self.stack and self.stack[-1][0] in ("td", "th"):
            self.rows[-1][-1][1] += data


def _by_code(countries, name):
    """``{country code: value}`` of the per-country variable ``name``."""
    return {str(k): float(v) for k, v in zip(countries["country"].values, countries[name].values, strict=True)}


def _parse(text):
    p = _Tags()
    p.feed(text)
    p.close()
    return p


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("selfcontained")
    geo, coverage, capacity, countries, groups, equity = world._inputs()
    write_tables(out, countries, groups, equity)
    figures = write_figures(out, geo, coverage, capacity, equity) + write_choropleth(out, geo, countries)
    meta = world.report_meta(coverage, geo)
    md, htm = write_report(out, countries=countries, groups=groups, equity=equity, figures=figures, meta=meta)
    return {
        "out": out,
        "geo": geo,
        "countries": countries,
        "figures": figures,
        "md": md.read_text(encoding="utf-8"),
        "html": htm.read_text(encoding="utf-8"),
        "html_path": htm,
    }


def test_html_has_no_external_reference(report):
    p = _parse(report["html"])
    srcs = [a["src"] for t, a, _ in p.tags if "src" in a]
    assert len(srcs) == len(report["figures"]) == 7
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not [t for t, _, _ in p.tags if t in ("link", "iframe", "object", "embed")]
    # the only links: the CSV tables next to the report
    hrefs = {a["href"] for t, a, _ in p.tags if "href" in a}
    assert hrefs == {"countries.csv", "indicators.csv", "groups.csv", "equity.csv"}
    assert "http" not in report["html"] and "url(" not in report["html"]
    # the scripts are inline
    assert [a for t, a, _ in p.tags if t == "script"] == [{}]
    # Markdown keeps linking the PNG files
    for f in report["figures"]:
        assert f"]({f.name})" in report["md"]


def test_countries_table_has_every_country(report):
    c = report["countries"]
    p = _parse(report["html"])
    head, *rows = p.rows
    assert [t for _, t in head][:6] == [
        "rank",
        "country",
        "code",
        "groups",
        "population",
        "capacity per person (Mbit/s)",
    ]
    codes = [r[2][1] for r in rows]
    assert sorted(codes) == sorted(str(x) for x in c["country"].values) and len(rows) == c.sizes["country"]
    # the sort keys are the raw values; the initial order is by capacity per person, highest first
    x = _by_code(c, "capacity_per_person_total_mbps")
    pop = _by_code(c, "population")
    for r in rows:
        assert float(r[5][0]) == x[r[2][1]] and float(r[4][0]) == pop[r[2][1]]
    assert [r[2][1] for r in rows] == sorted(x, key=lambda k: -x[k])
    assert [int(r[0][0]) for r in rows] == list(range(1, len(rows) + 1))
    groups = {r[2][1]: r[3][1] for r in rows}
    assert groups["BBB"] == "LDC, LLDC, R1" and groups["HHH"] == ""
    # the filter box names the table
    assert [a["data-table"] for t, a, _ in p.tags if t == "input"] == [COUNTRIES_TABLE_ID]
    # the Markdown has the same table
    md = report["md"].split("### All countries (8)")[1]
    assert sum(ln.startswith("| ") for ln in md.split("##")[0].splitlines()) == 1 + len(rows)


def test_every_table_scrolls_sideways(report):
    p = _parse(report["html"])
    tables = [(a, around) for t, a, around in p.tags if t == "table"]
    assert len(tables) >= 5
    divs = [a for t, a, _ in p.tags if t == "div" and a.get("class") == "scroll"]
    assert len(divs) == len(tables) and all(around[-1] == "div" for _, around in tables)
    assert ".scroll{overflow-x:auto" in report["html"]


def test_headline_states_the_period_once(report):
    head = report["md"].split("## Headline findings")[1].split("\n## ")[0]
    assert head.count("2024-03-01 00:00 to 2024-03-02 00:00 UTC (1 day)") == 1
    assert "T00:00" not in head and "Z " not in head


def test_uniform_value():
    assert uniform_value([[1.0, np.nan], [1.0 + 1e-10, 1.0]]) == pytest.approx(1.0)
    assert uniform_value([1.0, 1.0 + 1e-8]) is None
    assert uniform_value([0.0, 0.0]) == 0.0
    assert uniform_value([np.nan]) is None


def test_uniform_map_replaced_by_a_sentence(report, tmp_path):
    lat_e, lon_e = np.array([-90.0, 0.0, 90.0]), np.array([-180.0, 0.0, 180.0])
    kw = {"cbar_label": "served / busy-hour demand (1)", "segments": np.zeros((0, 2, 2)), "footnote": "f"}
    flat = map_figure(tmp_path / "flat.png", lat_e, lon_e, np.array([[1.0, 1.0], [np.nan, 1.0]]), title="Flat", **kw)
    varied = map_figure(tmp_path / "varied.png", lat_e, lon_e, np.array([[1.0, 0.5], [0.2, 1.0]]), title="Vary", **kw)
    assert png_text(varied, UNIFORM_KEY) is None
    sentence = "Flat: 1 (served / busy-hour demand (1)) in every cell with data; the map is not shown."
    assert png_text(flat, UNIFORM_KEY) == sentence
    c = report["countries"]
    md, htm = write_report(tmp_path, countries=c, groups=None, equity=None, figures=[flat, varied], meta={})
    md, htm = md.read_text(encoding="utf-8"), htm.read_text(encoding="utf-8")
    assert sentence in md and "(flat.png)" not in md and "(varied.png)" in md
    p = _parse(htm)
    assert sentence in "".join(p.texts)
    srcs = [a["src"] for t, a, _ in p.tags if t == "img"]
    assert [base64.b64decode(s.split(",", 1)[1]) for s in srcs] == [varied.read_bytes()]


def _colour_pixels(path, rgb):
    import matplotlib.image

    img = (matplotlib.image.imread(path)[..., :3] * 255).round().astype(int)
    img = img[:, : int(0.87 * img.shape[1])]  # the map, without the colour bar
    return int((np.abs(img - np.asarray(rgb)) <= 1).all(axis=-1).sum())


def _colour(value, vmax_decade):
    """The choropleth's colour (RGB 0-255) of a service ratio (RdBu, log scale 10^-d .. 10^d), re-derived here."""
    from matplotlib import colormaps

    t = (np.log10(value) + vmax_decade) / (2 * vmax_decade)
    return [round(255 * v) for v in colormaps["RdBu"](t)[:3]]


def test_choropleth_gridded_colours_each_country(report):
    (path,) = [f for f in report["figures"] if f.name.startswith("map_country_")]
    assert path.name == "map_country_service_ratio.png"
    assert png_text(path, "Title") == "Service ratio by country" and png_text(path, UNIFORM_KEY) is None
    sr = report["countries"]["service_ratio_total"].values
    d = max(1.0, np.ceil(np.max(np.abs(np.log10(sr)))))
    assert d == 2.0  # FFF's ratio (about 94) sets the scale
    counts = [_colour_pixels(path, _colour(v, d)) for v in sr]
    assert all(n > 500 for n in counts), counts


def test_choropleth_true_boundaries(report, tmp_path):
    def square(code, lon0):
        ring = [[lon0, -20.0], [lon0 + 30.0, -20.0], [lon0 + 30.0, 20.0], [lon0, 20.0], [lon0, -20.0]]
        return {"properties": {"ADM0_A3": code}, "geometry": {"type": "Polygon", "coordinates": [ring]}}

    geo, c = report["geo"], report["countries"]
    (path,) = write_choropleth(tmp_path, geo, c, boundaries=[square("AAA", -150.0), square("DDD", 30.0)])
    sr = _by_code(c, "service_ratio_total")
    # two countries drawn from their polygons; the others (no polygon) not at all
    assert _colour_pixels(path, _colour(sr["AAA"], 2.0)) > 1000
    assert _colour_pixels(path, _colour(sr["DDD"], 2.0)) > 1000
    assert _colour_pixels(path, _colour(sr["EEE"], 2.0)) == 0
    # uniform: every country with the same ratio
    flat = c.assign(service_ratio_total=c["service_ratio_total"] * 0 + 1.0)
    (path,) = write_choropleth(tmp_path / "flat", geo, flat)
    assert png_text(path, UNIFORM_KEY).startswith("Service ratio by country: 1 (")


_PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var t = document.getElementById("%s");
  var codes = function () {
    return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[2].textContent; });
  };
  var before = codes();
  t.tHead.rows[0].cells[4].click();
  var asc = codes();
  t.tHead.rows[0].cells[4].click();
  var desc = codes();
  var f = document.querySelector("input.filter");
  f.value = "LLDC"; f.dispatchEvent(new Event("input"));
  var shown = Array.prototype.filter.call(t.tBodies[0].rows, function (r) { return r.style.display !== "none"; })
    .map(function (r) { return r.cells[2].textContent; });
  var boxes = Array.prototype.slice.call(document.querySelectorAll("div.scroll"));
  var wide = boxes.filter(function (b) { return b.scrollWidth > b.clientWidth; }).length;
  document.body.setAttribute("data-probe", JSON.stringify(
    {images: imgs.length, loaded: loaded, before: before, asc: asc, desc: desc, shown: shown,
     page: document.documentElement.scrollWidth, view: window.innerWidth, wide: wide}));
});
</script>"""


def _chromium():
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return None  # CI has no browser
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def test_chromium_loads_images_and_sorts(report, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium not installed (or CI=true)")
    page = tmp_path / "probe.html"
    page.write_text(report["html"].replace("</body>", _PROBE % COUNTRIES_TABLE_ID + "</body>"), encoding="utf-8")
    args = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--virtual-time-budget=5000", "--dump-dom"]
    args.append("--window-size=390,844")  # a phone's width (Chromium may widen it to its minimum)
    dom = subprocess.run(args + [page.as_uri()], capture_output=True, text=True, timeout=60, check=True).stdout
    attr = dom.split('data-probe="', 1)[1].split('"', 1)[0]
    probe = json.loads(html.unescape(attr))
    assert probe["images"] == len(report["figures"]) == probe["loaded"]
    c = report["countries"]
    pop = _by_code(c, "population")
    assert probe["asc"] == sorted(pop, key=lambda k: pop[k]) and probe["desc"] == probe["asc"][::-1]
    assert probe["asc"] != probe["before"]
    assert sorted(probe["shown"]) == ["BBB", "GGG"]
    # on a narrow screen the page keeps its width: the wide tables scroll inside their boxes
    assert probe["page"] <= probe["view"] and probe["wide"] >= 1, probe


def test_figure_without_path_is_embedded_from_base(report, tmp_path):
    """Blocks built by other reports (the sweep's tornado) name only a relative ``src``: embedded from ``base``,
    else linked as before."""
    from orbitshare.report.document import _Block, _render_html

    png = report["figures"][0]
    block = _Block("figure", src=png.name, caption="c")
    embedded = _parse(_render_html([block], "t", base=png.parent))
    (src,) = [a["src"] for t, a, _ in embedded.tags if t == "img"]
    assert base64.b64decode(src.split(",", 1)[1]) == png.read_bytes()
    linked = _parse(_render_html([block], "t"))
    assert [a["src"] for t, a, _ in linked.tags if t == "img"] == [png.name]
