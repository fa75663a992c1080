"""Per-country and per-group accounts of coverage, capacity, spectrum and operated satellites.

Three functions turn the gridded results into accounts::

    country_accounts(geography, coverage, *, spectrum=None, capacity=None, owners=None) -> "countries"
    group_accounts(countries)                                                           -> "groups"
    equity_summary(geography, countries, *, capacity=None, spectrum=None)               -> "equity"

Each of them (and :func:`lorenz_curves`, :func:`is_allocation`, :func:`thresholds_of`) takes an
:class:`xarray.DataTree` node wherever it takes a Dataset (``tree = orbitshare.io.open_tree(path)``;
``group_accounts(tree["countries"])``): the node's Dataset, with the coordinates it inherits.

Population of a country on the grid
-----------------------------------
A cell's population is spread evenly over its land, so country ``c`` holds the share ``share_c`` of
the cell's people (and of whatever the cell receives)::

    share_c = country_fraction_c / land_fraction                      (the country's share of the land)
    P_c     = Σ_cells population · share_c

``country_fraction`` is a share of the cell's *area*, and ``land_fraction`` its land share
(:func:`orbitshare.geo.build.geography`). So that no person is ever counted twice, the denominator
is ``max(land_fraction, Σ_c country_fraction)`` — computed in float64, and taken as
``Σ_c country_fraction`` whenever the two agree to 1e-6 (they differ only by float32 rounding in
:func:`~orbitshare.geo.build.geography`, and then the shares of a land cell sum to 1 exactly).
Land that no country claims (``land_fraction`` above ``Σ_c country_fraction``) keeps its share of
the people, who then belong to no country. Without ``land_fraction`` the fractions are taken to be
shares of the land already (as in :mod:`orbitshare.engine.coverage`): the denominator is
``max(1, Σ_c country_fraction)``.

Conservation: ``Σ_c P_c = Σ_cells population · Σ_c share_c``, which equals the population of the
cells with land when every land cell is fully claimed; the rest (people in cells without land, or
on unclaimed land) is ``attrs["population_unassigned"]``. The same holds for capacity
(``attrs["capacity_unassigned_mbps"]``: capacity delivered to cells without a country).

Landing rights
--------------
When the inputs carry ``served_country(system, country)`` (and ``serves_unlisted(system)``), as
:func:`orbitshare.engine.service.service` adds them when a system has ``serve_countries`` or
``exclude_countries``, the rows of each such system split a cell by SERVED share instead of land
share: with ``served_c`` = 1 where the system may serve country c, else 0, and the cell's served share
``S = Σ_c share_c·served_c (+ the unclaimed land 1 − Σ_c share_c when serves_unlisted)``, country c
receives ``share_c·served_c / S`` of the cell's capacity (0 where S = 0); its MHz per person is the
cell's ``band_mhz_in_view / S`` (and ``effective_mhz / S``) for served people and 0 otherwise;
``population_covered`` counts
``pop·share_c·served_c·covered_fraction`` (in view AND servable); ``population_covered_any`` counts,
per country, the systems that may serve it. A country the system may not serve therefore receives
exactly 0 from it, border cells included, and the sums over countries still equal the capacity
delivered to the cells with a country. Systems without landing rights keep the land-share arithmetic
below, bit for bit. The "people" scope of the equity summary follows the same rule.

The "countries" Dataset (``country`` dimension with the geography's coordinates ``country_name``,
``m49``, ``ldc``, ``lldc``, ``sids``, ``un_member``, ``itu_region``; ``system``; ``band``)
----------------------------------------------------------------------------------------------
Per system ``s`` (suffix ``_total``: all systems together)::

    population(country)                       persons  Σ pop·share
    land_area(country)                        km2      Σ cell_area·country_fraction
    population_share(country)                 1        P_c / P_world
    population_covered(system, country)       persons  Σ pop·share·covered_fraction_s
    population_covered_any(country)           persons  the same for "covered by at least one system"
    population_covered_fraction, population_covered_any_fraction        1   ÷ P_c
    capacity_delivered_mbps(system, country)  Mbit/s   D_c,s = Σ capacity_mbps_s·share
    capacity_delivered_total_mbps(country)    Mbit/s   D_c = Σ_s D_c,s
    capacity_per_person_mbps(system, country) Mbit/s   D_c,s / P_c   (per person; NaN where P_c = 0)
    capacity_per_person_total_mbps(country)   Mbit/s   D_c / P_c
    capacity_share(country)                   1        D_c / D_world
    service_ratio(system, country)            1        (D_c,s / D_world,s) / (P_c / P_world)
    service_ratio_total(country)              1        (D_c / D_world) / (P_c / P_world)
    band_mhz_in_view(system, band, country)   MHz      Σ pop·share·band_mhz_in_view / P_c (mean over people)
    band_mhz_in_view_all_bands(system, country) MHz    the same summed over the system's bands
    band_mhz_x_sats_in_view(system, band, country) MHz like band_mhz_in_view, when the spectrum has it
    effective_mhz(system, band, country)      MHz      like band_mhz_in_view, after co-frequency sharing
    mhz_available_total(country)              MHz      Σ pop·share·mhz_available_total / P_c: the UNION of
                                                       the bands in view (never a sum over systems); under
                                                       landing rights 0 for the people of a country no
                                                       system may serve (else the cell's union)
    satellites_operated(system, country)      1        satellites of s whose owner is c
    satellites_operated_total(country)        1
    satellites_unattributed(system)           1        owner "unattributed" or not a country here
    capacity_operated_mbps(system, country)   Mbit/s   O_c,s = satellites_operated · capacity_per_sat_mbps_s
    capacity_operated_total_mbps(country)     Mbit/s   O_c = Σ_s O_c,s
    capacity_operated_unattributed_mbps(system) Mbit/s
    resource_balance(system, country)         1        (O_c,s / O_world,s) / (D_c,s / D_world,s)
    resource_balance_total(country)           1        (O_c / O_world) / (D_c / D_world)
    may_serve(system, country)                1        1 where s may serve c (landing rights), else 0;
                                                       all 1 for a system without landing rights
    systems_serving(country)                  1        Σ_s may_serve: systems that may serve c

Allocation rules (capacity rule "maxmin" or "throughput")
---------------------------------------------------------
A capacity Dataset of an allocation (:func:`is_allocation`: ``served_mbps(system, lat, lon)``, ``adoption(country)``,
``demand_share(system, country)``, attribute ``busy_hour_mbps``; no ``capacity_mbps``) gives, instead of the
``capacity_delivered``/``capacity_per_person``/``service_ratio``/``resource_balance`` variables above::

    adoption(country)                          1        subscribing share of the population (as given)
    subscribers(country)                       persons  S_X = Σ pop·share·adoption_X
    system_demand_mbps(system, country)        Mbit/s   Σ pop·share·adoption_X·busy_hour_mbps·demand_share(s, X)
    demand_mbps(country)                       Mbit/s   S_X · busy_hour_mbps: the demand of ALL the subscribers,
                                                        whether or not some system may serve them (landing rights)
    servable_demand_mbps(country)              Mbit/s   Σ_s system_demand (0 where no system may serve X)
    served_mbps(system, country)               Mbit/s   Σ_cells served_mbps_s · (X's demand on s in the cell /
                                                        the cell's demand on s): 0 where s may not serve X
    served_total_mbps(country)                 Mbit/s   Σ_s served_mbps
    demand_met_fraction(country)               1        served_total / demand (0 where no system may serve X;
                                                        NaN only where X has no subscribers)
    system_demand_met_fraction(system, country) 1       served / system_demand
    served_per_subscriber_mbps(country)        Mbit/s   served_total / subscribers (NaN where subscribers = 0)
    system_served_per_subscriber_mbps(system, country)  served / subscribers (sums over systems to the total)
    share_population_at_least_{T}mbps(country) 1        share of X's population in (country, cell) pieces whose
                                                        active-user rate (served to X in the cell / X's
                                                        subscribers there × attrs overbooking) is
                                                        >= T·(1 − 1e-9), for each T of attrs thresholds_mbps
                                                        (:func:`threshold_name`)
    offered_mbps, delivered_mbps, unused_mbps, satellite_utilisation, gateway_fraction (system): copied, and
    the parameters capacity_per_sat_mbps, beams, beam_capacity_mbps, max_beams_per_cell, cell_cap_mbps,
    gateways, gateway_mask_deg, isl where the capacity Dataset has them as variables (as coordinates they
    come with the other system coordinates)

and the attributes ``rule``, ``busy_hour_mbps``, ``thresholds_mbps``, ``adoption_source``, ``model``,
``served_grid_total_mbps``, ``served_unassigned_mbps`` (served where no country's subscriber is counted; 0).
The served per subscriber of a piece equals the cell's ``served_per_subscriber_mbps`` unless landing rights
treat the cell's countries differently. Groups sum ``subscribers``, the demands and the served rates and
recompute the ratios (and ``adoption`` = subscribers / population); the threshold shares are the members'
shares weighted by population. Under the proportional rule nothing of this is present and every value is as
before.

Only the variables whose inputs were given are present. "World" is always the sum over the
``country`` dimension (the countries in the Dataset), so the world's shares are 1 and its ratios 1;
unattributed satellites are reported but are in no country's share.

Ratio rule (``service_ratio``, ``resource_balance``, in countries and groups alike): ``a / b`` of
two shares is finite where ``b > 0``; ``inf`` where ``b = 0 < a`` (operating capacity but receiving
none; receiving capacity on land without population); ``NaN`` where ``a = b = 0`` (nothing either
way) and where a world total is 0 (no share is defined). Per-person values are NaN where ``P = 0``.

"Covered by any system" needs the time series: with ``coverage["counts"](system, time, lat, lon)``
(``coverage(..., keep_time_series=True)``) it is exact (a step counts where at least one system has
``min_visible`` satellites in view); without it, ``max_s covered_fraction_s`` is used, a lower bound
(exact for one system or nested coverage); ``attrs["population_covered_any_method"]`` says which.

Owners (``owners=``)
--------------------
Whose satellites are whose. Accepted forms:

* an ISO3 string: that country operates every system;
* ``None``: the capacity Dataset's ``administration`` coordinate on ``system`` (ISO3), if any, is
  the owner of all the system's satellites; otherwise no operated-satellite variables.
* a mapping ``{system name: owner}``, each owner an ISO3 string (the whole system), an
  :class:`~orbitshare.elements.owners.Owners`, or an array of ISO3 codes (one per satellite);
* an ``xarray.DataArray`` of ISO3 strings on ``system``;
* a sequence of systems with ``.name`` and ``.administration`` (a per-system owner);
* one :class:`~orbitshare.elements.owners.Owners` (or array) for all satellites of all systems, concatenated
  in the order of the ``system`` dimension (as :func:`orbitshare.engine.coverage.coverage` concatenates
  them; the split uses the ``element_count`` coordinate).

A whole-system owner needs the number of the system's satellites: the ``element_count``
coordinate of the coverage (or capacity) Dataset. ``""``, ``None`` and ``"unattributed"`` count as
unattributed, and so do codes that are not on the ``country`` dimension.

Groups ("groups" Dataset, ``group`` dimension)
----------------------------------------------
``ldc``, ``lldc``, ``sids`` (the UNSD M49 flags; the groups overlap), ``rest`` (none of the three),
``itu_region_1``–``itu_region_3`` and ``world`` (all countries of the Dataset). Totals are sums over
members; per-person values are the group's total divided by its population (the population-
weighted mean); fractions, shares and ratios are recomputed from the group's totals and the world
totals with the ratio rule above — never averages of the members' ratios. ``group_member(group,
country)`` records the membership. Per system, ``countries_servable(system, group)`` (member
countries with ``may_serve`` = 1) and ``population_servable(system, group)`` (persons: Σ of their
``population``) say whom the system may serve; the ``world`` group is the per-system total.

Equity ("equity" Dataset)
-------------------------
Indices of two quantities (``quantity``): ``capacity_per_person`` (Mbit/s per person) and
``mhz_available`` (per system: ``band_mhz_in_view`` summed over its bands; all systems: the union of the
bands in view, ``mhz_available_total``, never a sum over systems), per ``system`` and for all systems
together (``system = "all"``: capacity summed, MHz the union), over two ``scope``\\ s:

* ``countries``: units = countries, ``x`` = the country's value (``capacity_per_person_mbps``,
  ``band_mhz_in_view_all_bands``, ``mhz_available_total``), ``w`` = its population;
* ``people``: units = the (country, cell) pieces of the grid, ``x`` = the cell's value per person
  (``capacity_mbps / population``, ``band_mhz_in_view`` summed over bands, ``mhz_available_total``),
  ``w`` = ``population ·
  share_c``. This is the distribution over cells weighted by their people (pieces of one cell share
  its ``x``), restricted to people who live in a country, and it lets the people be grouped. The
  capacity Dataset's own ``capacity_per_person_mbps`` is not used: ``x`` is recomputed from
  ``capacity_mbps`` and the geography's population, so that the two scopes and the country totals
  agree (the population-weighted mean of ``x`` over people is the world capacity per person).

Variables on ``(quantity, scope, system)``: ``gini``, ``theil_T``, ``theil_L``, ``palma``,
``atkinson`` (with ``epsilon`` = 0.5, 1), ``zero_population_share``; on ``(partition, quantity,
scope, system)`` with ``partition`` = ``ldc``, ``lldc``, ``sids`` (each: members vs the rest) and
``itu_region`` (regions 1-3, and 0 = none as its own group): ``theil_T_between``,
``theil_T_within``, ``theil_L_between``, ``theil_L_within`` (between + within = the total).
Lorenz curve of capacity per person across people on ``(system, lorenz_point)``:
``lorenz_population_share``, ``lorenz_capacity_share``.

Under an allocation rule the quantity ``served_per_subscriber`` replaces ``capacity_per_person``: ``x`` =
``system_served_per_subscriber_mbps`` / ``served_per_subscriber_mbps`` of the country (scope ``countries``),
or of the (country, cell) piece (scope ``people``), and ``w`` = subscribers (a per-subscriber quantity is
weighted by its subscribers, as capacity per person by its people); the Lorenz curve is of the rate served
per subscriber across subscribers: ``lorenz_subscriber_share``, ``lorenz_served_share``.

Zero rule: units with ``x = 0`` (no service) are kept for Gini, Theil T (and its parts), Atkinson
ε = 0.5 and Palma (``zeros="keep"``: Palma is ``inf`` when the poorest 40 % have nothing); Theil L
(and its parts) and Atkinson ε = 1, undefined at 0, are computed among the units with ``x > 0``
(``zeros="drop"``), and ``zero_population_share`` records the share of the population so excluded.
A row where every ``x`` is 0 (a system serving nobody) has NaN indices.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from orbitshare._version import __version__
from orbitshare.analysis import equity as _eq
from orbitshare.errors import ParameterError, ParameterTypeError, ZerosDroppedWarning
from orbitshare.geo.build import country_cell_pairs

__all__ = [
    "country_accounts",
    "group_accounts",
    "equity_summary",
    "lorenz_curves",
    "is_allocation",
    "threshold_name",
    "thresholds_of",
    "GROUPS",
    "ALLOCATION_RULES",
    "LORENZ_NAMES",
]


def _dataset(obj: Any) -> Any:
    """A :class:`xarray.DataTree` node (``open_tree(path)["countries"]``) as its Dataset, with the coordinates
    it inherits; anything else as it is. Every function here that takes a Dataset takes a node too."""
    return obj.to_dataset() if isinstance(obj, xr.DataTree) else obj


#: Group labels of :func:`group_accounts`, with their long names.
GROUPS = {
    "ldc": "Least Developed Countries (UNSD M49)",
    "lldc": "Landlocked Developing Countries (UNSD M49)",
    "sids": "Small Island Developing States (UNSD M49)",
    "rest": "countries that are neither LDC, LLDC nor SIDS",
    "itu_region_1": "ITU Region 1",
    "itu_region_2": "ITU Region 2",
    "itu_region_3": "ITU Region 3",
    "world": "all countries",
}
#: Partitions of the Theil decomposition in :func:`equity_summary`.
PARTITIONS = ("ldc", "lldc", "sids", "itu_region")

_UNATTRIBUTED = {"", "unattributed", "none", "nan"}
_MBPS = "Mbit/s"


# ============================================================================ grid helpers
class _Cells:
    """The geography flattened to cells: population, land-share denominators, (country, cell) pairs."""

    def __init__(self, geography: xr.Dataset):
        if not isinstance(geography, xr.Dataset):
            raise ParameterTypeError(f"geography: expected an xarray.Dataset, got {type(geography).__name__}")
        for name in ("country_fraction", "population"):
            if name not in geography:
                raise ParameterError(
                    f"geography: missing variable {name!r} (expected country_fraction(country, "
                    "lat, lon) and population(lat, lon) from orbitshare.geography)"
                )
        self.geo = geography
        self.nlat, self.nlon = geography.sizes["lat"], geography.sizes["lon"]
        self.ncell = self.nlat * self.nlon
        self.ncountry = geography.sizes["country"]
        self.pop = _flat(geography["population"])
        # the (country, cell) pairs with country_fraction > 0, read once block by block: every sum over
        # cells below is a sum over these pairs, O(pairs) rather than O(countries × cells)
        #: country index, cell index (lat-major) and country_fraction (float64) of each pair
        self.c, self.n, self.frac, sumcf = country_cell_pairs(geography)
        if "land_fraction" in geography:
            land = _flat(geography["land_fraction"])
            denom = np.where(land > sumcf * (1 + 1e-6), land, sumcf)
        else:
            denom = np.maximum(sumcf, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.inv = np.where(denom > 0, 1.0 / denom, 0.0)
        #: Σ_c share_c per cell (1 on fully claimed land, 0 without land)
        self.assigned = sumcf * self.inv
        #: the country's share of the cell's land, per pair
        self.share = self.frac * self.inv[self.n]
        #: cell area (km2) per cell, when the geography has it
        self.area: np.ndarray | None = None
        if "cell_area" in geography.variables:
            self.area = _flat(geography["cell_area"].broadcast_like(geography["population"]))

    def country_sum(self, v: np.ndarray) -> np.ndarray:
        """Σ over each country's pairs of the per-pair values ``v`` [..., npairs] → [..., ncountry]
        (in pair order: deterministic)."""
        v = np.asarray(v, np.float64)
        flat = v.reshape(-1, v.shape[-1])
        out = np.empty((flat.shape[0], self.ncountry))
        for r in range(flat.shape[0]):
            out[r] = np.bincount(self.c, weights=flat[r], minlength=self.ncountry)
        return out.reshape(v.shape[:-1] + (self.ncountry,))

    def served_factor(self, served_pair: np.ndarray, serves_unlisted: bool) -> np.ndarray:
        """Per pair, the country's share of what a cell receives from a system with landing rights.

        ``served_pair``: float64[npairs], 1 where the system may serve the pair's country, else 0;
        ``serves_unlisted``: the system may also serve land of no country (only exclude_countries).
        The served share of a cell is ``S = Σ_pairs share·served (+ 1 − Σ share, the unclaimed land,
        when serves_unlisted)``; a pair receives ``share·served / S`` of the cell (0 where S = 0), so
        a country the system may not serve receives exactly 0 and the served ones share the cell."""
        part = self.share * served_pair
        S = np.bincount(self.n, weights=part, minlength=self.ncell)
        if serves_unlisted:
            S = S + np.clip(1.0 - self.assigned, 0.0, 1.0)
        Sp = S[self.n]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(Sp > 0, part / np.where(Sp > 0, Sp, 1.0), 0.0)

    def piece_mask(self) -> np.ndarray:
        """bool[npairs]: the pairs that are pieces (population · share > 0)."""
        return (self.share * self.pop[self.n]) > 0

    def pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sparse (country, cell) pieces with population > 0: (country index, cell index, weight)."""
        w = self.share * self.pop[self.n]
        keep = w > 0
        return self.c[keep], self.n[keep], w[keep]

    def check_grid(self, ds: xr.Dataset, what: str) -> None:
        """Raise :class:`ParameterError` unless ``ds`` has the geography's lat/lon (deg, to 1e-6)."""
        for dim in ("lat", "lon"):
            if dim not in ds.dims:
                raise ParameterError(f"{what}: expected dims including (lat, lon), got {tuple(ds.dims)}")
            a = np.asarray(ds[dim].values, np.float64)
            b = np.asarray(self.geo[dim].values, np.float64)
            if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=1e-6):
                raise ParameterError(
                    f"{what}: its {dim} coordinate ({a.size} values) does not match the "
                    f"geography's ({b.size}); build both on the same Grid"
                )


