"""Regridding of a lazy xarray Dataset onto a regular latitude-longitude grid.

Two engines share one interface, chosen by the kind of source grid:

- rectilinear sources (1-D latitude and longitude along their own dimensions) are regridded
  with xarray-regrid (``nearest_s2d``: its ``nearest``, ``bilinear``: ``linear``,
  ``conservative``: ``conservative``), one dask chunk at a time. It bounds the source cells
  by the midpoints between coordinates (not by the files' bounds), takes the nearest
  latitude row and longitude column, closes global grids across the date line, and adds a
  point at each pole holding the mean of the polar row when the grid comes within a row's
  spacing of the pole (targets nearer the pole than that row take or interpolate towards
  that mean). Its conservative weights spread each source cell evenly in degrees of
  latitude: area means are kept to about 1e-5;
- curvilinear, rotated-pole and unstructured sources (latitude and longitude varying along
  the same dimensions) get SCRIP weights from CDO (``gennn``, ``genbil``, ``gencon``),
  computed once on a one-field sample of the grid written in a work folder, and applied
  lazily as a sparse matrix, one dask chunk at a time. Nearest neighbours are the nearest
  on the sphere. Conservative weights need the cell corners: the latitude/longitude bounds
  of the files, or, on a rotated-pole grid with its ``grid_mapping``, those CDO derives
  from the rotated axes; they keep area means to about 1e-6.

Missing values (NaN, e.g. land cells of ocean data) are left out and the weights of the
valid source cells renormalised, as CDO's conservative remapping does: a target cell is the
weighted mean of the valid source values that reach it, and missing when none does (so
bilinear values exist next to missing cells where CDO's need four valid neighbours; a
nearest neighbour that is missing stays missing). Nothing is extrapolated: target cells
outside a regional source grid are missing for every method.

Target grids are regular in latitude and longitude, with cell edges on multiples of the
step: the named grids and ``custom_grid="dlon dlat"`` span -90 to 90 north and 0 to 360
east (the first cell centre is half a step east of 0 and north of -90);
``custom_grid="lon0 lon1 dlon lat0 lat1 dlat"`` gives the cells between those edges (a
regional grid, longitudes as given, e.g. -30 to 50). ``auto`` picks the named grid closest
to the source's typical cell size.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import netCDF4
import numpy as np
import scipy.sparse
import xarray as xr
import xarray_regrid  # noqa: F401  (registers the ``.regrid`` accessor)

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter, NoDataSelected
from cp4cds_wps.ops.open import CHUNK_BYTES
from cp4cds_wps.ops.weights import EARTH_RADIUS, HorizontalGrid, cell_areas, horizontal_grid

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_METHOD",
    "GRIDS",
    "METHODS",
    "GridSpec",
    "cell_size",
    "parse_grid",
    "parse_method",
    "regrid",
    "target_grid",
]

#: Regridding methods, by their xESMF names (as rook's).
METHODS = ("nearest_s2d", "bilinear", "conservative")
#: Target grids and their step in degrees (``auto`` and ``custom`` are resolved later).
GRIDS: dict[str, float | None] = {
    "auto": None,
    "0pt25deg": 0.25,
    "0pt5deg": 0.5,
    "1deg": 1.0,
    "1pt25deg": 1.25,
    "2pt5deg": 2.5,
    "custom": None,
}
#: The method and grid of a request that names none (as rook's).
DEFAULT_METHOD = "nearest_s2d"
DEFAULT_GRID = "auto"
#: Most cells of a target grid (a global 0.1 degree grid).
MAX_CELLS = 1800 * 3600
#: The CDO operator computing the weights of each method.
_CDO_OPERATORS = {"nearest_s2d": "gennn", "bilinear": "genbil", "conservative": "gencon"}
#: No extrapolation beyond the source grid; conservative weights normalised by the area of
#: the target cell covered by source cells (CDO's default, set so that it cannot change).
_CDO_ENV = {"REMAP_EXTRAPOLATE": "off", "CDO_REMAP_NORM": "fracarea"}
#: The start of CDO's error lines, e.g. ``cdo    gencon (Abort): ``.
_CDO_PREFIX = re.compile(r"^cdo\s+\w*\s*\((Abort|Error)\):\s*")
#: Attributes of the source variables that describe the source grid.
_GRID_ATTRS = ("cell_measures", "coordinates", "grid_mapping", "CDI_grid_type")
_CUSTOM_FORM = (
    "give 'dlon dlat' (a global grid) or 'lon0 lon1 dlon lat0 lat1 dlat' (cell edges and "
    "steps) in degrees, e.g. '2 1.5' or '-30 50 0.5 30 75 0.5'"
)
_LAT_ATTRS = {
    "standard_name": "latitude",
    "long_name": "latitude",
    "units": "degrees_north",
    "axis": "Y",
    "bounds": "lat_bnds",
}
_LON_ATTRS = {
    "standard_name": "longitude",
    "long_name": "longitude",
    "units": "degrees_east",
    "axis": "X",
    "bounds": "lon_bnds",
}


@dataclass(frozen=True)
class GridSpec:
    """A target grid: cells of ``dlon`` by ``dlat`` degrees between the edges ``lon0`` to
    ``lon1`` east and ``lat0`` to ``lat1`` north.

    ``name`` is a key of :data:`GRIDS`; the steps of an ``auto`` grid are None until
    :func:`target_grid` resolves it against a dataset.
    """

    name: str
    dlon: float | None = None
    dlat: float | None = None
    lon0: float = 0.0
    lon1: float = 360.0
    lat0: float = -90.0
    lat1: float = 90.0

    @property
    def shape(self) -> tuple[int, int]:
        """Number of cells along latitude and longitude."""
        return (
            round((self.lat1 - self.lat0) / self.dlat),
            round((self.lon1 - self.lon0) / self.dlon),
        )

    def lat_edges(self) -> np.ndarray:
        """The latitudes of the cell edges, south to north."""
        return np.linspace(self.lat0, self.lat1, self.shape[0] + 1)

    def lon_edges(self) -> np.ndarray:
        """The longitudes of the cell edges, west to east."""
        return np.linspace(self.lon0, self.lon1, self.shape[1] + 1)

    @property
    def custom_grid(self) -> str:
        """The grid in the form of the ``custom_grid`` input."""
        values = (self.lon0, self.lon1, self.dlon, self.lat0, self.lat1, self.dlat)
        return " ".join(f"{v:g}" for v in values)

    def describe(self) -> str:
        """The grid in words, e.g. ``global 1x1 degree latitude-longitude grid (180x360)``."""
        nlat, nlon = self.shape
        where = (
            "global"
            if (self.lat0, self.lat1, self.lon1 - self.lon0) == (-90, 90, 360)
            else f"regional ({self.lon0:g} to {self.lon1:g} E, {self.lat0:g} to {self.lat1:g} N)"
        )
        return (
            f"{where} {self.dlon:g}x{self.dlat:g} degree (lon x lat) latitude-longitude grid "
            f"of {nlat}x{nlon} cells"
        )


def _words(text: str | None) -> list[str]:
    return (text or "").replace(",", " ").split()


def parse_method(text: str | None, name: str = "method") -> str:
    """Parse a regridding method: one of :data:`METHODS` (any case); :data:`DEFAULT_METHOD`
    when none is given.

    Raises
    ------
    InvalidParameter
        On any other value.
    """
    words = [w.lower() for w in _words(text)] or [DEFAULT_METHOD]
    if len(words) > 1 or words[0] not in METHODS:
        raise InvalidParameter(name, f"{text!r} is not one of {', '.join(METHODS)}")
    return words[0]


def parse_grid(grid: str | None, custom_grid: str | None) -> GridSpec:
    """Parse the ``grid`` and ``custom_grid`` inputs into a target grid.

    Parameters
    ----------
    grid
        A key of :data:`GRIDS` (any case); :data:`DEFAULT_GRID` when not given.
    custom_grid
        With ``grid`` ``custom`` only: ``"dlon dlat"`` for a global grid, or
        ``"lon0 lon1 dlon lat0 lat1 dlat"`` (cell edges and steps, degrees; commas or
        spaces between the numbers). The steps must divide the spans into whole cells.

    Returns
    -------
    GridSpec
        Without steps for ``auto`` (see :func:`target_grid`).

    Raises
    ------
    InvalidParameter
        On an unknown grid, ``custom`` without or with a malformed ``custom_grid``, or a
        ``custom_grid`` with another grid.
    """
    words = [w.lower() for w in _words(grid)] or [DEFAULT_GRID]
    if len(words) > 1 or words[0] not in GRIDS:
        raise InvalidParameter("grid", f"{grid!r} is not one of {', '.join(GRIDS)}")
    name = words[0]
    if name == "custom":
        return _custom_grid(custom_grid)
    if _words(custom_grid):
        raise InvalidParameter(
            "custom_grid", f"is only used with grid custom, not with grid {name}; leave it out"
        )
    return GridSpec(name, GRIDS[name], GRIDS[name])


def _custom_grid(text: str | None) -> GridSpec:
    parts = _words(text)
    if not parts:
        raise InvalidParameter("custom_grid", f"grid custom needs a custom_grid: {_CUSTOM_FORM}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameter("custom_grid", f"{text!r} is not numbers: {_CUSTOM_FORM}") from None
    if len(values) == 2:
        (dlon, dlat), (lon0, lon1, lat0, lat1) = values, (0.0, 360.0, -90.0, 90.0)
    elif len(values) == 6:
        lon0, lon1, dlon, lat0, lat1, dlat = values
    else:
        raise InvalidParameter("custom_grid", f"{text!r} has {len(values)} numbers: {_CUSTOM_FORM}")
    reason = None
    if not all(math.isfinite(v) for v in values):
        reason = "every number must be finite"
    elif dlon <= 0 or dlat <= 0:
        reason = "the steps dlon and dlat must be positive"
    elif not -90 <= lat0 < lat1 <= 90:
        reason = "latitudes must satisfy -90 <= lat0 < lat1 <= 90"
    elif not lon0 < lon1 <= lon0 + 360:
        reason = "longitudes must satisfy lon0 < lon1 <= lon0 + 360"
    else:
        for axis, span, step in (("longitude", lon1 - lon0, dlon), ("latitude", lat1 - lat0, dlat)):
            cells = span / step
            if round(cells) < 1 or abs(cells - round(cells)) > 1e-6 * cells:
                reason = (
                    f"the {axis} step {step:g} does not divide {span:g} degrees into whole cells"
                )
                break
    if reason is None:
        spec = GridSpec("custom", dlon, dlat, lon0, lon1, lat0, lat1)
        if math.prod(spec.shape) > MAX_CELLS:
            reason = f"{math.prod(spec.shape)} cells are too many; at most {MAX_CELLS}"
        else:
            return spec
    raise InvalidParameter("custom_grid", f"{text!r}: {reason}")


def target_grid(ds: xr.Dataset, grid: GridSpec) -> GridSpec:
    """``grid``, or for ``auto`` the named grid whose step is closest (in ratio) to the
    typical cell size of ``ds`` (see :func:`cell_size`)."""
    if grid.name != "auto":
        return grid
    size = cell_size(ds)
    named = {n: step for n, step in GRIDS.items() if step is not None}
    name = min(named, key=lambda n: abs(math.log(named[n] / size)))
    return GridSpec(name, named[name], named[name])


def cell_size(ds: xr.Dataset) -> float:
    """The typical width of the cells of the dataset's horizontal grid, in degrees.

    The square root of the median over cells of the cell area divided by the cosine of the
    cell's latitude: the width a cell of that area has on the equator, which is the step of
    a regular latitude-longitude grid. Areas come from the cell bounds (so that a selection
    of scattered cells still shows the model's resolution), or without bounds from the
    distances to the neighbouring cells along the grid's dimensions.

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude, or neither bounds nor two cells along
        two dimensions.
    """
    grid = horizontal_grid(ds, "collection")
    lat, lon = (np.deg2rad(np.asarray(a.values, dtype=float)) for a in _positions(grid))
    areas = cell_areas(ds)
    if areas.attrs["units"] == "m2":
        areas = areas.values / EARTH_RADIUS**2
    else:
        spacings = [_spacing(lat, lon, axis) for axis in range(lat.ndim) if lat.shape[axis] > 1]
        if len(spacings) < 2:
            raise InvalidParameter(
                "grid",
                "the dataset's grid has no cell bounds and too few cells to tell its "
                "resolution; choose a grid other than auto",
            )
        areas = spacings[0] * spacings[1]
    cosine = np.cos(lat)
    usable = (areas > 0) & (cosine > 1e-6)
    if not usable.any():
        raise InvalidParameter(
            "grid",
            "the sizes of the dataset's cells are unknown (no valid positions or bounds); "
            "choose a grid other than auto",
        )
    return float(np.degrees(np.sqrt(np.median(areas[usable] / cosine[usable]))))


def _spacing(lat: np.ndarray, lon: np.ndarray, axis: int) -> np.ndarray:
    """The distance (radians) of each cell to its neighbours along ``axis``: the mean of
    those before and after it."""
    n = lat.shape[axis]
    first, second = np.arange(n - 1), np.arange(1, n)
    gaps = _arc(
        np.take(lat, first, axis), np.take(lon, first, axis),
        np.take(lat, second, axis), np.take(lon, second, axis),
    )  # fmt: skip
    before = np.concatenate([np.take(gaps, [0], axis), gaps], axis)
    after = np.concatenate([gaps, np.take(gaps, [-1], axis)], axis)
    return (before + after) / 2


def _positions(grid: HorizontalGrid) -> tuple[xr.DataArray, xr.DataArray]:
    """Latitude and longitude of every cell, along the grid's dimensions."""
    lat, lon = xr.broadcast(grid.lat, grid.lon)
    return lat.transpose(*grid.dims), lon.transpose(*grid.dims)


def _arc(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in radians between points given in radians (haversine)."""
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


# -- regridding ----------------------------------------------------------------------------


def regrid(ds: xr.Dataset, *, method: str, grid: GridSpec, work_dir: Path) -> xr.Dataset:
    """Regrid every data variable on the dataset's horizontal grid onto ``grid``.

    Parameters
    ----------
    ds
        A dataset as opened by :func:`cp4cds_wps.ops.open.open_dataset`, with CF
        latitude/longitude coordinates (regular, curvilinear, rotated-pole or unstructured).
    method
        One of :data:`METHODS`.
    grid
        The target grid (``auto`` is resolved here, see :func:`target_grid`).
    work_dir
        An existing folder for CDO's files (curvilinear and other non-rectilinear grids):
        they go into a temporary subfolder removed before returning.

    Returns
    -------
    xarray.Dataset
        Lazy (dask-backed) regridded variables, each chunk at most
        :data:`cp4cds_wps.ops.open.CHUNK_BYTES` large, with their attributes (but those
        naming the source grid: ``cell_measures``, ``grid_mapping``, ``coordinates``) and
        encodings; the other variables (time and its bounds, levels and their bounds, ...)
        as they were; the source grid's coordinates, bounds and grid mapping replaced by
        ``lat``, ``lon``, ``lat_bnds`` and ``lon_bnds``. A CMIP6 ``grid`` attribute
        describes the new grid; ``nominal_resolution`` is removed.

    Raises
    ------
    InvalidParameter
        On an unknown method, a dataset without latitude/longitude or without a variable on
        them, a rectilinear grid with a single latitude or longitude, conservative
        regridding of a non-rectilinear grid without cell corners, or a grid CDO cannot
        handle with ``method``.
    DatasetInconsistent
        When latitude or longitude (or, for conservative regridding, the cell corners) are
        missing or invalid at some cells of a non-rectilinear grid.
    NoDataSelected
        When no target cell lies within a non-rectilinear source grid.
    """
    if method not in METHODS:
        raise InvalidParameter("method", f"{method!r} is not one of {', '.join(METHODS)}")
    hgrid = horizontal_grid(ds, "collection")
    names = _regridded_names(ds, hgrid)
    if not names:
        raise InvalidParameter(
            "collection",
            "no data variable of the dataset lies on its latitude-longitude grid "
            f"({', '.join(hgrid.dims)}): nothing to regrid",
        )
    target = target_grid(ds, grid)
    if hgrid.regular:
        if min(hgrid.lat.size, hgrid.lon.size) < 2:
            raise InvalidParameter(
                "collection",
                f"the dataset's grid has {hgrid.lat.size} latitude(s) and {hgrid.lon.size} "
                "longitude(s); regridding it needs at least two of each",
            )
        values = {name: _rectilinear(ds[name], hgrid, method, target) for name in names}
    else:
        matrix = _cdo_weights(ds, hgrid, names, method, target, Path(work_dir))
        values = {name: _apply_weights(ds[name], hgrid.dims, matrix, target) for name in names}
    return _assembled(ds, values, hgrid, target, method)


def _regridded_names(ds: xr.Dataset, grid: HorizontalGrid) -> list[str]:
    """The numeric data variables on the whole horizontal grid, but bounds and cell
    measures."""
    auxiliary = set()
    for var in ds.variables.values():
        auxiliary.add(var.attrs.get("bounds", var.encoding.get("bounds")))
        measures = var.attrs.get("cell_measures", "").split()
        auxiliary.update(measures[1::2])
    return [
        str(name)
        for name, var in ds.data_vars.items()
        if set(grid.dims) <= set(var.dims) and name not in auxiliary and var.dtype.kind in "iuf"
    ]


def _chunked(var: xr.DataArray, grid_dims: tuple[str, ...], target: GridSpec) -> xr.DataArray:
    """``var`` (dask-backed) with whole grids per chunk, its other dimensions cut so that one
    regridded chunk (in float64) stays within ``CHUNK_BYTES``."""
    var = var.reset_coords(drop=True)
    budget = max(1, CHUNK_BYTES // (8 * math.prod(target.shape)))
    chunks: dict[str, int] = {dim: -1 for dim in grid_dims}
    for dim in reversed([d for d in var.dims if d not in grid_dims]):
        size = var.sizes[dim]
        current = max(var.chunksizes[dim]) if var.chunks is not None else size
        chunks[dim] = max(1, min(size, budget, current))
        budget = max(1, budget // size) if chunks[dim] == size else 1
    return var.chunk(chunks)


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def _target_dataset(target: GridSpec) -> xr.Dataset:
    return xr.Dataset(
        coords={
            "lat": ("lat", _centres(target.lat_edges()), {"units": "degrees_north"}),
            "lon": ("lon", _centres(target.lon_edges()), {"units": "degrees_east"}),
        }
    )


def _rectilinear(
    var: xr.DataArray, grid: HorizontalGrid, method: str, target: GridSpec
) -> xr.DataArray:
    """``var`` regridded lazily with xarray-regrid, dimensions ``(..., lat, lon)``.

    xarray-regrid runs on the numpy data of one dask chunk at a time: on dask arrays its
    conservative method splits the work into tens of thousands of tiny tasks.
    """
    nlat, nlon = target.shape
    cells = _target_dataset(target)
    coords = {"lat": grid.lat.values, "lon": grid.lon.values}
    dtype = var.dtype if var.dtype.kind == "f" else np.dtype(np.float64)

    def regridded(block: np.ndarray) -> np.ndarray:
        lead = block.shape[:-2]
        da = xr.DataArray(
            block.reshape(-1, *block.shape[-2:]), dims=("stack", "lat", "lon"), coords=coords
        )
        if method == "nearest_s2d":
            out = da.regrid.nearest(cells)
        elif method == "bilinear":
            # the interpolation of the valid values, renormalised by that of the valid mask
            values = da.astype(np.float64)
            sums = values.fillna(0.0).regrid.linear(cells)
            weights = values.notnull().astype(np.float64).regrid.linear(cells)
            out = sums / weights.where(weights > 0)
        else:
            out = da.regrid.conservative(
                cells, latitude_coord="lat", skipna=True, nan_threshold=1.0
            )
        values = out.transpose("stack", "lat", "lon").values
        return values.reshape(*lead, nlat, nlon).astype(dtype)

    return _blockwise(regridded, var, (grid.lat.dims[0], grid.lon.dims[0]), target, dtype)


def _blockwise(
    func, var: xr.DataArray, grid_dims: tuple[str, ...], target: GridSpec, dtype: np.dtype
) -> xr.DataArray:
    """``func`` applied to each chunk of ``var`` (grid dimensions last, in the order of
    ``grid_dims``), which it regrids onto ``target``: dimensions ``(..., lat, lon)``."""
    nlat, nlon = target.shape
    return xr.apply_ufunc(
        func,
        _chunked(var, grid_dims, target),
        input_core_dims=[list(grid_dims)],
        output_core_dims=[["lat", "lon"]],
        exclude_dims=set(grid_dims),
        dask="parallelized",
        output_dtypes=[dtype],
        dask_gufunc_kwargs={"output_sizes": {"lat": nlat, "lon": nlon}},
    )


# -- weights from CDO ----------------------------------------------------------------------


@cache
def _cdo_program() -> str:
    """The path of the ``cdo`` program (Debian: ``/usr/bin/cdo``)."""
    found = shutil.which("cdo")
    if found is None:
        raise RuntimeError("regridding this grid needs the cdo program, which is not installed")
    return found


def _run_cdo(operator: str, grid_file: Path, sample: Path, weights: Path) -> None:
    """Run ``cdo -s <operator>,<grid_file> <sample> <weights>``.

    CDO is run as a program rather than through its Python binding: the binding installs
    process-wide signal handlers (after which SIGTERM no longer ends a worker) and runs CDO
    four more times per call.

    Raises
    ------
    subprocess.CalledProcessError
        When CDO fails; its message is in ``stderr``.
    """
    subprocess.run(
        [_cdo_program(), "-s", f"-{operator},{grid_file}", str(sample), str(weights)],
        env={**os.environ, **_CDO_ENV},
        capture_output=True,
        text=True,
        check=True,
    )


def _rotated_axes(
    ds: xr.Dataset, names: list[str], grid: HorizontalGrid
) -> tuple[str, xr.DataArray, xr.DataArray] | None:
    """The rotated-pole grid mapping and the rotated latitude and longitude axes, if the
    variables have them."""
    for name in names:
        mapping = ds[name].attrs.get("grid_mapping", ds[name].encoding.get("grid_mapping"))
        if mapping not in ds.variables:
            continue
        if ds[mapping].attrs.get("grid_mapping_name") != "rotated_latitude_longitude":
            continue
        axes = {
            ds[d].attrs.get("standard_name"): ds[d]
            for d in grid.dims
            if d in ds.coords and ds[d].ndim == 1
        }
        if {"grid_latitude", "grid_longitude"} <= set(axes):
            return mapping, axes["grid_latitude"], axes["grid_longitude"]
    return None


def _bounds_of(ds: xr.Dataset, coord: xr.DataArray) -> xr.DataArray | None:
    name = coord.attrs.get("bounds", coord.encoding.get("bounds"))
    return ds[name] if name in ds.variables else None


def _cdo_weights(
    ds: xr.Dataset,
    grid: HorizontalGrid,
    names: list[str],
    method: str,
    target: GridSpec,
    work_dir: Path,
) -> scipy.sparse.csr_array:
    """The weights from the cells of ``grid`` (flattened in C order) to those of ``target``."""
    rotated = _rotated_axes(ds, names, grid)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="cdo-") as folder:
        sample = Path(folder) / "grid_sample.nc"
        if rotated is None:
            _write_curvilinear_sample(ds, grid, method, sample)
        else:
            _write_rotated_sample(ds, grid, rotated, sample)
        grid_file = Path(folder) / "target_grid.txt"
        grid_file.write_text(_cdo_grid_description(target))
        weights = Path(folder) / "weights.nc"
        try:
            _run_cdo(_CDO_OPERATORS[method], grid_file, sample, weights)
        except subprocess.CalledProcessError as exc:
            raise InvalidParameter(
                "method",
                f"CDO cannot compute {method} weights for the grid of this dataset "
                f"({', '.join(grid.dims)}): {_cdo_reason(exc)}",
            ) from exc
        matrix = _read_weights(weights)
    expected = (math.prod(target.shape), math.prod(ds.sizes[d] for d in grid.dims))
    if matrix.shape != expected:
        raise RuntimeError(f"CDO weights of shape {matrix.shape}, expected {expected}")
    if matrix.nnz == 0:
        sizes = "x".join(str(ds.sizes[d]) for d in grid.dims)
        raise NoDataSelected(
            "custom_grid" if target.name == "custom" else "grid",
            f"no cell of the target grid ({target.describe()}) lies within the dataset's "
            f"grid of {sizes} cells for {method} regridding",
        )
    return matrix


def _cdo_reason(exc: subprocess.CalledProcessError) -> str:
    """CDO's own message, e.g. ``Source grid cell corner coordinates missing!``."""
    lines = [line.strip() for line in f"{exc.stderr}\n{exc.stdout}".splitlines() if line.strip()]
    aborts = [line for line in lines if "Abort" in line or "rror" in line]
    return _CDO_PREFIX.sub("", (aborts or lines or ["unknown error"])[-1])


def _write_curvilinear_sample(
    ds: xr.Dataset, grid: HorizontalGrid, method: str, path: Path
) -> None:
    """A netCDF file of one field on the grid: 2-D (or unstructured 1-D) latitude and
    longitude, with their cell vertices when the dataset has them."""
    lat, lon = (a.values.astype(np.float64) for a in _positions(grid))
    invalid = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.001))
    if invalid.any():
        raise DatasetInconsistent(
            "collection",
            f"latitude or longitude is missing or invalid at {invalid.sum()} of {invalid.size} "
            "cells (e.g. land cells of an ocean grid); regridding needs the position of "
            "every cell",
        )
    if method == "bilinear" and len(grid.dims) == 1:
        raise InvalidParameter(
            "method",
            f"bilinear interpolation needs a structured grid; this dataset's grid is "
            f"unstructured (cells along {grid.dims[0]}): use nearest_s2d or conservative",
        )
    bounds = _corners(ds, grid, method)
    with netCDF4.Dataset(path, "w") as nc:
        for dim in grid.dims:
            nc.createDimension(dim, ds.sizes[dim])
        for name, values, attrs in (("lat", lat, _LAT_ATTRS), ("lon", lon, _LON_ATTRS)):
            var = nc.createVariable(name, "f8", grid.dims)
            var.setncatts({k: v for k, v in attrs.items() if k != "bounds" or bounds})
            var[:] = values
        if bounds:
            nc.createDimension("nv", bounds[0].shape[-1])
            for name, vertices in zip(("lat_bnds", "lon_bnds"), bounds, strict=True):
                nc.createVariable(name, "f8", (*grid.dims, "nv"))[:] = vertices
        field = nc.createVariable("grid_sample", "f8", grid.dims)
        field.coordinates = "lat lon"
        field[:] = 0.0


