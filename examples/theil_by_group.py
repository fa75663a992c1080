"""Inequality between and within country groups: Theil T of the covered share of people, decomposed.

One hour of the O3b first-generation shell (20 satellites at 8,062 km, equatorial; 10° elevation mask) on
a 5° grid, which leaves the high latitudes unserved: each country's time-mean share of its people with a
satellite in view, the population-weighted Theil T across countries split exactly into the part
between LDCs and the rest and the part within them (T = T_between + T_within), and a Lorenz curve.
Runs offline as written; writes ``examples_out/lorenz_covered.png``.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

import orbitshare

elements = orbitshare.load_elements(Path(__file__).resolve().parents[1] / "tle" / "o3b.tle")
grid = orbitshare.Grid(5.0)
geo = orbitshare.geography(grid)
times = orbitshare.time_grid("2026-08-18T00:00:00Z", "2026-08-18T01:00:00Z", 60)
o3b = orbitshare.System("O3b", elements, 10.0)

cov = orbitshare.coverage(o3b, grid, times)
countries = orbitshare.country_accounts(geo, cov)
share = countries["population_covered_fraction"].sel(system="O3b")  # time mean, per country (0-1)
people = countries["population"]
ldc = countries["ldc"].astype(int)  # the UNSD M49 flag: 1 LDC, 0 the rest

t = orbitshare.equity.theil(share, people, ldc, dim="country", zeros="keep")
print(f"Theil T across countries: {float(t.T):.4f} nats")
print(f"  between LDCs and the rest: {float(t.T_between):.4f}, within the two groups: {float(t.T_within):.4f}")
print(f"  (the split is exact: {float(t.T_between + t.T_within - t.T):+.1e})")

p, lc = orbitshare.equity.lorenz(share, people)  # countries without people or data are left out
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot(p, lc, label="O3b (equatorial MEO)")
ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, label="equality")
ax.set_xlabel("cumulative share of people (countries by covered share)")
ax.set_ylabel("cumulative share of covered people")
ax.legend()
Path("examples_out").mkdir(exist_ok=True)
fig.savefig("examples_out/lorenz_covered.png", dpi=100, bbox_inches="tight")
print("wrote examples_out/lorenz_covered.png")