def _flat(da: xr.DataArray) -> np.ndarray:
    return np.nan_to_num(np.asarray(da.transpose("lat", "lon").values, np.float64), nan=0.0).reshape(-1)


def _union_served(rights, cells: _Cells) -> np.ndarray | float:
    """Per (country, cell) pair, 1.0 where some system may serve the pair's country (landing rights), else 0;
    1.0 without landing rights: the weight of a cell's union of bands (``mhz_available_total``) for its people."""
    if rights is None:
        return 1.0
    return (np.asarray(rights[0])[:, cells.c] > 0).any(axis=0).astype(np.float64)


def _per_system(da: xr.DataArray, systems, extra=()) -> np.ndarray:
    """float64[nsys, *extra, ncell] in the given system order, NaN → 0."""
    da = da.sel(system=list(systems)).transpose("system", *extra, "lat", "lon")
    v = np.nan_to_num(np.asarray(da.values, np.float64), nan=0.0)
    return v.reshape(v.shape[: 1 + len(extra)] + (v.shape[-2] * v.shape[-1],))  # (no -1: a system may have 0 bands)


def _systems(coverage, capacity, spectrum) -> list[str]:
    """The system labels, in the order of the first input given; the others must have the same set."""
    names = None
    for what, ds in (("coverage", coverage), ("capacity", capacity), ("spectrum", spectrum)):
        if ds is None:
            continue
        if "system" not in ds.dims:
            raise ParameterError(f"{what}: expected a 'system' dimension")
        these = [str(s) for s in ds["system"].values]
        if names is None:
            names = these
        elif set(these) != set(names):
            raise ParameterError(
                f"{what}: its systems {sorted(these)} differ from {sorted(names)}; give results of the same run"
            )
    if names is None:
        raise ParameterError("country_accounts: give at least one of coverage, capacity, spectrum")
    return names


