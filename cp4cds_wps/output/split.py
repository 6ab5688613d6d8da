"""Split a result along time into parts that each fit in one output file."""

from __future__ import annotations

import math

import xarray as xr

__all__ = ["split_by_size", "step_bytes"]


def step_bytes(ds: xr.Dataset, dim: str = "time") -> int:
    """Uncompressed bytes of one step along ``dim`` of the variables that have it."""
    return sum(
        var.dtype.itemsize * math.prod(n for d, n in var.sizes.items() if d != dim)
        for var in ds.variables.values()
        if dim in var.dims
    )


def split_by_size(ds: xr.Dataset, max_bytes: int, dim: str = "time") -> list[xr.Dataset]:
    """Split ``ds`` along ``dim`` into consecutive parts of at most ``max_bytes`` each.

    The size counted is the uncompressed size of the variables along ``dim`` plus, in
    every part, the variables without it (coordinates, bounds of other axes), so files
    written from the parts, compressed or not, stay below ``max_bytes`` unless a single
    step is larger. Nothing is loaded.

    Parameters
    ----------
    ds
        A (lazy) dataset.
    max_bytes
        Largest size of one part.
    dim
        The dimension to split along.

    Returns
    -------
    list of xarray.Dataset
        ``[ds]`` when it fits or has no ``dim``; else the parts in order, each with at least
        one step.
    """
    if dim not in ds.dims:
        return [ds]
    fixed = ds.nbytes - step_bytes(ds, dim) * ds.sizes[dim]
    per_part = max(1, (max_bytes - fixed) // max(1, step_bytes(ds, dim)))
    if per_part >= ds.sizes[dim]:
        return [ds]
    return [
        ds.isel({dim: slice(start, start + per_part)})
        for start in range(0, ds.sizes[dim], per_part)
    ]
