"""The run report: CSV tables, PNG figures, report.md and report.html.

A toy world on a global 10° grid (18 × 36 cells): eight countries, each a block of 4 × 8 land cells
(columns 4k .. 4k+3, rows 5 .. 12), with a partly covered coastal column on its west side; columns
32-35 are sea. Groups::

    AAA LDC (ITU 1)          BBB LDC + LLDC (ITU 1)      CCC SIDS (ITU 2), named "<Script> & Co"
    DDD rest (ITU 2)         EEE rest (ITU 3)            FFF SIDS (ITU 3), 0.9 million people
    GGG LLDC (ITU 1)         HHH rest (none), not a UN member

Accounts, groups and the equity summary come from :mod:`orbitshare.analysis.accounts`; the tests check what
the report writes against those Datasets (and PNG files against their own header bytes).
"""

import base64
import csv
import html.parser
import json
import math
import re
import struct

import numpy as np
import pytest
import xarray as xr

from orbitshare.analysis.accounts import country_accounts, equity_summary, group_accounts
from orbitshare.report.document import GROUP_LABELS, report_meta, write_report
from orbitshare.report.figures import (
    LORENZ_PIXELS,
    MAP_PIXELS,
    OUTLINE_COLOR,
    dominant_country,
    map_figure,
    outline_segments,
    png_title,
    write_figures,
)
from orbitshare.report.tables import format_index, format_number, write_tables

pytest.importorskip("matplotlib")

RES = 10.0
LAT = np.arange(-90 + RES / 2, 90, RES)
LON = np.arange(-180 + RES / 2, 180, RES)
CODES = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"]
NAMES = ["Aland", "Bland", "<Script> & Co", "Dland", "Eland", "Fiji-like", "Gland", "Hland"]
SYSTEMS = ["S1", "S-2 (test)"]
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _geography(sea=False, names=NAMES):
    nlat, nlon = LAT.size, LON.size
    frac = np.zeros((len(CODES), nlat, nlon), np.float32)
    pop = np.zeros((nlat, nlon))
    if not sea:
        for k in range(len(CODES)):
            frac[k, 5:13, 4 * k + 1 : 4 * k + 4] = 1.0
            frac[k, 5:13, 4 * k] = 0.6  # coastal column: 40 % sea
            total = 0.9e6 if CODES[k] == "FFF" else (k + 1) * 1.5e6 * 10.8
            pop[5:13, 4 * k : 4 * k + 4] = total / (4 * 10.8) * (1 + 0.1 * np.arange(8))[:, None]
    land = np.minimum(frac.astype(np.float64).sum(axis=0), 1.0).astype(np.float32)
    b_lat = np.stack([LAT - RES / 2, LAT + RES / 2], axis=1)
    b_lon = np.stack([LON - RES / 2, LON + RES / 2], axis=1)
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac, {"units": "1"}),
            "land_fraction": (("lat", "lon"), land, {"units": "1"}),
            "population": (("lat", "lon"), pop, {"units": "persons"}),
            "cell_area": (("lat", "lon"), np.full((nlat, nlon), 1.0e6), {"units": "km2"}),
        },
        coords={
            "lat": LAT,
            "lon": LON,
            "lat_bnds": (("lat", "bnds"), b_lat),
            "lon_bnds": (("lon", "bnds"), b_lon),
            "country": CODES,
            "country_name": ("country", list(names)),
            "ldc": ("country", np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)),
            "lldc": ("country", np.array([0, 1, 0, 0, 0, 0, 1, 0], bool)),
            "sids": ("country", np.array([0, 0, 1, 0, 0, 1, 0, 0], bool)),
            "itu_region": ("country", np.array([1, 1, 2, 2, 3, 3, 1, 0], np.int8)),
            "un_member": ("country", np.array([1, 1, 1, 1, 1, 1, 1, 0], bool)),
        },
        attrs={"geography_source": "toy"},
    )


def _sys_field(values, systems=SYSTEMS):
    return xr.DataArray(
        np.asarray(values, np.float64),
        dims=("system", "lat", "lon"),
        coords={"system": list(systems), "lat": LAT, "lon": LON},
    )


