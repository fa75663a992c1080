"""System and Band: every invalid field raises SystemDefinitionError naming the field as an experiment
file writes it; check_fields lists every problem at once (the experiment reader reports those)."""

from __future__ import annotations

import numpy as np
import pytest

from orbitshare.elements.walker import walker
from orbitshare.errors import ParameterError, ParameterTypeError, SystemDefinitionError
from orbitshare.system import MAX_MIN_VISIBLE, MAX_NAME_LENGTH, Band, System, as_systems, field_detail, label_problem


@pytest.fixture(scope="module")
def es():
    return walker(550.0, 53.0, 2, 2, 0, "2026-01-01T00:00:00Z")


def test_band_width_and_coercion():
    assert Band("Ku", 10700, 12700).width_mhz == 2000.0
    b = Band("Ka", 17700, 18600)
    assert (b.low_mhz, b.high_mhz) == (17700.0, 18600.0) and isinstance(b.low_mhz, float)
    assert Band.coerce(("Ka", 17700, 18600)) == b
    assert Band.coerce({"name": "Ka", "low_mhz": 17700, "high_mhz": 18600}) == b
    assert Band.coerce(b) is b
    with pytest.raises(ParameterError, match="unknown key"):
        Band.coerce({"name": "Ka", "low_mhz": 1, "high_mhz": 2, "width": 1})
    with pytest.raises(ParameterTypeError, match="expected a Band"):
        Band.coerce("Ka")


@pytest.mark.parametrize(
    "args, field, message",
    [
        (("", 1.0, 2.0), "name", "Band.name: expected a non-empty string, got ''"),
        (("Ku", -1, 2.0), "low_mhz", "Band.low_mhz: expected a number of MHz > 0, got -1 (band 'Ku')"),
        (("Ku", 1.0, float("inf")), "high_mhz", "Band.high_mhz: expected a number of MHz > 0, got inf (band 'Ku')"),
        (("Ku", 12700, 10700), "low_mhz", "Band.low_mhz: expected a number < high_mhz (10700), got 12700 (band 'Ku')"),
        (("Ku", True, 2.0), "low_mhz", "Band.low_mhz: expected a number of MHz > 0, got True (band 'Ku')"),
    ],
)
def test_band_errors_name_the_field(args, field, message):
    with pytest.raises(SystemDefinitionError) as info:
        Band(*args)
    assert str(info.value) == message and info.value.field == field and info.value.system == ""
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "kw, field, detail",
    [
        ({"elevation_mask_deg": 90}, "elevation_mask_deg", "expected a number of degrees in (-90, 90), got 90"),
        (
            {"elevation_mask_deg": float("nan")},
            "elevation_mask_deg",
            "expected a number of degrees in (-90, 90), got nan",
        ),
        ({"min_visible": 0}, "min_visible", f"expected an integer in [1, {MAX_MIN_VISIBLE}], got 0"),
        ({"min_visible": 1.0}, "min_visible", f"expected an integer in [1, {MAX_MIN_VISIBLE}], got 1.0"),
        ({"operator": 3}, "operator", "expected a string, got 3"),
        (
            {"administration": "US"},
            "administration",
            "expected an ISO 3166-1 alpha-3 code (three letters) or '', got 'US'",
        ),
        ({"capacity_per_sat_mbps": 0}, "capacity_per_sat_mbps", "expected a number of Mbit/s > 0, got 0"),
        ({"beams": 0}, "beams", "expected an integer >= 1, got 0"),
        (
            {
                "bands": [("Ku", 1.0, 2.0)],
                "capacity_per_sat_mbps": 10.0,
                "spectral_efficiency_bps_per_hz": 2,
                "beams": 3,
            },
            "capacity_per_sat_mbps",
            "expected either capacity_per_sat_mbps or spectral_efficiency_bps_per_hz with beams, got both",
        ),
        (
            {"bands": [("Ku", 1.0, 2.0)], "spectral_efficiency_bps_per_hz": 2.0},
            "beams",
            "expected an integer >= 1 with spectral_efficiency_bps_per_hz (capacity = efficiency x bandwidth x beams), "
            "got nothing",
        ),
        (
            {"spectral_efficiency_bps_per_hz": 2.0, "beams": 2},
            "bands",
            "expected at least one band with spectral_efficiency_bps_per_hz (for the bandwidth), got none",
        ),
        (
            {"bands": [("Ku", 1.0, 2.0), ("Ka", 5.0, 3.0)]},
            "bands[1].low_mhz",
            "expected a number < high_mhz (3), got 5.0",
        ),
        ({"bands": ["Ku"]}, "bands[0]", "expected a Band or (name, low_mhz, high_mhz), got 'Ku'"),
        (
            {"bands": [("Ku", 1.0, 2.0), ("Ku", 3.0, 4.0)]},
            "bands[1].name",
            "expected a band name unique within the system, got 'Ku' (also bands[0])",
        ),
        (
            {"bands": [("Ku", 10700, 12700), ("Ku2", 12000.5, 13000)]},
            "bands[1]",
            "expected a band not overlapping bands[0] ('Ku', 10700-12700 MHz), got 'Ku2', 12000.5-13000 MHz",
        ),
        (
            {"serve_countries": "USA"},
            "serve_countries",
            "expected a sequence of ISO 3166-1 alpha-3 codes, got the string 'USA' (write ('USA',))",
        ),
        (
            {"exclude_countries": ("FRA", "US")},
            "exclude_countries[1]",
            "expected an ISO 3166-1 alpha-3 code (three letters), got 'US'",
        ),
    ],
)
def test_system_errors_name_the_field(es, kw, field, detail):
    with pytest.raises(SystemDefinitionError) as info:
        System("x", es, **kw)
    err = info.value
    assert (err.field, err.system) == (field, "x")
    assert str(err) == f"System.{field}: {detail} (system 'x')"
    assert field_detail(err) == detail
    # the same, alone, from check_fields (no name given: no system in the message)
    (alone,) = System.check_fields(**kw)
    assert (alone.field, alone.system, str(alone)) == (field, "", f"System.{field}: {detail}")