def _divide(num, den):
    """num / den, NaN where den == 0 (per-person values, covered fractions)."""
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _ratio(a, b):
    """The ratio rule: a / b where b > 0; inf where b == 0 < a; NaN where a == b == 0 or either is NaN."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, np.inf, np.nan))
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out)


# ============================================================================ owners
def _owner_lists(owners, systems, counts, capacity):
    """Per system, an array of owner codes (one per satellite), or a (code, n) pair for a whole system."""
    if owners is None:
        if capacity is not None and "administration" in capacity.coords:
            adm = capacity["administration"].sel(system=systems).values
            return {s: (str(a), None) for s, a in zip(systems, adm, strict=True)}
        return None
    if isinstance(owners, str):  # one country owns every system
        return dict.fromkeys(systems, (owners, None))
    if isinstance(owners, xr.DataArray):
        if owners.dims != ("system",):
            raise ParameterError(f"owners: a DataArray of owners must be on ('system',), got {owners.dims}")
        return {s: (str(owners.sel(system=s).values), None) for s in systems}
    if isinstance(owners, Mapping):
        missing = [s for s in systems if s not in owners]
        if missing:
            raise ParameterError(
                f"owners: no owner for system(s) {missing}; give one per system "
                "(ISO3, an Owners or an array of ISO3 per satellite)"
            )
        out = {}
        for s in systems:
            o = owners[s]
            if o is None or isinstance(o, str):  # one owner for the whole system
                out[s] = ("" if o is None else o, None)
            else:  # an Owners or an array: one owner per satellite
                out[s] = (None, np.asarray(getattr(o, "owner", o), dtype=object).reshape(-1))
        return out
    if (
        hasattr(owners, "owner")
        or isinstance(owners, np.ndarray)
        or (isinstance(owners, Sequence) and owners and all(isinstance(o, str) for o in owners))
    ):
        codes = np.asarray(getattr(owners, "owner", owners), dtype=object).reshape(-1)
        if counts is None:
            raise ParameterError(
                "owners: per-satellite owners of all systems are split by the element_count "
                "coordinate on system, which neither coverage nor capacity has; pass "
                "{system: owners} instead"
            )
        if codes.size != int(counts.sum()):
            raise ParameterError(
                f"owners: {codes.size} owners for {int(counts.sum())} satellites "
                f"(element_count {dict(zip(systems, counts.tolist(), strict=True))})"
            )
        edges = np.concatenate([[0], np.cumsum(counts)])
        return {s: (None, codes[edges[i] : edges[i + 1]]) for i, s in enumerate(systems)}
    if isinstance(owners, Sequence):
        by_name = {}
        for o in owners:
            if not (hasattr(o, "name") and hasattr(o, "administration")):
                raise ParameterTypeError(
                    f"owners: a sequence of systems needs .name and .administration on each, got {type(o).__name__}"
                )
            by_name[o.name] = o.administration
        return _owner_lists(by_name, systems, counts, capacity)
    raise ParameterTypeError(
        f"owners: expected None, a mapping, a DataArray, an Owners, an array or a sequence of "
        f"systems, got {type(owners).__name__}"
    )


def _operated(owners, systems, counts, capacity, country_codes):
    """satellites_operated int64[nsys, ncountry] and satellites_unattributed int64[nsys], or None."""
    lists = _owner_lists(owners, systems, counts, capacity)
    if lists is None:
        return None
    index = {c: i for i, c in enumerate(country_codes)}
    sats = np.zeros((len(systems), len(country_codes)), np.int64)
    unattr = np.zeros(len(systems), np.int64)
    for k, s in enumerate(systems):
        code, per_sat = lists[s]
        if per_sat is None:
            if counts is None:
                raise ParameterError(
                    f"owners: system {s!r} has one owner for all its satellites, but neither "
                    "coverage nor capacity has the element_count coordinate that says how many"
                )
            n = int(counts[k])
            i = index.get(str(code).strip()) if code is not None else None
            if i is None:
                unattr[k] += n
            else:
                sats[k, i] += n
        else:
            if counts is not None and per_sat.size != int(counts[k]):
                raise ParameterError(
                    f"owners: system {s!r} has {per_sat.size} owners for {int(counts[k])} satellites (element_count)"
                )
            for c in per_sat:
                i = index.get(str(c).strip()) if c is not None else None
                if i is None:
                    unattr[k] += 1
                else:
                    sats[k, i] += 1
    return sats, unattr


def _element_counts(systems, *datasets):
    for ds in datasets:
        if ds is not None and "element_count" in ds.coords and "system" in ds["element_count"].dims:
            return np.asarray(ds["element_count"].sel(system=systems).values, np.int64)
    return None


# ============================================================================ derived quantities
def _var(dims, data, long_name, units, **extra):
    return xr.Variable(dims, data, {"long_name": long_name, "units": units, **extra})


def _derive(ds: xr.Dataset, world: xr.Dataset) -> xr.Dataset:
    """Add per-person values, fractions, shares and ratios from totals (countries or groups).

    ``world`` holds the world totals (sums over countries) of population, capacity_delivered_*,
    capacity_operated_*.
    """
    P = ds["population"]
    Pw = float(world["population"])
    ds["population_share"] = (P / Pw if Pw > 0 else P * np.nan).assign_attrs(
        long_name="share of the world population", units="1"
    )
    if "population_covered" in ds:
        ds["population_covered_fraction"] = xr.apply_ufunc(_divide, ds["population_covered"], P).assign_attrs(
            long_name="fraction of the population in covered cells (time mean)", units="1"
        )
        ds["population_covered_any_fraction"] = xr.apply_ufunc(_divide, ds["population_covered_any"], P).assign_attrs(
            long_name="fraction of the population covered by at least one system (time mean)", units="1"
        )
    if "capacity_delivered_mbps" in ds:
        pshare = ds["population_share"]
        for suffix, sys_text in (("", ""), ("_total", " (all systems)")):
            D = ds[f"capacity_delivered{suffix}_mbps"]
            Dw = world[f"capacity_delivered{suffix}_mbps"]
            ds[f"capacity_per_person{suffix}_mbps"] = xr.apply_ufunc(_divide, D, P).assign_attrs(
                long_name=f"mean capacity delivered per person{sys_text} (time mean)",
                units=_MBPS,
                comment="capacity delivered to the population / population; NaN where population = 0",
            )
            dshare = xr.apply_ufunc(_divide, D, Dw)
            if suffix == "_total":
                ds["capacity_share"] = dshare.assign_attrs(
                    long_name="share of the world capacity delivered (all systems)", units="1"
                )
            ds[f"service_ratio{suffix}"] = xr.apply_ufunc(_ratio, dshare, pshare).assign_attrs(
                long_name=f"share of world capacity delivered / share of world population{sys_text}",
                units="1",
                comment=_RATIO_COMMENT,
            )
            if f"capacity_operated{suffix}_mbps" in ds:
                Op = ds[f"capacity_operated{suffix}_mbps"]
                Opw = world[f"capacity_operated{suffix}_mbps"]
                oshare = xr.apply_ufunc(_divide, Op, Opw)
                ds[f"resource_balance{suffix}"] = xr.apply_ufunc(_ratio, oshare, dshare).assign_attrs(
                    long_name=f"share of world capacity operated / share of world capacity delivered{sys_text}",
                    units="1",
                    comment=_RATIO_COMMENT,
                )
    return ds


_RATIO_COMMENT = (
    "ratio of two shares a/b: finite where b > 0; inf where b = 0 < a; NaN where a = b = 0 or where a world total is 0"
)


def _world(ds: xr.Dataset) -> xr.Dataset:
    names = [
        v
        for v in (
            "population",
            "capacity_delivered_mbps",
            "capacity_delivered_total_mbps",
            "capacity_operated_mbps",
            "capacity_operated_total_mbps",
        )
        if v in ds
    ]
    return ds[names].sum("country")


# ============================================================================ country accounts
def country_accounts(
    geography: xr.Dataset,
    coverage: xr.Dataset | None,
    *,
    spectrum: xr.Dataset | None = None,
    capacity: xr.Dataset | None = None,
    owners: Any = None,
) -> xr.Dataset:
    """Per-country accounts ("countries"): population, coverage, capacity, spectrum, operated satellites.

    Parameters
    ----------
    geography : xarray.Dataset
        :func:`orbitshare.geo.build.geography` (``country_fraction``, ``land_fraction``,
        ``population``, ``cell_area`` and the country coordinates).
    coverage : xarray.Dataset or None
        :func:`orbitshare.engine.coverage.coverage` on the same grid (``covered_fraction(system, lat, lon)``;
        optionally ``counts(system, time, lat, lon)`` for exact "any system" coverage).
    spectrum : xarray.Dataset, optional
        ``band_mhz_in_view(system, band, lat, lon)`` (time-mean MHz), optionally ``band_mhz_x_sats_in_view``,
        ``effective_mhz`` and ``mhz_available_total(lat, lon)`` (:func:`orbitshare.engine.service.service`).
    capacity : xarray.Dataset, optional
        ``capacity_mbps(system, lat, lon)`` (time-mean Mbit/s delivered to the cell),
        ``capacity_per_sat_mbps(system)``; coordinates ``operator``, ``administration`` on system.
    owners : optional
        Owner of each satellite or system; see the module docstring. Default: the capacity
        Dataset's ``administration`` coordinate.

    Returns
    -------
    xarray.Dataset named "countries" on ``country`` (and ``system``, ``band``); the variables,
    definitions and the inf/NaN rule are in the module docstring.
    """
    geography, coverage = _dataset(geography), _dataset(coverage)
    spectrum, capacity = _dataset(spectrum), _dataset(capacity)
    cells = _Cells(geography)
    systems = _systems(coverage, capacity, spectrum)
    for what, ds in (("coverage", coverage), ("capacity", capacity), ("spectrum", spectrum)):
        if ds is not None:
            cells.check_grid(ds, what)

    # ---- per-cell inputs, flattened
    cov = any_cov = None
    any_method = None
    if coverage is not None:
        cov = _per_system(coverage["covered_fraction"], systems)
        any_cov, any_method = _any_covered(coverage, systems, cov)
    cap = None
    alloc = capacity is not None and is_allocation(capacity)
    if capacity is not None and not alloc:
        if "capacity_mbps" not in capacity:
            raise ParameterError(
                "capacity: missing variable 'capacity_mbps' (system, lat, lon), or 'served_mbps' "
                "(system, lat, lon) of an allocation rule"
            )
        cap = _per_system(capacity["capacity_mbps"], systems)
    mhz = mhz_sat = mhz_eff = union = bands = None
    if spectrum is not None:
        if "band_mhz_in_view" not in spectrum:
            raise ParameterError("spectrum: missing variable 'band_mhz_in_view' (system, band, lat, lon)")
        bands = spectrum["band"].values if "band" in spectrum.coords else np.arange(spectrum.sizes["band"])
        mhz = _per_system(spectrum["band_mhz_in_view"], systems, ("band",))
        if "band_mhz_x_sats_in_view" in spectrum:
            mhz_sat = _per_system(spectrum["band_mhz_x_sats_in_view"], systems, ("band",))
        if "effective_mhz" in spectrum:
            mhz_eff = _per_system(spectrum["effective_mhz"], systems, ("band",))
        if "mhz_available_total" in spectrum:
            union = np.nan_to_num(_flat(spectrum["mhz_available_total"]), nan=0.0)

    # ---- sums over cells: over the (country, cell) pairs
    area = covered = covered_any = delivered = mhz_num = mhz_sat_num = mhz_eff_num = union_num = None
    n = cells.n
    w = cells.share * cells.pop[n]
    P = cells.country_sum(w)
    if cells.area is not None:
        area = cells.country_sum(cells.frac * cells.area[n])
    if cov is not None and any_cov is not None:  # both set together, with coverage
        covered = cells.country_sum(cov[:, n] * w)
        covered_any = cells.country_sum(any_cov[n] * w)
    if cap is not None:
        delivered = cells.country_sum(cap[:, n] * cells.share)
    if mhz is not None:
        mhz_num = cells.country_sum(mhz[:, :, n] * w)
    if mhz_sat is not None:
        mhz_sat_num = cells.country_sum(mhz_sat[:, :, n] * w)
    if mhz_eff is not None:
        mhz_eff_num = cells.country_sum(mhz_eff[:, :, n] * w)

    # ---- landing rights: the rows of restricted systems split each cell by served share instead
    rights = _landing_rights(systems, [str(c) for c in geography["country"].values], coverage, capacity, spectrum)
    if rights is not None:
        served, unlisted = rights
        for k in np.flatnonzero(~(served.all(axis=1) & unlisted)):
            sp = served[k, cells.c]  # 1.0 where the pair's country may be served by system k, else 0.0
            factor = cells.served_factor(sp, bool(unlisted[k]))
            if covered is not None and cov is not None:
                covered[k] = cells.country_sum(cov[k, n] * w * sp)
            if delivered is not None and cap is not None:
                delivered[k] = cells.country_sum(cap[k, n] * factor)
            if mhz_num is not None and mhz is not None:
                mhz_num[k] = cells.country_sum(mhz[k][:, n] * (cells.pop[n] * factor))
            if mhz_sat_num is not None and mhz_sat is not None:
                mhz_sat_num[k] = cells.country_sum(mhz_sat[k][:, n] * (cells.pop[n] * factor))
            if mhz_eff_num is not None and mhz_eff is not None:
                mhz_eff_num[k] = cells.country_sum(mhz_eff[k][:, n] * (cells.pop[n] * factor))
        if covered_any is not None and cov is not None and coverage is not None:
            covered_any = _covered_any_served(coverage, systems, cov, served, cells, w)
            any_method = f"{any_method}; per country over the systems that may serve it (landing rights)"

    if union is not None:
        union_num = cells.country_sum(union[n] * w * _union_served(rights, cells))

    # ---- the Dataset
    coords = {name: c.variable for name, c in geography.coords.items() if c.dims == ("country",)}
    coords["system"] = xr.Variable("system", np.array(systems), {"long_name": "satellite system"})
    for src in (coverage, capacity, spectrum):
        if src is None:
            continue
        for name, c in src.coords.items():
            if c.dims == ("system",) and name != "system" and name not in coords:
                coords[name] = xr.Variable("system", c.sel(system=systems).values, c.attrs)
    pop_total = float(cells.pop.sum())
    attrs = {
        "Conventions": "CF-1.10",
        "title": "orbitshare country accounts",
        "source": f"orbitshare {__version__}",
        "population_grid_total": pop_total,
        "population_unassigned": pop_total - float(P.sum()),
        "comment": "share of a cell = country_fraction / land_fraction (the country's share of the cell's "
        "land); world = sum over the country dimension; see orbitshare.accounts",
    }
    data = {
        "population": _var(
            "country",
            P,
            "population on the grid (country's share of each cell's land)",
            "1",  # number of persons (UDUNITS has no person unit)
            cell_methods="area: sum",
        ),
    }
    if cells.area is not None:
        data["land_area"] = _var(
            "country", area, "land area of the country on the grid", "km2", cell_methods="area: sum"
        )
    if coverage is not None:
        data["population_covered"] = _var(
            ("system", "country"),
            covered,
            "population covered (time mean of covered people)",
            "1",  # number of persons (UDUNITS has no person unit)
            cell_methods="time: mean area: sum",
            comment="sum over cells of population * share * covered_fraction",
        )
        data["population_covered_any"] = _var(
            "country",
            covered_any,
            "population covered by at least one system (time mean)",
            "1",  # number of persons (UDUNITS has no person unit)
            cell_methods="time: mean area: sum",
            comment=f"method: {any_method}",
        )
        attrs["population_covered_any_method"] = any_method
    if cap is not None and delivered is not None:  # both set together, with capacity
        cu = _MBPS
        data["capacity_delivered_mbps"] = _var(
            ("system", "country"),
            delivered,
            "capacity delivered to the country (time mean)",
            cu,
            cell_methods="time: mean area: sum",
            comment="sum over cells of capacity_mbps * share",
        )
        data["capacity_delivered_total_mbps"] = _var(
            "country",
            delivered.sum(axis=0),
            "capacity delivered to the country by all systems (time mean)",
            cu,
            cell_methods="time: mean area: sum",
        )
        attrs["capacity_grid_total_mbps"] = float(cap.sum())
        attrs["capacity_unassigned_mbps"] = float(cap.sum() - delivered.sum())
    if spectrum is not None:
        coords["band"] = xr.Variable(
            "band",
            np.asarray(bands),
            dict(spectrum["band"].attrs) if "band" in spectrum.coords else {"long_name": "band"},
        )
        people = "mean over the country's people (time mean)"
        for name, num, ln in (
            ("band_mhz_in_view", mhz_num, "band width while a satellite of the system is in view"),
            ("band_mhz_x_sats_in_view", mhz_sat_num, "band width times the satellites of the system in view"),
            ("effective_mhz", mhz_eff_num, "band MHz left to the system after co-frequency sharing"),
        ):
            if num is None:
                continue
            data[name] = _var(
                ("system", "band", "country"),
                _divide(num, P[None, None, :]),
                f"{ln}, {people}",
                "MHz",
                cell_methods="time: mean area: mean (weighted by population)",
            )
        if mhz_num is not None:
            data["band_mhz_in_view_all_bands"] = _var(
                ("system", "country"),
                _divide(mhz_num.sum(axis=1), P[None, :]),
                f"band width while a satellite of the system is in view, summed over the system's bands, {people}",
                "MHz",
                cell_methods="time: mean area: mean (weighted by population)",
            )
        if union_num is not None:
            data["mhz_available_total"] = _var(
                "country",
                _divide(union_num, P),
                f"width of the union of the bands of the systems in view (never a sum over systems), {people}",
                "MHz",
                cell_methods="time: mean area: mean (weighted by population)",
                comment="under landing rights 0 for people of a country no system may serve, else the cell's union",
            )

    if alloc:
        assert capacity is not None
        served_data, served_attrs = _served_variables(
            _Allocation(cells, systems, capacity, [str(c) for c in geography["country"].values]), capacity
        )
        data.update(served_data)
        attrs.update(served_attrs)

    counts = _element_counts(systems, coverage, capacity)
    op = _operated(owners, systems, counts, capacity, [str(c) for c in geography["country"].values])
    if op is not None:
        sats, unattr = op
        data["satellites_operated"] = _var(
            ("system", "country"), sats, "satellites of the system operated by the country", "1"
        )
        data["satellites_operated_total"] = _var(
            "country", sats.sum(axis=0), "satellites operated by the country (all systems)", "1"
        )
        data["satellites_unattributed"] = _var(
            "system", unattr, "satellites without an operating country on the country dimension", "1"
        )
        if capacity is not None and "capacity_per_sat_mbps" in capacity:
            per_sat = np.nan_to_num(
                np.asarray(capacity["capacity_per_sat_mbps"].sel(system=systems).values, np.float64), nan=0.0
            )
            oc = sats * per_sat[:, None]
            data["capacity_operated_mbps"] = _var(
                ("system", "country"),
                oc,
                "capacity of the system's satellites operated by the country",
                _MBPS,
                comment="satellites_operated * capacity_per_sat_mbps",
            )
            data["capacity_operated_total_mbps"] = _var(
                "country", oc.sum(axis=0), "capacity of the satellites operated by the country (all systems)", _MBPS
            )
            data["capacity_operated_unattributed_mbps"] = _var(
                "system", unattr * per_sat, "capacity of satellites without an operating country", _MBPS
            )

    may = np.ones((len(systems), cells.ncountry), np.int64) if rights is None else rights[0].astype(np.int64)
    data["may_serve"] = _var(
        ("system", "country"),
        may,
        "the system may serve the country (landing rights; 1 for a system without them)",
        "1",
    )
    data["systems_serving"] = _var(
        "country", may.sum(axis=0), "number of systems that may serve the country (landing rights)", "1"
    )

    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds = _derive(ds, _world(ds))
    ds = _derive_served(ds)
    return _order(ds)


def _order(ds):
    order = [
        "population",
        "population_share",
        "land_area",
        "population_covered",
        "population_covered_fraction",
        "population_covered_any",
        "population_covered_any_fraction",
        "capacity_delivered_mbps",
        "capacity_delivered_total_mbps",
        "capacity_share",
        "capacity_per_person_mbps",
        "capacity_per_person_total_mbps",
        "service_ratio",
        "service_ratio_total",
        "band_mhz_in_view",
        "band_mhz_in_view_all_bands",
        "band_mhz_x_sats_in_view",
        "effective_mhz",
        "mhz_available_total",
        "adoption",
        "subscribers",
        "demand_mbps",
        "servable_demand_mbps",
        "system_demand_mbps",
        "served_total_mbps",
        "served_mbps",
        "demand_met_fraction",
        "system_demand_met_fraction",
        "served_per_subscriber_mbps",
        "system_served_per_subscriber_mbps",
    ]
    order += _at_least_vars(ds)
    names = [v for v in order if v in ds] + [v for v in ds.data_vars if v not in order]
    return ds[names]


def _landing_rights(
    systems: list[str], codes: list[str], *datasets: xr.Dataset | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(served float64[nsys, ncountry] of 0/1, serves_unlisted bool[nsys]) from the first Dataset that
    carries ``served_country`` (:func:`orbitshare.engine.service.service` under landing rights), else None."""
    for ds in datasets:
        if ds is None or "served_country" not in ds:
            continue
        da = ds["served_country"]
        if [str(c) for c in da["country"].values] != codes:
            raise ParameterError(
                "served_country: its country dimension differs from the geography's; give results of the same run"
            )
        served = np.asarray(da.sel(system=systems).transpose("system", "country").values, np.float64)
        served = (served > 0).astype(np.float64)
        if "serves_unlisted" in ds:
            unlisted = np.asarray(ds["serves_unlisted"].sel(system=systems).values) > 0
        else:
            unlisted = np.ones(len(systems), dtype=bool)
        return served, unlisted
    return None


