"""Means of a lazy xarray Dataset over calendar periods: days, months, seasons, years.

Each time step is weighted by its length (from the time bounds, else days in the month for
monthly data); missing values count neither in sums nor weights. See
:func:`average_time`; :mod:`cp4cds_wps.ops.average` averages over whole axes.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import cftime
import numpy as np
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.ops.cf import bounds_name, value_encoding, with_cell_method

__all__ = [
    "FREQS",
    "average_time",
    "check_coarser",
    "midpoint",
    "parse_freq",
    "step_days",
    "time_bounds",
]

#: The periods of time means and the shortest length (days) of one period in any calendar.
FREQS = {"day": 1.0, "month": 28.0, "season": 89.0, "year": 360.0}
#: ``frequency`` global attribute of the results (CMIP vocabulary; it has no season).
_FREQUENCY_ATTRS = {"day": "day", "month": "mon", "year": "yr"}
#: Months starting each month's meteorological season (DJF, MAM, JJA, SON).
_SEASON_START = np.array([12, 12, 3, 3, 3, 6, 6, 6, 9, 9, 9, 12])
_SECONDS_PER_DAY = 86400.0


def _split(text: str | None) -> list[str]:
    return [part.lower() for part in (text or "").replace(",", " ").split()]


def _dims_text(ds: xr.Dataset) -> str:
    return ", ".join(f"{d} ({n})" for d, n in ds.sizes.items()) or "none"


def parse_freq(text: str | None, name: str = "freq") -> str:
    """Parse the period of a time mean: ``day``, ``month``, ``season`` or ``year`` (any case).

    Raises
    ------
    MissingParameter
        When no value is given.
    InvalidParameter
        On any other value.
    """
    values = _split(text)
    if not values:
        raise MissingParameter(name)
    if len(values) > 1 or values[0] not in FREQS:
        raise InvalidParameter(name, f"{text!r} is not one of {', '.join(FREQS)}")
    return values[0]


def time_bounds(ds: xr.Dataset) -> np.ndarray | None:
    """The time bounds ``(n, 2)`` as cftime dates (read once: they are dask-backed), or None."""
    bounds = bounds_name(ds, "time")
    return None if bounds is None else ds[bounds].values


def step_days(edges: np.ndarray) -> np.ndarray:
    """Length in days of each ``(start, end)`` pair of dates."""
    return np.array([(b[-1] - b[0]).total_seconds() for b in edges]) / _SECONDS_PER_DAY


def midpoint(low, high):
    """The middle of two dates or numbers."""
    return low + (high - low) / 2


def average_time(ds: xr.Dataset, freq: str) -> xr.Dataset:
    """Daily, monthly, seasonal or yearly means, in the dataset's own calendar.

    Parameters
    ----------
    ds
        The dataset, with a ``time`` axis of cftime dates (any calendar).
    freq
        ``day``, ``month``, ``season`` (DJF, MAM, JJA, SON; a December is counted with the
        following January and February, as in xarray's ``QS-DEC`` resampling) or ``year``.

    Returns
    -------
    xarray.Dataset
        Lazy means of every variable with a time axis, one step per period that holds data.
        Each step is weighted by its length: from the time bounds, else days in the month for
        monthly data, else equally. Missing values count neither in sums nor weights. The new
        ``time_bnds`` span the data of each period (from the input bounds; without them the
        whole calendar period); ``time`` is the middle of its bounds. ``cell_methods`` end
        with ``time: mean``.

    Raises
    ------
    InvalidParameter
        When the dataset has no time axis, or its steps are as long as or longer than
        ``freq`` (e.g. a daily mean of monthly data).
    """
    if "time" not in ds.dims or "time" not in ds.indexes:
        raise InvalidParameter(
            "freq", f"dataset has no time axis; its dimensions are {_dims_text(ds)}"
        )
    index = ds.indexes["time"]
    edges = time_bounds(ds)
    days = None if edges is None else step_days(edges)
    if days is not None:
        check_coarser(freq, float(np.median(days)))
    elif len(index) > 1:
        check_coarser(freq, _median_step(index))
    if days is None:
        days = _default_step_days(index)
    keys, first = _periods(index, freq)
    last = np.r_[first[1:], len(keys)] - 1
    bounds = bounds_name(ds, "time")
    if edges is not None:
        low, high = edges[first, 0], edges[last, -1]
    else:
        low = np.array([_period_start(k, index.calendar) for k in keys[first]])
        high = np.array([_next_start(d, freq) for d in low])
    mid = np.array([midpoint(a, b) for a, b in zip(low, high, strict=True)])

    means = {}
    for name, var in ds.data_vars.items():
        if "time" not in var.dims or name == bounds:
            continue
        mean = _period_means(var, days, first)
        mean.attrs = {**var.attrs, "cell_methods": _time_mean(var.attrs.get("cell_methods"))}
        mean.encoding = value_encoding(var)
        means[name] = mean
    return _new_time_axis(ds, means, mid, np.stack([low, high], axis=1), freq)


def _period_means(data: xr.DataArray, weights: np.ndarray, first: np.ndarray) -> xr.DataArray:
    """Weighted means, NaN left out, over the runs of time steps starting at ``first``.

    Lazy data is rechunked along time so that each chunk holds whole periods (about as many
    steps as its chunks had), and each chunk gives its periods' means in one task, summing
    step by step: the data are read once, a chunk at a time, and no temporary is larger than
    one field, whatever the number and length of the periods.
    """
    axis = data.get_axis_num("time")

    def means(block: np.ndarray, block_weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
        # step by step, so that no temporary is larger than one field
        steps = np.moveaxis(block, axis, 0)
        out = np.empty((len(starts), *steps.shape[1:]), dtype=block.dtype)
        for k, (a, b) in enumerate(itertools.pairwise([*starts, len(steps)])):
            total = np.zeros(steps.shape[1:])
            counted = np.zeros(steps.shape[1:])
            for field, weight in zip(steps[a:b], block_weights[a:b], strict=True):
                valid = ~np.isnan(field)
                total += np.where(valid, field, 0.0) * weight
                counted += valid * weight
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k] = total / np.where(counted > 0, counted, np.nan)
        return np.moveaxis(out, 0, axis)

    if data.chunks is None:
        return xr.DataArray(means(data.values, weights, first), dims=data.dims)
    size = data.chunks[axis][0]
    edges = [0]
    for start in first[1:]:
        if start - edges[-1] >= size:
            edges.append(int(start))
    edges.append(data.sizes["time"])
    array = data.data.rechunk({axis: tuple(np.diff(edges))})
    pieces = [
        (weights[a:b], first[(first >= a) & (first < b)] - a) for a, b in itertools.pairwise(edges)
    ]

    def block_means(block: np.ndarray, block_info=None) -> np.ndarray:
        return means(block, *pieces[block_info[0]["chunk-location"][axis]])

    chunks = (*array.chunks[:axis], tuple(len(p[1]) for p in pieces), *array.chunks[axis + 1 :])
    return xr.DataArray(
        array.map_blocks(block_means, chunks=chunks, dtype=array.dtype), dims=data.dims
    )


def _time_mean(cell_methods: str | None) -> str:
    """``cell_methods`` ending with ``time: mean`` (a mean of means stays ``time: mean``)."""
    if (cell_methods or "").rstrip().endswith("time: mean"):
        return cell_methods.strip()
    return with_cell_method(cell_methods, "time: mean")


def check_coarser(freq: str, step_days: float) -> None:
    """Refuse means over periods of ``freq`` of data whose steps are ``step_days`` long.

    Raises
    ------
    InvalidParameter
        Named ``freq`` when a period is not clearly longer than a step, naming the
        frequencies that would be.
    """
    if step_days >= 0.9 * FREQS[freq]:
        coarser = [f for f, length in FREQS.items() if length > step_days * 1.1]
        choice = f"choose {' or '.join(coarser)}" if coarser else "the data are yearly or coarser"
        raise InvalidParameter(
            "freq",
            f"the dataset's time steps are about {step_days:.3g} days long, not shorter than a "
            f"{freq}: a {freq} mean needs finer data; {choice}",
        )


def _median_step(index: xr.CFTimeIndex) -> float:
    """The median distance (days) between consecutive times."""
    steps = np.diff(np.asarray(index))
    return float(np.median([step.total_seconds() for step in steps])) / _SECONDS_PER_DAY


def _default_step_days(index: xr.CFTimeIndex) -> np.ndarray:
    """Step lengths without time bounds: days of the month for monthly data, else equal."""
    if len(index) > 1 and 25 <= _median_step(index) <= 32:
        return np.asarray(index.days_in_month, dtype=float)
    return np.ones(len(index))


def _periods(index: xr.CFTimeIndex, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """An increasing integer key ``YYYYMMDD`` of the start of each step's period, and the
    positions of the first steps of the periods."""
    year, month, day = (
        np.asarray(getattr(index, f), dtype=np.int64) for f in ("year", "month", "day")
    )
    if freq == "season":
        year = year - (month < 3)
        month = _SEASON_START[month - 1]
    if freq in ("season", "month", "year"):
        day = np.ones_like(day)
    if freq == "year":
        month = np.ones_like(month)
    keys = year * 10000 + month * 100 + day
    return keys, np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _period_start(key: int, calendar: str) -> cftime.datetime:
    return cftime.datetime(key // 10000, key // 100 % 100, key % 100, calendar=calendar)


def _next_start(start: cftime.datetime, freq: str) -> cftime.datetime:
    if freq == "day":
        return start + timedelta(days=1)
    months = {"month": 1, "season": 3, "year": 12}[freq]
    total = start.year * 12 + start.month - 1 + months
    return start.replace(year=total // 12, month=total % 12 + 1)


def _new_time_axis(
    ds: xr.Dataset, means: dict[str, xr.DataArray], mid: np.ndarray, edges: np.ndarray, freq: str
) -> xr.Dataset:
    time = ds["time"].variable
    bounds = bounds_name(ds, "time") or "time_bnds"
    bounds_dim = ds[bounds].dims[-1] if bounds in ds.variables else "bnds"
    out = ds.drop_vars([n for n, v in ds.variables.items() if "time" in v.dims])
    out = out.assign_coords(
        time=xr.Variable("time", mid, {**time.attrs, "bounds": bounds}, time.encoding)
    )
    encoding = {k: v for k, v in time.encoding.items() if k in ("units", "calendar", "dtype")}
    out = out.assign({**means, bounds: xr.Variable(("time", bounds_dim), edges, {}, encoding)})
    if freq in _FREQUENCY_ATTRS:
        out.attrs["frequency"] = _FREQUENCY_ATTRS[freq]
    else:
        out.attrs.pop("frequency", None)
    return out
