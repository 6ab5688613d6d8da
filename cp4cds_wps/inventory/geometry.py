"""What a dataset's first file tells about its grid, levels and variables.

Read lazily (the scan does not open files for it) and cached by the inventory: the kind of
horizontal grid (regular, curvilinear, rotated pole, unstructured), its extent, the vertical
levels with their units, and every variable with its dimensions, shape and type.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import netCDF4
import numpy as np
from xarray.backends.locks import HDF5_LOCK

#: Kinds of horizontal grid.
GRID_TYPES = ("regular", "curvilinear", "rotated_pole", "unstructured", "none")
#: Longest 1-D latitude or longitude axis whose values are kept (regular grids).
_MAX_AXIS_VALUES = 20_000
_ROTATED_NAMES = ("grid_latitude", "grid_longitude")
#: Coordinates beyond these are fill values that the file does not declare as such.
_MAX_LAT = 90.001
_MAX_LON = 720.0


@contextmanager
def opened(path: Path) -> Iterator[netCDF4.Dataset]:
    """The netCDF file at ``path``, open while no other thread of this process uses netCDF.

    The netCDF and HDF5 libraries are not thread-safe, netCDF4 releases the GIL in them,
    and web server threads read files at once (checking requests against the limits, the
    meta-WPS): a crash, else. The lock is xarray's, so its reads wait as well.
    """
    with HDF5_LOCK, netCDF4.Dataset(path) as nc:
        yield nc


@dataclass(frozen=True)
class Variable:
    """A variable of a dataset's file.

    ``role`` is ``data`` (a data variable), ``coordinate`` (a coordinate variable or one
    named in a ``coordinates`` attribute) or ``bounds`` (named by ``bounds`` or
    ``climatology``). ``dtype`` is a numpy type name; ``itemsize`` its bytes (8 for strings).
    """

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    role: str
    units: str | None = None
    long_name: str | None = None
    standard_name: str | None = None


@dataclass(frozen=True)
class Levels:
    """The vertical axis: its coordinate, values (in file order) and units."""

    name: str
    values: tuple[float, ...]
    units: str | None = None
    positive: str | None = None
    standard_name: str | None = None


@dataclass(frozen=True)
class Geometry:
    """Grid, levels and variables of a dataset, from its first file.

    ``grid_dims`` are the horizontal dimensions of the dataset's variable, ``time_dim`` its
    time dimension, ``lat_dims``/``lon_dims`` those of its latitude and longitude. ``extent``
    holds ``west``, ``east``, ``south`` and ``north`` of the cell centres (degrees).
    ``lat``/``lon`` keep the axis values of regular grids (else empty).
    """

    variable: str
    grid_type: str
    grid_dims: tuple[str, ...] = ()
    time_dim: str | None = None
    lat_name: str | None = None
    lon_name: str | None = None
    lat_dims: tuple[str, ...] = ()
    lon_dims: tuple[str, ...] = ()
    extent: dict[str, float] | None = None
    lat: tuple[float, ...] = ()
    lon: tuple[float, ...] = ()
    levels: Levels | None = None
    variables: tuple[Variable, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """The geometry as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Geometry:
        """The geometry from :meth:`to_dict`'s data."""
        data = dict(data)
        levels = data.pop("levels")
        variables = data.pop("variables")
        return cls(
            **{
                **data,
                "grid_dims": tuple(data["grid_dims"]),
                "lat_dims": tuple(data["lat_dims"]),
                "lon_dims": tuple(data["lon_dims"]),
                "lat": tuple(data["lat"]),
                "lon": tuple(data["lon"]),
            },
            levels=None if levels is None else _levels(levels),
            variables=tuple(
                Variable(**{**v, "dims": tuple(v["dims"]), "shape": tuple(v["shape"])})
                for v in variables
            ),
        )

    def main(self) -> Variable | None:
        """The dataset's variable (the one its id names), if the file holds it."""
        return next((v for v in self.variables if v.name == self.variable), None)


def _levels(data: Mapping) -> Levels:
    return Levels(**{**data, "values": tuple(data["values"])})


def _attr(var, name: str) -> str | None:
    value = getattr(var, name, None)
    return value if isinstance(value, str) else None