def _inputs(systems=SYSTEMS, names=NAMES):
    """The toy world's Datasets; ``systems`` (two names) and ``names`` (eight country names) may be replaced."""
    geo = _geography(names=names)
    lat2, lon2 = np.meshgrid(LAT, LON, indexing="ij")
    cov1 = np.clip(np.cos(np.radians(lat2)) * (0.6 + 0.4 * np.sin(np.radians(lon2))), 0, 1)
    cov2 = np.where(np.abs(lat2) < 40, 1.0, 0.25)
    coverage = xr.Dataset(
        {"covered_fraction": _sys_field([cov1, cov2], systems)},
        coords={"element_count": ("system", [40, 12]), "min_visible": ("system", [1, 2])},
        attrs={
            "time_coverage_start": "2024-03-01T00:00:00Z",
            "time_coverage_end": "2024-03-02T00:00:00Z",
            "time_step_s": 60.0,
            "grid_resolution_deg": RES,
            "systems": json.dumps(
                [
                    {
                        "name": systems[0],
                        "element_count": 40,
                        "element_source": "s1.tle",
                        "element_epoch_min": "2024-02-28T01:00:00Z",
                        "element_epoch_median": "2024-02-29T00:00:00Z",
                        "element_epoch_max": "2024-02-29T12:00:00Z",
                    },
                    {"name": systems[1], "element_count": 12},
                ]
            ),
        },
    )
    pop = geo["population"].values
    cap1 = 3e4 * cov1 * (pop > 0) * (1 + np.arange(LON.size))[None, :] / 36
    cap2 = 1e4 * cov2 * (pop > 0)
    cap2[:, 8:12] = 0.0  # CCC gets nothing from S-2
    cap = _sys_field([cap1, cap2], systems)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpp = xr.where(geo["population"] > 0, cap / geo["population"], np.nan)
    capacity = xr.Dataset(
        {
            "capacity_mbps": cap,
            "capacity_per_person_mbps": cpp.transpose("system", "lat", "lon"),
            "capacity_per_sat_mbps": ("system", [1000.0, 2000.0]),
        },
        coords={"administration": ("system", ["DDD", "AAA"])},
    )
    mhz = np.stack([np.stack([250 * cov1, 100 * cov1]), np.stack([500 * cov2, 0 * cov2])])
    union = np.maximum(mhz[0].sum(axis=0), mhz[1].sum(axis=0))  # a union of the bands in view, not their sum
    spectrum = xr.Dataset(
        {
            "band_mhz_in_view": (("system", "band", "lat", "lon"), mhz),
            "effective_mhz": (("system", "band", "lat", "lon"), mhz / 2),
            "mhz_available_total": (("lat", "lon"), union),
        },
        coords={"system": list(systems), "band": ["Ku", "Ka"], "lat": LAT, "lon": LON},
    )
    countries = country_accounts(geo, coverage, capacity=capacity, spectrum=spectrum)
    groups = group_accounts(countries)
    equity = equity_summary(geo, countries, capacity=capacity, spectrum=spectrum)
    return geo, coverage, capacity, countries, groups, equity


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    geo, coverage, capacity, countries, groups, equity = _inputs()
    tables = write_tables(out, countries, groups, equity)
    figures = write_figures(out, geo, coverage, capacity, equity)
    meta = report_meta(coverage, geo, run_id="toy-run")
    md, htm = write_report(out, countries=countries, groups=groups, equity=equity, figures=figures, meta=meta)
    return {
        "out": out,
        "geo": geo,
        "coverage": coverage,
        "capacity": capacity,
        "countries": countries,
        "groups": groups,
        "equity": equity,
        "tables": tables,
        "figures": figures,
        "md": md,
        "html": htm,
        "md_text": md.read_text(encoding="utf-8"),
        "html_text": htm.read_text(encoding="utf-8"),
    }


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------- tables
def test_countries_csv_equals_dataset_exactly(run):
    countries = run["countries"]
    rows = _read_csv(run["out"] / "countries.csv")
    assert [r["country"] for r in rows] == CODES
    assert rows[2]["country_name"] == "<Script> & Co"
    checked = 0
    for name, v in countries.data_vars.items():
        if "country" not in v.dims:
            continue
        others = [d for d in v.dims if d != "country"]
        v = v.transpose(*others, "country")
        for idx in np.ndindex(*v.shape[:-1]):
            col = name + "".join(f"[{countries[d].values[i]}]" for d, i in zip(others, idx, strict=True))
            for k, r in enumerate(rows):
                assert _same(float(r[col]), float(v.values[idx + (k,)])), (col, CODES[k])
                checked += 1
    assert checked > 250
    # totals and the column names
    for col in (
        "population_covered_fraction[S1]",
        "population_covered_fraction[S-2 (test)]",
        "capacity_per_person_total_mbps",
        "service_ratio_total",
        "band_mhz_in_view[S1][Ku]",
        "mhz_available_total",
        "satellites_operated_total",
        "resource_balance_total",
    ):
        assert col in rows[0]
    # the flags
    for k, r in enumerate(rows):
        for flag in ("ldc", "lldc", "sids", "un_member"):
            assert r[flag] == str(int(countries[flag].values[k]))
        assert int(r["itu_region"]) == int(countries["itu_region"].values[k])
    assert float(rows[2]["capacity_per_person_mbps[S-2 (test)]"]) == 0.0


