"""Subset a lazy xarray Dataset by time, time components, vertical level and area.

Selections are made by index (``isel``) from the coordinates, so nothing but coordinates
is loaded. The work is clisops' where clisops is right on the archive's grids
(:func:`clisops.core.subset.subset_time_by_components`, clisops' latitude/longitude
detection). Time, level and area selection are done here because clisops 0.18 (checked on
the test archive):

- silently returns the whole dataset when a time or level range lies outside it;
- turns an area whose west is east of its east (crossing 180 degrees, ``170,-10,-170,10``)
  into its complement;
- on curvilinear and rotated-pole grids masks the cell bounds (``vertices_latitude``,
  ``lat_bnds``) with NaN along with the data.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from clisops.core.subset import get_lat, get_lon, subset_time_by_components

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.ops.cf import bounds_names
from cp4cds_wps.ops.params import Area, LevelRange, TimeComponents, TimeRange

__all__ = ["subset"]

_LON_TOLERANCE = 1e-9


def subset(
    ds: xr.Dataset,
    *,
    time: TimeRange | None = None,
    time_components: TimeComponents | None = None,
    area: Area | None = None,
    level: LevelRange | None = None,
) -> xr.Dataset:
    """Select part of a dataset, lazily, keeping its CF metadata.

    Parameters
    ----------
    ds
        The dataset, as returned by :func:`cp4cds_wps.ops.open.open_dataset`.
    time
        Inclusive time interval; either end may be open.
    time_components
        Years, months, days, ... to keep (all given components must match).
    area
        Longitude/latitude box. Grid cells are selected by their centre. On regular grids the
        longitudes are selected in the request's order (an area crossing the dataset's seam
        gets longitudes running on from the west edge, e.g. -10..20 on a 0..360 grid); on
        curvilinear and rotated-pole grids the smallest index box holding the area is kept and
        the data variables are masked (NaN) outside the area.
    level
        Inclusive range of the vertical coordinate's values.

    Returns
    -------
    xarray.Dataset
        The selection, still lazy, with bounds variables, attributes and encodings kept.

    Raises
    ------
    InvalidParameter
        When the dataset lacks the axis a selection needs (time, vertical, latitude/longitude).
    NoDataSelected
        When a selection keeps nothing; the reason gives the dataset's actual range.
    """
    if time is not None:
        ds = _subset_time(ds, time)
    if time_components is not None:
        ds = _subset_time_components(ds, time_components)
    if level is not None:
        ds = _subset_level(ds, level)
    if area is not None:
        ds = _subset_area(ds, area)
    return ds


def _as_index(positions: np.ndarray) -> slice | np.ndarray:
    """A slice when the positions are one ascending run (cheapest for dask and netCDF)."""
    if positions.size and np.all(np.diff(positions) == 1):
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions


def _format_time(t) -> str:
    if (t.hour, t.minute, t.second) == (0, 0, 0):
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def _time_index(ds: xr.Dataset, name: str):
    if "time" not in ds.dims or "time" not in ds.indexes:
        raise InvalidParameter(name, "dataset has no time axis")
    return ds.indexes["time"]


def _time_range_text(index) -> str:
    return f"{_format_time(index[0])} to {_format_time(index[-1])}"


def _time_keys(index) -> np.ndarray:
    """Sortable integers YYYYMMDDhhmmss of the time steps, the same in every calendar."""
    keys = np.zeros(len(index), dtype=np.int64)
    for part in ("year", "month", "day", "hour", "minute", "second"):
        keys = keys * (10000 if part == "year" else 100) + np.asarray(getattr(index, part))
    return keys


def _iso_key(iso: str) -> int:
    date, clock = iso.split("T")
    return int(date.replace("-", "") + clock.replace(":", ""))


def _subset_time(ds: xr.Dataset, time: TimeRange) -> xr.Dataset:
    index = _time_index(ds, "time")
    keys = _time_keys(index)
    selected = np.ones(keys.shape, dtype=bool)
    if time.start is not None:
        selected &= keys >= _iso_key(time.start)
    if time.end is not None:
        selected &= keys <= _iso_key(time.end)
    positions = np.flatnonzero(selected)
    if positions.size == 0:
        start_key, end_key = (
            _iso_key(time.start or "0-01-01T00:00:00"),
            _iso_key(time.end or "9999-12-31T23:59:59"),
        )
        where = "is outside" if end_key < keys[0] or start_key > keys[-1] else "selects no step of"
        raise NoDataSelected(
            "time", f"time {time} {where} the dataset's time range {_time_range_text(index)}"
        )
    return ds.isel(time=_as_index(positions))


def _subset_time_components(ds: xr.Dataset, components: TimeComponents) -> xr.Dataset:
    index = _time_index(ds, "time_components")
    try:
        return subset_time_by_components(ds, time_components=components.components)
    except KeyError as exc:
        raise NoDataSelected(
            "time_components",
            f"no time step matches {components}; the dataset's time range is "
            f"{_time_range_text(index)}",
        ) from exc


def _vertical_axis(ds: xr.Dataset) -> str:
    names = ds.cf.axes.get("Z", []) + ds.cf.coordinates.get("vertical", [])
    for name in names:
        if name in ds.dims and name in ds.indexes:
            return name
    raise InvalidParameter("level", "dataset has no vertical (level) axis")


def _describe_values(values: np.ndarray, units: str) -> str:
    shown = ", ".join(f"{v:g}" for v in values)
    if values.size > 10:
        shown = f"{values.min():g} to {values.max():g} ({values.size} levels)"
    return f"{shown} {units}".strip()


def level_positions(values: np.ndarray, level: LevelRange, *, axis: str, units: str) -> np.ndarray:
    """Positions of the vertical coordinate ``values`` that ``level`` selects.

    An open end runs to the axis' first or last level, as in clisops; levels within a
    relative 1e-6 of an end count as inside.

    Raises
    ------
    NoDataSelected
        When the range holds no level; the reason lists the ``axis`` levels in ``units``.
    """
    values = np.asarray(values, dtype=float)
    first = values[0] if level.first is None else level.first
    last = values[-1] if level.last is None else level.last
    low, high = min(first, last), max(first, last)
    selected = (values >= low) & (values <= high)
    selected |= np.isclose(values, low, rtol=1e-6, atol=0)
    selected |= np.isclose(values, high, rtol=1e-6, atol=0)
    positions = np.flatnonzero(selected)
    if positions.size == 0:
        raise NoDataSelected(
            "level",
            f"level {level} selects no level of the dataset; its {axis} levels are "
            f"{_describe_values(values, units)}",
        )
    return positions


def _subset_level(ds: xr.Dataset, level: LevelRange) -> xr.Dataset:
    axis = _vertical_axis(ds)
    units = ds[axis].attrs.get("units", "")
    positions = level_positions(ds[axis].values, level, axis=axis, units=units)
    return ds.isel({axis: _as_index(positions)})


def _lat_lon(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    try:
        return get_lat(ds), get_lon(ds)
    except (KeyError, AttributeError) as exc:
        raise InvalidParameter("area", "dataset has no latitude/longitude coordinates") from exc


def _lon_offsets(lon: np.ndarray, area: Area) -> tuple[np.ndarray, float]:
    """Degrees east of the area's west edge (0..360) of each longitude, and the area's width."""
    span = area.east - area.west
    width = 360.0 if span >= 360 else span % 360
    return np.mod(lon - area.west, 360.0), width + _LON_TOLERANCE


def _grid_text(lat: np.ndarray, lon: np.ndarray) -> str:
    return (
        f"the dataset's grid covers latitudes {np.nanmin(lat):g} to {np.nanmax(lat):g} "
        f"and longitudes {np.nanmin(lon):g} to {np.nanmax(lon):g}"
    )


def lon_in_area(lon: np.ndarray, area: Area) -> np.ndarray:
    """Whether each longitude lies in the area's longitude range (any convention)."""
    offsets, width = _lon_offsets(lon, area)
    with np.errstate(invalid="ignore"):
        return offsets <= width


