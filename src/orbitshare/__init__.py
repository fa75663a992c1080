"""orbitshare: how equitably the world shares orbit and spectrum.

Public API: element sets (``load_elements``, ``ElementSet``, ``walker``), the Numba SGP4/SDP4
propagator (``propagate``, ``iter_propagate``), offline time scales (``timescale``, ``time_grid``),
the coverage engine (``Grid``, ``geography``, ``System``, ``coverage``) and results on disk
(``save_results``, ``open_results``). Compute kernels live in ``orbitshare.kernels``.
"""

__version__ = "0.1.0"

from . import constants, errors  # noqa: E402
from .elements import ElementSet, load_elements  # noqa: E402
from .errors import BackendError, ConfigError, DataError, ElementSetError, OrbitshareError  # noqa: E402
from .propagation import iter_propagate, propagate  # noqa: E402
from .timegrid import TimeGrid, time_grid, timescale  # noqa: E402
from .walker import walker  # noqa: E402
from .grid import Grid  # noqa: E402
from .geography import geography  # noqa: E402  (shadows the module name; import submodule names directly)
from .coverage import System, coverage  # noqa: E402
from .spectrum import Band, service  # noqa: E402
from .io import open_results, save_results  # noqa: E402
from . import equity, gso, owners  # noqa: E402  (equity.gini, theil, atkinson, palma, lorenz)
from .accounts import country_accounts, equity_summary, group_accounts  # noqa: E402
from .owners import satellite_owners  # noqa: E402
from .experiment import load_experiment, validate_experiment  # noqa: E402
from .runner import Results, run  # noqa: E402

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
    "save_results",
    "open_results",
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
    "OrbitshareError",
    "ConfigError",
    "ElementSetError",
    "DataError",
    "BackendError",
]