def _covered_any_served(
    coverage: xr.Dataset, systems: list[str], cov: np.ndarray, served: np.ndarray, cells: _Cells, w: np.ndarray
) -> np.ndarray:
    """Population covered by at least one system that may serve the country, per country.

    Countries with the same set of serving systems share one per-cell "any" fraction
    (:func:`_any_covered` over those systems); a country no system may serve gets 0."""
    covered_any = np.zeros(cells.ncountry)
    patterns: dict[tuple[bool, ...], list[int]] = {}
    for i in range(cells.ncountry):
        patterns.setdefault(tuple(bool(v) for v in served[:, i] > 0), []).append(i)
    for pat, members in patterns.items():
        ks = [k for k, on in enumerate(pat) if on]
        if not ks:
            continue
        anyc, _ = _any_covered(coverage, [systems[k] for k in ks], cov[ks])
        inside = np.isin(cells.c, members)
        part = cells.country_sum(np.where(inside, anyc[cells.n] * w, 0.0))
        covered_any[members] = part[members]
    return covered_any


def _any_covered(coverage, systems, cov):
    """Per-cell fraction of steps covered by at least one system, and the method used."""
    if len(systems) == 1:
        return cov[0], "exact (one system)"
    if "counts" in coverage and "time" in coverage["counts"].dims:
        counts = coverage["counts"].sel(system=systems).transpose("system", "time", "lat", "lon")
        mv = (
            np.asarray(coverage["min_visible"].sel(system=systems).values)
            if "min_visible" in coverage.coords
            else np.ones(len(systems), np.int64)
        )
        nt = counts.sizes["time"]
        hit = np.zeros(cov.shape[1])
        for t0 in range(0, nt, 64):
            c = np.asarray(counts.isel(time=slice(t0, t0 + 64)).values)
            anyc = (c >= mv.reshape(-1, 1, 1, 1)).any(axis=0)
            hit += anyc.reshape(anyc.shape[0], -1).sum(axis=0)
        return hit / nt, "exact (from the per-step counts)"
    return cov.max(axis=0), "lower bound: max over systems of covered_fraction (no per-step counts)"


