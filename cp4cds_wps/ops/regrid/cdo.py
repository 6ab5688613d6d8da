"""Regridding weights from CDO for curvilinear, rotated-pole and unstructured sources.

CDO computes SCRIP weights (``gennn``, ``genbil``, ``gencon``) on a one-field sample of the
source grid written in a work folder: 2-D (or unstructured 1-D) latitude and longitude with
the cell corners of :func:`cp4cds_wps.ops.cells.cell_corners` (the files' own, implausible
ones replaced), or, on a rotated-pole grid without corners, the rotated axes and the grid
mapping (CDO derives the corners from those), or corners derived from the cell centres
(:func:`cp4cds_wps.ops.grid.derived_corners`, noted) when the files have none.
Nearest neighbours are the nearest on the sphere; conservative weights keep area means to
about 1e-6.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import netCDF4
import numpy as np
import scipy.sparse
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter
from cp4cds_wps.ops.cells import cell_corners
from cp4cds_wps.ops.grid import (
    Corners,
    HorizontalGrid,
    derived_corners,
    rotated_corners,
    with_positions_filled,
)
from cp4cds_wps.ops.notes import note
from cp4cds_wps.ops.regrid.apply import NearestWeights, SparseWeights, Weights
from cp4cds_wps.ops.regrid.grids import LAT_ATTRS, LON_ATTRS, GridSpec

__all__ = ["cdo_weights"]

#: The CDO operator computing the weights of each method.
_CDO_OPERATORS = {"nearest_s2d": "gennn", "bilinear": "genbil", "conservative": "gencon"}
#: No extrapolation beyond the source grid; conservative weights normalised by the area of
#: the target cell covered by source cells (CDO's default, set so that it cannot change).
_CDO_ENV = {"REMAP_EXTRAPOLATE": "off", "CDO_REMAP_NORM": "fracarea"}
#: The start of CDO's error lines, e.g. ``cdo    gencon (Abort): ``.
_CDO_PREFIX = re.compile(r"^cdo\s+\w*\s*\((Abort|Error)\):\s*")


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


def cdo_weights(
    ds: xr.Dataset,
    grid: HorizontalGrid,
    names: list[str],
    method: str,
    target: GridSpec,
    work_dir: Path,
) -> tuple[Weights, np.ndarray | None]:
    """CDO's weights of ``method`` from the cells of ``grid`` (flattened in C order) to
    those of ``target``, and a mask of the cells without position whose values are to be
    left out (None when there are none); ``names`` are the variables regridded (for their
    grid mapping).

    Raises
    ------
    InvalidParameter
        When the grid has no corners for conservative weights (an unstructured grid
        without vertices), is unstructured for bilinear weights, or CDO fails.
    DatasetInconsistent
        When latitude or longitude are missing or invalid at some cells of an unstructured
        grid, or at every cell.
    """
    if method == "bilinear" and len(grid.dims) == 1:
        raise InvalidParameter(
            "method",
            f"bilinear interpolation needs a structured grid; this dataset's grid is "
            f"unstructured (cells along {grid.dims[0]}): use nearest_s2d or conservative",
        )
    grid, left_out = _positioned(grid)
    corners = cell_corners(ds, grid)
    rotated = _rotated_axes(ds, names, grid) if corners is None else None
    if rotated is not None and method == "conservative" and min(grid.shape) < 2:
        # CDO derives no corners from an axis of a single cell: those of the rotated axes
        corners, rotated = rotated_corners(ds, grid), None
        note(
            "cell bounds: the grid has no cell corners; corners from its rotated axes (the "
            "axis of a single cell as wide as the other's spacing) are used for conservative "
            "regridding"
        )
    if corners is None and rotated is None and method == "conservative":
        corners = derived_corners(grid)
        if corners is None:
            raise InvalidParameter(
                "method",
                "conservative regridding needs the corners of the cells (latitude and "
                "longitude bounds), which this dataset's unstructured grid does not have; "
                "use nearest_s2d",
            )
        note(
            "cell bounds: the grid has no cell corners; corners derived from the cell centres "
            "are used for conservative regridding"
        )
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="cdo-") as folder:
        sample = Path(folder) / "grid_sample.nc"
        if rotated is None:
            _write_curvilinear_sample(ds, grid, corners, sample)
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
    expected = (math.prod(target.shape), math.prod(grid.shape))
    if matrix.shape != expected:
        raise RuntimeError(f"CDO weights of shape {matrix.shape}, expected {expected}")
    if method == "nearest_s2d" and (nearest := NearestWeights.from_matrix(matrix)) is not None:
        return nearest, left_out
    return SparseWeights(matrix, renormalise=method == "conservative"), left_out


def _positioned(grid: HorizontalGrid) -> tuple[HorizontalGrid, np.ndarray | None]:
    """The grid with positions for its cells without (see
    :func:`cp4cds_wps.ops.grid.with_positions_filled`; noted), and a mask of those, whose
    values are left out; None when every cell has a position."""
    try:
        filled, missing = with_positions_filled(grid)
    except ValueError as exc:
        raise DatasetInconsistent(
            "collection",
            f"latitude or longitude is missing or invalid at some cells ({exc}); regridding "
            "this unstructured grid needs the position of every cell",
        ) from exc
    if not missing.any():
        return grid, None
    note(
        f"grid: {missing.sum()} of {missing.size} cells have no valid latitude or longitude "
        "(e.g. land cells of an ocean grid); their values are left out, and positions from "
        "their neighbours complete the grid for CDO"
    )
    return filled, missing.ravel()


def _cdo_reason(exc: subprocess.CalledProcessError) -> str:
    """CDO's own message, e.g. ``Source grid cell corner coordinates missing!``."""
    lines = [line.strip() for line in f"{exc.stderr}\n{exc.stdout}".splitlines() if line.strip()]
    aborts = [line for line in lines if "Abort" in line or "rror" in line]
    return _CDO_PREFIX.sub("", (aborts or lines or ["unknown error"])[-1])


def _write_curvilinear_sample(
    ds: xr.Dataset, grid: HorizontalGrid, corners: Corners | None, path: Path
) -> None:
    """A netCDF file of one field on the grid: 2-D (or unstructured 1-D) latitude and
    longitude, with the cell corners when there are some."""
    lat, lon = grid.positions()
    if corners is not None and not (np.isfinite(corners.lat) & np.isfinite(corners.lon)).all():
        corners = None  # cells of an unstructured grid without valid corners
    with netCDF4.Dataset(path, "w") as nc:
        for dim, size in zip(grid.dims, grid.shape, strict=True):
            nc.createDimension(dim, size)
        for name, values, attrs in (("lat", lat, LAT_ATTRS), ("lon", lon, LON_ATTRS)):
            var = nc.createVariable(name, "f8", grid.dims)
            var.setncatts({k: v for k, v in attrs.items() if k != "bounds" or corners})
            var[:] = values
        if corners is not None:
            nc.createDimension("nv", corners.lat.shape[-1])
            for name, vertices in (("lat_bnds", corners.lat), ("lon_bnds", corners.lon)):
                nc.createVariable(name, "f8", (*grid.dims, "nv"))[:] = vertices
        field = nc.createVariable("grid_sample", "f8", grid.dims)
        field.coordinates = "lat lon"
        field[:] = 0.0


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
