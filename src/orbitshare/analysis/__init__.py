"""Accounts per country and group, and inequality indices.

* :mod:`orbitshare.analysis.accounts`: the "countries", "groups" and "equity" Datasets
  (:func:`country_accounts`, :func:`group_accounts`, :func:`equity_summary`, :func:`lorenz_curves`);
* :mod:`orbitshare.analysis.equity`: population-weighted Gini, Theil, Atkinson, Palma and Lorenz
  curves on arrays or DataArrays (math in :mod:`orbitshare.kernels.inequality`).
"""

from orbitshare.analysis.accounts import country_accounts, equity_summary, group_accounts, lorenz_curves

__all__ = ["country_accounts", "group_accounts", "equity_summary", "lorenz_curves"]
