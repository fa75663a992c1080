"""Inequality indices, population-weighted, on NumPy arrays or xarray DataArrays.

``x`` is the quantity being shared (e.g. capacity per person, Mbps/person) and ``w`` the weight
of each unit (e.g. population); without ``w`` every unit weighs 1. Integer weights give the
same result as replicating units (a country of 3 people counts like 3 one-person countries).

=========================  ===========================================  ====================
function                   returns                                      zeros in ``x``
=========================  ===========================================  ====================
``gini(x, w)``             float in [0, 1)                              allowed
``theil(x, w, groups)``    :class:`Theil` (``T``, ``L`` [+ parts])      T yes, L no
``atkinson(x, w, eps)``    float in [0, 1]                              ε < 1 yes, ε ≥ 1 no
``palma(x, w)``            float ≥ 0 (0.25 for equal ``x``)             allowed unless the
                                                                        bottom 40 % hold 0
``lorenz(x, w)``           ``(population share, x share)`` arrays       allowed
=========================  ===========================================  ====================

Zeros (``zeros=`` in every function)
------------------------------------
Zeros are common (countries without service). Where an index is undefined (infinite) with a
zero — Theil L, Atkinson with ε ≥ 1, Palma when the poorest 40 % hold nothing — you choose:

* ``"raise"`` (default): raise :class:`InequalityError` naming the index, the number of zero
  entries and their population share, and these options. Indices that allow zeros just use them.
* ``"drop"``: exclude units with ``x == 0`` (and their weight) from the index; one
  :class:`ZerosDroppedWarning` per call reports how many units and what share of the weight
  were dropped (with ``dim=``: in how many rows, with the first as example).
  Applies to every index (e.g. Gini among served countries).
* ``"floor"``: replace ``x == 0`` by ``floor`` (default: half the smallest positive ``x``,
  which keeps the result scale invariant). Applies to every index.
* ``"keep"``: keep zeros and return the mathematical limit: Theil ``L = inf`` (``T`` is finite),
  Atkinson (ε ≥ 1) ``= 1``, Palma ``= inf``. Never NaN.

Missing values (``skipna=`` in every function, default ``True`` as in xarray): units whose ``x`` or ``w``
is NaN are left out (e.g. the per-person figure of a country without people); units with ``w == 0`` are
always ignored. A DataArray result records what was left out, summed over its rows, in its attributes
``units_left_out_nan`` and ``units_left_out_zero_weight``. ``skipna=False`` raises on NaN instead.

Always errors (:class:`InequalityError`, a ``ValueError``): negative or infinite ``x``;
negative, infinite or zero-sum ``w``; shape mismatch; no units; all ``x`` zero (every index
is undefined: there is nothing to share).

xarray
------
A DataArray ``x`` is reduced over all its dimensions (result: a float) or, with ``dim="country"``,
over that one dimension (result: a DataArray over the remaining dimensions, keeping their
coordinates, ``units = "1"`` and a ``long_name``). ``w`` may be a DataArray over a subset of
``x``'s dimensions (e.g. population over ``country`` for ``x`` over ``(time, country)``); it is
aligned exactly (mismatched coordinates raise) and broadcast. ``groups`` may be the name of a
coordinate of ``x`` (e.g. ``"itu_region"``). Dask-backed arrays are not supported yet (load
first). :func:`lorenz` only reduces over all dimensions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import xarray as xr

from orbitshare.errors import InequalityError, ZerosDroppedWarning
from orbitshare.kernels import inequality as _k

__all__ = [
    "InequalityError",
    "Theil",
    "ZerosDroppedWarning",
    "atkinson",
    "gini",
    "lorenz",
    "palma",
    "theil",
]

ZERO_POLICIES = ("raise", "drop", "floor", "keep")

#: what the indices accept for ``x``, ``w`` and ``groups``: anything NumPy reads as an array, or a DataArray
Values = npt.ArrayLike | xr.DataArray


class Theil(NamedTuple):
    """Result of :func:`theil`: Theil T and L, plus their exact group decomposition.

    ``T``, ``L``: floats (DataArrays for ``dim=``). The four parts are ``None`` unless
    ``groups`` was given; then ``T == T_between + T_within`` and ``L == L_between + L_within``
    (to rounding, ~1e-15). ``L`` is ``inf`` only with ``zeros="keep"`` and a zero ``x``.
    """

    T: Any
    L: Any
    T_between: Any = None
    T_within: Any = None
    L_between: Any = None
    L_within: Any = None


# --------------------------------------------------------------------------------------------
# validation and zero handling of one set of units (one row)
# --------------------------------------------------------------------------------------------


def _check_dtype(name: str, what: str, dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise InequalityError(f"{name}: {what} must be real numbers, got dtype {dtype}")


def _as_float(name: str, what: str, a: Any) -> np.ndarray:
    arr = np.asarray(a)
    _check_dtype(name, what, arr.dtype)
    return arr.astype(np.float64, copy=False)


def _check_values(name: str, x: np.ndarray, w: np.ndarray | None, where: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        raise InequalityError(
            f"{name}{where}: x has {int(bad.sum())} NaN or infinite entries of {x.size}; fill or drop them first"
        )
    neg = x < 0
    if neg.any():
        raise InequalityError(
            f"{name}{where}: x has {int(neg.sum())} negative entries of {x.size} "
            f"(min {x.min():g}); inequality indices need x >= 0"
        )
    if w is not None:
        bad = ~np.isfinite(w)
        if bad.any():
            raise InequalityError(f"{name}{where}: w has {int(bad.sum())} NaN or infinite entries of {w.size}")
        neg = w < 0
        if neg.any():
            raise InequalityError(
                f"{name}{where}: w has {int(neg.sum())} negative entries of {w.size} "
                f"(min {w.min():g}); weights must be >= 0"
            )


def _prepare(
    name: str,
    x: np.ndarray,
    w: np.ndarray | None,
    codes: np.ndarray | None,
    *,
    zeros: str,
    floor: float | None,
    undefined_at_zero: bool,
    where: str = "",
    zero_name: str | None = None,
    report: list[str],
    skipna: bool = False,
    left: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validated, zero-treated ``(x, w, codes)`` with ``w > 0`` everywhere.

    ``zeros="drop"`` appends a message to ``report``; :func:`_reduce` turns those into one
    :class:`ZerosDroppedWarning` per call. With ``skipna`` the units whose ``x`` or ``w`` is NaN are left
    out first; ``left`` (two counters) adds the number left out for NaN and for a zero weight.
    """
    if x.size == 0:
        raise InequalityError(f"{name}{where}: no units (x is empty)")
    if skipna:
        nan = np.isnan(x) if w is None else np.isnan(x) | np.isnan(w)
        if nan.any():
            keep = ~nan
            x = x[keep]
            w = None if w is None else w[keep]
            codes = None if codes is None else codes[keep]
            if left is not None:
                left[0] += int(nan.sum())
            if x.size == 0:
                raise InequalityError(f"{name}{where}: no units (every x or w is NaN)")
    if left is not None and w is not None:
        left[1] += int(np.count_nonzero(w == 0))
    _check_values(name, x, w, where)
    # Scale w and x to a maximum of 1: the indices are scale invariant, and this keeps w·x and
    # the sums far from overflow. Units whose weight is 0 (or below ~1e-308 of the largest, which
    # underflows to 0) are ignored; x ratios below ~1e-308 likewise underflow to 0 (zeros).
    if w is None:
        w = np.ones_like(x)
    else:
        if not w.max() > 0:
            raise InequalityError(f"{name}{where}: the weights sum to 0; at least one weight must be > 0")
        w = w / w.max()
        keep = w > 0
        if not keep.all():
            x, w = x[keep], w[keep]
            codes = None if codes is None else codes[keep]
    x_scale = x.max()
    if x_scale > 0:
        x = x / x_scale
    if not (x > 0).any():
        raise InequalityError(
            f"{name}{where}: every x is 0 ({x.size} units with weight > 0), so the index is "
            "undefined (there is nothing to share)"
        )
    if not np.dot(w / w.sum(), x) > 1e-300:
        raise InequalityError(
            f"{name}{where}: x and w span too many orders of magnitude for float64 (the weighted "
            "mean of x is below 1e-300 of its maximum)"
        )
    is_zero = x == 0
    n_zero = int(is_zero.sum())
    if n_zero:
        if zeros == "raise" and undefined_at_zero:
            share = w[is_zero].sum() / w.sum()
            raise InequalityError(
                f"{zero_name or name}{where} is undefined when x = 0, and {n_zero} of {x.size} "
                f"entries are 0 ({share:.1%} of the weight); pass zeros='drop' to exclude them, "
                "zeros='floor' to replace them by floor= (default half the smallest positive "
                "x), or zeros='keep' for the limiting value"
            )
        if zeros == "drop":
            share = w[is_zero].sum() / w.sum()
            report.append(
                f"{name}{where}: zeros='drop' excluded {n_zero} of {x.size} units with x = 0 "
                f"({share:.1%} of the weight)"
            )
            keep = ~is_zero
            x, w = x[keep], w[keep]
            codes = None if codes is None else codes[keep]
        elif zeros == "floor":
            value = 0.5 * x[~is_zero].min() if floor is None else floor / x_scale
            x = np.where(is_zero, value, x)
    return x, w, codes


