"""Check that two methods computed the same thing: the largest difference of their outputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = ["max_difference"]


def _field(paths: Sequence[str], name: str) -> xr.DataArray:
    """The variable of one method's output files, longitudes in 0..360, sorted."""
    arrays = [xr.open_dataset(path, decode_times=False)[name] for path in sorted(paths)]
    field = xr.concat(arrays, "time") if len(arrays) > 1 else arrays[0]
    # CDO keeps a time axis of length one in a time mean
    field = field.squeeze(drop=True)
    field = field.assign_coords(lon=field["lon"] % 360)
    return field.sortby(["lat", "lon"]).load()


def max_difference(paths: Sequence[str], reference: Sequence[str], name: str = "tas"):
    """The largest absolute difference between two outputs of the same operation.

    Parameters
    ----------
    paths, reference
        The output files of two methods (outputs split in time are joined).
    name
        The variable compared.

    Returns
    -------
    float or str
        The difference, or a text saying why the outputs cannot be compared (their shapes or
        grids differ).
    """
    field, expected = _field(paths, name), _field(reference, name)
    if field.shape != expected.shape:
        return f"shape {field.shape} vs {expected.shape}"
    if not all(np.allclose(field[axis], expected[axis]) for axis in ("lat", "lon")):
        return "grid differs"
    return float(np.nanmax(np.abs(field.values.astype("f8") - expected.values)))
