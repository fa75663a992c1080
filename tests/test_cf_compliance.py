"""CF 1.10 by the IOOS compliance-checker on every group of a small run's results.h5 (skipped when the
``compliance-checker`` package is not installed; it is in the ``[test]`` extra).

The checker reads a file's root group only, so each group is copied alone (with the root attributes)
into a file of its own, as it is (variables, attributes, fill values, data). Counts of failed checks per
priority are printed (``pytest -s``); a high-priority failure fails the test, and so does any §7.3
message (the time means name the bounded scalar coordinate ``period``, :mod:`orbitshare.io`).
"""

from __future__ import annotations

import pytest

from orbitshare import runner
from test_runner import TINY_TOML

cc_runner = pytest.importorskip("compliance_checker.runner")
cc_cf = pytest.importorskip("compliance_checker.cf.cf_1_10")
netCDF4 = pytest.importorskip("netCDF4")

# every dataset a run makes without EPFD data (gso too), the time series kept: all group layouts
ALL_TOML = TINY_TOML.replace(
    'datasets = ["coverage", "countries"]',
    'datasets = ["coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz", "gso"]\n'
    "keep_time_series = true",
).replace('name = "tiny"', 'name = "cf"')

# compliance-checker 6.1 asks 2 dimensions of every bounds variable; CF 1.10 §7.1 asks "one more dimension
# than its associated coordinate": 1 for a scalar coordinate such as period (a checker limitation, medium)
KNOWN_MEDIUM = ("Boundary variable period_bnds specified by period should have at least two dimensions",)


def _copy_group(src: str, group: str, dst: str) -> None:
    with netCDF4.Dataset(src) as f, netCDF4.Dataset(dst, "w") as out:
        g = f.groups[group]
        out.setncatts({**{k: f.getncattr(k) for k in f.ncattrs()}, **{k: g.getncattr(k) for k in g.ncattrs()}})
        for name, d in g.dimensions.items():
            out.createDimension(name, None if d.isunlimited() else len(d))
        for name, v in g.variables.items():
            fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() else False
            nv = out.createVariable(name, v.datatype, v.dimensions, fill_value=fill)
            nv.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
            v.set_auto_maskandscale(False)
            nv.set_auto_maskandscale(False)
            nv[...] = v[...]


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("cf")
    (d / "cf.toml").write_text(ALL_TOML)
    runner.run(d / "cf.toml", d / "run", progress=False)
    return d / "run" / runner.RESULTS_FILE


def test_every_group_passes_the_cf_checks_of_high_priority(results_file, tmp_path):
    suite = cc_runner.CheckSuite()
    suite.checkers["cf:1.10"] = cc_cf.CF1_10Check  # that checker only (not every installed plugin)
    with netCDF4.Dataset(results_file) as f:
        groups = list(f.groups)
    assert set(groups) == {"coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz", "gso"}
    failures: dict[str, dict[int, list[str]]] = {}
    for group in groups:
        one = tmp_path / f"{group}.nc"
        _copy_group(str(results_file), group, str(one))
        ds = suite.load_dataset(str(one))
        try:
            results = suite.run_all(ds, ["cf:1.10"], skip_checks=[])["cf:1.10"][0]
        finally:
            ds.close()
        failed: dict[int, list[str]] = {1: [], 2: [], 3: []}
        for r in results:
            if r.value[0] < r.value[1] if isinstance(r.value, tuple) else not r.value:
                failed[r.weight] += [f"{r.name}: {m}" for m in r.msgs] or [r.name]
        failures[group] = failed
        print(f"{group}: high {len(failed[3])}, medium {len(failed[2])}, low {len(failed[1])} messages")
    high = {g: f[3] for g, f in failures.items() if f[3]}
    assert not high, high
    cell_methods = {g: [m for m in f[2] if m.startswith("§7.3")] for g, f in failures.items()}
    assert not any(cell_methods.values()), cell_methods
    # the scalar time coordinate is there, its only medium message the checker's known limitation
    for group in ("coverage", "spectrum", "capacity", "countries", "groups"):
        assert any(KNOWN_MEDIUM[0] in m for m in failures[group][2]), group