def _check_options(name: str, zeros: str, floor: float | None) -> None:
    if zeros not in ZERO_POLICIES:
        raise InequalityError(f"{name}: zeros must be one of {', '.join(map(repr, ZERO_POLICIES))}, got {zeros!r}")
    if floor is not None:
        if zeros != "floor":
            raise InequalityError(f"{name}: floor= applies only with zeros='floor'")
        if not (isinstance(floor, (int, float, np.number)) and math.isfinite(floor) and floor > 0):
            raise InequalityError(f"{name}: floor must be a finite number > 0, got {floor!r}")


def _group_codes(name: str, g: np.ndarray, where: str) -> tuple[np.ndarray, int]:
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise InequalityError(f"{name}{where}: groups has {int(np.isnan(g).sum())} NaN labels")
    try:
        labels, codes = np.unique(g, return_inverse=True)
    except TypeError as exc:
        raise InequalityError(f"{name}{where}: group labels cannot be sorted ({exc})") from None
    return codes.reshape(-1).astype(np.int64), labels.size


# --------------------------------------------------------------------------------------------
# NumPy / xarray dispatch
# --------------------------------------------------------------------------------------------

RowFn = Callable[[np.ndarray, "np.ndarray | None", "np.ndarray | None", str], tuple]


def _is_dataarray(a: Any) -> bool:
    return isinstance(a, xr.DataArray)