def test_indicators_csv_is_the_countries_dataset_in_tidy_format(run):
    """One row per country, system (empty for all systems) and indicator, with the variable's units; every
    value equal to the Dataset's (read by label), every one of them there once."""
    countries = run["countries"]
    rows = _read_csv(run["out"] / "indicators.csv")
    assert list(rows[0]) == ["country", "m49", "system", "indicator", "value", "unit"]
    expected = 0
    for v in countries.data_vars.values():
        if "country" in v.dims:
            expected += int(np.prod([countries.sizes[d] for d in v.dims]))
    assert len(rows) == expected
    seen = set()
    for r in rows:
        m = re.fullmatch(r"([^\[]+)((?:\[[^\]]*\])*)", r["indicator"])
        name, labels = m.group(1), re.findall(r"\[([^\]]*)\]", m.group(2))
        v = countries[name]
        sel = {"country": r["country"]}
        if r["system"]:
            sel["system"] = r["system"]
        rest = [d for d in v.dims if d not in ("country", "system")]
        sel.update(zip(rest, labels, strict=True))
        assert set(sel) == set(v.dims), (r, v.dims)
        assert _same(float(r["value"]), float(v.sel(sel))), r
        assert r["unit"] == v.attrs.get("units", ""), r
        key = (r["country"], r["system"], r["indicator"])
        assert key not in seen
        seen.add(key)
    assert [r["country"] for r in rows][:: len(rows) // len(CODES)] == CODES  # grouped by country, in order
    assert {r["system"] for r in rows} == {"", "S1", "S-2 (test)"}


def test_codes_are_written_as_zero_padded_text(tmp_path, run):
    """M49 held as integers (or unpadded text) reads back as three digits in both tables; missing: empty."""
    countries = run["countries"].assign_coords(m49=("country", np.array([4, 32, 533, -1, 8, 10, 242, 999])))
    write_tables(tmp_path, countries, None, None)
    want = ["004", "032", "533", "", "008", "010", "242", "999"]
    assert [r["m49"] for r in _read_csv(tmp_path / "countries.csv")] == want
    tidy = _read_csv(tmp_path / "indicators.csv")
    assert {(r["country"], r["m49"]) for r in tidy} == set(zip(CODES, want, strict=True))
    text = run["countries"].assign_coords(m49=("country", np.array(["4", "32", "533", "", "8", "10", "242", "999"])))
    write_tables(tmp_path / "text", text, None, None)
    assert [r["m49"] for r in _read_csv(tmp_path / "text" / "countries.csv")] == want


def test_groups_and_equity_csv(run):
    groups, equity = run["groups"], run["equity"]
    rows = _read_csv(run["out"] / "groups.csv")
    assert [r["group"] for r in rows] == list(groups["group"].values)
    for k, r in enumerate(rows):
        for name in (
            "population",
            "capacity_per_person_total_mbps",
            "service_ratio_total",
            "population_covered_any_fraction",
            "mhz_available_total",
        ):
            assert _same(float(r[name]), float(groups[name].values[k]))
    assert not any(c.startswith("group_member") for c in rows[0])

    rows = _read_csv(run["out"] / "equity.csv")
    assert list(rows[0]) == ["quantity", "scope", "system", "index", "partition", "value"]
    got = {(r["quantity"], r["scope"], r["system"], r["index"], r["partition"]): float(r["value"]) for r in rows}
    n = 0
    for q in equity["quantity"].values:
        for sc in equity["scope"].values:
            for s in equity["system"].values:
                sel = {"quantity": q, "scope": sc, "system": s}
                for name in ("gini", "theil_T", "theil_L", "palma", "zero_population_share"):
                    assert _same(got[(q, sc, s, name, "")], float(equity[name].sel(sel)))
                    n += 1
                for e in (0.5, 1.0):
                    assert _same(
                        got[(q, sc, s, f"atkinson_{e:g}", "")], float(equity["atkinson"].sel(epsilon=e, **sel))
                    )
                for p in equity["partition"].values:
                    for name in ("theil_T_between", "theil_T_within", "theil_L_between", "theil_L_within"):
                        assert _same(got[(q, sc, s, name, p)], float(equity[name].sel(partition=p, **sel)))
                        n += 1
    assert len(rows) == len(got) == 2 * 2 * 3 * (5 + 2 + 4 * 4)
    assert n > 100


# ---------------------------------------------------------------------------------------- report text
def test_report_md_names_groups_inputs_and_indices(run):
    md, equity = run["md_text"], run["equity"]
    for label in (
        "LDC",
        "LLDC",
        "SIDS",
        "rest",
        "ITU Region 1",
        "ITU Region 2",
        "ITU Region 3",
        "ITU Regions",
        "world",
    ):
        assert label in md, label
    # inputs named
    for text in (
        "S1",
        "S-2 (test)",
        "2024-02-28 01:00",
        "2024-03-01 00:00 to 2024-03-02 00:00 UTC (1 day)",
        "10° grid",
        "toy geography",
        "toy-run",
        "40 element sets",
    ):
        assert text in md, text
    # every overall index as formatted, and the Theil decompositions for all systems
    for q in equity["quantity"].values:
        for sc in equity["scope"].values:
            for s in equity["system"].values:
                for name in ("gini", "theil_T", "theil_L", "palma"):
                    assert format_index(float(equity[name].sel(quantity=q, scope=sc, system=s))) in md
            for p in equity["partition"].values:
                for name in ("theil_T_between", "theil_T_within", "theil_L_between", "theil_L_within"):
                    v = float(equity[name].sel(quantity=q, scope=sc, system="all", partition=p))
                    assert format_index(v) in md
    # headline: the groups' numbers, measured, against the rest
    g = run["groups"]
    ldc_cov = float(g["population_covered_any_fraction"].sel(group="ldc"))
    assert f"{100 * ldc_cov:.1f} %" in md
    assert "against" in md and "in the rest" in md


def test_report_country_tables(run):
    md = run["md_text"]
    # UN members with > 1 M people: FFF (0.9 M) and HHH (no UN member) are left out
    assert "Hland" not in md.split("Countries by capacity per person")[1].split("### All countries")[0]
    top = md.split("### Top")[1].split("### Bottom")[0]
    bottom = md.split("### Bottom")[1].split("##")[0]
    assert "Fiji-like" not in top and "Fiji-like" not in bottom
    c = run["countries"]
    x = c["capacity_per_person_total_mbps"]
    ok = (c["population"] > 1e6) & c["un_member"]
    best = str(c["country_name"].values[int(np.nanargmax(x.where(ok).values))])
    worst = str(c["country_name"].values[int(np.nanargmin(x.where(ok).values))])
    first_row = [ln for ln in top.splitlines() if ln.startswith("| 1 |")][0]
    assert best.replace("<", "\\<").replace(">", "\\>") in first_row
    assert worst.replace("<", "\\<").replace(">", "\\>") in bottom.splitlines()[4]


class _Balance(html.parser.HTMLParser):
    VOID = {"img", "meta", "br", "hr", "link", "input", "col", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.texts, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.texts.append(data)


def test_html_well_formed_and_escaped(run):
    text = run["html_text"]
    p = _Balance()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack
    assert text.startswith("<!DOCTYPE html>")
    assert "<Script>" not in text and "&lt;Script&gt; &amp; Co" in text
    assert "<Script> & Co" in "".join(p.texts)  # the parsed text is the name itself
    assert "\\<" not in text  # no Markdown escapes leak into the HTML
    # same content as the Markdown: groups, figures (relative links), tables
    body = "".join(p.texts)
    for label in GROUP_LABELS.values():
        assert label in body
    # every figure embedded: the <img> data are the PNG files' bytes, in the figures' order
    imgs = [a["src"] for t, a in p.tags if t == "img"]
    assert [base64.b64decode(s.split(",", 1)[1]) for s in imgs] == [f.read_bytes() for f in run["figures"]]
    assert all(s.startswith("data:image/png;base64,") for s in imgs)
    assert {"countries.csv", "equity.csv", "groups.csv"} <= {a.get("href") for t, a in p.tags if t == "a"}
    assert text.lower().count("<script") == 1 and "http" not in text


def test_md_figures_use_captions_and_relative_links(run):
    md = run["md_text"]
    for f in run["figures"]:
        assert f"]({f.name})" in md
    assert "Covered fraction of time, S1" in md
    assert "Capacity per person, all systems" in md
    assert "Lorenz curves of capacity per person" in md


# ---------------------------------------------------------------------------------------- figures
def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIG
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24]), len(data)


