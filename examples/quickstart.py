"""Quick start from Python: Starlink's filed Gen1 shell over one hour, coverage and capacity per country.

Runs offline as written (shipped elements, the embedded geography), in about a minute on 2 cores the
first time (Numba compiles; cached afterwards). Writes ``examples_out/served_per_subscriber.png``.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

import orbitshare
from orbitshare.demand import Demand

# 1. elements: the filed Starlink Gen1 shells shipped in tle/ (Walker shells made from the filing)
elements = orbitshare.load_elements(Path(__file__).resolve().parents[1] / "tle" / "starlink_gen1.tle")

# 2. a 5° grid, the embedded geography (countries, land, population) and one hour at 60 s steps
grid = orbitshare.Grid(5.0)
geo = orbitshare.geography(grid)
times = orbitshare.time_grid("2026-08-18T00:00:00Z", "2026-08-18T01:00:00Z", 60)

# 3. the system: 25° elevation mask, 20 Gbit/s per satellite in 16 beams, one service cell per 379 km²
starlink = orbitshare.System(
    "Starlink Gen1", elements, 25.0, capacity_per_sat_mbps=20_000.0, beams=16, service_cell_km2=379.0
)

# 4. one pass: coverage, spectrum and capacity allocated max-min fairly to the demand of each cell
out = orbitshare.service(starlink, grid, times, geo, demand=Demand(adoption=0.01, busy_hour_mbps=2.4))

# 5. per-country accounts and one inequality index (population-weighted Gini across countries)
countries = orbitshare.country_accounts(geo, out["coverage"], spectrum=out["spectrum"], capacity=out["capacity"])
per_sub = countries["served_per_subscriber_mbps"]  # all systems; NaN where nobody subscribes
gini = orbitshare.equity.gini(per_sub, countries["population"], dim="country")  # NaN countries left out
print(f"Gini of served Mbit/s per subscriber across countries: {float(gini):.3f}")

# 6. a plot: the 20 best- and worst-served populous countries
pick = per_sub.where(countries["population"] > 1e6).dropna("country")
pick = pick.sortby(pick)
pick = pick.isel(country=list(range(10)) + list(range(pick.sizes["country"] - 10, pick.sizes["country"])))
fig, ax = plt.subplots(figsize=(8, 5))
ax.barh(pick["country"].values, pick.values)
ax.set_xlabel("served Mbit/s per subscriber (busy hour, time mean)")
ax.set_title("Starlink Gen1 (filed), 2026-08-18 00-01 UTC, max-min fair allocation")
Path("examples_out").mkdir(exist_ok=True)
fig.savefig("examples_out/served_per_subscriber.png", dpi=100, bbox_inches="tight")
print("wrote examples_out/served_per_subscriber.png")