def _numpy_inputs(name, x, w, groups, dim):
    if dim is not None:
        raise InequalityError(f"{name}: dim= needs an xarray.DataArray; NumPy input is reduced over all elements")
    xa = _as_float(name, "x", x)
    wa = None
    if w is not None:
        wa = _as_float(name, "w", w.values if _is_dataarray(w) else w)
        if wa.shape != xa.shape:
            raise InequalityError(f"{name}: w has shape {wa.shape} but x has shape {xa.shape}")
    ga = None
    if groups is not None:
        ga = np.asarray(groups.values if _is_dataarray(groups) else groups)
        if ga.shape != xa.shape:
            raise InequalityError(f"{name}: groups has shape {ga.shape} but x has shape {xa.shape}")
    return (
        xa.reshape(-1),
        None if wa is None else wa.reshape(-1),
        (None if ga is None else ga.reshape(-1)),
    )


def _like_x(name: str, what: str, x, a):
    """``a`` (DataArray over a subset of x's dims, or an array of x's shape) broadcast to x."""
    if _is_dataarray(a):
        extra = set(a.dims) - set(x.dims)
        if extra:
            raise InequalityError(f"{name}: {what} has dimensions {sorted(map(str, extra))} that x {x.dims} lacks")
        try:
            _, a = xr.align(x, a, join="exact")
        except ValueError as exc:
            raise InequalityError(f"{name}: the coordinates of {what} and x differ ({exc})") from None
        return a.broadcast_like(x).transpose(*x.dims)
    arr = np.asarray(a)
    if arr.shape != x.shape:
        raise InequalityError(
            f"{name}: {what} has shape {arr.shape} but x has shape {x.shape} {x.dims}; pass a DataArray to broadcast"
        )
    return xr.DataArray(arr, dims=x.dims)


def _describe(x) -> str:
    label = x.attrs.get("long_name") or x.name
    return f" of {label}" if label else ""


