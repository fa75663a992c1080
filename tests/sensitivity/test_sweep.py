"""Sweeps that run: a sample equals the direct ``orbitshare run`` of its experiment, an interrupted sweep
resumes to the same sweep.h5, and the read-outs agree with brute-force references from the CSV tables.

One tiny experiment (16 + 12 Walker satellites, 10 steps, 5° grid, embedded geography): a base run and two
random samples, about 2 s per run.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from orbitshare import cli, runner
from orbitshare.errors import ResultsError
from orbitshare.io import open_results, read_provenance
from orbitshare.sensitivity import SweepResults, sweep
from orbitshare.sensitivity import run as srun

from .test_spec import BASE  # noqa: TID252 - the same tiny experiment

SWEEP = """
[sweep]
method = "random"
samples = 2
seed = 7

[sweep.parameters]
"systems.0.capacity_per_sat_mbps" = { uniform = [2000, 40000] }
"systems.*.elevation_mask_deg" = { values = [20, 40] }
"demand.adoption" = { loguniform = [0.005, 0.05] }
"outputs.weighting" = { choice = ["population", "area"] }
"""
CREATION_ATTRS = ("date_created", "created", "history")


def _clean(ds, source=None):
    """Without creation times; the experiment file's path (named in some attributes) as <experiment>."""
    ds = ds.copy()
    ds.attrs = {k: _unsourced(v, source) for k, v in ds.attrs.items() if k not in CREATION_ATTRS}
    return ds


def _unsourced(v, source):
    return v.replace(str(source), "<experiment>") if source is not None and isinstance(v, str) else v


def _assert_same_h5(a, b, sources=(None, None)):
    got, want = open_results(a), open_results(b)
    assert sorted(got) == sorted(want)
    for name in want:
        xr.testing.assert_identical(_clean(got[name], sources[0]), _clean(want[name], sources[1]))