# ============================================================================ allocation (served) accounts
#: rules of :func:`orbitshare.engine.service.service` whose capacity Dataset is an allocation (served_mbps)
ALLOCATION_RULES = ("maxmin", "throughput")
#: per-system variables of an allocation's capacity Dataset copied into the accounts as they are
_SYSTEM_ONLY = (
    "offered_mbps",
    "delivered_mbps",
    "unused_mbps",
    "satellite_utilisation",
    "gateway_fraction",
    # the systems' allocation parameters, where the capacity Dataset has them as variables (the report names them)
    "capacity_per_sat_mbps",
    "beams",
    "beam_capacity_mbps",
    "max_beams_per_cell",
    "cell_cap_mbps",
    "gateways",
    "gateway_mask_deg",
    "isl",
)
#: attributes of an allocation's capacity Dataset carried into the accounts (the report reads them)
_ALLOCATION_ATTRS = (
    "rule",
    "busy_hour_mbps",
    "overbooking",
    "thresholds_mbps",
    "adoption_source",
    "model",
    "band_sharing",
)
#: relative tolerance of the threshold test (served per subscriber >= T·(1 − tol)): a demand met in
#: full reaches its busy-hour rate to rounding only
THRESHOLD_RTOL = 1e-9


def is_allocation(capacity: xr.Dataset) -> bool:
    """True for a capacity Dataset of an allocation rule ("maxmin", "throughput": ``served_mbps`` and no
    ``capacity_mbps``); False for the proportional rule's (``capacity_mbps``)."""
    capacity = _dataset(capacity)
    rule = str(capacity.attrs.get("rule", ""))
    if rule in ALLOCATION_RULES:
        return True
    return "served_mbps" in capacity and "capacity_mbps" not in capacity


def threshold_name(t: float) -> str:
    """The variable holding the population share at ``t`` Mbit/s or more per subscriber; ``t`` is
    written as an integer when integral.

    >>> threshold_name(10.0), threshold_name(2.5)
    ('share_population_at_least_10mbps', 'share_population_at_least_2.5mbps')
    """
    t = float(t)
    text = str(int(t)) if t.is_integer() else repr(t)
    return f"share_population_at_least_{text}mbps"


def _threshold_key(name: Any) -> float:
    try:
        return float(str(name)[len("share_population_at_least_") : -len("mbps")])
    except ValueError:  # pragma: no cover - only names of threshold_name come here
        return math.inf


def _at_least_vars(ds: xr.Dataset) -> list[str]:
    """The ``share_population_at_least_*`` variables of ``ds``, by threshold."""
    return sorted((str(v) for v in ds.data_vars if str(v).startswith("share_population_at_least_")), key=_threshold_key)


def thresholds_of(capacity: xr.Dataset) -> tuple[float, ...]:
    """``attrs["thresholds_mbps"]`` of a capacity (or accounts) Dataset as floats (Mbit/s); () without it."""
    capacity = _dataset(capacity)
    t = capacity.attrs.get("thresholds_mbps")
    if t is None:
        return ()
    return tuple(float(v) for v in np.atleast_1d(np.asarray(t, np.float64)))