def _reduce(
    name: str,
    x,
    w,
    groups,
    dim: str | None,
    row_fn: RowFn,
    fields: Sequence[str],
    long_names: Sequence[str],
    report: list[str],
    extra_attrs: dict | None = None,
    left: list[int] | None = None,
):
    """Apply ``row_fn`` to all of ``x`` (floats out) or along ``dim`` (DataArrays out)."""
    out = _reduce_rows(name, x, w, groups, dim, row_fn, fields, long_names, extra_attrs, left)
    if report:
        text = report[0] if len(report) == 1 else f"{len(report)} rows, e.g. {report[0]}"
        warnings.warn(text, ZerosDroppedWarning, stacklevel=3)
    return out


def _reduce_rows(name, x, w, groups, dim, row_fn, fields, long_names, extra_attrs, left=None):
    if not _is_dataarray(x):
        xa, wa, ga = _numpy_inputs(name, x, w, groups, dim)
        return tuple(row_fn(xa, wa, ga, ""))

    if isinstance(groups, str):
        if groups not in x.coords:
            raise InequalityError(f"{name}: x has no coordinate {groups!r} to use as groups")
        groups = x.coords[groups]
    wd = None if w is None else _like_x(name, "w", x, w)
    gd = None if groups is None else _like_x(name, "groups", x, groups)
    _check_dtype(name, "x", x.dtype)
    if wd is not None:
        _check_dtype(name, "w", wd.dtype)

    if dim is None:
        return tuple(
            row_fn(
                x.values.reshape(-1).astype(np.float64),
                None if wd is None else wd.values.reshape(-1).astype(np.float64),
                None if gd is None else gd.values.reshape(-1),
                "",
            )
        )

    if dim not in x.dims:
        raise InequalityError(f"{name}: x has no dimension {dim!r} (it has {x.dims})")
    rest = [d for d in x.dims if d != dim]
    order = [*rest, dim]
    n = x.sizes[dim]
    rest_shape = tuple(x.sizes[d] for d in rest)
    xv = x.transpose(*order).values.astype(np.float64).reshape(-1, n)
    wv = None if wd is None else wd.transpose(*order).values.astype(np.float64).reshape(-1, n)
    gv = None if gd is None else gd.transpose(*order).values.reshape(-1, n)
    out = np.empty((len(fields), xv.shape[0]))
    none_fields = set()
    for i in range(xv.shape[0]):
        idx = np.unravel_index(i, rest_shape) if rest else ()
        where = ""
        if rest:
            loc = ", ".join(
                f"{d}={x[d].values[j]!s}" if d in x.coords else f"{d}={j}" for d, j in zip(rest, idx, strict=True)
            )
            where = f" at {loc}"
        vals = row_fn(xv[i], None if wv is None else wv[i], None if gv is None else gv[i], where)
        for k, v in enumerate(vals):
            if v is None:
                none_fields.add(k)
                out[k, i] = np.nan
            else:
                out[k, i] = v
    template = x.isel({dim: 0}, drop=True)
    desc = _describe(x)
    results = []
    for k, (field, long_name) in enumerate(zip(fields, long_names, strict=True)):
        if k in none_fields:
            results.append(None)
            continue
        attrs = {"long_name": f"{long_name}{desc} over {dim}", "units": "1"}
        if extra_attrs:
            attrs.update(extra_attrs)
        if left is not None:  # summed over the rows
            attrs["units_left_out_nan"] = left[0]
            attrs["units_left_out_zero_weight"] = left[1]
        results.append(
            xr.DataArray(
                out[k].reshape(rest_shape),
                dims=template.dims,
                coords=template.coords,
                name=field,
                attrs=attrs,
            )
        )
    return tuple(results)


def _maybe_float(v):
    return None if v is None else float(v)


# --------------------------------------------------------------------------------------------
# public indices
# --------------------------------------------------------------------------------------------


