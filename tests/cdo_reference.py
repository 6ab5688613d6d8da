"""Reference values from the ``cdo`` program: CDO's own remapping of the same file.

Tests using :func:`cdo_remap` are marked :data:`needs_cdo`: skipped, saying why, where the
program is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.ops.regrid import GridSpec

#: CDO's operator of each method.
OPERATORS = {"nearest_s2d": "remapnn", "bilinear": "remapbil", "conservative": "remapcon"}
needs_cdo = pytest.mark.skipif(
    shutil.which("cdo") is None,
    reason="the cdo program (Debian package cdo), which computes the reference values, is "
    "not installed",
)


def grid_description(grid: GridSpec) -> str:
    """The target grid as a CDO grid description."""
    nlat, nlon = grid.shape
    return (
        f"gridtype = lonlat\nxsize = {nlon}\nysize = {nlat}\n"
        f"xfirst = {grid.lon0 + grid.dlon / 2!r}\nxinc = {grid.dlon!r}\n"
        f"yfirst = {grid.lat0 + grid.dlat / 2!r}\nyinc = {grid.dlat!r}\n"
    )


def cdo_remap(
    source: xr.Dataset | Path, method: str, grid: GridSpec, folder: Path, variable: str = "tas"
) -> np.ndarray:
    """``variable`` of ``source`` (a dataset, written to ``folder``, or a file) remapped by
    CDO onto ``grid`` without extrapolation, as float64."""
    if isinstance(source, xr.Dataset):
        path = folder / "cdo_source.nc"
        source.to_netcdf(path)
        source = path
    description, out = folder / "cdo_grid.txt", folder / "cdo_out.nc"
    description.write_text(grid_description(grid))
    subprocess.run(
        ["cdo", "-s", "-O", f"-{OPERATORS[method]},{description}", str(source), str(out)],
        env={**os.environ, "REMAP_EXTRAPOLATE": "off"},
        check=True,
        capture_output=True,
    )
    with xr.open_dataset(out, decode_times=False) as ds:
        return ds[variable].values.astype(np.float64)


def gaps_as_missing_cells(ds: xr.Dataset, variable: str = "tas") -> xr.Dataset:
    """``variable`` of a regular ``ds`` whose cells leave gaps between them (a sparse
    selection of a grid) with a cell of missing values in each gap, and one closing the
    longitudes round the globe when they do not; other axes (time, levels, members) are
    kept.

    CDO takes the 1-D bounds of a rectilinear grid as contiguous edges: remapping the
    result is CDO's remapping of ``ds`` where each cell covers only its own bounds.
    """
    lat, lat_rows = _with_gaps(ds.lat.values, ds.lat_bnds.values, None)
    lon, lon_cols = _with_gaps(ds.lon.values, ds.lon_bnds.values, ds.lon_bnds.values[0, 0] + 360)
    da = ds[variable]
    others = [d for d in da.dims if d not in ("lat", "lon")]
    da = da.transpose(*others, "lat", "lon")
    values = np.full((*da.shape[:-2], len(lat[0]), len(lon[0])), np.nan)
    values[..., lat_rows[:, None], lon_cols[None, :]] = da.values
    out = xr.Dataset(
        {
            variable: ((*others, "lat", "lon"), values, ds[variable].attrs),
            "lat_bnds": (("lat", "bnds"), lat[1]),
            "lon_bnds": (("lon", "bnds"), lon[1]),
        },
        coords={
            **{d: ds[d].variable for d in others if d in ds.coords},
            "lat": ("lat", lat[0], ds.lat.attrs),
            "lon": ("lon", lon[0], ds.lon.attrs),
        },
    )
    return out


def _with_gaps(centres: np.ndarray, bounds: np.ndarray, end: float | None):
    """Centres and bounds with a cell in each gap (and up to ``end``), and the positions of
    the original cells."""
    new_centres, new_bounds, kept = [], [], []
    for centre, (low, high) in zip(centres, bounds, strict=True):
        if new_bounds and low > new_bounds[-1][1]:
            new_bounds.append((new_bounds[-1][1], low))
            new_centres.append(sum(new_bounds[-1]) / 2)
        kept.append(len(new_centres))
        new_centres.append(centre)
        new_bounds.append((low, high))
    if end is not None and new_bounds[-1][1] < end:
        new_bounds.append((new_bounds[-1][1], end))
        new_centres.append(sum(new_bounds[-1]) / 2)
    return (np.array(new_centres), np.array(new_bounds)), np.array(kept)
