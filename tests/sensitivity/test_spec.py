"""The [sweep] section: parsing, dotted paths, the designs (same seed, same samples), validation of every
sample before anything runs, and the SALib indices on closed-form responses. Nothing here runs an experiment."""

import itertools
import math
import statistics

import numpy as np
import pytest
import xarray as xr

from orbitshare.errors import ConfigError
from orbitshare.sensitivity import combine, spec
from orbitshare.sensitivity.spec import Parameter, SweepSpec

BASE = """\
[experiment]
name = "tiny"

[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T00:10:00Z
step_s = 60

[grid]
resolution_deg = 5.0

[[systems]]
name = "Shell A"
administration = "USA"
walker = [{ altitude_km = 550, inclination_deg = 53, planes = 4, sats_per_plane = 4 }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
capacity_per_sat_mbps = 20000
beams = 8

[[systems]]
name = "Polar B"
administration = "GBR"
walker = [{ altitude_km = 1200, inclination_deg = 87.9, planes = 3, sats_per_plane = 4 }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
capacity_per_sat_mbps = 7500
beams = 8
elevation_mask_deg = 30

[outputs]
datasets = ["coverage", "capacity", "countries", "groups"]
files = ["netcdf"]

[compute]
chunk_steps = 5
"""


def _write(tmp_path, sweep_text, name="sw.toml"):
    path = tmp_path / name
    path.write_text(BASE + "\n" + sweep_text)
    return path


def _problems(exc_info):
    return exc_info.value.problems


def test_parameters_and_base_values(tmp_path):
    path = _write(
        tmp_path,
        """[sweep]
method = "random"
samples = 3
seed = 5
[sweep.parameters]
"systems.0.capacity_per_sat_mbps" = { uniform = [10000, 30000] }
"systems.*.elevation_mask_deg" = { values = [25, 35] }
"demand.adoption" = { loguniform = [0.005, 0.05] }
"outputs.weighting" = { choice = ["population", "area"] }
"time.start" = { normal = [0, 10] }
""",
    )
    sw = spec.read_sweep(path)
    assert [p.path for p in sw.spec.parameters][:2] == [
        "systems.0.capacity_per_sat_mbps",
        "systems.*.elevation_mask_deg",
    ]
    assert sw.spec.method == "random" and sw.spec.samples == 3 and sw.spec.seed == 5
    bv = spec.base_values(sw)
    # demand.adoption is not in the file: its resolved default; the masks differ (25 vs 30): no common value
    assert bv == {
        "systems.0.capacity_per_sat_mbps": 20000.0,
        "systems.*.elevation_mask_deg": None,
        "demand.adoption": 0.01,
        "outputs.weighting": "population",
        "time.start": 0,
    }
    assert "sweep" not in sw.doc and sw.base.name == "tiny"


def test_inverse_distribution_functions():
    """Each kind maps u in [0, 1) by its own closed form."""
    u = 0.3
    assert Parameter("a", "uniform", (2.0, 6.0)).value(u) == pytest.approx(2.0 + 0.3 * 4.0)
    assert Parameter("a", "uniform", (10, 13)).value(u) == 10 + math.floor(0.3 * 4)  # integers 10..13
    assert Parameter("a", "loguniform", (0.01, 1.0)).value(u) == pytest.approx(10 ** (-2 + 0.3 * 2))
    assert Parameter("a", "normal", (5.0, 2.0)).value(u) == pytest.approx(
        5.0 + 2.0 * statistics.NormalDist().inv_cdf(u)
    )
    assert [Parameter("a", "choice", ("x", "y", "z")).value(v) for v in (0.0, 0.34, 0.67, 0.999)] == [
        "x",
        "y",
        "z",
        "z",
    ]
    ints = {Parameter("a", "uniform", (1, 3)).value(v) for v in np.linspace(0, 0.9999, 50)}
    assert ints == {1, 2, 3}


@pytest.mark.parametrize(
    "method,samples,rows", [("random", 5, 5), ("sobol", 4, 4 * (3 + 2)), ("morris", 3, 3 * (3 + 1))]
)
def test_same_seed_same_samples(method, samples, rows):
    params = (
        Parameter("systems.0.capacity_per_sat_mbps", "uniform", (1000.0, 2000.0)),
        Parameter("demand.adoption", "loguniform", (0.001, 0.1)),
        Parameter("outputs.weighting", "choice", ("population", "area")),
    )
    a = spec.design(SweepSpec(method, samples, 11, 4, params), {})
    b = spec.design(SweepSpec(method, samples, 11, 4, params), {})
    c = spec.design(SweepSpec(method, samples, 12, 4, params), {})
    assert a.values == b.values and np.array_equal(a.unit, b.unit, equal_nan=True)
    assert a.values != c.values
    assert len(a.values) == rows + 1 and a.values[0] == {} and a.base == 0  # the base run first
    assert a.design == tuple(range(1, rows + 1))
    for v in a.values[1:]:
        assert 1000.0 <= v["systems.0.capacity_per_sat_mbps"] <= 2000.0
        assert 0.001 <= v["demand.adoption"] <= 0.1
        assert v["outputs.weighting"] in ("population", "area")
    if method == "random":  # numpy's generator, one row per sample
        u = np.random.default_rng(11).random((samples, 3))
        assert [v["systems.0.capacity_per_sat_mbps"] for v in a.values[1:]] == pytest.approx(1000 + 1000 * u[:, 0])