def gini(
    x: Values,
    w: Values | None = None,
    *,
    dim: str | None = None,
    zeros: str = "raise",
    floor: float | None = None,
    skipna: bool = True,
) -> float | xr.DataArray:
    """Population-weighted Gini index (unit 1).

    ``G = Σ_ij w_i w_j |x_i − x_j| / (2 W² μ)`` (weighted mean absolute difference over twice the
    mean), computed exactly by sorting in O(n log n); integer weights equal replication, and one
    holder among ``n`` equal-weight units gives ``1 − 1/n``. Ranges over [0, 1).

    >>> gini([1, 2, 3, 4])  # mean |x_i - x_j| over all 16 pairs = 20/16, over 2 * mean 5
    0.25
    >>> gini([5, 5, 5])
    0.0
    >>> round(gini([0, 1], w=[3, 1]), 12)  # weight 3 = three copies: one holder among 4 -> 1 - 1/4
    0.75
    >>> import xarray as xr
    >>> x = xr.DataArray([[1, 2, 3, 4], [1, 1, 1, 1]], dims=("time", "country"))
    >>> gini(x, dim="country").values.tolist()
    [0.25, 0.0]

    Parameters
    ----------
    x : array_like or xarray.DataArray
        Non-negative values (e.g. capacity per person, Mbps).
    w : array_like or xarray.DataArray, optional
        Non-negative weights (e.g. population), same shape as ``x`` (DataArray: broadcastable).
    dim : str, optional
        DataArray only: reduce over this dimension and return a DataArray over the others.
    zeros, floor
        Zeros are allowed (the default uses them). ``"drop"``/``"floor"`` are honoured if asked
        for; see the module docstring.

    Returns
    -------
    float, or xarray.DataArray with ``dim=``.
    """
    _check_options("gini", zeros, floor)

    report: list[str] = []
    left = [0, 0]  # units left out: NaN, zero weight

    def row(xa, wa, ga, where):
        xa, wa, _ = _prepare(
            "Gini",
            xa,
            wa,
            None,
            zeros=zeros,
            floor=floor,
            undefined_at_zero=False,
            where=where,
            report=report,
            skipna=skipna,
            left=left,
        )
        return (_k.gini_sorted(xa, wa),)

    (g,) = _reduce("gini", x, w, None, dim, row, ["gini"], ["Gini index"], report, left=left)
    return _maybe_float(g) if not _is_dataarray(g) else g


def theil(
    x: Values,
    w: Values | None = None,
    groups: Values | str | None = None,
    *,
    dim: str | None = None,
    zeros: str = "raise",
    floor: float | None = None,
    skipna: bool = True,
) -> Theil:
    """Population-weighted Theil T and Theil L (unit 1, in nats), with their exact group decomposition.

    With ``μ = Σ w_i x_i / W``::

        T = (1/W) Σ w_i (x_i/μ) ln(x_i/μ)     (0·ln 0 = 0: zeros allowed)
        L = (1/W) Σ w_i ln(μ/x_i)             (mean log deviation: undefined at x = 0)

    With ``groups`` (one label per unit; for DataArrays also the name of a coordinate), group
    means ``μ_g``, income shares ``s_g`` and population shares ``p_g``::

        T = Σ_g s_g T_g + Σ_g s_g ln(μ_g/μ)   = T_within + T_between
        L = Σ_g p_g L_g + Σ_g p_g ln(μ/μ_g)   = L_within + L_between

    exactly (to rounding). PySAL's ``inequality.theil.Theil``/``TheilD`` compute the unweighted T.

    Zeros: T allows them but L does not, so by default a zero raises :class:`InequalityError`.
    ``zeros="keep"`` keeps them and returns ``L = L_within = inf`` (``L_between`` is finite unless
    a whole group is zero; T and its parts stay finite); ``"drop"``/``"floor"`` change the data
    used by both T and L. Never NaN.

    Returns
    -------
    Theil
        ``Theil(T, L, T_between, T_within, L_between, L_within)``; the four parts are ``None``
        without ``groups``. Floats, or DataArrays with ``dim=``.

    Examples
    --------
    ``x = [1, 3]``: ``μ = 2``, ``T = ½ (½ ln ½ + 3/2 ln 3/2)``, ``L = ½ (ln 2 + ln 2/3) = ½ ln 4/3``:

    >>> t = theil([1, 3])
    >>> round(t.T, 6), round(t.L, 6)
    (0.130812, 0.143841)

    Each unit its own group: all inequality is between the groups.

    >>> t = theil([1, 3], groups=["a", "b"])
    >>> round(t.T_between, 6), t.T_within
    (0.130812, 0.0)
    >>> theil([0, 1, 1], zeros="keep").L
    inf
    """
    _check_options("theil", zeros, floor)

    report: list[str] = []
    left = [0, 0]  # units left out: NaN, zero weight

    def row(xa, wa, ga, where):
        codes = None
        if ga is not None:
            codes, _ = _group_codes("Theil", ga, where)
        xa, wa, codes = _prepare(
            "Theil",
            xa,
            wa,
            codes,
            zeros=zeros,
            floor=floor,
            undefined_at_zero=True,
            where=where,
            zero_name="Theil L",
            report=report,
            skipna=skipna,
            left=left,
        )
        if codes is None:
            return (*_k.theil_tl(xa, wa), None, None, None, None)
        ngroups = int(codes.max()) + 1
        return _k.theil_decomposed(xa, wa, codes, ngroups)

    fields = [
        "theil_T",
        "theil_L",
        "theil_T_between",
        "theil_T_within",
        "theil_L_between",
        "theil_L_within",
    ]
    long_names = [
        "Theil T index",
        "Theil L index (mean log deviation)",
        "between-group Theil T",
        "within-group Theil T",
        "between-group Theil L",
        "within-group Theil L",
    ]
    vals = _reduce("theil", x, w, groups, dim, row, fields, long_names, report, left=left)
    if not _is_dataarray(x) or dim is None:
        vals = tuple(_maybe_float(v) for v in vals)
    return Theil(*vals)