@pytest.fixture(scope="module")
def swfile(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    path = d / "tiny.toml"
    path.write_text(BASE + SWEEP)
    return path


@pytest.fixture(scope="module")
def done(swfile):
    """An uninterrupted sweep: the reference."""
    return sweep(swfile, out=swfile.parent / "ref", progress=False)


def test_outputs(done):
    res = done
    assert isinstance(res, SweepResults) and res.base == 0 and res.design == (1, 2)
    names = {p.name for p in res.files}
    want = {"sweep.h5", "samples.csv", "groups.csv", "countries.csv", "summary.csv", "robustness.csv"}
    assert want | {"rank_stability.csv", "report.md", "report.html", "tornado.png"} <= names
    assert res.indicator == "demand_met_fraction"
    h5 = open_results(res.out_dir / "sweep.h5")
    g = h5["groups"]
    assert g.sizes["sample"] == 3 and bool(g["is_base"][0]) and not bool(g["in_design"][0])
    assert g["systems.0.capacity_per_sat_mbps"].dims == ("sample",)
    assert list(g["outputs.weighting"].values[1:]) == [v["outputs.weighting"] for v in srun_values(res)[1:]]
    assert "sample" in h5["countries"].dims
    md = (res.out_dir / "report.md").read_text()
    assert "## Headline: demand\\_met\\_fraction" in md and "tornado.png" in md


def srun_values(res):
    return [{p: res.values[p][i] for p in res.values} for i in range(res.nsamples)]


def test_a_sample_is_the_direct_run(done, swfile, tmp_path):
    """Sample 2 against `orbitshare run` of the experiment file with sample 2's values written in."""
    v = srun_values(done)[2]
    text = BASE.replace(
        "capacity_per_sat_mbps = 20000", f"capacity_per_sat_mbps = {v['systems.0.capacity_per_sat_mbps']!r}"
    )
    text = text.replace("elevation_mask_deg = 30", f"elevation_mask_deg = {v['systems.*.elevation_mask_deg']!r}")
    text = text.replace(
        'name = "Shell A"', f'name = "Shell A"\nelevation_mask_deg = {v["systems.*.elevation_mask_deg"]!r}'
    )
    text = text.replace('files = ["netcdf"]', f'files = ["netcdf"]\nweighting = "{v["outputs.weighting"]}"')
    text += f"\n[demand]\nadoption = {v['demand.adoption']!r}\n"
    direct = swfile.parent / "direct.toml"  # beside the sweep file: the same relative paths
    direct.write_text(text)
    out = tmp_path / "direct"
    assert cli.main(["run", str(direct), "--out", str(out), "--quiet"]) == 0
    sample = srun.sample_dir(done.out_dir, 2)
    _assert_same_h5(sample / "results.h5", out / "results.h5", sources=(swfile, direct))
    pa, pb = read_provenance(sample / "results.h5"), read_provenance(out / "results.h5")
    for p, src in ((pa, swfile), (pb, direct)):  # the file each came from: its path, its input-file record
        for k in CREATION_ATTRS:
            p.pop(k, None)
        p["configuration"] = _unsourced(p["configuration"].split("\n", 1)[1], src)
        p["input_files"] = [r for r in json.loads(p["input_files"]) if not str(r["path"]).endswith(".toml")]
    assert pa == pb
    # and a sample that differs from it does differ
    other = open_results(srun.sample_dir(done.out_dir, 1) / "results.h5")["groups"]
    assert not other.equals(open_results(out / "results.h5")["groups"])


def test_interrupted_sweep_resumes_to_the_same_result(done, swfile, monkeypatch, tmp_path):
    out = tmp_path / "sw"
    real = srun._run_sample
    calls = []

    def stop_after_one(exp, d):
        if calls:
            raise KeyboardInterrupt("test: stop after 1 sample")
        calls.append(d)
        return real(exp, d)

    monkeypatch.setattr(srun, "_run_sample", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        sweep(swfile, out=out, progress=False)
    monkeypatch.setattr(srun, "_run_sample", real)
    assert not (out / "sweep.h5").exists()
    with pytest.raises(ResultsError, match="interrupted sweep; pass --resume"):
        sweep(swfile, out=out, progress=False)
    first = srun.sample_dir(out, 0) / "results.h5"
    stamp = first.stat().st_mtime_ns
    assert cli.main(["sweep", str(swfile), "--out", str(out), "--resume", "--quiet"]) == 0
    assert first.stat().st_mtime_ns == stamp  # the finished sample 0 was not run again
    _assert_same_h5(out / "sweep.h5", done.out_dir / "sweep.h5")
    for name in ("groups.csv", "countries.csv", "summary.csv", "robustness.csv", "rank_stability.csv"):
        assert (out / name).read_bytes() == (done.out_dir / name).read_bytes(), name
    # a finished sweep is refused without --overwrite; the CLI says so (exit 2)
    assert cli.main(["sweep", str(swfile), "--out", str(out), "--quiet"]) == 2


def _quantile(x, q):
    """Linear interpolation between order statistics (numpy's default), written out."""
    x = sorted(x)
    h = (len(x) - 1) * q
    lo = math.floor(h)
    return x[lo] + (h - lo) * (x[min(lo + 1, len(x) - 1)] - x[lo])


def test_readouts_against_the_tables(done):
    out = done.out_dir
    groups = pd.read_csv(out / "groups.csv")
    countries = pd.read_csv(out / "countries.csv", keep_default_na=False, na_values=["nan"])
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False, na_values=["nan"])
    design = groups[groups["sample"].isin([1, 2])]
    # quantiles of one indicator of one group
    x = design.loc[design["group"] == "lldc", "served_total_mbps"].to_numpy()
    row = summary[(summary["id"] == "lldc") & (summary["indicator"] == "served_total_mbps")].iloc[0]
    assert (row.q05, row.q50, row.q95) == pytest.approx([_quantile(x, q) for q in (0.05, 0.5, 0.95)], rel=1e-12)
    assert row.n == 2
    assert row.base == groups.loc[(groups["sample"] == 0) & (groups["group"] == "lldc"), "served_total_mbps"].item()
    # robustness: counted from the table
    rob = pd.read_csv(out / "robustness.csv")
    world = design[design["group"] == "world"].set_index("sample")["demand_met_fraction"]
    for g in ("ldc", "lldc", "sids"):
        y = design[design["group"] == g].set_index("sample")["demand_met_fraction"]
        r = rob[rob["group"] == g].iloc[0]
        assert r.p_below_1 == np.mean(y < 1) and r.p_below_world == np.mean(y < world)
    # rank stability: scipy's Spearman of the countries with population > 0
    stats = pytest.importorskip("scipy.stats")
    ranks = pd.read_csv(out / "rank_stability.csv")
    base = countries[countries["sample"] == 0].set_index("country")
    for s in (1, 2):
        c = countries[countries["sample"] == s].set_index("country")
        ok = (base["population"] > 0) & base["demand_met_fraction"].notna() & c["demand_met_fraction"].notna()
        want = stats.spearmanr(base.loc[ok, "demand_met_fraction"], c.loc[ok, "demand_met_fraction"]).statistic
        assert ranks.loc[ranks["sample"] == s, "spearman_rho"].item() == pytest.approx(want, rel=1e-9)
    assert ranks.loc[ranks["sample"] == 0, "spearman_rho"].item() == pytest.approx(1.0)


def test_a_directory_of_other_files_is_refused(swfile, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="files of no sweep"):
        sweep(swfile, out=out, progress=False)


def test_default_directory_name(swfile, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    from orbitshare.sensitivity.spec import read_sweep

    assert srun.default_sweep_dir(read_sweep(swfile).base) == tmp_path / "runs" / "tiny_sweep"
    assert runner.default_out_dir(read_sweep(swfile).base) == tmp_path / "runs" / "tiny"


def test_samples_as_dask_tasks_give_the_same_sweep(done, swfile, tmp_path, monkeypatch):
    """With [compute] backend = "dask", every sample is one task on the cluster (CPU backend inside the
    worker): the groups and countries of every sample are exactly those of the sequential CPU sweep."""
    text = swfile.read_text()
    old = "[compute]\nchunk_steps = 5\n"
    assert text.count(old) == 1
    dpath = tmp_path / "tiny_dask.toml"
    dpath.write_text(text.replace(old, old + 'backend = "dask"\nworkers = 2\n'))
    seen = []
    real = srun._on_dask
    monkeypatch.setattr(srun, "_on_dask", lambda exps: seen.append(real(exps)) or seen[-1])
    res = sweep(dpath, out=tmp_path / "dask", progress=False)
    assert seen == [True]  # the samples went to the cluster as tasks
    got, want = open_results(res.out_dir / "sweep.h5"), open_results(done.out_dir / "sweep.h5")
    for name in ("groups", "countries"):
        xr.testing.assert_identical(got[name].drop_attrs(), want[name].drop_attrs())
    for i in range(3):  # each sample's files still name its [compute]
        assert 'backend = "dask"' in (srun.sample_dir(res.out_dir, i) / "experiment.toml").read_text()
