"""The report, tables and maps of an allocation (capacity rule "maxmin"): the "Capacity as delivered"
section with its model paragraph and the LDC/LLDC/SIDS headline against the world, the new columns of
countries.csv and groups.csv, the served-per-subscriber and demand-met maps, the Lorenz figure.

The accounts come from the hand-made world of tests/analysis/test_served.py (loaded by path)."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from orbitshare.analysis.accounts import country_accounts, equity_summary, group_accounts
from orbitshare.report.document import MAPS_NOTE, model_paragraph, write_report
from orbitshare.report.figures import png_title, write_figures, write_served_maps
from orbitshare.report.tables import write_tables

_spec = importlib.util.spec_from_file_location(
    "served_world", Path(__file__).parents[1] / "analysis" / "test_served.py"
)
assert _spec is not None and _spec.loader is not None
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)


@pytest.fixture(scope="module")
def accounts():
    geo, cap = world.geography(), world.capacity()
    c = country_accounts(geo, None, capacity=cap)
    g = group_accounts(c)
    e = equity_summary(geo, c, capacity=cap)
    return geo, cap, c, g, e


def _section(md: str, heading: str) -> str:
    start = md.index(f"## {heading}\n")
    end = md.find("\n## ", start + 1)
    return md[start : end if end >= 0 else None]


def test_report_has_capacity_as_delivered_with_model_and_headline(tmp_path, accounts):
    geo, cap, c, g, e = accounts
    md_path, html_path = write_report(
        tmp_path, countries=c, groups=g, equity=e, figures=[], meta={"title": "t", MAPS_NOTE: "Maps note here."}
    )
    md = md_path.read_text()
    sec = _section(md, "Capacity as delivered")
    paras = [p for p in sec.split("\n\n")[1:] if p.strip()]
    model = paras[0]
    # one paragraph: the model, with the parameters of the run
    assert "\n" not in model.strip()
    for phrase in (
        'capacity rule "maxmin"',
        "beams times the beam capacity",
        "one beam per service cell",
        "max\\_beams\\_per\\_cell",
        "gateway",
        "inter-satellite links",
        "2 Mbit/s per subscriber",
        "0.1 (test)",
        "split equally among the systems allowed to serve it",
        "no demand at sea",
        "max-min fair in the share of demand met",
        "S1: 8 beams of 2500 Mbit/s, at most 2 beams per grid cell, gateway mask 25°, no inter-satellite links",
        "S2: 16 beams of 1000 Mbit/s, at most 1 beam per grid cell, gateway mask 30°, inter-satellite links",
    ):
        assert phrase in model, phrase
    # headline: LDC (AAA), SIDS (BBB), LLDC (CCC: nobody) against the world, with every threshold
    assert (
        "LDC (Least Developed Countries): 54.2 % of the busy-hour demand met; 1.083 Mbit/s served per subscriber" in sec
    )
    assert "SIDS (Small Island Developing States): 71.9 % of the busy-hour demand met; 1.438 Mbit/s" in sec
    assert "World: 64.3 % of the busy-hour demand met; 1.286 Mbit/s served per subscriber" in sec
    assert "at least 1 Mbit/s: 100.0 %, 1.5 Mbit/s: 40.0 %, 2 Mbit/s: 0.0 %" in sec
    assert "LLDC (Landlocked Developing Countries): n/a of the busy-hour demand met" in sec
    # per system delivered table and the maps note
    assert "| S1 | 1000 | 280 |" in sec and "28.0 %" in sec
    assert "Maps note here." in sec
    assert MAPS_NOTE not in _section(md, "Inputs")
    # the rest of the report speaks of served per subscriber, not capacity per person
    assert "## Countries by rate served per subscriber" in md
    assert "served per subscriber" in _section(md, "Inequality")
    assert "capacity per person" not in _section(md, "Groups")
    html = html_path.read_text()
    assert "<h2>Capacity as delivered</h2>" in html and "no demand at sea" in html


def test_throughput_rule_paragraph(accounts):
    _, _, c, _, _ = accounts
    t = c.copy()
    t.attrs = {**c.attrs, "rule": "throughput"}
    assert "maximise the total rate served" in model_paragraph(t)


def test_band_sharing_sentence_only_when_beams_share_their_band(accounts):
    _, _, c, _, _ = accounts
    t = c.copy()
    t.attrs = {**c.attrs, "band_sharing": 0}
    assert "co-frequency sharing" not in model_paragraph(t)
    t.attrs = {**c.attrs, "band_sharing": 1}
    assert "carry only the share of its band the sharing leaves it" in model_paragraph(t)


def test_proportional_report_has_no_delivered_section(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "accounts_world", Path(__file__).parents[1] / "analysis" / "test_accounts.py"
    )
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    c = country_accounts(old._geography(), old._coverage(), capacity=old._capacity())
    md, _ = write_report(tmp_path, countries=c, groups=group_accounts(c), equity=None, figures=[], meta={})
    text = md.read_text()
    assert "Capacity as delivered" not in text and "## Countries by capacity per person" in text


def test_csv_columns(tmp_path, accounts):
    _, _, c, g, e = accounts
    paths = write_tables(tmp_path, c, g, e)
    with open(paths[0], newline="") as f:
        rows = list(csv.DictReader(f))
    for col in (
        "adoption",
        "subscribers",
        "demand_mbps",
        "system_demand_mbps[S1]",
        "served_total_mbps",
        "served_mbps[S2]",
        "demand_met_fraction",
        "system_demand_met_fraction[S1]",
        "served_per_subscriber_mbps",
        "system_served_per_subscriber_mbps[S2]",
        "share_population_at_least_1mbps",
        "share_population_at_least_1.5mbps",
        "share_population_at_least_2mbps",
    ):
        assert col in rows[0], col
    aaa = rows[0]
    assert aaa["country"] == "AAA"
    assert float(aaa["served_mbps[S2]"]) == 0.0
    assert float(aaa["demand_met_fraction"]) == 130 / 240
    with open(paths[1], newline="") as f:
        groups = {r["group"]: r for r in csv.DictReader(f)}
    assert float(groups["world"]["served_per_subscriber_mbps"]) == pytest.approx(360 / 280)
    assert float(groups["world"]["share_population_at_least_1.5mbps"]) == pytest.approx(0.4)
    with open(paths[2], newline="") as f:
        eq_rows = list(csv.DictReader(f))
    assert {r["quantity"] for r in eq_rows} == {"served_per_subscriber"}


def test_served_maps_and_lorenz_figure(tmp_path, accounts):
    geo, cap, c, g, e = accounts
    cap = cap.copy()
    subs = np.array([[100.0, 60.0, 120.0, 0.0]])
    cap["subscribers"] = (("lat", "lon"), subs)
    total = cap["served_mbps"].sum("system").values
    with np.errstate(invalid="ignore", divide="ignore"):
        cap["served_per_subscriber_mbps"] = (("lat", "lon"), np.where(subs > 0, total / subs, np.nan))
        dem = np.array([[200.0, 120.0, 240.0, 0.0]])
        cap["demand_met_fraction"] = (("lat", "lon"), np.where(dem > 0, total / dem, np.nan))
    cap["system_demand_mbps"] = (("system", "lat", "lon"), np.array([[[200.0, 80, 120, 0]], [[0, 40, 120, 0]]]))
    paths = write_served_maps(tmp_path, geo, cap, note="Stand-in note.")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"map_{m}_{s}.png" for m in ("served_per_subscriber", "demand_met_fraction") for s in ("S1", "S2", "all")
    )
    assert png_title(tmp_path / "map_served_per_subscriber_all.png") == "Rate served per subscriber, all systems"
    assert png_title(tmp_path / "map_demand_met_fraction_S2.png") == "Share of the demand met, S2"
    lz = write_figures(tmp_path, geo, None, None, e)
    assert [p.name for p in lz] == ["lorenz_served_per_subscriber.png"]
    assert png_title(lz[0]) == "Lorenz curves of the rate served per subscriber across subscribers"