def atkinson(
    x: Values,
    w: Values | None = None,
    epsilon: float = 0.5,
    *,
    dim: str | None = None,
    zeros: str = "raise",
    floor: float | None = None,
    skipna: bool = True,
) -> float | xr.DataArray:
    """Population-weighted Atkinson index ``A = 1 − M_{1−ε}/μ`` (unit 1).

    ``M_{1−ε} = (Σ w_i x_i^{1−ε} / W)^{1/(1−ε)}`` is the weighted power mean of order ``1 − ε``
    (``ε = 1``: the weighted geometric mean), ``μ`` the weighted mean. ``ε ≥ 0`` is the
    inequality aversion; ``ε = 0`` gives 0. Ranges over [0, 1].

    Zeros: allowed for ``ε < 1``. For ``ε ≥ 1`` the index is undefined (the mean of order
    ``≤ 0`` is 0), so a zero raises :class:`InequalityError` by default; ``zeros="keep"``
    returns the limit 1, ``"drop"``/``"floor"`` change the data.

    Returns
    -------
    float, or xarray.DataArray with ``dim=``.

    Examples
    --------
    ``x = [1, 4]``, mean 2.5: geometric mean 2 (``ε = 1``), power mean of order ½ ``((1 + 2)/2)² = 2.25``:

    >>> round(atkinson([1, 4], epsilon=1), 12)  # 1 - 2/2.5
    0.2
    >>> round(atkinson([1, 4], epsilon=0.5), 12)  # 1 - 2.25/2.5
    0.1
    >>> atkinson([1, 4], epsilon=0)
    0.0
    """
    _check_options("atkinson", zeros, floor)
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise InequalityError(f"atkinson: epsilon must be a number >= 0, got {epsilon!r}") from None
    if not (math.isfinite(eps) and eps >= 0):
        raise InequalityError(f"atkinson: epsilon must be a finite number >= 0, got {epsilon!r}")
    label = f"Atkinson (epsilon={eps:g})"

    report: list[str] = []
    left = [0, 0]  # units left out: NaN, zero weight

    def row(xa, wa, ga, where):
        xa, wa, _ = _prepare(
            label,
            xa,
            wa,
            None,
            zeros=zeros,
            floor=floor,
            undefined_at_zero=eps >= 1,
            where=where,
            report=report,
            skipna=skipna,
            left=left,
        )
        return (_k.atkinson_index(xa, wa, eps),)

    (a,) = _reduce(
        "atkinson",
        x,
        w,
        None,
        dim,
        row,
        ["atkinson"],
        [f"Atkinson index (epsilon={eps:g})"],
        report,
        extra_attrs={"epsilon": eps},
        left=left,
    )
    return _maybe_float(a) if not _is_dataarray(a) else a