def _corners(
    ds: xr.Dataset, grid: HorizontalGrid, method: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The latitudes and longitudes of the cell vertices, ``(*grid.dims, vertex)``, or None
    when the dataset has none or invalid ones (which conservative regridding refuses;
    CDO's other methods use them only to tell which targets lie within the grid)."""
    bounds = [_bounds_of(ds, c) for c in (grid.lat, grid.lon)]
    if any(b is None for b in bounds):
        if method != "conservative":
            return None
        raise InvalidParameter(
            "method",
            "conservative regridding needs the corners of the cells (latitude and longitude "
            "bounds), which this dataset does not have; use bilinear or nearest_s2d",
        )
    lat, lon = (b.transpose(*grid.dims, ...).values.astype(np.float64) for b in bounds)
    invalid = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.001)).all(-1)
    if not invalid.any():
        return lat, lon
    if method != "conservative":
        return None
    raise DatasetInconsistent(
        "collection",
        f"the corners of {invalid.sum()} of {invalid.size} cells (latitude and longitude "
        "bounds) are missing or invalid; conservative regridding needs them: use bilinear "
        "or nearest_s2d",
    )


def _write_rotated_sample(
    ds: xr.Dataset,
    grid: HorizontalGrid,
    rotated: tuple[str, xr.DataArray, xr.DataArray],
    path: Path,
) -> None:
    """A netCDF file of one field on a rotated-pole grid given by its rotated axes."""
    mapping, rlat, rlon = rotated
    with netCDF4.Dataset(path, "w") as nc:
        for axis, standard_name in ((rlat, "grid_latitude"), (rlon, "grid_longitude")):
            nc.createDimension(axis.dims[0], axis.size)
            var = nc.createVariable(axis.dims[0], "f8", axis.dims)
            var.setncatts({"standard_name": standard_name, "units": "degrees"})
            var[:] = axis.values.astype(np.float64)
        crs = nc.createVariable("rotated_pole", "i4")
        crs.setncatts({k: v for k, v in ds[mapping].attrs.items() if not k.startswith("_")})
        field = nc.createVariable("grid_sample", "f8", grid.dims)
        field.grid_mapping = "rotated_pole"
        field[:] = 0.0


