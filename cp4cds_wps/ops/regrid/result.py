"""The regridded dataset: the regridded variables on the target grid, and the rest as it
was, without what described the source grid."""

from __future__ import annotations

import numpy as np
import xarray as xr

from cp4cds_wps.ops.cf import without_grid_mapping
from cp4cds_wps.ops.grid import HorizontalGrid
from cp4cds_wps.ops.regrid.grids import LAT_ATTRS, LON_ATTRS, GridSpec

__all__ = ["assembled", "regridded_names"]

#: Attributes of the source variables that describe the source grid.
_GRID_ATTRS = ("cell_measures", "coordinates", "grid_mapping", "CDI_grid_type")


def regridded_names(ds: xr.Dataset, grid: HorizontalGrid) -> list[str]:
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


def assembled(
    ds: xr.Dataset,
    values: dict[str, xr.DataArray],
    grid: HorizontalGrid,
    target: GridSpec,
    method: str,
) -> xr.Dataset:
    """``ds`` with the regridded ``values`` and the target grid in place of the source
    grid: its coordinates, bounds and grid mapping removed, and ``lat``, ``lon``,
    ``lat_bnds`` and ``lon_bnds`` of the target added."""
    gone = {n for n, v in ds.variables.items() if set(v.dims) & set(grid.dims)}
    gone |= {"lat", "lon", "lat_bnds", "lon_bnds"} & set(ds.variables)
    out = without_grid_mapping(ds.drop_vars(sorted(gone, key=str)), [])
    bnds = "bnds" if out.sizes.get("bnds", 2) == 2 else "lat_lon_bnds"
    lat_edges, lon_edges = target.lat_edges(), target.lon_edges()
    out = out.assign_coords(
        lat=xr.Variable("lat", _centres(lat_edges), LAT_ATTRS),
        lon=xr.Variable("lon", _centres(lon_edges), LON_ATTRS),
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


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2
