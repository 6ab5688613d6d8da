"""Quick-look plots of a lazy xarray Dataset: an area-mean time series or a map of one step.

Each plot comes with the numbers it shows, as a :class:`pandas.DataFrame`, so that a user can
check or reuse them. Figures are drawn with matplotlib's Agg backend on
:class:`matplotlib.figure.Figure` objects (no pyplot state, nothing to close). Maps are plain
longitude/latitude axes without coastlines: cartopy's coastlines are downloaded on first use.

Dimensions other than time and the horizontal grid (levels, ensemble members, ...) are reduced
to their first element, which the title names; select levels beforehand to plot another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.ops.average import average_over_dims
from cp4cds_wps.ops.params import TimeRange, parse_time
from cp4cds_wps.ops.plot_text import (
    decimal_years,
    lat_text,
    lon_text,
    longitude_range,
    quantity,
    title_text,
    year_label,
)
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.ops.weights import HorizontalGrid, cell_areas, horizontal_grid

__all__ = [
    "KINDS",
    "Timestep",
    "parse_kind",
    "parse_timestep",
    "plot_map",
    "plot_timeseries",
    "select_timestep",
]

#: The kinds of plot, the default first.
KINDS = ("map", "timeseries")
#: Size of the figures in inches, and their resolution (dots per inch): 1000 x 550 pixels.
FIGSIZE = (10.0, 5.5)
DPI = 100
#: Colour of cells without data (land in ocean data, cells outside a requested area).
MISSING_COLOUR = "0.85"
_INDEX = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Timestep:
    """One time step: the ``index``-th (negative counts from the end), or the first step
    ``within`` a date (a year-month covers the month, a day the day, ...).

    ``text`` is the value as the user gave it.
    """

    text: str
    index: int | None = None
    within: TimeRange | None = None

    def __str__(self) -> str:
        return self.text


def parse_kind(text: str | None, name: str = "kind") -> str:
    """Parse the kind of plot: ``map`` (the default) or ``timeseries`` (any case).

    Raises
    ------
    InvalidParameter
        On any other value.
    """
    kind = (text or KINDS[0]).strip().lower()
    if kind not in KINDS:
        raise InvalidParameter(name, f"{text!r} is not one of {', '.join(KINDS)}")
    return kind


def parse_timestep(text: str | None, name: str = "timestep") -> Timestep | None:
    """Parse a time step: an index (``0`` the first, ``-1`` the last) or a date.

    Parameters
    ----------
    text
        A whole number, or an ISO 8601 date with at least year and month (``2015-07``,
        ``2015-07-16``, ``2015-07-16T12:00``): the first time step within it. A bare year
        would read as an index; write ``2015-01`` for the first step of 2015. ``None`` or
        empty: no choice.
    name
        The request input named in errors.

    Returns
    -------
    Timestep or None

    Raises
    ------
    InvalidParameter
        When the text is neither a whole number nor a valid date.
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    if _INDEX.match(text):
        return Timestep(text, index=int(text))
    reason = (
        f"{text!r} is neither a time step index (0 for the first, -1 for the last) nor a "
        "date YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss"
    )
    if "/" in text:
        raise InvalidParameter(name, reason)
    try:
        within = parse_time(f"{text}/{text}", name)
    except InvalidParameter as exc:
        raise InvalidParameter(name, reason) from exc
    return Timestep(text, within=within)


def select_timestep(ds: xr.Dataset, timestep: Timestep | None) -> xr.Dataset:
    """The dataset at one time step, keeping ``time`` as a dimension of length 1.

    Parameters
    ----------
    ds
        A dataset with a ``time`` axis.
    timestep
        Which step; ``None`` means the first.

    Returns
    -------
    xarray.Dataset
        The selection, still lazy.

    Raises
    ------
    InvalidParameter
        When the dataset has no time axis or the index is out of range.
    NoDataSelected
        When no time step lies within the date.
    """
    timestep = timestep or Timestep("0", index=0)
    if "time" not in ds.dims or "time" not in ds.indexes:
        raise InvalidParameter("timestep", "dataset has no time axis to choose a step of")
    index = ds.indexes["time"]
    if timestep.index is not None:
        n = len(index)
        if not -n <= timestep.index < n:
            raise InvalidParameter(
                "timestep",
                f"index {timestep.index} is out of range: the data have {n} time steps, "
                f"0 to {n - 1} (or -1 to -{n} from the end)",
            )
        return ds.isel(time=[timestep.index])
    try:
        within = subset(ds, time=timestep.within)
    except NoDataSelected as exc:
        raise NoDataSelected(
            "timestep",
            f"no time step lies within {timestep.text}; the data's time steps run from "
            f"{index[0]} to {index[-1]}",
        ) from exc
    return within.isel(time=[0])