def _cdo_grid_description(target: GridSpec) -> str:
    nlat, nlon = target.shape
    return (
        "gridtype = lonlat\n"
        f"xsize = {nlon}\n"
        f"ysize = {nlat}\n"
        f"xfirst = {target.lon0 + target.dlon / 2!r}\n"
        f"xinc = {target.dlon!r}\n"
        f"yfirst = {target.lat0 + target.dlat / 2!r}\n"
        f"yinc = {target.dlat!r}\n"
    )


def _read_weights(path: Path) -> scipy.sparse.csr_array:
    """A SCRIP weights file as a sparse matrix (target cells x source cells)."""
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_mask(False)
        shape = (nc.dimensions["dst_grid_size"].size, nc.dimensions["src_grid_size"].size)
        if nc.dimensions["num_links"].size == 0:
            return scipy.sparse.csr_array(shape)
        weights = nc["remap_matrix"][:, 0].astype(np.float64)
        rows = nc["dst_address"][:].astype(np.int64) - 1
        cols = nc["src_address"][:].astype(np.int64) - 1
    return scipy.sparse.csr_array((weights, (rows, cols)), shape=shape)


def _apply_weights(
    var: xr.DataArray,
    grid_dims: tuple[str, ...],
    matrix: scipy.sparse.csr_array,
    target: GridSpec,
) -> xr.DataArray:
    """``var`` regridded lazily with ``matrix``, dimensions ``(..., lat, lon)``."""
    nlat, nlon = target.shape
    totals = np.asarray(matrix.sum(axis=1)).ravel()[:, None]
    dtype = var.dtype if var.dtype.kind == "f" else np.dtype(np.float64)

    def regridded(block: np.ndarray) -> np.ndarray:
        lead = block.shape[: block.ndim - len(grid_dims)]
        values = block.reshape(-1, matrix.shape[1]).T.astype(np.float64)
        valid = ~np.isnan(values)
        if valid.all():
            weights = totals
        else:
            values = np.where(valid, values, 0.0)
            weights = matrix @ valid.astype(np.float64)
        sums = matrix @ values
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(weights > 0, sums / weights, np.nan)
        return out.T.reshape(*lead, nlat, nlon).astype(dtype)

    return _blockwise(regridded, var, grid_dims, target, dtype)