def no_cell_in(area: Area, lat: np.ndarray, lon: np.ndarray) -> NoDataSelected:
    """The error of an area holding no cell centre of the grid ``lat``/``lon``."""
    return NoDataSelected(
        "area", f"area {area} contains no grid cell centre; {_grid_text(lat, lon)}"
    )


def _subset_area(ds: xr.Dataset, area: Area) -> xr.Dataset:
    lat, lon = _lat_lon(ds)
    if lat.ndim == 1 and lon.ndim == 1 and lat.dims != lon.dims:
        return _subset_regular(ds, lat, lon, area)
    return _subset_masked(ds, lat, lon, area)


def _subset_regular(ds: xr.Dataset, lat: xr.DataArray, lon: xr.DataArray, area: Area):
    lat_values = np.asarray(lat.values, dtype=float)
    lon_values = np.asarray(lon.values, dtype=float)
    lat_pos = np.flatnonzero((lat_values >= area.south) & (lat_values <= area.north))
    offsets, width = _lon_offsets(lon_values, area)
    lon_pos = np.flatnonzero(offsets <= width)
    if lat_pos.size == 0 or lon_pos.size == 0:
        raise no_cell_in(area, lat_values, lon_values)
    if lon_pos.size < lon_values.size:
        # Start at the west edge: an area across the grid's seam becomes one increasing run.
        lon_pos = lon_pos[np.argsort(offsets[lon_pos], kind="stable")]
    wraps = np.any(np.diff(lon_pos) < 0)
    ds = ds.isel({lat.dims[0]: _as_index(lat_pos), lon.dims[0]: _as_index(lon_pos)})
    if wraps:
        ds = _relabel_longitudes(ds, lon.name, area.west)
    return ds