def test_pngs_valid_and_sized(run):
    names = sorted(f.name for f in run["figures"])
    assert names == sorted(
        [
            "map_covered_fraction_S1.png",
            "map_covered_fraction_S-2_test.png",
            "map_capacity_per_person_S1.png",
            "map_capacity_per_person_S-2_test.png",
            "map_capacity_per_person_all.png",
            "lorenz_capacity_per_person.png",
        ]
    )
    for f in run["figures"]:
        (w, h), nbytes = _png_size(f)
        assert nbytes > 10_000, f
        assert (w, h) == (LORENZ_PIXELS if f.name.startswith("lorenz") else MAP_PIXELS), f
    # nothing left over from the atomic writes
    assert not [p for p in run["out"].iterdir() if p.name.startswith(".")]


def _outline_pixels(path):
    import matplotlib.image

    img = matplotlib.image.imread(path)[..., :3]
    target = np.array(OUTLINE_COLOR) / 255.0
    return int((np.abs(img - target) < 0.1).all(axis=-1).sum())


def test_maps_draw_outlines(tmp_path):
    """A constant field with and without countries: only the outlines differ."""
    flat = xr.Dataset({"covered_fraction": _sys_field(np.full((2, LAT.size, LON.size), 0.5))})
    with_c, without = tmp_path / "with", tmp_path / "without"
    with_c.mkdir()
    without.mkdir()
    a = write_figures(with_c, _geography(), flat)[0]
    b = write_figures(without, _geography(sea=True), flat)[0]
    na, nb = _outline_pixels(a), _outline_pixels(b)
    # the outlines: 8 boxes of 4 x 8 cells of 10°, ~27 px per cell; at least the outer edges in black
    assert na - nb > 8 * 2 * (4 + 8) * 20, (na, nb)