# -- the result ----------------------------------------------------------------------------


def _assembled(
    ds: xr.Dataset,
    values: dict[str, xr.DataArray],
    grid: HorizontalGrid,
    target: GridSpec,
    method: str,
) -> xr.Dataset:
    """``ds`` with the regridded ``values`` and the target grid in place of the source
    grid."""
    mappings = {ds[n].attrs.get("grid_mapping") for n in values} & set(ds.variables)
    gone = {n for n, v in ds.variables.items() if set(v.dims) & set(grid.dims)}
    gone |= mappings | ({"lat", "lon", "lat_bnds", "lon_bnds"} & set(ds.variables))
    out = ds.drop_vars(sorted(gone, key=str))
    bnds = "bnds" if out.sizes.get("bnds", 2) == 2 else "lat_lon_bnds"
    lat_edges, lon_edges = target.lat_edges(), target.lon_edges()
    out = out.assign_coords(
        lat=xr.Variable("lat", _centres(lat_edges), _LAT_ATTRS),
        lon=xr.Variable("lon", _centres(lon_edges), _LON_ATTRS),
    )
    regridded = {}
    for name, da in values.items():
        source = ds[name]
        # the coordinates of the result are those of ``out`` (apply_ufunc drops their attributes)
        da = da.drop_vars(list(da.coords))
        da.attrs = {k: v for k, v in source.attrs.items() if k not in _GRID_ATTRS}
        da.encoding = {
            k: v
            for k, v in source.encoding.items()
            if k not in ("chunksizes", "preferred_chunks", "coordinates", "grid_mapping")
            and (k != "dtype" or source.dtype.kind == "f")
        }
        regridded[name] = da
    out = out.assign(
        lat_bnds=xr.Variable(("lat", bnds), np.stack([lat_edges[:-1], lat_edges[1:]], -1)),
        lon_bnds=xr.Variable(("lon", bnds), np.stack([lon_edges[:-1], lon_edges[1:]], -1)),
        **regridded,
    )
    out.attrs = _global_attrs(ds, list(values), target, method)
    return out


def _global_attrs(ds: xr.Dataset, names: list[str], target: GridSpec, method: str) -> dict:
    attrs = dict(ds.attrs)
    if "grid" in attrs:
        attrs["grid"] = f"{target.describe()}, regridded ({method}) from: {attrs['grid']}"
    attrs.pop("nominal_resolution", None)
    measures = {m for n in names for m in ds[n].attrs.get("cell_measures", "").split()[1::2]}
    external = [v for v in str(attrs.get("external_variables", "")).split() if v not in measures]
    if external:
        attrs["external_variables"] = " ".join(external)
    else:
        attrs.pop("external_variables", None)
    return attrs