def _roles(nc: netCDF4.Dataset) -> dict[str, str]:
    coordinates: set[str] = set()
    bounds: set[str] = set()
    for name, var in nc.variables.items():
        if var.dimensions == (name,):
            coordinates.add(name)
        coordinates.update((_attr(var, "coordinates") or "").split())
        for key in ("bounds", "climatology"):
            if _attr(var, key):
                bounds.add(_attr(var, key))
    return {
        name: "bounds" if name in bounds else "coordinate" if name in coordinates else "data"
        for name in nc.variables
    }


def _describe(var, role: str) -> Variable:
    dtype = np.dtype(var.dtype) if var.dtype is not str else np.dtype(object)
    return Variable(
        name=var.name,
        dims=tuple(var.dimensions),
        shape=tuple(int(n) for n in var.shape),
        dtype="str" if dtype.kind in "OSU" and var.dtype is str else dtype.name,
        itemsize=8 if dtype.kind == "O" else int(dtype.itemsize),
        role=role,
        units=_attr(var, "units"),
        long_name=_attr(var, "long_name"),
        standard_name=_attr(var, "standard_name"),
    )


def _is_time(var) -> bool:
    return _attr(var, "axis") == "T" or " since " in (_attr(var, "units") or "")


def _is_vertical(var) -> bool:
    return _attr(var, "axis") == "Z" or _attr(var, "positive") is not None


def _find(nc: netCDF4.Dataset, candidates: list[str], standard: str, units: str) -> str | None:
    """The first candidate with the standard name, else the first with the units."""
    found = [nc.variables[n] for n in dict.fromkeys(candidates) if n in nc.variables]
    by_name = [v.name for v in found if _attr(v, "standard_name") == standard]
    by_units = [v.name for v in found if _attr(v, "units") == units]
    return next(iter(by_name + by_units), None)


def _values(var, limit: float | None = None) -> np.ndarray:
    """The values of a variable as floats, NaN where masked (or beyond +-``limit``)."""
    values = np.ma.filled(np.ma.asarray(var[:], dtype=float), np.nan)
    if limit is not None:
        values[np.abs(values) > limit] = np.nan
    return values


def read_geometry(path: Path, variable: str | None) -> Geometry:
    """Read the grid, levels and variables of a dataset from one of its files.

    Parameters
    ----------
    path
        A netCDF file of the dataset (the first).
    variable
        The dataset's variable; None or absent from the file: the first data variable.

    Returns
    -------
    Geometry
    """
    with opened(path) as nc:
        roles = _roles(nc)
        data_vars = [n for n, r in roles.items() if r == "data" and nc.variables[n].ndim]
        if variable not in nc.variables:
            variable = data_vars[0] if data_vars else None
        variables = tuple(_describe(nc.variables[n], roles[n]) for n in nc.variables)
        if variable is None:
            return Geometry(variable="", grid_type="none", variables=variables)
        var = nc.variables[variable]
        dims = tuple(var.dimensions)
        time_dim = next((d for d in dims if d in nc.variables and _is_time(nc.variables[d])), None)
        vertical = next(
            (d for d in dims if d in nc.variables and _is_vertical(nc.variables[d])), None
        )
        candidates = [*(_attr(var, "coordinates") or "").split(), *dims, *nc.variables]
        lat_name = _find(nc, candidates, "latitude", "degrees_north")
        lon_name = _find(nc, candidates, "longitude", "degrees_east")
        levels = None
        if vertical is not None:
            axis = nc.variables[vertical]
            levels = Levels(
                name=vertical,
                values=tuple(float(v) for v in _values(axis)),
                units=_attr(axis, "units"),
                positive=_attr(axis, "positive"),
                standard_name=_attr(axis, "standard_name"),
            )
        if lat_name is None or lon_name is None:
            return Geometry(
                variable=variable,
                grid_type="none",
                time_dim=time_dim,
                levels=levels,
                variables=variables,
            )
        lat_var, lon_var = nc.variables[lat_name], nc.variables[lon_name]
        grid_dims = tuple(d for d in dims if d in (*lat_var.dimensions, *lon_var.dimensions))
        lat, lon = _values(lat_var, _MAX_LAT), _values(lon_var, _MAX_LON)
        grid_type = _grid_type(nc, var, lat_var, lon_var)
        regular = grid_type == "regular" and max(lat.size, lon.size) <= _MAX_AXIS_VALUES
        return Geometry(
            variable=variable,
            grid_type=grid_type,
            grid_dims=grid_dims,
            time_dim=time_dim,
            lat_name=lat_name,
            lon_name=lon_name,
            lat_dims=tuple(lat_var.dimensions),
            lon_dims=tuple(lon_var.dimensions),
            extent={
                "west": float(np.nanmin(lon)),
                "east": float(np.nanmax(lon)),
                "south": float(np.nanmin(lat)),
                "north": float(np.nanmax(lat)),
            },
            lat=tuple(float(v) for v in lat) if regular else (),
            lon=tuple(float(v) for v in lon) if regular else (),
            levels=levels,
            variables=variables,
        )