class _Allocation:
    """The served rates of an allocation split over the (country, cell) pairs of the grid.

    A pair (country X, cell c) holds ``subscribers = population_c · share_X(c) · adoption_X`` (the
    land share ``share_X(c)`` of :class:`_Cells`) and, per system s, the demand
    ``subscribers · busy_hour_mbps · demand_share(s, X)``. System s's ``served_mbps`` in cell c goes to
    the pairs of c in proportion to their demand on s (nothing to a country s may not serve: its
    demand share is 0). Arrays per pair (float64), per system first where they have one."""

    def __init__(self, cells: _Cells, systems: list[str], capacity: xr.Dataset, codes: list[str]):
        for name in ("served_mbps", "adoption", "demand_share"):
            if name not in capacity:
                raise ParameterError(
                    f"capacity: missing variable {name!r} of an allocation (served_mbps(system, lat, lon), "
                    "adoption(country), demand_share(system, country) from orbitshare.engine.service.service)"
                )
        if "busy_hour_mbps" not in capacity.attrs:
            raise ParameterError("capacity: missing attribute 'busy_hour_mbps' of an allocation")
        cells.check_grid(capacity, "capacity")
        have = [str(c) for c in capacity["adoption"]["country"].values]
        missing = [c for c in codes if c not in have]
        if missing:
            raise ParameterError(
                f"capacity: adoption lacks the geography's countries {missing[:5]}; give results of the same run"
            )
        self.cells = cells
        self.systems = list(systems)
        self.busy = float(capacity.attrs["busy_hour_mbps"])
        self.adoption = np.nan_to_num(np.asarray(capacity["adoption"].sel(country=codes).values, np.float64), nan=0.0)
        ds_ = capacity["demand_share"].sel(system=systems, country=codes).transpose("system", "country")
        self.demand_share = np.nan_to_num(np.asarray(ds_.values, np.float64), nan=0.0)
        served = _per_system(capacity["served_mbps"], systems)  # [nsys, ncell]
        c, n = cells.c, cells.n
        self.pop = cells.share * cells.pop[n]
        self.subs = self.pop * self.adoption[c]
        self.demand = self.subs[None, :] * self.busy * self.demand_share[:, c]  # [nsys, npairs]
        cell_demand = np.stack([np.bincount(n, weights=d, minlength=cells.ncell) for d in self.demand])
        cell_demand = cell_demand.reshape(len(systems), cells.ncell)
        den = cell_demand[:, n]
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(den > 0, self.demand / np.where(den > 0, den, 1.0), 0.0)
        self.served = served[:, n] * factor  # [nsys, npairs]
        self.served_grid_total = float(served.sum())
        #: served to cells where no country's subscriber is counted (should be 0)
        self.served_unassigned = self.served_grid_total - float(self.served.sum())

    def per_subscriber(self) -> np.ndarray:
        """float64[nsys + 1, npairs]: served per subscriber of each pair, per system and all systems
        (NaN where the pair has no subscriber)."""
        s = np.vstack([self.served, self.served.sum(axis=0, keepdims=True)])
        return _divide(s, self.subs[None, :])


def _served_variables(a: _Allocation, capacity: xr.Dataset) -> tuple[dict[str, xr.Variable], dict[str, Any]]:
    """The extensive served/demand variables of the countries Dataset (ratios: :func:`_derive_served`),
    the population shares at each threshold, the per-system variables and the attrs of an allocation."""
    cells = a.cells
    data: dict[str, xr.Variable] = {}
    P = cells.country_sum(a.pop)
    subs = cells.country_sum(a.subs)
    sys_demand = cells.country_sum(a.demand)
    served = cells.country_sum(a.served)
    data["adoption"] = _var("country", a.adoption, "subscribing share of the population", "1")
    data["subscribers"] = _var(
        "country",
        subs,
        "subscribers (population on the grid x adoption)",
        "1",  # number of persons
        cell_methods="area: sum",
    )
    data["demand_mbps"] = _var(
        "country",
        subs * a.busy,
        "busy-hour demand of all the subscribers (whether or not some system may serve them)",
        _MBPS,
        cell_methods="area: sum",
        comment="subscribers x busy_hour_mbps: a country no system may serve (landing rights) has its demand, served 0",
    )
    data["servable_demand_mbps"] = _var(
        "country",
        sys_demand.sum(axis=0),
        "busy-hour demand of the subscribers some system may serve",
        _MBPS,
        cell_methods="area: sum",
        comment="subscribers x busy_hour_mbps x sum over systems of demand_share (1, or 0 where no system may serve)",
    )
    data["system_demand_mbps"] = _var(
        ("system", "country"),
        sys_demand,
        "busy-hour demand on the system (the subscribers' equal share among the systems that may serve them)",
        _MBPS,
        cell_methods="area: sum",
        comment="subscribers x busy_hour_mbps x demand_share(system, country)",
    )
    data["served_mbps"] = _var(
        ("system", "country"),
        served,
        "rate served to the country by the system (time mean)",
        _MBPS,
        cell_methods="time: mean area: sum",
        comment="per cell, served_mbps split over the cell's countries in proportion to their demand on the system",
    )
    data["served_total_mbps"] = _var(
        "country",
        served.sum(axis=0),
        "rate served to the country by all systems (time mean)",
        _MBPS,
        cell_methods="time: mean area: sum",
    )
    # the thresholds are rates of an ACTIVE user: served per subscriber x overbooking (subscribers per active
    # user in the busy hour; 1 when the capacity Dataset does not say)
    overbooking = float(capacity.attrs.get("overbooking", 1.0))
    x = a.per_subscriber()[-1] * overbooking
    for t in thresholds_of(capacity):
        hit = np.where(np.nan_to_num(x, nan=-1.0) >= t * (1.0 - THRESHOLD_RTOL), a.pop, 0.0)
        share = _divide(cells.country_sum(hit), np.where(subs > 0, P, 0.0))
        data[threshold_name(t)] = _var(
            "country",
            share,
            f"share of the population where an active user is served at least {t:g} Mbit/s in the busy hour "
            "(time mean)",
            "1",
            cell_methods="area: mean (weighted by population)",
            threshold_mbps=t,
            comment="per (country, cell) piece: served to the country in the cell / its subscribers there (the "
            "cell's served_per_subscriber_mbps unless landing rights treat the cell's countries differently), "
            f"times the overbooking ({overbooking:g} subscribers per active user); NaN where the country has no "
            "subscriber",
        )
    for name in _SYSTEM_ONLY:
        if name in capacity.data_vars and capacity[name].dims == ("system",):
            v = capacity[name]
            data[name] = xr.Variable("system", np.asarray(v.sel(system=a.systems).values), v.attrs)
    attrs = {k: capacity.attrs[k] for k in _ALLOCATION_ATTRS if k in capacity.attrs}
    attrs["served_grid_total_mbps"] = a.served_grid_total
    attrs["served_unassigned_mbps"] = a.served_unassigned
    return data, attrs


def _derive_served(ds: xr.Dataset) -> xr.Dataset:
    """Add the ratios of an allocation from the totals (countries or groups): demand met, served per subscriber."""
    if "served_total_mbps" not in ds:
        return ds
    pairs = (
        ("demand_met_fraction", "served_total_mbps", "demand_mbps", "share of the demand met (all systems)", "1"),
        (
            "system_demand_met_fraction",
            "served_mbps",
            "system_demand_mbps",
            "share of the demand on the system met by it",
            "1",
        ),
        (
            "served_per_subscriber_mbps",
            "served_total_mbps",
            "subscribers",
            "rate served per subscriber, all systems (time mean)",
            _MBPS,
        ),
        (
            "system_served_per_subscriber_mbps",
            "served_mbps",
            "subscribers",
            "rate served per subscriber by the system (time mean; over all the country's subscribers)",
            _MBPS,
        ),
    )
    for name, num, den, ln, units in pairs:
        ds[name] = xr.apply_ufunc(_divide, ds[num], ds[den]).assign_attrs(
            long_name=ln, units=units, comment=f"{num} / {den}; NaN where {den} = 0"
        )
    return ds


# ============================================================================ group accounts
_SUMMED = (
    "population",
    "land_area",
    "population_covered",
    "population_covered_any",
    "capacity_delivered_mbps",
    "capacity_delivered_total_mbps",
    "satellites_operated",
    "satellites_operated_total",
    "capacity_operated_mbps",
    "capacity_operated_total_mbps",
    "subscribers",
    "demand_mbps",
    "servable_demand_mbps",
    "system_demand_mbps",
    "served_mbps",
    "served_total_mbps",
)
_MHZ = (
    "band_mhz_in_view",
    "band_mhz_in_view_all_bands",
    "band_mhz_x_sats_in_view",
    "effective_mhz",
    "mhz_available_total",
)


def _membership(countries: xr.Dataset) -> xr.DataArray:
    for c in ("ldc", "lldc", "sids", "itu_region"):
        if c not in countries.coords:
            raise ParameterError(
                f"group_accounts: the country dimension lacks the coordinate {c!r} (from orbitshare.geography)"
            )
    ldc = countries["ldc"].values.astype(bool)
    lldc = countries["lldc"].values.astype(bool)
    sids = countries["sids"].values.astype(bool)
    itu = countries["itu_region"].values.astype(int)
    rows = {
        "ldc": ldc,
        "lldc": lldc,
        "sids": sids,
        "rest": ~(ldc | lldc | sids),
        "itu_region_1": itu == 1,
        "itu_region_2": itu == 2,
        "itu_region_3": itu == 3,
        "world": np.ones(ldc.size, bool),
    }
    return xr.DataArray(
        np.array(list(rows.values())),
        dims=("group", "country"),
        coords={"group": list(rows), "country": countries["country"].values},
        attrs={"long_name": "country is a member of the group", "units": "1"},
    )