def test_outline_segments_match_brute_force():
    geo = _geography()
    lab = dominant_country(geo)
    # the coastal column (0.6 land) belongs to its country; sea elsewhere
    assert lab[8, 0] == 0 and lab[8, 5] == 1 and lab[8, 33] == -1 and lab[0, 0] == -1
    segs = outline_segments(geo)
    # brute force: one unit edge per pair of neighbouring cells with different labels
    edges = int((lab[:, 1:] != lab[:, :-1]).sum() + (lab[1:, :] != lab[:-1, :]).sum())
    lengths = np.abs(segs[:, 1] - segs[:, 0]).sum(axis=1) / RES
    assert lengths.sum() == pytest.approx(edges)
    assert ((segs[:, 0, 0] == segs[:, 1, 0]) | (segs[:, 0, 1] == segs[:, 1, 1])).all()
    # 8 countries side by side: 8 vertical lines of 8 cells (7 shared, AAA's west coast is the map's
    # edge at -180°, not drawn), and the top and bottom of each
    assert edges == 8 * 8 + 2 * 32
    assert len(segs) == 8 + 2  # collinear edges merged: the 8 tops (and bottoms) make one line


def test_dominant_country_sea_wins_when_larger():
    geo = _geography()
    cf = geo["country_fraction"].values.copy()
    cf[:, 8, 0] = 0.0
    cf[0, 8, 0] = 0.3  # 70 % sea
    cf[1, 8, 1] = 0.45  # 0.45 BBB, 0.4 AAA(already 1.0 -> set below), sea 0.15
    cf[0, 8, 1] = 0.4
    cf[1, 8, 1] = 0.45
    cf[:, 8, 2] = 0.0
    cf[2, 8, 2] = 0.35  # a tie: the lower country index wins
    cf[1, 8, 2] = 0.35
    geo["country_fraction"].values[:] = cf
    lab = dominant_country(geo)
    assert lab[8, 0] == -1 and lab[8, 1] == 1 and lab[8, 2] == 1
    # the brute-force rule on every cell: argmax (first among equals) unless the sea share is at least as large
    sea = 1.0 - np.minimum(cf.astype(np.float64).sum(axis=0), 1.0)
    best = cf.max(axis=0)
    np.testing.assert_array_equal(lab, np.where((best > 0) & (best > sea), cf.argmax(axis=0), -1))