def _grid_type(nc: netCDF4.Dataset, var, lat_var, lon_var) -> str:
    mapping = nc.variables.get(_attr(var, "grid_mapping") or "")
    if mapping is not None and _attr(mapping, "grid_mapping_name") == "rotated_latitude_longitude":
        return "rotated_pole"
    axes = [nc.variables[d] for d in var.dimensions if d in nc.variables]
    standard = {_attr(axis, "standard_name") for axis in axes}
    if standard >= set(_ROTATED_NAMES):
        return "rotated_pole"
    if lat_var.ndim == 1 and lon_var.ndim == 1:
        return "regular" if lat_var.dimensions != lon_var.dimensions else "unstructured"
    return "curvilinear"


def read_lat_lon(path: Path, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Read the latitudes and longitudes of a dataset's grid (NaN where masked).

    Regular grids are answered from ``geometry`` when it kept their values.

    Raises
    ------
    ValueError
        When the dataset has no latitude/longitude.
    """
    if geometry.lat_name is None or geometry.lon_name is None:
        raise ValueError("the dataset has no latitude/longitude coordinates")
    if geometry.lat and geometry.lon:
        return np.asarray(geometry.lat), np.asarray(geometry.lon)
    with opened(path) as nc:
        lat = _values(nc.variables[geometry.lat_name], _MAX_LAT)
        return lat, _values(nc.variables[geometry.lon_name], _MAX_LON)


def compressed_fraction(
    path: Path, variable: str, index: Mapping[str, np.ndarray], max_bytes: int = 2**20
) -> float | None:
    """Estimate how small zlib (level 1, shuffled, as the service writes) makes a selection.

    Reads up to ``max_bytes`` of the selection, from its start: whole slices along the first
    dimension (e.g. whole fields) as far as they fit, then parts of one slice.

    Parameters
    ----------
    path
        A file of the dataset.
    variable
        The variable to sample.
    index
        Positions selected along some dimensions (all positions of the others).
    max_bytes
        Most bytes of values sampled.

    Returns
    -------
    float or None
        Compressed size over raw size, or None when nothing numeric can be sampled.
    """
    with opened(path) as nc:
        var = nc.variables.get(variable)
        if var is None or np.dtype(var.dtype).kind not in "iuf" or not var.ndim:
            return None
        var.set_auto_mask(False)
        positions = [
            np.asarray(index.get(d, np.arange(n)))
            for d, n in zip(var.dimensions, var.shape, strict=True)
        ]
        if any(p.size == 0 for p in positions):
            return None
        budget = max(1, max_bytes // np.dtype(var.dtype).itemsize)  # values to read
        for i, p in enumerate(positions):
            rest = int(np.prod([q.size for q in positions[i + 1 :]]))
            positions[i] = p[: max(1, budget // rest)]
            budget = max(1, budget // positions[i].size)
        values = _read(var, positions)
    raw = np.ascontiguousarray(values)
    if raw.nbytes == 0:
        return None
    shuffled = raw.view(np.uint8).reshape(-1, raw.dtype.itemsize).T.tobytes()
    return len(zlib.compress(shuffled, 1)) / raw.nbytes


def _read(var, positions: list[np.ndarray]) -> np.ndarray:
    """Read ``var`` at the outer product of ``positions``, as a box then picked."""
    box = tuple(slice(int(p.min()), int(p.max()) + 1) for p in positions)
    data = np.asarray(var[box])
    return data[np.ix_(*[p - p.min() for p in positions])]