def test_name_and_elements():
    with pytest.raises(SystemDefinitionError, match=r"System.name: expected a non-empty string, got ' '") as info:
        System(" ", walker(550.0, 53.0, 1, 1, 0, "2026-01-01T00:00:00Z"))
    assert info.value.field == "name" and info.value.system == ""
    with pytest.raises(ParameterTypeError, match="System.elements: expected an ElementSet"):
        System("x", [1, 2, 3])  # type: ignore[arg-type]


def test_check_fields_lists_every_problem_in_file_order():
    errors = System.check_fields(
        name="sys",
        min_visible=0,
        administration="U5A",
        bands=[("Ku", 12700, 10700), ("", 1, 2), ("Ka", 20000, 21000), ("Kb", 20500, 20600)],
        beams=2,
        serve_countries=["USA", "X", "CAN", 7],
    )
    assert [e.field for e in errors] == [
        "administration",
        "bands[0].low_mhz",
        "bands[1].name",
        "bands[3]",
        "spectral_efficiency_bps_per_hz",
        "min_visible",
        "serve_countries[1]",
        "serve_countries[3]",
    ]
    assert all(e.system == "sys" and str(e).endswith(" (system 'sys')") for e in errors)
    assert System.check_fields() == [] and System.check_fields(name="ok", bands=[Band("Ku", 1, 2)]) == []
    with pytest.raises(ParameterError, match="unknown field"):
        System.check_fields(mask=10)


def test_valid_system_is_normalised(es):
    s = System(
        "x",
        es,
        elevation_mask_deg=10,
        min_visible=2,
        administration="gbr",
        bands=[("Ku", 10700, 12700), {"name": "Ka", "low_mhz": 17700, "high_mhz": 18600}],
        spectral_efficiency_bps_per_hz=3,
        beams=2,
        serve_countries=["usa", "USA", "can"],
        exclude_countries=None,  # type: ignore[arg-type]
        operator=None,  # type: ignore[arg-type]
    )
    assert s.elevation_mask_deg == 10.0 and isinstance(s.elevation_mask_deg, float) and s.min_visible == 2
    assert s.administration == "GBR" and s.operator == "" and s.exclude_countries == ()
    assert s.bands == (Band("Ku", 10700.0, 12700.0), Band("Ka", 17700.0, 18600.0))
    assert s.bandwidth_mhz == 2900.0 and s.capacity_mbps == 3.0 * 2900.0 * 2
    assert s.serve_countries == ("USA", "CAN") and s.has_landing_rights
    assert System("y", es).capacity_mbps is None and not System("y", es).has_landing_rights
    # touching bands do not overlap
    assert len(System("z", es, bands=[("a", 1, 2), ("b", 2, 3)]).bands) == 2