def test_rewrite_replaces_files(run, tmp_path):
    out = run["out"]
    before = (out / "countries.csv").read_text()
    write_tables(out, run["countries"], run["groups"], run["equity"])
    assert (out / "countries.csv").read_text() == before
    md, _ = write_report(
        out, countries=run["countries"], groups=None, equity=None, figures=[], meta={"title": "minimal"}
    )
    text = md.read_text()
    assert text.startswith("# minimal") and "Systems (2): S1; S-2 (test)" in text
    assert "Period: not recorded" in text
    # restore the full report for other tests reading files (they use the texts kept in the fixture)
    write_report(
        out, countries=run["countries"], groups=run["groups"], equity=run["equity"], figures=run["figures"], meta={}
    )


# ---------------------------------------------------------------------------------------- hostile names
#: System and country names a spreadsheet would run as formulas (issue 10, case 8), or that would add
#: Markdown/HTML structure to the report (case 12): the files must show them as text.
BAD_SYSTEMS = ['=HYPERLINK("http://x","y")\r\n# Injected S', "+cmd|' /C calc'!A0 $\\foo$"]
BAD_NAMES = [
    "<script>alert(1)</script>",
    "Bland\r\n# Injected C",
    "@SUM(A1)",
    "-2+3",
    "\tTabbed",
    "-1.5",
    "\r=1+1",
    "Hland\r===",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile")
    geo, coverage, _capacity, countries, groups, equity = _inputs(BAD_SYSTEMS, BAD_NAMES)
    write_tables(out, countries, groups, equity)
    meta = report_meta(coverage, geo, title="Toy\r\n# Injected T", note="x\u2028# Injected N")
    write_report(out, countries=countries, groups=groups, equity=equity, figures=[], meta=meta)
    # the same report for well-behaved names, to compare the structure with
    geo, coverage, _capacity, countries, groups, equity_ok = _inputs()
    meta = report_meta(coverage, geo, title="Toy", note="x")
    write_tables(out / "ok", countries, groups, equity_ok)
    md_ok, _ = write_report(out / "ok", countries=countries, groups=groups, equity=equity_ok, figures=[], meta=meta)
    return {"out": out, "equity": equity, "md_ok": md_ok.read_text(encoding="utf-8")}


def test_csv_cells_never_start_a_formula(hostile):
    cells = {}
    for name in ("countries.csv", "groups.csv", "equity.csv"):
        with open(hostile["out"] / name, newline="", encoding="utf-8") as f:
            cells[name] = [c for row in csv.reader(f) for c in row]
        for c in cells[name]:
            if c[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
                assert math.isfinite(float(c)) or math.isinf(float(c)), (name, c)  # a number, not a formula
    # the names are kept, behind a quote; numbers (and names that are numbers) are left as they are
    assert "'" + BAD_SYSTEMS[0] in cells["equity.csv"] and "'" + BAD_SYSTEMS[1] in cells["equity.csv"]
    for bad in ("@SUM(A1)", "-2+3", "\tTabbed", "\r=1+1"):
        assert "'" + bad in cells["countries.csv"]
    assert "-1.5" in cells["countries.csv"] and "'-1.5" not in cells["countries.csv"]
    rows = _read_csv(hostile["out"] / "equity.csv")
    assert {r["system"] for r in rows} == {"'" + s for s in BAD_SYSTEMS} | {"all"}


def test_names_cannot_add_report_structure(hostile):
    md = (hostile["out"] / "report.md").read_bytes().decode("utf-8")
    htm = (hostile["out"] / "report.html").read_bytes().decode("utf-8")
    for text in (md, htm):
        assert not set(text) & {"\r", "\t", "\u2028"}
    lines = md.split("\n")
    assert not [ln for ln in lines if ln.lstrip(" \\").startswith(("# Injected", "=="))]
    assert all(not ln.lstrip().startswith("Injected") for ln in lines)
    # the same skeleton as the report of well-behaved names: headings, list items, table rows
    skeleton = [ln[:2] for ln in lines if ln[:1] in ("#", "-", "|")]
    assert skeleton == [ln[:2] for ln in hostile["md_ok"].split("\n") if ln[:1] in ("#", "-", "|")]
    assert "Bland  \\# Injected C" in md
    p = _Balance()
    p.feed(htm)
    p.close()
    assert not p.errors and not p.stack
    assert htm.lower().count("<script") == 1 and "<script>alert(1)</script>" in "".join(p.texts)  # ours only
    assert [t for t, _ in p.tags if t == "h1"] == ["h1"]


def test_figures_show_names_as_text(hostile, tmp_path):
    # "$\\foo$" in a system name made Matplotlib parse mathtext and fail (ValueError at savefig)
    (path,) = write_figures(tmp_path, None, None, None, hostile["equity"])
    assert png_title(path).startswith("Lorenz curves")
    lat_e, lon_e = np.array([-90.0, 0.0, 90.0]), np.array([-180.0, 0.0, 180.0])
    title = f"Capacity per person, {BAD_SYSTEMS[1]}\r\n# x"
    m = map_figure(
        tmp_path / "m.png",
        lat_e,
        lon_e,
        np.array([[0.1, 0.2], [0.3, np.nan]]),
        title=title,
        cbar_label=BAD_SYSTEMS[1],
        segments=np.zeros((0, 2, 2)),
        footnote=BAD_SYSTEMS[1],
    )
    assert png_title(m) == "Capacity per person, +cmd|' /C calc'!A0 $\\foo$  # x"


# ---------------------------------------------------------------------------------------- real geography
def test_real_geography_2deg(tmp_path):
    import orbitshare

    grid = orbitshare.Grid(2.0)
    geo = orbitshare.geography(grid)
    lat = geo["lat"].values
    lon = geo["lon"].values
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    cov = np.clip(1.2 * np.cos(np.radians(lat2)) - 0.2, 0, 1)[None]
    coverage = xr.Dataset(
        {"covered_fraction": (("system", "lat", "lon"), cov)},
        coords={"system": ["Walker"], "lat": lat, "lon": lon, "lat_bnds": geo["lat_bnds"], "lon_bnds": geo["lon_bnds"]},
        attrs={"grid_resolution_deg": 2.0},
    )
    pop = geo["population"].values
    capm = (1e5 * cov[0] * (pop > 0) * (1 + (lon2 > 0)))[None]
    capacity = xr.Dataset(
        {"capacity_mbps": (("system", "lat", "lon"), capm)}, coords={"system": ["Walker"], "lat": lat, "lon": lon}
    )
    countries = country_accounts(geo, coverage, capacity=capacity)
    groups = group_accounts(countries)
    equity = equity_summary(geo, countries, capacity=capacity)
    tables = write_tables(tmp_path, countries, groups, equity)
    figs = write_figures(tmp_path, geo, coverage, capacity, equity)
    md, htm = write_report(
        tmp_path, countries=countries, groups=groups, equity=equity, figures=figs, meta=report_meta(coverage, geo)
    )
    assert [p.name for p in tables] == ["countries.csv", "groups.csv", "equity.csv", "indicators.csv"]
    rows = _read_csv(tmp_path / "countries.csv")
    assert len(rows) == geo.sizes["country"]
    k = [r["country"] for r in rows].index("AFG")
    assert float(rows[k]["population"]) == float(countries["population"].sel(country="AFG"))
    assert float(rows[k]["population_covered_fraction[Walker]"]) == float(
        countries["population_covered_fraction"].sel(system="Walker", country="AFG")
    )
    assert [p.name for p in figs] == [
        "map_covered_fraction_Walker.png",
        "map_capacity_per_person_Walker.png",
        "lorenz_capacity_per_person.png",
    ]
    for f in figs:
        assert _png_size(f)[0] == (LORENZ_PIXELS if f.name.startswith("lorenz") else MAP_PIXELS)
    assert _outline_pixels(figs[0]) > 5000
    text = md.read_text(encoding="utf-8")
    assert "with the embedded geography" in text and "on a 2° grid" in text
    top = text.split("### Top 10")[1].split("### Bottom 10")[0]
    assert sum(ln.startswith("| ") for ln in top.splitlines()) == 11  # header + 10 rows
    p = _Balance()
    p.feed(htm.read_text(encoding="utf-8"))
    p.close()
    assert not p.errors and not p.stack


def test_report_spectrum_section(run):
    """The spectrum definitions (the union, never a sum) and per system the world band MHz in view against
    the effective MHz, recomputed here from the countries Dataset."""
    md, countries = run["md_text"], run["countries"]
    assert "## Spectrum" in md and "never a sum over systems" in md
    pop = countries["population"].values
    for s in countries["system"].values:
        inview = countries["band_mhz_in_view"].sel(system=s).sum("band").values @ pop / pop.sum()
        eff = countries["effective_mhz"].sel(system=s).sum("band").values @ pop / pop.sum()
        assert abs(eff - inview / 2) < 1e-9 * inview  # the fixture's effective MHz is half the band in view
        row = f"| {format_number(inview)} | {format_number(eff)} |"
        assert any(line.startswith("| ") and line.endswith(row) for line in md.splitlines()), row


def test_map_outlines_are_the_embedded_natural_earth_borders():
    """The embedded geography's maps draw the vendored Natural Earth 50m rings edge by edge (the segments
    of a ring join its consecutive vertices); any other geography keeps the cell-edge outlines."""
    import orbitshare
    from orbitshare.geo.embedded import boundaries
    from orbitshare.report.figures import map_outlines, outline_segments

    geo = orbitshare.geography(5.0)
    segs, foot = map_outlines(geo)
    feats = boundaries()[0]
    rings = [np.asarray(r) for ft in feats for poly in ft["geometry"]["coordinates"] for r in poly]
    assert segs.shape == (sum(len(r) - 1 for r in rings), 2, 2)
    first = rings[0]
    np.testing.assert_array_equal(segs[: len(first) - 1, 0], first[:-1])
    np.testing.assert_array_equal(segs[: len(first) - 1, 1], first[1:])
    assert np.all(np.abs(segs[..., 0]) <= 180.0) and np.all(np.abs(segs[..., 1]) <= 90.0)
    assert "Natural Earth" in foot
    other = geo.assign_attrs(geography_source="naturalearth")
    segs2, foot2 = map_outlines(other)
    np.testing.assert_array_equal(segs2, outline_segments(other))
    assert "dominant country" in foot2 and "(naturalearth)" in foot2
    assert map_outlines(None)[0].shape == (0, 2, 2)
