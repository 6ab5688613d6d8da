"""Opening a dataset's files as one lazy Dataset."""

from __future__ import annotations

import cftime
import dask.array
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.notes import recorded_notes
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


def _write_months(path, months: list[tuple[int, int]], tas: np.ndarray) -> None:
    """A monthly 360_day file of the given (year, month) steps, with time bounds."""
    times = [cftime.datetime(y, m, 16, calendar="360_day") for y, m in months]
    bounds = [
        [
            cftime.datetime(y, m, 1, calendar="360_day"),
            cftime.datetime(y, m, 30, calendar="360_day"),
        ]
        for y, m in months
    ]
    ds = xr.Dataset(
        {"tas": (("time", "lat"), tas), "time_bnds": (("time", "bnds"), bounds)},
        coords={"time": times, "lat": [-45.0, 45.0]},
    )
    ds["tas"].encoding["_FillValue"] = 1e20
    for name in ("time", "time_bnds"):
        ds[name].encoding = {"units": "days since 1850-01-01", "calendar": "360_day"}
    ds.to_netcdf(path)


YEAR_2000 = [(2000, m) for m in range(1, 13)]
YEAR_2001 = [(2001, m) for m in range(1, 13)]


def test_a_december_repeated_in_the_next_file_is_dropped_once(tmp_path):
    values = np.random.default_rng(0).random((24, 2))
    values[3, 1] = np.nan  # missing values equal missing values
    _write_months(tmp_path / "a.nc", YEAR_2000, values[:12])
    _write_months(tmp_path / "b.nc", [(2000, 12), *YEAR_2001], values[11:])
    with recorded_notes() as notes:
        ds = open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"], time_chunk=5)
    assert ds.sizes["time"] == 24
    np.testing.assert_array_equal(ds["tas"].values, values)
    assert ds.indexes["time"].is_monotonic_increasing
    assert notes == [
        "time: 1 time step(s) in a.nc and b.nc (2000-12-16T00:00:00) repeated, with equal "
        "values, dropped"
    ]


def test_a_file_repeated_whole_is_dropped(tmp_path):
    values = np.random.default_rng(1).random((12, 2))
    for name in ("a.nc", "a_copy.nc"):
        _write_months(tmp_path / name, YEAR_2000, values)
    _write_months(tmp_path / "b.nc", YEAR_2001, values + 1)
    ds = open_dataset([tmp_path / n for n in ("a.nc", "a_copy.nc", "b.nc")])
    np.testing.assert_array_equal(ds["tas"].values, np.concatenate([values, values + 1]))


def test_repeated_steps_with_other_values_are_refused_naming_files_and_time(tmp_path):
    values = np.random.default_rng(2).random((24, 2))
    _write_months(tmp_path / "a.nc", YEAR_2000, values[:12])
    other = values[8:].copy()
    other[2, 0] += 0.5  # 2000-11 differs, 2000-09 and -10 do not
    _write_months(tmp_path / "b.nc", [*YEAR_2000[8:], *YEAR_2001], other)
    with pytest.raises(DatasetInconsistent) as caught:
        open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"])
    assert caught.value.name == "collection"
    assert caught.value.reason.startswith(
        "a.nc and b.nc overlap in time with other values: tas differs at 2000-11-16T00:00:00"
    )


def test_declared_fix_keeps_the_last_files_steps(tmp_path):
    values = np.random.default_rng(3).random((13, 2))
    _write_months(tmp_path / "a.nc", YEAR_2000, values[:12])
    _write_months(tmp_path / "b.nc", [(2000, 12), *YEAR_2001], values[12:13].repeat(13, 0))
    with recorded_notes() as notes:
        ds = open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"], keep_repeated="last")
    assert ds.sizes["time"] == 24
    np.testing.assert_array_equal(ds["tas"].values[:11], values[:11])
    np.testing.assert_array_equal(ds["tas"].values[11:], values[12:13].repeat(13, 0))
    assert "the last file's kept as declared" in notes[0]


def test_steps_repeated_within_one_file_are_dropped(tmp_path):
    values = np.random.default_rng(4).random((13, 2))
    months = [*YEAR_2000[:6], (2000, 6), *YEAR_2000[6:]]
    values[6] = values[5]
    _write_months(tmp_path / "a.nc", months, values)
    with recorded_notes() as notes:
        ds = open_dataset([tmp_path / "a.nc"])
    assert ds.sizes["time"] == 12
    np.testing.assert_array_equal(ds["tas"].values, np.delete(values, 6, axis=0))
    assert notes == [
        "time: 1 time step(s) within a.nc (2000-06-16T00:00:00) repeated, with equal values, "
        "dropped"
    ]


def test_a_missing_file_leaves_a_gap_that_is_kept(tmp_path):
    values = np.random.default_rng(5).random((24, 2))
    _write_months(tmp_path / "a.nc", YEAR_2000, values[:12])
    _write_months(tmp_path / "c.nc", [(2002, m) for m in range(1, 13)], values[12:])
    ds = open_dataset([tmp_path / "a.nc", tmp_path / "c.nc"])
    assert ds.sizes["time"] == 24
    assert ds["time"].values[12] == cftime.datetime(2002, 1, 16, calendar="360_day")
    np.testing.assert_array_equal(ds["tas"].values, values)


def test_overlap_with_steps_at_other_times_is_refused(tmp_path):
    _write_months(tmp_path / "a.nc", YEAR_2000, np.zeros((12, 2)))
    times = [(2000, 12), *YEAR_2001]
    _write_months(tmp_path / "b.nc", times, np.zeros((13, 2)))
    with xr.open_dataset(tmp_path / "b.nc", decode_times=False) as b:
        shifted = b.load()
    attrs = shifted["time"].attrs
    shifted["time"] = shifted["time"].values - 5  # 2000-12-11: in a.nc's December, not equal
    shifted["time"].attrs = attrs
    shifted.to_netcdf(tmp_path / "b2.nc")
    with pytest.raises(
        DatasetInconsistent, match="a.nc and b2.nc overlap in time with steps at other times"
    ):
        open_dataset([tmp_path / "a.nc", tmp_path / "b2.nc"])


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