def test_grid_is_the_cartesian_product_and_finds_the_base():
    params = (Parameter("a", "values", (1, 2, 3)), Parameter("b", "choice", ("x", "y")))
    d = spec.design(SweepSpec("grid", None, 0, 4, params), {"a": 2, "b": "y"})
    assert [(v["a"], v["b"]) for v in d.values] == list(itertools.product((1, 2, 3), ("x", "y")))
    assert d.base == 3 and d.design == tuple(range(6))  # (2, "y") is a grid point: it is the base
    d = spec.design(SweepSpec("grid", None, 0, 4, params), {"a": 4, "b": "y"})
    assert d.values[0] == {} and d.base == 0 and len(d.values) == 7 and d.design == tuple(range(1, 7))


def test_unknown_paths_name_the_keys_that_exist(tmp_path):
    path = _write(
        tmp_path,
        """[sweep]
method = "random"
samples = 2
[sweep.parameters]
"systems.0.capacity_per_sat_mbp" = { uniform = [1, 2] }
"demnd.adoption" = { uniform = [0.1, 0.2] }
"systems.7.beams" = { values = [1, 2] }
"systems.0.bands" = { values = [1] }
"demand.adoption" = { uniform = [0.2, 0.1] }
""",
    )
    with pytest.raises(ConfigError) as e:
        spec.read_sweep(path)
    lines = _problems(e)
    assert len(lines) == 5
    assert lines[0].startswith(f'{path}: sweep.parameters."systems.0.capacity_per_sat_mbp": unknown path')
    assert "capacity_per_sat_mbps" in lines[0] and "elevation_mask_deg" in lines[0]  # the system's keys
    assert 'sweep.parameters."demnd.adoption"' in lines[1] and "'demnd'" in lines[1] and "demand" in lines[1]
    assert 'sweep.parameters."systems.7.beams"' in lines[2] and "0 to 1" in lines[2]
    assert 'sweep.parameters."systems.0.bands"' in lines[3] and "scalar" in lines[3]
    assert 'sweep.parameters."demand.adoption"' in lines[4] and "low < high" in lines[4]


def test_bad_sweep_keys(tmp_path):
    path = _write(
        tmp_path,
        (
            '[sweep]\nmethod = "sobol"\nsamples = 6\nseeds = 1\n'
            '[sweep.parameters]\n"demand.adoption" = { values = [0.1] }\n'
        ),
    )
    with pytest.raises(ConfigError) as e:
        spec.read_sweep(path)
    text = "\n".join(_problems(e))
    assert "sweep.seeds: unknown key" in text and "sweep.samples: expected a power of 2" in text


def test_every_failing_sample_is_reported_before_anything_runs(tmp_path):
    path = _write(
        tmp_path,
        """[sweep]
method = "grid"
[sweep.parameters]
"systems.*.capacity_per_sat_mbps" = { values = [-5, 1000] }
"demand.adoption" = { values = [0.01, 1.5] }
""",
    )
    from orbitshare.sensitivity import sweep

    out = tmp_path / "out"
    with pytest.raises(ConfigError) as e:
        sweep(path, out=out, progress=False)
    lines = _problems(e)
    assert lines[0] == f"{path}: sweep: 3 of 5 samples would fail; nothing was run"
    # grid order: (-5, 0.01), (-5, 1.5), (1000, 0.01), (1000, 1.5), after the base (sample 0)
    by_sample = {}
    for line in lines[1:]:
        head = line.removeprefix(f"{path}: ")
        by_sample.setdefault(head.split(":")[0], []).append(head)
    assert sorted(by_sample) == ["sample 1", "sample 2", "sample 4"]
    s1 = " ".join(by_sample["sample 1"])
    assert "systems.*.capacity_per_sat_mbps = -5: systems[0].capacity_per_sat_mbps:" in s1
    assert "systems[1].capacity_per_sat_mbps" in s1
    assert any("demand.adoption = 1.5: demand.adoption:" in x for x in by_sample["sample 4"])
    assert not out.exists()


def test_time_start_moves_the_window(tmp_path):
    path = _write(tmp_path, '[sweep]\nmethod = "grid"\n[sweep.parameters]\n"time.start" = { values = [0, 1.5] }\n')
    sw = spec.read_sweep(path)
    d = spec.design(sw.spec, spec.base_values(sw))
    exps = spec.sample_experiments(sw, d)
    assert d.base == 0 and len(exps) == 2
    assert exps[1].time.start - exps[0].time.start == exps[1].time.stop - exps[0].time.stop
    assert (exps[1].time.start - exps[0].time.start).total_seconds() == 1.5 * 86400


