"""Splitting results along time so that no output file exceeds the configured size."""

from __future__ import annotations

import numpy as np
import xarray as xr

from cp4cds_wps.output.split import split_by_size, step_bytes


def daily(days: int) -> xr.Dataset:
    """Float32 fields of 10 x 20 cells (800 bytes a step) with bounds."""
    time = xr.date_range("2000-01-01", periods=days, freq="D", calendar="noleap", use_cftime=True)
    values = np.arange(days * 200, dtype="float32").reshape(days, 10, 20)
    return xr.Dataset(
        {
            "tas": (("time", "lat", "lon"), values),
            "lat_bnds": (("lat", "bnds"), np.zeros((10, 2))),
        },
        coords={"time": time, "lat": np.arange(10.0), "lon": np.arange(20.0)},
    ).chunk({"time": 7})


def test_step_bytes_counts_the_variables_along_time():
    ds = daily(3)
    assert step_bytes(ds) == 200 * 4 + 8  # tas plus the time coordinate


def test_parts_cover_every_step_once_in_order_and_fit():
    ds = daily(100)
    limit = 10_000
    parts = split_by_size(ds, limit)
    assert len(parts) > 1
    assert all(part.nbytes <= limit for part in parts)
    joined = xr.concat(parts, dim="time")
    np.testing.assert_array_equal(joined.tas.values, ds.tas.values)
    assert list(joined.time.values) == list(ds.time.values)
    assert all("lat_bnds" in part and "time" not in part.lat_bnds.dims for part in parts)


def test_a_small_result_or_one_without_time_stays_whole():
    ds = daily(5)
    assert split_by_size(ds, 10**9) == [ds]
    static = ds.isel(time=0, drop=True)
    assert split_by_size(static, 1) == [static]


def test_a_step_larger_than_the_limit_still_gets_its_own_part():
    parts = split_by_size(daily(4), 100)
    assert [part.sizes["time"] for part in parts] == [1, 1, 1, 1]