def plot_timeseries(
    ds: xr.Dataset, variable: str, *, title: str, areacella: xr.DataArray | None = None
) -> tuple[Figure, pd.DataFrame]:
    """The area-weighted mean of ``variable`` over the grid at each time step.

    Parameters
    ----------
    ds
        The dataset (e.g. subset to an area), as returned by
        :func:`cp4cds_wps.ops.open.open_dataset`; on any kind of horizontal grid. Data without
        a latitude/longitude grid (e.g. a global mean) are plotted as they are.
    variable
        The data variable to plot.
    title
        First line of the title, e.g. the dataset id.
    areacella
        An ``areacella``/``areacello`` field of the grid, for the cell areas (see
        :func:`cp4cds_wps.ops.weights.cell_areas`); by default they come from the grid.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The line plot against time, and the columns ``time`` (ISO 8601 in the dataset's
        calendar) and ``value`` (in the variable's units).

    Raises
    ------
    InvalidParameter
        When the variable has no time axis.
    """
    da = ds[variable]
    if "time" not in da.dims:
        raise InvalidParameter("kind", f"{variable} has no time axis to plot a time series of")
    grid = _grid(ds)
    keep = ("time", *(grid.dims if grid is not None and set(grid.dims) <= set(da.dims) else ()))
    selected, notes = _first_of_other_dims(ds, da, keep)
    if len(keep) > 1:
        weights = cell_areas(selected, areacella=areacella)
        mean = average_over_dims(selected, ("latitude", "longitude"), weights=weights)[variable]
        where = f"area-weighted mean over {_extent(grid)}"
    else:
        mean, where = selected[variable], ""
    values = mean.transpose("time").values.astype(float)
    times = selected.indexes["time"]
    table = pd.DataFrame({"time": [t.isoformat() for t in times], "value": values})

    fig, ax = _figure()
    x = decimal_years(times)
    ax.plot(x, values, marker="." if len(x) < 50 else None, linewidth=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=x[-1] - x[0] >= 3))
    ax.xaxis.set_major_formatter(FuncFormatter(year_label(times.calendar)))
    ax.set_xlabel(f"time ({times.calendar} calendar)")
    ax.set_ylabel(quantity(da))
    ax.grid(alpha=0.3)
    ax.set_title(title_text(title, da, [where, *notes]), fontsize=9)
    return fig, table


def plot_map(ds: xr.Dataset, variable: str, *, title: str) -> tuple[Figure, pd.DataFrame]:
    """A longitude/latitude map of ``variable`` at one time step.

    Parameters
    ----------
    ds
        The dataset with at most one time step (see :func:`select_timestep`), on a regular,
        curvilinear, rotated-pole or unstructured grid.
    variable
        The data variable to plot.
    title
        First line of the title, e.g. the dataset id.

    Returns
    -------
    (matplotlib.figure.Figure, pandas.DataFrame)
        The map (cells coloured by value, grey where data are missing, a colour bar with the
        units), and one row ``lat, lon, value`` per grid cell with data.

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude grid, or the variable does not vary on it.
    ValueError
        When the data hold more than one time step.
    """
    da = ds[variable]
    grid = _grid(ds)
    if grid is None or not set(grid.dims) <= set(da.dims):
        raise InvalidParameter(
            "kind", f"{variable} has no latitude/longitude grid to map; plot a timeseries"
        )
    if ds.sizes.get("time", 0) > 1:
        raise ValueError("plot_map needs one time step: select it with select_timestep")
    keep = ("time", *grid.dims) if "time" in da.dims else grid.dims
    selected, notes = _first_of_other_dims(ds, da, keep)
    da = selected[variable]
    if "time" in da.dims:
        notes.insert(0, f"at {da['time'].values[0]}")
        da = da.isel(time=0)
    values = da.transpose(*grid.dims).values.astype(float)
    lat, lon = _cell_centres(grid)
    table = pd.DataFrame({"lat": lat.ravel(), "lon": lon.ravel(), "value": values.ravel()})
    table = table.dropna().reset_index(drop=True)

    fig, ax = _figure()
    ax.set_facecolor(MISSING_COLOUR)
    if grid.regular:
        mesh = ax.pcolormesh(grid.lon.values, grid.lat.values, values, shading="nearest")
    elif len(grid.dims) == 2 and np.isfinite(lat).all() and np.isfinite(lon).all():
        # longitudes made continuous along each row, so that no cell spans the grid's seam
        unwrapped = np.rad2deg(np.unwrap(np.deg2rad(lon), axis=-1))
        unwrapped -= 360.0 * np.floor((unwrapped.min() + unwrapped.max()) / 720.0)
        mesh = ax.pcolormesh(unwrapped, lat, values, shading="nearest")
    else:  # unstructured grids, and grids with cells without coordinates
        size = _marker_size(lat, lon, ax)
        mesh = ax.scatter(lon.ravel(), lat.ravel(), c=values.ravel(), s=size, marker="s")
    fig.colorbar(mesh, ax=ax, label=quantity(da), shrink=0.9)
    ax.xaxis.set_major_formatter(FuncFormatter(lon_text))
    ax.yaxis.set_major_formatter(FuncFormatter(lat_text))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    south, north = ax.get_ylim()
    ax.set_ylim(max(south, -90.0), min(north, 90.0))  # cells drawn past a pole
    middle = np.clip((np.nanmin(lat) + np.nanmax(lat)) / 2, -60, 60)
    ax.set_aspect(1 / np.cos(np.deg2rad(middle)))
    ax.set_title(title_text(title, da, notes), fontsize=9)
    return fig, table