def _fake_groups(y: np.ndarray) -> xr.Dataset:
    return xr.Dataset(
        {"demand_met_fraction": (("sample", "group"), np.repeat(y[:, None], 4, axis=1))},
        coords={"sample": np.arange(len(y)), "group": ["ldc", "lldc", "sids", "world"]},
    )


def test_morris_indices_of_a_linear_response():
    """y = 2 u0 + 0 u1: every elementary effect of u0 is 2 (mu = mu* = 2, sigma = 0), of u1 0."""
    params = (Parameter("a", "uniform", (0.0, 1.0)), Parameter("b", "uniform", (0.0, 1.0)))
    s = SweepSpec("morris", 6, 3, 4, params)
    d = spec.design(s, {})
    y = np.full(len(d.values), np.nan)
    y[list(d.design)] = 2.0 * d.unit[list(d.design), 0]
    y[0] = 0.5
    got = combine.indices(s, d, _fake_groups(y), "demand_met_fraction")
    assert got is not None
    a = got[(got.group == "ldc") & (got.parameter == "a")].iloc[0]
    b = got[(got.group == "ldc") & (got.parameter == "b")].iloc[0]
    assert a.mu == pytest.approx(2.0) and a.mu_star == pytest.approx(2.0) and a.sigma == pytest.approx(0.0, abs=1e-12)
    assert b.mu_star == pytest.approx(0.0, abs=1e-12)


def test_sobol_indices_of_an_additive_response():
    """y = u0 (the second parameter has no effect): S1 and ST of u0 near 1, ST of u1 exactly 0."""
    params = (Parameter("a", "uniform", (0.0, 1.0)), Parameter("b", "uniform", (0.0, 1.0)))
    s = SweepSpec("sobol", 256, 3, 4, params)
    d = spec.design(s, {})
    y = np.full(len(d.values), 0.5)
    y[list(d.design)] = d.unit[list(d.design), 0]
    got = combine.indices(s, d, _fake_groups(y), "demand_met_fraction")
    assert got is not None
    a = got[(got.group == "world") & (got.parameter == "a")].iloc[0]
    b = got[(got.group == "world") & (got.parameter == "b")].iloc[0]
    assert abs(a["S1"] - 1.0) < 0.05 and abs(a["ST"] - 1.0) < 0.05
    assert abs(b["ST"]) < 1e-12 and abs(b["S1"]) < 1e-12


def test_spearman_against_the_definition():
    """No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)); ties: Pearson of average ranks (scipy's)."""
    rng = np.random.default_rng(3)
    a, b = rng.random(30), rng.random(30)
    ra, rb = a.argsort().argsort() + 1, b.argsort().argsort() + 1
    n = 30
    assert combine.spearman(a, b) == pytest.approx(1 - 6 * np.sum((ra - rb) ** 2) / (n * (n * n - 1)), rel=1e-12)
    scipy_stats = pytest.importorskip("scipy.stats")
    t = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 5.0, np.nan])
    u = np.array([2.0, 1.0, 1.0, 4.0, 5.0, 5.0, 1.0])
    want = scipy_stats.spearmanr(t[:6], u[:6]).statistic
    assert combine.spearman(t, u) == pytest.approx(want, rel=1e-12)


def test_tornado_is_one_at_a_time_in_a_grid_that_holds_the_base():
    """y = 10 a + b on the grid a in (1, 2, 3), b in (0, 5), base (2, 0): a's bar spans 10..30 (b at 0),
    b's 20..25 (a at 2); longest first; each end labelled with its value."""
    from orbitshare.sensitivity.report import tornado_bars

    params = (Parameter("a", "values", (1, 2, 3)), Parameter("b", "values", (0, 5)))
    s = SweepSpec("grid", None, 0, 4, params)
    d = spec.design(s, {"a": 2, "b": 0})
    values = {p.path: [v[p.path] for v in d.values] for p in params}
    y = np.array([10.0 * v["a"] + v["b"] for v in d.values])
    assert tornado_bars(s, values, y, d.design, d.base) == [("a", 10.0, 30.0, "1", "3"), ("b", 20.0, 25.0, "0", "5")]
    # a random design: medians over the samples sharing a value
    r = SweepSpec("random", 6, 0, 4, params)
    idx = (1, 2, 3, 4, 5, 6)
    values = {"a": [None, 1, 1, 3, 3, 3, 1], "b": [None, 0, 5, 0, 5, 5, 0]}
    y = np.array([np.nan, 1.0, 2.0, 7.0, 8.0, 9.0, 4.0])
    bars = tornado_bars(r, values, y, idx, 0)
    assert bars[0] == ("a", 2.0, 8.0, "1", "3")  # medians of (1, 2, 4) and (7, 8, 9)
    assert bars[1] == ("b", 4.0, 8.0, "0", "5")  # medians of (1, 7, 4) and (2, 8, 9)
