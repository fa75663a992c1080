"""Reproduction: per-user busy-hour capacity of Ogutu & Oughton (2021) on a uniform population.

Ogutu & Oughton (2021), "A techno-economic cost framework for satellite networks applied to low earth
orbit constellations", report the busy-hour capacity per user at 0.1 and 1 user per km²: Starlink
24.94 / 2.49, OneWeb 1.01 / 0.10, Kuiper 10.30 / 1.02 Mbit/s. Their quantity is 20 × N × C_sat /
(510e6 km² × users per km²): every satellite's capacity spread over the whole Earth, per ACTIVE user
(1 in 20 users active; overbooking 20). Inputs (docs/allocation_parameters.md, from their code
edwardoughton/globalsat): Starlink 5,040 satellites at 12.6 Gbit/s, OneWeb 720 at 3.58, Kuiper 3,240 at
8.11 (their totals / N).

Here: the filed Walker shells of each system (Starlink Gen1 4,408, OneWeb 720, Kuiper 3,236 satellites)
with each system's published TOTAL capacity spread evenly over them (their formula depends on N × C only),
a uniform population of d users per km² of land on the embedded geography's land mask, everyone a
subscriber (adoption 1), demand high enough never to bind (busy_hour_mbps = 1e6), no beam or cell cap
that binds, gateways anywhere, 25° user mask (35° Kuiper), six hours at 60 s on a 2° grid. The result
is the rate served per subscriber × 20 (the per-active-user rate), land-population weighted: total
served / total subscribers, the same under "throughput" and "maxmin" (every maximal allocation has the
same total), so the faster rule is used. It
differs from theirs by construction (users only on land, satellites idle over the sea, the latitude
distribution of the shells): the ratio is reported, not tuned.

    python experiments/ogutu_oughton_2021.py
"""

from __future__ import annotations

import numpy as np

import orbitshare
from orbitshare.demand import Demand
from orbitshare.grid import Grid
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-01-01T00:00:00Z"
# name: (shells [(altitude km, inclination deg, planes, sats per plane)], total capacity Mbit/s (their N x C),
#        user mask deg, published per-user Mbit/s at 0.1 and 1 user/km2)
SYSTEMS = {
    "Starlink": ([(550.0, 53.0, 72, 22), (540.0, 53.2, 72, 22), (570.0, 70.0, 36, 20), (560.0, 97.6, 6, 58),
                  (560.0, 97.6, 4, 43)], 63.6e6, 25.0, (24.94, 2.49)),
    "OneWeb": ([(1200.0, 87.9, 18, 40)], 2.58e6, 25.0, (1.01, 0.10)),
    "Kuiper": ([(630.0, 51.9, 34, 34), (610.0, 42.0, 36, 36), (590.0, 33.0, 28, 28)], 26.3e6, 35.0, (10.30, 1.02)),
}  # fmt: skip
OVERBOOKING = 20.0


def uniform_geography(grid: Grid, density_per_km2: float):
    """The embedded geography with its population replaced by ``density`` persons per km² of land."""
    geo = orbitshare.geography(grid)
    land = geo["land_fraction"].fillna(0.0).astype(np.float64).transpose("lat", "lon")
    area_km2 = np.asarray(grid.cell_area_km2, np.float64)[:, None]
    return geo.assign(population=(("lat", "lon"), land.values * area_km2 * density_per_km2))


def main() -> None:
    grid = Grid(2.0)
    times = time_grid(EPOCH, "2026-01-01T06:00:00Z", 60)
    print("system, density (users/km2), orbitshare per active user (Mbit/s), published, ratio")
    for name, (shells, total, mask, published) in SYSTEMS.items():
        es = orbitshare.ElementSet.concat(
            [
                orbitshare.walker(h, i, p, s, 1, EPOCH, norad_start=900000 + 10000 * k, name_prefix=f"{name}{k}")
                for k, (h, i, p, s) in enumerate(shells)
            ]  # fmt: skip
        )
        system = System(name, es, mask, capacity_per_sat_mbps=total / len(es), max_beams_per_cell=10_000)
        for density, ref in zip((0.1, 1.0), published, strict=True):
            geo = uniform_geography(grid, density)
            cap_ds = orbitshare.service(
                system, grid, times, geo, demand=Demand(adoption=1.0, busy_hour_mbps=1e6), rule="throughput"
            )["capacity"]
            served = float(cap_ds["served_mbps"].sum())
            subscribers = float(cap_ds["subscribers"].sum())
            per_user = served / subscribers * OVERBOOKING
            print(f"{name}, {density:g}, {per_user:.3f}, {ref}, {per_user / ref:.3f}")


if __name__ == "__main__":
    main()