def group_accounts(countries: xr.Dataset) -> xr.Dataset:
    """Accounts of the country groups ("groups"): LDC, LLDC, SIDS, rest, ITU Regions 1-3, world.

    Totals are sums over the members; per-person values, fractions, shares, ``service_ratio`` and
    ``resource_balance`` are recomputed from the group totals (world = all countries of
    ``countries``), MHz means weighted by population. See the module docstring.
    """
    countries = _dataset(countries)
    member = _membership(countries)
    m = member.astype(np.float64)
    data = {}
    for name in _SUMMED:
        if name in countries:
            v = countries[name]
            s = xr.dot(m, v.fillna(0), dim="country")
            if v.dtype.kind in "iu":
                s = s.round().astype(v.dtype)
            data[name] = s.assign_attrs(v.attrs).assign_attrs(cell_methods="area: sum (group members)")
    P = countries["population"]
    pos = P > 0
    for name in _MHZ:
        if name in countries:
            v = countries[name]
            num = xr.dot(m, (v * P).where(pos, 0.0).fillna(0.0), dim="country")
            den = xr.dot(m, P.where(pos, 0.0), dim="country")
            data[name] = (
                xr.apply_ufunc(_divide, num, den)
                .assign_attrs(v.attrs)
                .assign_attrs(cell_methods="area: mean (weighted by population, group members)")
            )
    for name in _at_least_vars(countries):  # population-weighted mean of the members' shares
        v = countries[name]
        ok = pos & np.isfinite(v)
        num = xr.dot(m, (v * P).where(ok, 0.0), dim="country")
        den = xr.dot(m, P.where(ok, 0.0), dim="country")
        data[name] = (
            xr.apply_ufunc(_divide, num, den)
            .assign_attrs(v.attrs)
            .assign_attrs(cell_methods="area: mean (weighted by population, group members)")
        )
    for name in ("satellites_unattributed", "capacity_operated_unattributed_mbps", *_SYSTEM_ONLY):
        if name in countries:
            data[name] = countries[name]
    if "may_serve" in countries:
        may = countries["may_serve"]
        data["countries_servable"] = (
            xr.dot(m, may.astype(np.float64), dim="country")
            .round()
            .astype(np.int64)
            .assign_attrs(long_name="number of member countries the system may serve (landing rights)", units="1")
        )
        data["population_servable"] = xr.dot(m, may * P.fillna(0.0), dim="country").assign_attrs(
            long_name="population of the member countries the system may serve (landing rights)",
            units="1",  # number of persons
            cell_methods="area: sum (group members)",
        )
    coords = {
        "group": xr.Variable("group", np.array(list(GROUPS)), {"long_name": "country group"}),
        "group_name": xr.Variable("group", np.array(list(GROUPS.values())), {"long_name": "country group name"}),
        "member_count": xr.Variable(
            "group",
            member.sum("country").values.astype(np.int64),
            {"long_name": "number of member countries", "units": "1"},
        ),
    }
    ds = xr.Dataset(
        data, coords=coords, attrs={k: v for k, v in countries.attrs.items() if k in ("Conventions", "source")}
    )
    ds.attrs.update({k: v for k, v in countries.attrs.items() if k in _ALLOCATION_ATTRS})
    ds.attrs["title"] = "orbitshare group accounts"
    ds.attrs["comment"] = (
        "totals are sums over members; per-person values, fractions, shares and ratios are "
        "recomputed from the group totals and the world totals (all countries), never averaged"
    )
    ds = _derive(ds, _world(countries))
    if "subscribers" in ds:
        ds["adoption"] = xr.apply_ufunc(_divide, ds["subscribers"], ds["population"]).assign_attrs(
            long_name="subscribing share of the population (subscribers / population)", units="1"
        )
    ds = _derive_served(ds)
    ds = ds.transpose(..., "group")
    ds["group_member"] = member.assign_coords({k: v for k, v in countries.coords.items() if v.dims == ("country",)})
    return _order(ds)


# ============================================================================ equity
def _row_indices(x, w, groups):
    """Indices of one row (x, w over units with w > 0) by the zero rule; NaNs where every x is 0."""
    keep = w > 0
    x, w = x[keep], w[keep]
    groups = {k: g[keep] for k, g in groups.items()}
    out = {
        "gini": np.nan,
        "theil_T": np.nan,
        "theil_L": np.nan,
        "palma": np.nan,
        "atkinson_0.5": np.nan,
        "atkinson_1": np.nan,
        "zero_population_share": np.nan,
    }
    parts = {k: dict.fromkeys(("T_between", "T_within", "L_between", "L_within"), np.nan) for k in groups}
    if x.size == 0 or not (x > 0).any():
        if x.size:
            out["zero_population_share"] = 1.0
        return out, parts
    out["zero_population_share"] = float(w[x == 0].sum() / w.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZerosDroppedWarning)
        out["gini"] = _eq.gini(x, w, zeros="keep")
        out["palma"] = _eq.palma(x, w, zeros="keep")
        out["atkinson_0.5"] = _eq.atkinson(x, w, 0.5, zeros="keep")
        out["atkinson_1"] = _eq.atkinson(x, w, 1.0, zeros="drop")
        out["theil_T"] = _eq.theil(x, w, zeros="keep").T
        out["theil_L"] = _eq.theil(x, w, zeros="drop").L
        for k, g in groups.items():
            tk = _eq.theil(x, w, g, zeros="keep")
            td = _eq.theil(x, w, g, zeros="drop")
            parts[k] = {
                "T_between": tk.T_between,
                "T_within": tk.T_within,
                "L_between": td.L_between,
                "L_within": td.L_within,
            }
    return out, parts


def _partition_labels(countries):
    return {
        "ldc": countries["ldc"].values.astype(bool),
        "lldc": countries["lldc"].values.astype(bool),
        "sids": countries["sids"].values.astype(bool),
        "itu_region": countries["itu_region"].values.astype(np.int64),
    }


def _people_values(systems, capacity, spectrum, cells, codes):
    """Per-piece x (per system, and summed) for each quantity, float64[nsys + 1, npieces] over the pieces
    of :meth:`_Cells.pieces`; missing inputs give no entry.

    Without landing rights every piece of a cell has the cell's value per person. A system with landing
    rights (``served_country`` in the capacity or spectrum Dataset) gives a piece of a country it may not
    serve exactly 0, and the served pieces the cell's value per SERVED person (capacity / (population ·
    served share), MHz / served share), as in :func:`country_accounts`."""
    pop = cells.pop
    keep = cells.piece_mask()
    pn = cells.n[keep]
    rights = _landing_rights(systems, codes, capacity, spectrum)
    restricted = [] if rights is None else np.flatnonzero(~(rights[0].all(axis=1) & rights[1])).tolist()
    out = {}
    if capacity is not None and is_allocation(capacity):
        a = _Allocation(cells, systems, capacity, codes)
        out["served_per_subscriber"] = np.nan_to_num(a.per_subscriber()[:, keep], nan=0.0)
        out["served_per_subscriber:w"] = a.subs[keep][None, :]
    elif capacity is not None:
        cells.check_grid(capacity, "capacity")
        cap = _per_system(capacity["capacity_mbps"], systems)
        if not restricted:
            cap = np.vstack([cap, cap.sum(axis=0, keepdims=True)])
            out["capacity_per_person"] = _divide(cap, pop[None, :])[:, pn]
        else:
            x = _divide(cap, pop[None, :])[:, pn]
            w = (cells.share * pop[cells.n])[keep]
            for k in restricted:
                assert rights is not None  # restricted is empty without rights
                f = cells.served_factor(rights[0][k, cells.c], bool(rights[1][k]))[keep]
                x[k] = _divide(cap[k, pn] * f, w)
            out["capacity_per_person"] = np.vstack([x, x.sum(axis=0, keepdims=True)])
    if spectrum is not None:
        cells.check_grid(spectrum, "spectrum")
        for name in ("band_mhz_in_view", "mhz_available_total"):
            if name not in spectrum:
                raise ParameterError(f"spectrum: missing variable {name!r} (orbitshare.engine.service.service)")
        mhz = _per_system(spectrum["band_mhz_in_view"], systems, ("band",)).sum(axis=1)
        union = np.nan_to_num(_flat(spectrum["mhz_available_total"]), nan=0.0)  # never a sum over systems
        every = (union[cells.n] * _union_served(rights, cells))[keep][None, :]
        if not restricted:
            out["mhz_available"] = np.vstack([mhz[:, pn], every])
        else:
            x = mhz[:, pn]
            share = cells.share[keep]
            for k in restricted:
                assert rights is not None
                f = cells.served_factor(rights[0][k, cells.c], bool(rights[1][k]))[keep]
                x[k] = _divide(mhz[k, pn] * f, share)
            out["mhz_available"] = np.vstack([x, every])
    return out