def test_as_systems(es):
    a, b = as_systems([es, es])
    assert (a.name, b.name) == ("system", "system_2")
    with pytest.raises(ParameterError, match="duplicate system name"):
        as_systems([System("a", es), System("a", es)])
    with pytest.raises(ParameterError, match="at least one"):
        as_systems([])
    with pytest.raises(ParameterTypeError, match=r"systems\[0\]"):
        as_systems([3])
    with pytest.raises(ParameterTypeError, match="systems: expected"):
        as_systems(3)


# ----------------------------------------------------------------------------- issue 10: labels and sizes
@pytest.mark.parametrize("bad", ["a\x00b", "a\rb", "a\nb", "a\tb", "a\x1bb", "a\x7fb", "a\u2028b", "a\u200bb"])
def test_names_without_control_characters(es, bad):
    """A NUL in a name passed validation and failed after the pass; a CR injected Markdown structure."""
    with pytest.raises(SystemDefinitionError, match=r"^System\.name: expected printable characters") as info:
        System(bad, es)
    assert info.value.field == "name" and "\n" not in str(info.value) and "\r" not in str(info.value)
    assert [e.field for e in System.check_fields(name=bad, operator=bad)] == ["name", "operator"]
    with pytest.raises(SystemDefinitionError, match=r"^Band\.name: expected printable characters"):
        Band(bad, 10700, 12700)


def test_names_of_reasonable_length(es):
    assert System("x" * MAX_NAME_LENGTH, es).name == "x" * MAX_NAME_LENGTH
    (err,) = System.check_fields(name="x" * (MAX_NAME_LENGTH + 1))
    assert field_detail(err) == f"expected at most {MAX_NAME_LENGTH} characters, got '{'x' * 39}... (101 characters)"
    assert System("Starlink Gen2 (granted) — Ka/Ku, 2026", es, operator="Ž & Co.").operator == "Ž & Co."
    assert label_problem("", empty_ok=True) is None and label_problem("") is not None


def test_integers_a_float_cannot_hold_are_field_errors():
    """Before: OverflowError from float() inside the checks."""
    big = 10**400
    fields = {
        "elevation_mask_deg": big,
        "capacity_per_sat_mbps": -big,
        "bands": [("Ku", 10700, big)],
    }
    errors = System.check_fields(**fields)
    assert [e.field for e in errors] == ["bands[0].high_mhz", "capacity_per_sat_mbps", "elevation_mask_deg"]
    assert all(field_detail(e).endswith("... (401 digits)") for e in errors)
    # a capacity (efficiency x bandwidth x beams) beyond a float: refused on beams
    (err,) = System.check_fields(spectral_efficiency_bps_per_hz=2.0, beams=big, bands=[("Ku", 10700, 12700)])
    assert err.field == "beams" and "finite number of Mbit/s" in str(err)


@pytest.mark.parametrize("scenario", ["all", "authorised", "authorised+pending", "tables/rights.csv", "R.CSV"])
def test_landing_rights_scenarios(es, scenario):
    s = System("S", es, landing_rights=scenario, serve_countries=("FRA",))
    assert s.landing_rights == scenario
    assert s.serve_countries == ("FRA",)  # provenance only: the lists are what the engine reads
    assert System("S", es).landing_rights == "all"


@pytest.mark.parametrize("bad", ["authorized", "rights.txt", "", 3, None])
def test_landing_rights_rejects_other_values(es, bad):
    with pytest.raises(SystemDefinitionError, match=r"System.landing_rights: expected 'all', 'authorised'") as info:
        System("S", es, landing_rights=bad)
    assert info.value.field == "landing_rights"
    assert [e.field for e in System.check_fields(landing_rights=bad)] == ["landing_rights"]


# ----------------------------------------------------------------------------- issue 12: beams, cells, gateways
_SITE = "expected a (lat_deg, lon_deg) pair with the latitude in [-90, 90] and the longitude in [-180, 180], got "


