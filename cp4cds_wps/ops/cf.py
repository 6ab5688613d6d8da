"""Small CF-metadata helpers shared by the operations: bounds, cell methods, encodings."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable

import xarray as xr

__all__ = [
    "bounds_name",
    "bounds_names",
    "bounds_of",
    "value_encoding",
    "with_cell_method",
    "without_grid_mapping",
]


def bounds_name(ds: xr.Dataset, coord: str) -> str | None:
    """Name of the bounds variable of ``coord`` (its ``bounds`` attribute or encoding), if
    ``ds`` has it."""
    var = ds[coord]
    name = var.attrs.get("bounds", var.encoding.get("bounds"))
    return name if name in ds.variables else None


def bounds_names(ds: xr.Dataset) -> set[str]:
    """Names of all bounds variables of ``ds``."""
    return {b for c in ds.variables if (b := bounds_name(ds, c)) is not None}


def bounds_of(ds: xr.Dataset, coord: xr.DataArray) -> xr.DataArray | None:
    """The bounds of coordinate ``coord`` as floats without coordinates, or None."""
    name = coord.attrs.get("bounds", coord.encoding.get("bounds"))
    if name in ds.variables:
        return ds[name].reset_coords(drop=True).astype(float)
    return None


def with_cell_method(cell_methods: str | None, method: str) -> str:
    """``cell_methods`` followed by ``method`` (``"<name>: point"`` entries of it removed)."""
    name = method.split(":")[0]
    kept = re.sub(rf"\b{re.escape(name)}:\s*point\b\s*", "", cell_methods or "").strip()
    return f"{kept} {method}".strip()


def value_encoding(var: xr.DataArray) -> dict:
    """The encoding of ``var`` without storage details and stale ``coordinates``, for a new
    variable computed from it."""
    return {k: v for k, v in var.encoding.items() if k not in ("chunksizes", "coordinates")}


def without_grid_mapping(ds: xr.Dataset, names: Iterable[Hashable]) -> xr.Dataset:
    """``ds`` without the ``grid_mapping`` of the variables ``names`` (whose horizontal grid
    an operation removed), and without the grid-mapping variables no variable refers to any
    more (CF 1.8, section 5.6: a grid mapping describes horizontal coordinates)."""
    out = ds.copy(deep=False)
    for name in names:
        var = out[name].variable
        var.attrs = {k: v for k, v in var.attrs.items() if k != "grid_mapping"}
        var.encoding = {k: v for k, v in var.encoding.items() if k != "grid_mapping"}
    used = {_grid_mapping(var) for var in out.variables.values()}
    unused = [
        name
        for name, var in out.variables.items()
        if "grid_mapping_name" in var.attrs and name not in used
    ]
    return out.drop_vars(unused)


def _grid_mapping(var: xr.Variable) -> str | None:
    """The name of the grid-mapping variable of ``var`` (the first of the extended form
    ``"crs: lat lon"``), if any."""
    text = var.attrs.get("grid_mapping", var.encoding.get("grid_mapping"))
    return str(text).split(":")[0].split()[0] if text else None