# -- helpers -------------------------------------------------------------------------------


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _grid(ds: xr.Dataset) -> HorizontalGrid | None:
    """The latitude/longitude grid of ``ds``, or None when it has none."""
    try:
        return horizontal_grid(ds)
    except InvalidParameter:
        return None


def _cell_centres(grid: HorizontalGrid) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of every cell, along the grid's dimensions; NaN where a file
    holds no position (undeclared fill values such as 9.97e36 included)."""
    lat, lon = (
        np.array(c.transpose(*grid.dims).values, dtype=float)
        for c in xr.broadcast(grid.lat, grid.lon)
    )
    unknown = ~((np.abs(lat) <= 90) & (np.abs(lon) <= 720))
    lat[unknown] = lon[unknown] = np.nan
    return lat, lon


def _marker_size(lat: np.ndarray, lon: np.ndarray, ax: Axes) -> float:
    """Area (points squared) of square markers about as large as the cells they show."""
    known = np.isfinite(lat) & np.isfinite(lon)
    width, height = np.ptp(lon[known]) or 1.0, np.ptp(lat[known]) or 1.0
    side = ax.bbox.width * 72 / ax.figure.dpi * np.sqrt(width * height / known.sum()) / width
    return float(np.clip(side, 1.0, 20.0) ** 2)


def _first_of_other_dims(
    ds: xr.Dataset, da: xr.DataArray, keep: tuple[str, ...]
) -> tuple[xr.Dataset, list[str]]:
    """``ds`` at the first element of each dimension of ``da`` not in ``keep``, and notes
    naming the elements chosen (e.g. ``"plev = 100000 Pa (first of 19)"``, or by a label
    along the dimension: ``"member CNRM_CNRM-CM5_r1i1p1 (first of 9)"``)."""
    notes = []
    for dim in da.dims:
        if dim in keep:
            continue
        labels = [
            name
            for name, coord in ds.coords.items()
            if coord.dims == (dim,) and coord.dtype.kind in "USO" and name != dim
        ]
        if dim in ds.coords:
            value = ds[dim].values[0]
            shown = f"{value:g}" if isinstance(value, float | np.floating) else str(value)
            note = f"{dim} = {shown} {ds[dim].attrs.get('units', '')}".rstrip()
        elif labels:
            note = f"{dim} {ds[labels[0]].values[0]}"
        else:
            note = f"{dim} index 0"
        notes.append(note + (f" (first of {da.sizes[dim]})" if da.sizes[dim] > 1 else ""))
        ds = ds.isel({dim: 0})
    return ds, notes


def _extent(grid: HorizontalGrid) -> str:
    """Where the cells are: the range of their centres."""
    lat, lon = _cell_centres(grid)
    lons = longitude_range(lon[np.isfinite(lon)])
    where = "all longitudes"
    if lons is not None:
        where = f"longitudes {lon_text(lons[0])} to {lon_text(lons[1])}"
    return (
        f"the cells with centres at latitudes {lat_text(np.nanmin(lat))} to "
        f"{lat_text(np.nanmax(lat))}, {where}"
    )