@pytest.mark.parametrize(
    "kw, field, detail",
    [
        ({"beam_capacity_mbps": 0, "beams": 2}, "beam_capacity_mbps", "expected a number of Mbit/s > 0, got 0"),
        (
            {"beam_capacity_mbps": float("nan"), "beams": 2},
            "beam_capacity_mbps",
            "expected a number of Mbit/s > 0, got nan",
        ),
        (
            {"beam_capacity_mbps": 2500},
            "beams",
            "expected an integer >= 1 with beam_capacity_mbps (capacity = beams x beam_capacity_mbps), got nothing",
        ),
        (
            {"capacity_per_sat_mbps": 20000, "beam_capacity_mbps": 2500, "beams": 8},
            "beam_capacity_mbps",
            "expected either capacity_per_sat_mbps or beam_capacity_mbps with beams, got both",
        ),
        (
            {"bands": [("Ku", 1.0, 2.0)], "spectral_efficiency_bps_per_hz": 2, "beam_capacity_mbps": 2, "beams": 3},
            "beam_capacity_mbps",
            "expected either spectral_efficiency_bps_per_hz or beam_capacity_mbps with beams, got both",
        ),
        (
            {"beam_capacity_mbps": 1e300, "beams": 10**10},
            "beams",
            "expected a capacity (beams x beam_capacity_mbps) that is a finite number of Mbit/s, got 10000000000 beams",
        ),
        ({"max_beams_per_cell": 0}, "max_beams_per_cell", "expected an integer >= 1, got 0"),
        ({"max_beams_per_cell": 2.0}, "max_beams_per_cell", "expected an integer >= 1, got 2.0"),
        ({"max_beams_per_cell": True}, "max_beams_per_cell", "expected an integer >= 1, got True"),
        ({"service_cell_km2": 0}, "service_cell_km2", "expected a number of km2 > 0, got 0"),
        ({"service_cell_km2": -379.0}, "service_cell_km2", "expected a number of km2 > 0, got -379.0"),
        ({"service_cell_km2": float("inf")}, "service_cell_km2", "expected a number of km2 > 0, got inf"),
        ({"service_cell_km2": float("nan")}, "service_cell_km2", "expected a number of km2 > 0, got nan"),
        ({"service_cell_km2": "379"}, "service_cell_km2", "expected a number of km2 > 0, got '379'"),
        ({"service_cell_km2": True}, "service_cell_km2", "expected a number of km2 > 0, got True"),
        (
            {"service_cell_km2": 10**400},
            "service_cell_km2",
            "expected a number of km2 > 0, got 1" + "0" * 39 + "... (401 digits)",
        ),
        ({"gateway_mask_deg": 90}, "gateway_mask_deg", "expected a number of degrees in [0, 90), got 90"),
        ({"gateway_mask_deg": -1}, "gateway_mask_deg", "expected a number of degrees in [0, 90), got -1"),
        ({"gateway_mask_deg": "25"}, "gateway_mask_deg", "expected a number of degrees in [0, 90), got '25'"),
        ({"isl": 1}, "isl", "expected true or false, got 1"),
        ({"isl": "false"}, "isl", "expected true or false, got 'false'"),
        (
            {"gateway_sites": "anywhere"},
            "gateway_sites",
            "expected a sequence of (lat_deg, lon_deg) gateway sites, or None (anywhere), got 'anywhere'",
        ),
        (
            {"gateway_sites": 3},
            "gateway_sites",
            "expected a sequence of (lat_deg, lon_deg) gateway sites, or None (anywhere), got int",
        ),
        ({"gateway_sites": [(10.0, 20.0), (91.0, 0.0)]}, "gateway_sites[1]", _SITE + "(91.0, 0.0)"),
        ({"gateway_sites": [(10.0, 181.0)]}, "gateway_sites[0]", _SITE + "(10.0, 181.0)"),
        ({"gateway_sites": [(10.0, 20.0, 30.0)]}, "gateway_sites[0]", _SITE + "(10.0, 20.0, 30.0)"),
        ({"gateway_sites": [("10", "20")]}, "gateway_sites[0]", _SITE + "('10', '20')"),
        ({"gateway_sites": [(float("nan"), 0.0)]}, "gateway_sites[0]", _SITE + "(nan, 0.0)"),
    ],
)
def test_allocation_fields_name_the_field(es, kw, field, detail):
    with pytest.raises(SystemDefinitionError) as info:
        System("x", es, **kw)
    assert (info.value.field, str(info.value)) == (field, f"System.{field}: {detail} (system 'x')")
    (alone,) = System.check_fields(**kw)
    assert (alone.field, field_detail(alone)) == (field, detail)


