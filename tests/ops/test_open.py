"""Opening a dataset's files as one lazy Dataset."""

from __future__ import annotations

import cftime
import dask.array
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.open import open_dataset


def _write_year(path, year: int, calendar: str = "360_day") -> xr.Dataset:
    """One file of a monthly 360_day dataset, with time and latitude bounds."""
    times = [cftime.datetime(year, m, 16, calendar=calendar) for m in range(1, 13)]
    bounds = [
        [
            cftime.datetime(year, m, 1, calendar=calendar),
            cftime.datetime(year, m, 30, calendar=calendar),
        ]
        for m in range(1, 13)
    ]
    lat = np.array([-45.0, 45.0])
    ds = xr.Dataset(
        {
            "tas": (("time", "lat", "lon"), np.random.default_rng(year).random((12, 2, 3))),
            "time_bnds": (("time", "bnds"), bounds),
            "lat_bnds": (("lat", "bnds"), np.stack([lat - 45, lat + 45], axis=1)),
        },
        coords={"time": times, "lat": lat, "lon": [0.0, 120.0, 240.0]},
    )
    ds["tas"].attrs = {"units": "K", "standard_name": "air_temperature"}
    ds["lat"].attrs = {"units": "degrees_north", "bounds": "lat_bnds"}
    ds["time"].attrs = {"bounds": "time_bnds"}
    ds["time"].encoding = {"units": "days since 1850-01-01", "calendar": calendar}
    ds["time_bnds"].encoding = {"units": "days since 1850-01-01", "calendar": calendar}
    ds.to_netcdf(path)
    return ds


def test_multi_file_360_day_dataset(tmp_path):
    originals = [_write_year(tmp_path / f"tas_{y}.nc", y) for y in (2000, 2001, 2002)]
    ds = open_dataset([tmp_path / f"tas_{y}.nc" for y in (2000, 2001, 2002)], time_chunk=5)

    assert ds.sizes["time"] == 36
    assert ds["lat_bnds"].dims == ("lat", "bnds")
    assert isinstance(ds["tas"].data, dask.array.Array)
    assert ds["tas"].chunks[0][:3] == (5, 5, 2)
    assert ds["time"].encoding["calendar"] == "360_day"
    assert ds["time"].encoding["units"] == "days since 1850-01-01"
    assert ds["tas"].attrs["units"] == "K"
    assert ds["lat"].attrs["bounds"] == "lat_bnds"
    assert isinstance(ds["time"].values[0], cftime.Datetime360Day)
    expected = np.concatenate([o["tas"].values for o in originals])
    np.testing.assert_array_equal(ds["tas"].values, expected)


def test_overlapping_files_are_inconsistent(tmp_path):
    _write_year(tmp_path / "a.nc", 2000)
    _write_year(tmp_path / "b.nc", 2000)
    with pytest.raises(DatasetInconsistent, match="cannot be combined along time"):
        open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"])


def test_fixed_field_without_time(tmp_path):
    xr.Dataset(
        {"orog": (("lat", "lon"), np.arange(6.0).reshape(2, 3))},
        coords={"lat": [-45.0, 45.0], "lon": [0.0, 120.0, 240.0]},
    ).to_netcdf(tmp_path / "orog.nc")
    ds = open_dataset([str(tmp_path / "orog.nc")])
    assert "time" not in ds.dims
    np.testing.assert_array_equal(ds["orog"].values, np.arange(6.0).reshape(2, 3))


def test_no_files():
    with pytest.raises(ValueError, match="at least one file"):
        open_dataset([])


@pytest.mark.realdata
def test_ec_earth_sixteen_decade_files(archive_dir):
    folder = (
        archive_dir / "gws/nopw/j04/cp4cds1_vol1/data/c3s-cmip5/output1/ICHEC/EC-EARTH"
        "/historical/day/atmos/day/r1i1p1/tas/v20131231"
    )
    paths = sorted(folder.glob("*.nc"))
    assert len(paths) == 16
    ds = open_dataset(paths)
    lengths = []
    for path in paths:
        with xr.open_dataset(path, decode_times=False) as one:
            lengths.append(one.sizes["time"])
    assert ds.sizes["time"] == sum(lengths)
    assert ds.indexes["time"].is_monotonic_increasing
    assert "time" not in ds["lat_bounds"].dims
    assert max(ds["tas"].chunks[0]) == 120
    with xr.open_dataset(paths[-1]) as last:
        np.testing.assert_array_equal(ds["tas"].isel(time=-1).values, last["tas"].isel(time=-1))


def test_chunks_are_capped_in_bytes(tmp_path):
    from cp4cds_wps.ops.open import CHUNK_BYTES, time_steps_per_chunk

    field = np.zeros((10, 512, 1024), dtype="float32")  # 2 MiB per step
    path = tmp_path / "big.nc"
    xr.Dataset({"tas": (("time", "lat", "lon"), field)}, coords={"time": np.arange(10)}).to_netcdf(
        path
    )
    assert time_steps_per_chunk(path, 120) == CHUNK_BYTES // (512 * 1024 * 4)
    assert time_steps_per_chunk(path, 5) == 5
