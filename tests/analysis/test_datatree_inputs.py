"""The accounts and the inequality indices take the nodes of a results DataTree (orbitshare.io.open_tree)
wherever they take a Dataset (issue 15): the same results as from the Datasets, bit for bit."""

import numpy as np
import pytest
import xarray as xr

from orbitshare.analysis import equity as eq
from orbitshare.analysis.accounts import (
    country_accounts,
    equity_summary,
    group_accounts,
    is_allocation,
    lorenz_curves,
    thresholds_of,
)
from orbitshare.engine.service import service
from orbitshare.experiment import build_geography, build_grid, build_systems, build_times, load_experiment
from orbitshare.io import open_results, open_tree, save_results
from test_runner import TINY_TOML

ALL_TOML = TINY_TOML.replace(
    'datasets = ["coverage", "countries"]',
    'datasets = ["coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz"]',
).replace('name = "tiny"', 'name = "tree"')


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The tiny experiment's pass and accounts (no run directory, report or figures), saved and read back."""
    d = tmp_path_factory.mktemp("tree")
    (d / "tree.toml").write_text(ALL_TOML)
    exp = load_experiment(d / "tree.toml")
    grid = build_grid(exp)
    geo = build_geography(exp, grid)
    svc = service(build_systems(exp), grid, build_times(exp), geo, chunk_steps=5)
    countries = country_accounts(geo, svc["coverage"], spectrum=svc["spectrum"], capacity=svc["capacity"])
    path = d / "results.h5"
    save_results({**svc, "countries": countries}, path)
    return open_results(path), open_tree(path), geo


def test_accounts_take_datatree_nodes(results):
    ds, tree, geo = results
    assert isinstance(tree["countries"], xr.DataTree)
    geo_node = xr.DataTree(geo)
    by_ds = country_accounts(geo, ds["coverage"], spectrum=ds["spectrum"], capacity=ds["capacity"])
    by_node = country_accounts(geo_node, tree["coverage"], spectrum=tree["spectrum"], capacity=tree["capacity"])
    xr.testing.assert_identical(by_node, by_ds)
    xr.testing.assert_identical(group_accounts(tree["countries"]), group_accounts(ds["countries"]))
    xr.testing.assert_identical(
        equity_summary(geo_node, tree["countries"], capacity=tree["capacity"], spectrum=tree["spectrum"]),
        equity_summary(geo, ds["countries"], capacity=ds["capacity"], spectrum=ds["spectrum"]),
    )
    xr.testing.assert_identical(lorenz_curves(geo_node, tree["capacity"]), lorenz_curves(geo, ds["capacity"]))
    assert is_allocation(tree["capacity"]) is True  # the default rule, "maxmin"
    assert thresholds_of(tree["capacity"]) == thresholds_of(ds["capacity"]) != ()


def test_gini_of_node_variables_equals_the_pairwise_definition(results):
    """gini(x, w, dim="country") on a node's variables = Σ w_i w_j |x_i - x_j| / (2 W² μ) over the countries
    with a value and people (skipna: the others are left out)."""
    _, tree, _ = results
    node = tree["countries"]
    x, w = node["served_per_subscriber_mbps"], node["population"]
    got = eq.gini(x, w, dim="country", zeros="keep")
    xv, wv = x.values, w.values
    keep = ~np.isnan(xv) & (wv > 0)
    xv, wv = xv[keep], wv[keep]
    mu = np.sum(wv * xv) / np.sum(wv)
    want = np.sum(wv[:, None] * wv[None, :] * np.abs(xv[:, None] - xv[None, :])) / (2 * np.sum(wv) ** 2 * mu)
    assert 0 < want < 1
    assert float(got) == pytest.approx(want, rel=1e-12)
