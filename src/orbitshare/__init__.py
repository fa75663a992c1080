"""orbitshare: how equitably the world shares orbit and spectrum.

The public API, by pipeline stage (the stages live in sub-packages; this module holds no logic):

* element sets: ``load_elements``, ``ElementSet``, ``walker`` (``orbitshare.elements``)
* propagation and time: ``propagate``, ``iter_propagate``, ``timescale``, ``time_grid``, ``TimeGrid``
* grid and geography: ``Grid``, ``geography`` (``orbitshare.geo``)
* systems and the streaming pass: ``System``, ``Band``, ``coverage``, ``service`` (``orbitshare.engine``)
* protection of GSO networks: ``epfd`` (EPFD↓ against RR Article 22; limits in ``orbitshare.article22``)
* capacity allocation: ``Demand`` (who subscribes, busy-hour rate), ``allocate`` (one time step's
  max-min fair / maximum-throughput allocation of satellites to cells, ``orbitshare.kernels.allocation``)
* accounts and indices: ``country_accounts``, ``group_accounts``, ``equity_summary``, ``equity``
  (``orbitshare.analysis``)
* experiments and files: ``load_experiment``, ``validate_experiment``, ``run``, ``Results``,
  ``save_results``, ``open_results``, ``open_tree``
* sensitivity: ``sweep``, ``SweepResults`` (``orbitshare.sensitivity``)

Compute kernels (Numba functions on arrays) live in ``orbitshare.kernels``.
"""

from orbitshare import constants, errors
from orbitshare._version import __version__
from orbitshare.analysis import equity
from orbitshare.analysis.accounts import country_accounts, equity_summary, group_accounts
from orbitshare.demand import Demand
from orbitshare.elements import ElementSet, load_elements, owners
from orbitshare.elements.owners import satellite_owners
from orbitshare.elements.walker import walker
from orbitshare.engine import gso
from orbitshare.engine.coverage import coverage
from orbitshare.engine.epfd import epfd
from orbitshare.engine.propagation import iter_propagate, propagate
from orbitshare.engine.service import service
from orbitshare.errors import BackendError, ConfigError, DataError, ElementSetError, OrbitshareError
from orbitshare.experiment import load_experiment, validate_experiment
from orbitshare.geo.build import geography
from orbitshare.grid import Grid
from orbitshare.io import open_results, open_tree, save_results
from orbitshare.kernels.allocation import allocate
from orbitshare.landing import landing_rights
from orbitshare.runner import Results, run
from orbitshare.sensitivity import SweepResults, sweep
from orbitshare.system import Band, System
from orbitshare.timegrid import TimeGrid, time_grid, timescale

__all__ = [
    "__version__",
    "constants",
    "errors",
    "ElementSet",
    "load_elements",
    "walker",
    "Grid",
    "geography",
    "System",
    "coverage",
    "Band",
    "service",
    "epfd",
    "Demand",
    "allocate",
    "save_results",
    "open_results",
    "open_tree",
    "sweep",
    "SweepResults",
    "equity",
    "gso",
    "owners",
    "satellite_owners",
    "country_accounts",
    "group_accounts",
    "equity_summary",
    "load_experiment",
    "validate_experiment",
    "run",
    "Results",
    "propagate",
    "iter_propagate",
    "TimeGrid",
    "time_grid",
    "timescale",
    "landing_rights",
    "OrbitshareError",
    "ConfigError",
    "ElementSetError",
    "DataError",
    "BackendError",
]