def equity_summary(
    geography: xr.Dataset,
    countries: xr.Dataset,
    *,
    capacity: xr.Dataset | None = None,
    spectrum: xr.Dataset | None = None,
    lorenz_points: int | None = 101,
) -> xr.Dataset:
    """Inequality of capacity per person and MHz available, across countries and across people ("equity").

    Parameters
    ----------
    geography : xarray.Dataset
        The geography the accounts were made on (for the "people" scope).
    countries : xarray.Dataset
        :func:`country_accounts` (for the "countries" scope and the group flags).
    capacity, spectrum : xarray.Dataset, optional
        As for :func:`country_accounts`; needed for the "people" scope (without them those rows
        are NaN) and for the Lorenz curves (capacity).
    lorenz_points : int or None
        Points of the Lorenz curves, at evenly spaced population shares (exact points of the
        polyline); ``None`` gives every vertex of the polyline.

    Returns
    -------
    xarray.Dataset named "equity": see the module docstring (indices, the zero rule, Theil
    decompositions, Lorenz curves).
    """
    geography, countries = _dataset(geography), _dataset(countries)
    capacity, spectrum = _dataset(capacity), _dataset(spectrum)
    if "system" not in countries.dims:
        raise ParameterError("equity_summary: countries has no 'system' dimension")
    systems = [str(s) for s in countries["system"].values]
    if "all" in systems:
        raise ParameterError("equity_summary: a system is named 'all', which labels all systems together here")
    sys_labels = systems + ["all"]
    quantities = []
    country_x = {}
    country_w = {}
    if "served_per_subscriber_mbps" in countries:
        quantities.append("served_per_subscriber")
        country_x["served_per_subscriber"] = np.vstack(
            [
                countries["system_served_per_subscriber_mbps"]
                .sel(system=systems)
                .transpose("system", "country")
                .values,
                countries["served_per_subscriber_mbps"].values[None, :],
            ]
        )
        country_w["served_per_subscriber"] = np.nan_to_num(countries["subscribers"].values.astype(np.float64), nan=0.0)
    if "capacity_per_person_mbps" in countries:
        quantities.append("capacity_per_person")
        country_x["capacity_per_person"] = np.vstack(
            [
                countries["capacity_per_person_mbps"].sel(system=systems).transpose("system", "country").values,
                countries["capacity_per_person_total_mbps"].values[None, :],
            ]
        )
    if "band_mhz_in_view_all_bands" in countries and "mhz_available_total" in countries:
        quantities.append("mhz_available")
        country_x["mhz_available"] = np.vstack(
            [
                countries["band_mhz_in_view_all_bands"].sel(system=systems).transpose("system", "country").values,
                countries["mhz_available_total"].values[None, :],
            ]
        )
    if capacity is not None and is_allocation(capacity) and "served_per_subscriber" not in quantities:
        raise ParameterError(
            "equity_summary: capacity of an allocation given but countries has no served_per_subscriber_mbps; "
            "build countries with country_accounts(..., capacity=capacity)"
        )
    if capacity is not None and not is_allocation(capacity) and "capacity_per_person" not in quantities:
        raise ParameterError(
            "equity_summary: capacity given but countries has no capacity variables; build "
            "countries with country_accounts(..., capacity=capacity)"
        )
    if spectrum is not None and "mhz_available" not in quantities:
        raise ParameterError(
            "equity_summary: spectrum given but countries has no mhz_available; build countries "
            "with country_accounts(..., spectrum=spectrum)"
        )
    if not quantities:
        raise ParameterError("equity_summary: countries has neither capacity nor spectrum variables")

    labels = _partition_labels(countries)
    Pc = np.nan_to_num(countries["population"].values.astype(np.float64), nan=0.0)
    cells = _Cells(geography)
    geo_codes = [str(c) for c in geography["country"].values]
    if geo_codes != [str(c) for c in countries["country"].values]:
        raise ParameterError("equity_summary: geography and countries have different country dimensions")
    people_x = _people_values(systems, capacity, spectrum, cells, geo_codes)
    if people_x:
        pc, _, pw = cells.pieces()
    else:  # no "people" scope: the pieces are never used
        pc = pw = np.zeros(0, np.int64)

    scopes = ("countries", "people")
    nq, nsc, ns = len(quantities), 2, len(sys_labels)
    idx_names = ("gini", "theil_T", "theil_L", "palma", "atkinson_0.5", "atkinson_1", "zero_population_share")
    vals = {k: np.full((nq, nsc, ns), np.nan) for k in idx_names}
    part_vals = {
        k: np.full((len(PARTITIONS), nq, nsc, ns), np.nan) for k in ("T_between", "T_within", "L_between", "L_within")
    }
    for iq, q in enumerate(quantities):
        for isc, scope in enumerate(scopes):
            if scope == "countries":
                X, w, groups = country_x[q], country_w.get(q, Pc), labels
            else:
                if q not in people_x:
                    continue
                X = people_x[q]
                w = people_x[f"{q}:w"][0] if f"{q}:w" in people_x else pw
                groups = {k: g[pc] for k, g in labels.items()}
            for js in range(ns):
                x = (
                    np.nan_to_num(np.asarray(X[js], np.float64), nan=0.0)
                    if scope == "people"
                    else np.where(w > 0, np.nan_to_num(X[js], nan=0.0), 0.0)
                )
                res, parts = _row_indices(x, w, groups)
                for k in idx_names:
                    vals[k][iq, isc, js] = res[k]
                for ip, pname in enumerate(PARTITIONS):
                    for k in part_vals:
                        part_vals[k][ip, iq, isc, js] = parts[pname][k]

    dims = ("quantity", "scope", "system")
    desc = {
        "gini": "Gini index",
        "theil_T": "Theil T index",
        "theil_L": "Theil L index (mean log deviation)",
        "palma": "Palma ratio",
    }
    data = {}
    for k, ln in desc.items():
        extra = (
            {"zeros": "drop (units with x = 0 excluded; see zero_population_share)"}
            if k == "theil_L"
            else {"zeros": "keep"}
        )
        data[k] = _var(dims, vals[k], ln, "1", **extra)
    data["atkinson"] = _var(
        ("epsilon",) + dims,
        np.stack([vals["atkinson_0.5"], vals["atkinson_1"]]),
        "Atkinson index",
        "1",
        zeros="keep for epsilon = 0.5; drop for epsilon = 1 (see zero_population_share)",
    )
    data["zero_population_share"] = _var(
        dims,
        vals["zero_population_share"],
        "share of the population with x = 0 (excluded from theil_L, its parts and atkinson at epsilon = 1)",
        "1",
    )
    for k, ln in (
        ("T_between", "between-group Theil T"),
        ("T_within", "within-group Theil T"),
        ("L_between", "between-group Theil L"),
        ("L_within", "within-group Theil L"),
    ):
        data[f"theil_{k}"] = _var(("partition",) + dims, part_vals[k], ln, "1", zeros="keep" if k[0] == "T" else "drop")
    coords = {
        "quantity": xr.Variable(
            "quantity",
            np.array(quantities),
            {
                "long_name": "quantity shared: served_per_subscriber (Mbit/s served per subscriber under an "
                "allocation rule; w = subscribers) or mhz_available (per system its band MHz in view summed over "
                "its bands; all systems the union of the bands in view, never a sum; w = population)"
                if "served_per_subscriber" in quantities
                else "quantity shared: capacity_per_person (Mbit/s per person) or mhz_available (per system its "
                "band MHz in view summed over its bands; all systems the union of the bands in view, never a sum)"
            },
        ),
        "scope": xr.Variable(
            "scope",
            np.array(scopes),
            {
                "long_name": "units: countries (x per country, w = population) or people (x per cell, w = the "
                "population of each country's piece of the cell)"
            },
        ),
        "system": xr.Variable(
            "system", np.array(sys_labels), {"long_name": "satellite system ('all' = all systems together)"}
        ),
        "epsilon": xr.Variable(
            "epsilon", np.array([0.5, 1.0]), {"long_name": "Atkinson inequality aversion", "units": "1"}
        ),
        "partition": xr.Variable(
            "partition",
            np.array(PARTITIONS),
            {
                "long_name": "grouping of the Theil decomposition: ldc, lldc, sids (members vs rest) or itu_region "
                "(1-3 and 0 = none)"
            },
        ),
    }
    attrs = {
        "Conventions": "CF-1.10",
        "title": "orbitshare equity summary",
        "source": countries.attrs.get("source", ""),
        "zeros": "gini, theil_T (+parts), atkinson(0.5), palma: zeros kept (palma inf when the poorest 40% "
        "have nothing); theil_L (+parts), atkinson(1): zeros dropped, zero_population_share records "
        "the excluded population; every x = 0 gives NaN",
        "zero_population_share_max": float(np.nanmax(vals["zero_population_share"]))
        if np.isfinite(vals["zero_population_share"]).any()
        else float("nan"),
        "people_scope": "computed" if people_x else "not computed (no capacity or spectrum grid given)",
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    if "capacity_per_person" in people_x:
        ds = xr.merge(
            [ds, _lorenz(people_x["capacity_per_person"], pw, sys_labels, lorenz_points)],
            combine_attrs="override",
        )
    elif "served_per_subscriber" in people_x:
        ds = xr.merge(
            [
                ds,
                _lorenz(
                    people_x["served_per_subscriber"],
                    people_x["served_per_subscriber:w"][0],
                    sys_labels,
                    lorenz_points,
                    served=True,
                ),
            ],
            combine_attrs="override",
        )
    return ds


#: names and long names of the Lorenz variables: (x share, y share) of capacity per person (proportional
#: rule) and of the rate served per subscriber (allocation rules)
LORENZ_NAMES = {
    False: (
        ("lorenz_population_share", "cumulative share of the population (people sorted by capacity per person)"),
        (
            "lorenz_capacity_share",
            "cumulative share of the capacity delivered (Lorenz curve of capacity per person across people)",
        ),
    ),
    True: (
        (
            "lorenz_subscriber_share",
            "cumulative share of the subscribers (sorted by the rate served per subscriber)",
        ),
        (
            "lorenz_served_share",
            "cumulative share of the rate served (Lorenz curve of the rate served per subscriber across subscribers)",
        ),
    ),
}


def _lorenz(X, w, sys_labels, points, served=False):
    rows_p, rows_l = [], []
    for x in X:
        x = np.nan_to_num(x, nan=0.0)
        if not (x[w > 0] > 0).any():
            n = points if points is not None else int((w > 0).sum()) + 1
            rows_p.append(np.linspace(0.0, 1.0, n) if points is not None else np.full(n, np.nan))
            rows_l.append(np.full(n, np.nan))
            continue
        p, lc = _eq.lorenz(x, w)
        if points is not None:
            pg = np.linspace(0.0, 1.0, int(points))
            rows_p.append(pg)
            rows_l.append(np.interp(pg, p, lc))
        else:
            rows_p.append(p)
            rows_l.append(lc)
    dims = ("system", "lorenz_point")
    (px, pln), (ly, lln) = LORENZ_NAMES[bool(served)]
    return xr.Dataset(
        {
            px: _var(dims, np.array(rows_p), pln, "1"),
            ly: _var(dims, np.array(rows_l), lln, "1"),
        },
        coords={
            "system": xr.Variable("system", np.array(sys_labels)),
            "lorenz_point": xr.Variable(
                "lorenz_point", np.arange(len(rows_p[0])), {"long_name": "index of the point on the Lorenz curve"}
            ),
        },
    )


def lorenz_curves(
    geography: xr.Dataset,
    capacity: xr.Dataset,
    *,
    systems: Sequence[str] | None = None,
    points: int | None = 101,
) -> xr.Dataset:
    """Lorenz curves of capacity per person across people (the "people" scope of :func:`equity_summary`).

    ``capacity``: ``capacity_mbps(system, lat, lon)`` (Mbit/s) on the geography's grid; ``systems``: the
    order of the curves (default: the capacity's); ``points``: as ``lorenz_points`` of :func:`equity_summary`.
    Returns a Dataset with ``lorenz_population_share`` and ``lorenz_capacity_share`` on
    ``(system, lorenz_point)`` (``system`` includes ``"all"``).
    """
    geography, capacity = _dataset(geography), _dataset(capacity)
    cells = _Cells(geography)
    systems = [str(s) for s in capacity["system"].values] if systems is None else list(systems)
    x = _people_values(systems, capacity, None, cells, [str(c) for c in geography["country"].values])
    if "served_per_subscriber" in x:
        w = x["served_per_subscriber:w"][0]
        return _lorenz(x["served_per_subscriber"], w, systems + ["all"], points, served=True)
    _, _, pw = cells.pieces()
    return _lorenz(x["capacity_per_person"], pw, systems + ["all"], points)