def test_capacity_ways_and_beam_and_cell_caps(es):
    """S = capacity per satellite, P = one beam, K = max_beams_per_cell x P, in each of the three ways."""
    # capacity_per_sat_mbps alone: one beam of the whole capacity
    s = System("a", es, capacity_per_sat_mbps=20000)
    assert (s.capacity_mbps, s.beam_mbps, s.cell_cap_mbps) == (20000.0, 20000.0, 20000.0)
    # capacity_per_sat_mbps with beams (refused before issue 12): P = S / beams
    s = System("b", es, capacity_per_sat_mbps=20000, beams=8, max_beams_per_cell=2)
    assert (s.capacity_mbps, s.beam_mbps, s.cell_cap_mbps) == (20000.0, 2500.0, 5000.0)
    # spectral efficiency x bandwidth x beams: P = efficiency x bandwidth
    s = System("c", es, bands=[("Ku", 10700, 12700)], spectral_efficiency_bps_per_hz=2.5, beams=4)
    assert (s.capacity_mbps, s.beam_mbps, s.cell_cap_mbps) == (20000.0, 5000.0, 5000.0)
    # beams x beam capacity
    s = System("d", es, beam_capacity_mbps=2500, beams=8, max_beams_per_cell=3)
    assert (s.capacity_mbps, s.beam_mbps, s.cell_cap_mbps) == (20000.0, 2500.0, 7500.0)
    assert isinstance(s.beam_capacity_mbps, float) and s.max_beams_per_cell == 3
    # no capacity: none of them
    s = System("e", es)
    assert (s.capacity_mbps, s.beam_mbps, s.cell_cap_mbps) == (None, None, None)


def test_gateway_fields_defaults_and_normalisation(es):
    s = System("x", es)
    assert (s.gateway_sites, s.gateway_mask_deg, s.isl, s.max_beams_per_cell) == (None, 25.0, False, 1)
    assert s.delivers_anywhere
    s = System("x", es, gateway_sites=[[47, -121.5], (0, 180)], gateway_mask_deg=10)
    assert s.gateway_sites == ((47.0, -121.5), (0.0, 180.0)) and isinstance(s.gateway_sites[0][0], float)
    assert s.gateway_mask_deg == 10.0 and not s.delivers_anywhere
    assert System("x", es, gateway_sites=(), isl=True).delivers_anywhere
    # every problem at once, in file order: capacity, then the delivery fields, then coverage
    errors = System.check_fields(
        beam_capacity_mbps=-1, max_beams_per_cell=0, gateway_sites=[(0, 0), (99, 0)], isl=2, min_visible=0
    )
    assert [e.field for e in errors] == [
        "beam_capacity_mbps",
        "max_beams_per_cell",
        "gateway_sites[1]",
        "isl",
        "min_visible",
    ]


def test_service_cell_area_default_and_normalisation(es):
    """service_cell_km2: None by default (a grid cell is one service cell), else a float of km²; its
    problem comes with the other delivery fields, after max_beams_per_cell."""
    assert System("x", es).service_cell_km2 is None
    s = System("x", es, beam_capacity_mbps=2500, beams=8, max_beams_per_cell=2, service_cell_km2=379)
    assert s.service_cell_km2 == 379.0 and isinstance(s.service_cell_km2, float)
    assert System("x", es, service_cell_km2=np.float32(0.5)).service_cell_km2 == 0.5
    # the caps per service cell do not change with it (the engine scales them per grid cell)
    assert (s.beam_mbps, s.cell_cap_mbps) == (2500.0, 5000.0)
    errors = System.check_fields(max_beams_per_cell=0, service_cell_km2=0, isl=2)
    assert [e.field for e in errors] == ["max_beams_per_cell", "service_cell_km2", "isl"]