def _relabel_longitudes(ds: xr.Dataset, name: str, west: float) -> xr.Dataset:
    """Shift longitudes by whole turns so that they increase from the area's west edge."""
    values = np.asarray(ds[name].values, dtype=float)
    turns = np.round((west + np.mod(values - west, 360.0) - values) / 360.0)
    lon = ds[name].variable
    ds = ds.assign_coords({name: lon.copy(data=(values + 360.0 * turns).astype(lon.dtype))})
    bounds = lon.attrs.get("bounds")
    if bounds in ds.variables:
        var = ds[bounds].variable
        shift = 360.0 * turns.reshape((-1,) + (1,) * (var.ndim - 1))
        ds = ds.assign({bounds: var.copy(data=(var.values + shift).astype(var.dtype))})
    return ds


def _subset_masked(ds: xr.Dataset, lat: xr.DataArray, lon: xr.DataArray, area: Area):
    lat, lon = xr.broadcast(lat.reset_coords(drop=True), lon.reset_coords(drop=True))
    lat_values = np.asarray(lat.values, dtype=float)
    lon_values = np.asarray(lon.values, dtype=float)
    offsets, width = _lon_offsets(lon_values, area)
    with np.errstate(invalid="ignore"):
        inside = (lat_values >= area.south) & (lat_values <= area.north) & (offsets <= width)
    if not inside.any():
        raise no_cell_in(area, lat_values, lon_values)
    box = {}
    for axis, dim in enumerate(lat.dims):
        others = tuple(i for i in range(inside.ndim) if i != axis)
        positions = np.flatnonzero(inside.any(axis=others))
        box[dim] = slice(int(positions[0]), int(positions[-1]) + 1)
    ds = ds.isel(box)
    mask = xr.DataArray(inside[tuple(box[d] for d in lat.dims)], dims=lat.dims)
    keep = bounds_names(ds) | {lat.name, lon.name}
    masked = {}
    for name, var in ds.data_vars.items():
        if name in keep or not set(lat.dims) <= set(var.dims):
            continue
        if not np.issubdtype(var.dtype, np.floating):
            continue
        masked[name] = var.where(mask)
        masked[name].attrs = var.attrs
        masked[name].encoding = var.encoding
    return ds.assign(masked)
