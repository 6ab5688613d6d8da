"""Check that two methods computed the same thing: how much and where their outputs differ."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dask
import numpy as np
import xarray as xr

__all__ = ["RTOL", "compare_outputs"]

#: Relative difference below which two values count as equal: float32 outputs of sums done
#: in another order or precision differ by a few float32 steps (about 1e-7 each).
RTOL = 1e-5
#: Bytes of one block of values compared at once (outputs can be larger than memory).
BLOCK_BYTES = 2**26


def _field(paths: Sequence[str], name: str) -> xr.DataArray:
    """The variable of one method's output files (lazy); on lat/lon grids longitudes in
    0..360, sorted."""
    arrays = [xr.open_dataset(path, decode_times=False, chunks={})[name] for path in sorted(paths)]
    field = xr.concat(arrays, "time") if len(arrays) > 1 else arrays[0]
    # CDO keeps axes of length one: time in a time mean, latitude and longitude in a field mean
    field = field.squeeze(drop=True)
    if {"lat", "lon"} <= set(field.dims):
        field = field.assign_coords(lon=field["lon"] % 360).sortby(["lat", "lon"])
    return field


def _blocks(field: xr.DataArray, expected: xr.DataArray) -> Iterator[tuple[np.ndarray, ...]]:
    """Both fields as float64 values, a block of time steps at a time."""
    if "time" not in field.dims:
        yield field.values.astype("f8"), expected.values.astype("f8")
        return
    steps = max(1, BLOCK_BYTES // (8 * max(1, field.size // field.sizes["time"])))
    for start in range(0, field.sizes["time"], steps):
        block = {"time": slice(start, start + steps)}
        yield field[block].values.astype("f8"), expected[block].values.astype("f8")


def compare_outputs(paths: Sequence[str], reference: Sequence[str], name: str) -> dict:
    """How the outputs of two methods doing the same operation differ.

    Parameters
    ----------
    paths, reference
        The output files of two methods (outputs split in time are joined).
    name
        The variable compared.

    Returns
    -------
    dict
        ``max_abs_diff``: the largest absolute difference over the values both have;
        ``differing``: the share of values that differ by more than :data:`RTOL` (relative)
        or are missing in one output only. Or ``not_comparable``: why the outputs cannot be
        compared (their shapes or grids differ, or they share no value).
    """
    field, expected = _field(paths, name), _field(reference, name)
    if field.shape != expected.shape:
        return {"not_comparable": f"shape {field.shape} vs {expected.shape}"}
    if {"lat", "lon"} <= set(field.dims) & set(expected.dims) and not all(
        np.allclose(field[axis], expected[axis]) for axis in ("lat", "lon")
    ):
        return {"not_comparable": "grids differ"}
    largest, differing, common = -np.inf, 0, 0
    with dask.config.set(scheduler="synchronous"):
        for values, wanted in _blocks(field, expected):
            both = ~(np.isnan(values) | np.isnan(wanted))
            if both.any():
                largest = max(largest, float(np.abs(values - wanted)[both].max()))
                common += 1
            same = np.isclose(values, wanted, rtol=RTOL, atol=0, equal_nan=True)
            differing += int(same.size - same.sum())
    if not common:
        return {"not_comparable": "no value in both"}
    return {"max_abs_diff": largest, "differing": differing / field.size}