def palma(
    x: Values,
    w: Values | None = None,
    *,
    dim: str | None = None,
    zeros: str = "raise",
    floor: float | None = None,
    skipna: bool = True,
) -> float | xr.DataArray:
    """Population-weighted Palma ratio (unit 1).

    The share of total ``x·w`` held by the richest 10 % of the weight (population) divided by the
    share held by the poorest 40 %. Units are sorted by ``x``; the unit straddling the 10 % or
    40 % boundary is split in proportion to its weight (linear interpolation of the Lorenz
    curve), so integer weights equal replication. Equal ``x`` gives ``0.1 / 0.4 = 0.25``, the
    minimum; there is no upper bound.

    Zeros: allowed, as long as the poorest 40 % hold something. If they hold nothing (zeros
    cover at least 40 % of the weight) the ratio is infinite: by default that raises
    :class:`InequalityError`; ``zeros="keep"`` returns ``inf``; ``"drop"``/``"floor"`` change
    the data.

    Returns
    -------
    float, or xarray.DataArray with ``dim=``.

    Examples
    --------
    ``x = [1, 2, 3, 4]`` (total 10), four units of 25 % each: the richest 10 % are 0.4 of the unit
    with 4 (1.6), the poorest 40 % the unit with 1 and 0.6 of the unit with 2 (2.2); 1.6/2.2 = 8/11:

    >>> round(palma([1, 2, 3, 4]), 12) == round(8 / 11, 12)
    True
    >>> palma([2, 2, 2])
    0.25
    >>> palma([0, 0, 1], zeros="keep")  # the poorest 40 % hold nothing
    inf
    """
    _check_options("palma", zeros, floor)

    report: list[str] = []
    left = [0, 0]  # units left out: NaN, zero weight

    def row(xa, wa, ga, where):
        xa, wa, _ = _prepare(
            "Palma",
            xa,
            wa,
            None,
            zeros=zeros,
            floor=floor,
            undefined_at_zero=False,
            where=where,
            report=report,
            skipna=skipna,
            left=left,
        )
        top, bottom = _k.palma_shares(xa, wa)
        if bottom > 0:
            return (top / bottom,)
        if zeros == "raise":
            is_zero = xa == 0
            raise InequalityError(
                f"Palma{where} is infinite: the poorest 40 % of the weight hold 0 "
                f"({int(is_zero.sum())} of {xa.size} entries are 0, "
                f"{wa[is_zero].sum() / wa.sum():.1%} of the weight); pass zeros='keep' for inf, "
                "zeros='drop' to exclude zero entries or zeros='floor' to replace them"
            )
        return (math.inf,)

    (p,) = _reduce("palma", x, w, None, dim, row, ["palma"], ["Palma ratio"], report, left=left)
    return _maybe_float(p) if not _is_dataarray(p) else p


def lorenz(
    x: Values, w: Values | None = None, *, zeros: str = "raise", floor: float | None = None, skipna: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Population-weighted Lorenz curve (shares, unit 1).

    Returns
    -------
    (p, l) : tuple of float64[m + 1] NumPy arrays
        ``p``: cumulative population (weight) share, ``l``: cumulative share of total ``x·w``,
        with units sorted by ascending ``x``. Both start at exactly 0 and end at exactly 1 and
        are non-decreasing; ``m`` is the number of units with ``w > 0`` (after ``zeros="drop"``).
        The curve is the polyline through the points (interpolate with ``np.interp``); units
        with integer weight ``k`` give the same polyline as ``k`` copies.

    Zeros are allowed. A DataArray ``x`` is reduced over all its dimensions (no ``dim=``).

    >>> p, lc = lorenz([1, 2, 3, 4])
    >>> p.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> lc.tolist()  # cumulative sums 1, 3, 6, 10 of the total 10
    [0.0, 0.1, 0.3, 0.6, 1.0]
    >>> [a.tolist() for a in lorenz([0, 1], w=[3, 1])]
    [[0.0, 0.75, 1.0], [0.0, 0.0, 1.0]]
    """
    _check_options("lorenz", zeros, floor)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    report: list[str] = []
    left = [0, 0]  # units left out: NaN, zero weight

    def row(xa, wa, ga, where):
        xa, wa, _ = _prepare(
            "Lorenz",
            xa,
            wa,
            None,
            zeros=zeros,
            floor=floor,
            undefined_at_zero=False,
            where=where,
            report=report,
            skipna=skipna,
            left=left,
        )
        out["curve"] = _k.lorenz_curve(xa, wa)
        return ()

    _reduce("lorenz", x, w, None, None, row, [], [], report, left=left)
    return out["curve"]
