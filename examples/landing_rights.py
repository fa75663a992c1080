"""Landing rights: how much of the LDCs' demand Starlink's filed Gen1 shells could meet, with and without them.

The same one-hour pass twice: first every country may be served ("all"), then only the countries where
the shipped, dated landing-rights table says Starlink is authorised as of 2026-12-01 (the table's
"unknown" countries are NOT served: a lower bound). The share of the busy-hour demand met over the UN
Least Developed Countries and over the rest (``group_accounts``: served over demand, summed over each
group's countries).
Runs offline as written; writes ``examples_out/landing_rights.csv``.
"""

from dataclasses import replace
from pathlib import Path

import orbitshare
from orbitshare.demand import Demand
from orbitshare.landing import servable_countries

elements = orbitshare.load_elements(Path(__file__).resolve().parents[1] / "tle" / "starlink_gen1.tle")
grid = orbitshare.Grid(5.0)
geo = orbitshare.geography(grid)
times = orbitshare.time_grid("2026-08-18T00:00:00Z", "2026-08-18T01:00:00Z", 60)
demand = Demand(adoption=0.01, busy_hour_mbps=2.4)  # 1 % of people subscribe, 2.4 Mbit/s each in the busy hour
starlink = orbitshare.System(
    "Starlink Gen1", elements, 25.0, capacity_per_sat_mbps=20_000.0, beams=16, service_cell_km2=379.0
)
authorised = servable_countries("starlink", "authorised", "2026-12-01")
scenarios = {
    "all": starlink,
    "authorised": replace(starlink, serve_countries=authorised, landing_rights="authorised"),
}

rows = []
for name, system in scenarios.items():
    out = orbitshare.service(system, grid, times, geo, demand=demand)
    countries = orbitshare.country_accounts(geo, out["coverage"], capacity=out["capacity"])
    groups = orbitshare.group_accounts(countries)  # served / demand summed over each group's countries
    for group in ("ldc", "rest"):
        met = float(groups["demand_met_fraction"].sel(group=group))
        rows.append((name, group, met))
        print(f"{name:>10} landing rights: {group:>4}: {100 * met:5.1f} % of the busy-hour demand met")

Path("examples_out").mkdir(exist_ok=True)
with open("examples_out/landing_rights.csv", "w", encoding="utf-8") as f:
    f.write("landing_rights,group,demand_met_fraction\n")
    for name, group, mean in rows:
        f.write(f"{name},{group},{mean:.6f}\n")
print(f"({len(authorised)} countries authorised for Starlink as of 2026-12-01 in the shipped table)")
print("wrote examples_out/landing_rights.csv")
