"""Writing netCDF files: CF-clean encodings, values kept, history, atomic writes."""

from __future__ import annotations

import re

import cftime
import dask
import dask.array as da
import netCDF4
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import NoSpaceLeft
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.output.netcdf import chunk_shape, write_netcdf
from tests.cf_check import cf_failures
from tests.synthetic import ensemble_file

CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)

SOURCES = {
    "regular": "badc/cmip6/data/CMIP6/CMIP/IPSL/IPSL-CM6A-LR/historical/r1i1p1f1/Amon/rlds/gr/"
    "v20180803/rlds_Amon_IPSL-CM6A-LR_historical_r1i1p1f1_gr_185001-201412.nc",
    "curvilinear": "badc/cmip6/data/CMIP6/CMIP/MIROC/MIROC6/historical/r1i1p1f1/SImon/siconc/gn/"
    "latest/siconc_SImon_MIROC6_historical_r1i1p1f1_gn_185001-194912.nc",
    "rotated-pole": "pool/data/CORDEX/data/cordex/output/EUR-11/KNMI/MPI-M-MPI-ESM-LR/rcp85/"
    "r1i1p1/KNMI-RACMO22E/v1/mon/tas/v20190625/"
    "tas_EUR-11_MPI-M-MPI-ESM-LR_rcp85_r1i1p1_KNMI-RACMO22E_v1_mon_209101.nc",
    "360-day": "badc/cmip5/data/cmip5/output1/MOHC/HadGEM2-ES/historical/mon/atmos/Amon/r1i1p1/"
    "latest/tas/tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-188411.nc",
}
#: Variables that are coordinates or cell bounds in the sources (no fill value allowed).
COORDINATES = {
    "regular": ["time", "time_bounds", "lat", "lon"],
    "curvilinear": ["time", "time_bnds", "x", "y", "x_bnds", "y_bnds", "latitude", "longitude"]
    + ["vertices_latitude", "vertices_longitude"],
    "rotated-pole": ["time", "time_bnds", "rlat", "rlon", "lat", "lon", "height"],
    "360-day": ["time", "time_bnds", "lat", "lon", "lat_bnds", "lon_bnds", "height"],
}
DATA_VARIABLE = {
    "regular": "rlds",
    "curvilinear": "siconc",
    "rotated-pole": "tas",
    "360-day": "tas",
}
HISTORY_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (?P<text>.*)$")


def open_source(path) -> xr.Dataset:
    return xr.open_dataset(path, decode_times=CFTIME, chunks={"time": 6})


def selection(ds: xr.Dataset) -> xr.Dataset:
    """Some time steps of a source (the one of a single-step file), and part of its grid when
    it is large."""
    if ds.sizes["time"] > 1:
        ds = ds.isel(time=slice(2, 20))
    return ds.isel(rlat=slice(100, 140), rlon=slice(50, 90)) if "rlat" in ds.dims else ds


@pytest.fixture(params=list(SOURCES))
def written(request, archive_dir, tmp_path):
    """(kind, source path, selection, written file) for each kind of source grid."""
    source = archive_dir / SOURCES[request.param]
    subset = selection(open_source(source))
    path = write_netcdf(subset, tmp_path / "out.nc", history="subset time=2/20")
    return request.param, source, subset, path


def test_values_and_dates_equal_the_selection(written):
    kind, _, subset, path = written
    with xr.open_dataset(path, decode_times=CFTIME) as out:
        name = DATA_VARIABLE[kind]
        assert out[name].shape == subset[name].shape
        np.testing.assert_array_equal(out[name].values, subset[name].values)
        assert list(out["time"].values) == list(subset["time"].values)
        for coord in COORDINATES[kind]:
            np.testing.assert_array_equal(out[coord].values, subset[coord].values)


def test_time_units_and_calendar_kept(written):
    kind, source, _, path = written
    bounds = COORDINATES[kind][1]
    with netCDF4.Dataset(source) as src, netCDF4.Dataset(path) as out:
        units, calendar = src["time"].units, src["time"].calendar
        assert out["time"].calendar == calendar
        # same unit and reference date (xarray may respell "1850-1-1" as "1850-01-01")
        assert out["time"].units.split(" since ")[0] == units.split(" since ")[0]
        assert cftime.num2date(0, out["time"].units, calendar) == cftime.num2date(
            0, units, calendar
        )
        # bounds: none or the same as their coordinate, and no "coordinates" attribute
        assert out[bounds].__dict__.get("units", out["time"].units) == out["time"].units
        assert out[bounds].__dict__.get("calendar", calendar) == calendar
        assert "coordinates" not in out[bounds].ncattrs()


def test_360_day_dates_round_trip(archive_dir, tmp_path):
    subset = open_source(archive_dir / SOURCES["360-day"]).isel(time=slice(0, 14))
    path = write_netcdf(subset, tmp_path / "out.nc", history="x")
    with xr.open_dataset(path, decode_times=CFTIME) as out:
        assert isinstance(out["time"].values[0], cftime.Datetime360Day)
        assert list(out["time"].values) == list(subset["time"].values)
        bounds = out["time_bnds"].values
        # every month has 30 days in this calendar, February too
        assert {(end - start).days for start, end in bounds} == {30}
        assert list(bounds.ravel()) == list(subset["time_bnds"].values.ravel())


def test_no_fill_value_on_coordinates_and_bounds(written):
    kind, source, _, path = written
    name = DATA_VARIABLE[kind]
    with netCDF4.Dataset(source) as src, netCDF4.Dataset(path) as out:
        for coord in COORDINATES[kind]:
            assert "_FillValue" not in out[coord].ncattrs(), coord
            assert "missing_value" not in out[coord].ncattrs(), coord
        assert out[name].getncattr("_FillValue") == src[name].getncattr("_FillValue")
        assert out[name].getncattr("missing_value") == src[name].getncattr("missing_value")
        assert out[name].filters()["zlib"] and out[name].filters()["shuffle"]
        assert out[name].filters()["complevel"] == 1


def test_no_new_high_priority_cf_failures(written):
    _, source, _, path = written
    assert cf_failures(path) <= cf_failures(source)


def test_history_prepended_and_global_attributes_kept(written):
    _, source, _, path = written
    with netCDF4.Dataset(source) as src, netCDF4.Dataset(path) as out:
        first, *rest = out.history.split("\n")
        assert HISTORY_LINE.match(first)["text"] == "subset time=2/20"
        old = src.__dict__.get("history")
        assert "\n".join(rest) == (old or "")
        assert {k: v for k, v in out.__dict__.items() if k != "history"} == {
            k: v for k, v in src.__dict__.items() if k != "history"
        }


def test_input_dataset_is_not_modified(archive_dir, tmp_path):
    ds = selection(open_source(archive_dir / SOURCES["curvilinear"]))
    encodings = {name: dict(var.encoding) for name, var in ds.variables.items()}
    attrs = {name: dict(var.attrs) for name, var in ds.variables.items()}
    history = ds.attrs.get("history")
    write_netcdf(ds, tmp_path / "out.nc", history="x")
    assert {name: dict(var.encoding) for name, var in ds.variables.items()} == encodings
    assert {name: dict(var.attrs) for name, var in ds.variables.items()} == attrs
    assert ds.attrs.get("history") == history
    assert ds["siconc"].chunks is not None  # still lazy


def synthetic(ntime: int = 4) -> xr.Dataset:
    """A small dataset carrying stale source encodings (chunks larger than its dimensions)."""
    time = xr.date_range("2000-01-01", periods=ntime, freq="D", calendar="noleap", use_cftime=True)
    ds = xr.Dataset(
        {"pr": (("time", "lat"), np.arange(ntime * 3, dtype="f4").reshape(ntime, 3))},
        coords={"time": time, "lat": [-10.0, 0.0, 10.0]},
    )
    ds["pr"].encoding = {
        "chunksizes": (100, 50),
        "contiguous": False,
        "source": "/elsewhere/pr.nc",
        "original_shape": (100, 50),
        "_FillValue": np.float32(1e20),
        "zlib": True,
        "complevel": 9,
    }
    ds["lat"].encoding = {"chunksizes": (50,), "_FillValue": np.nan}
    ds["time"].encoding = {"units": "days since 1990-01-01", "calendar": "noleap"}
    ds.encoding = {"unlimited_dims": {"time"}, "source": "/elsewhere/pr.nc"}
    return ds


def test_stale_source_encodings_are_dropped(tmp_path):
    path = write_netcdf(synthetic(), tmp_path / "out.nc", history="x")
    with netCDF4.Dataset(path) as out:
        assert out["pr"].chunking() == [4, 3]
        assert out["pr"].getncattr("_FillValue") == np.float32(1e20)
        assert "_FillValue" not in out["lat"].ncattrs()
        assert out["time"].units == "days since 1990-01-01"
        assert out["time"].calendar == "noleap"
        assert not out.dimensions["time"].isunlimited()


@pytest.mark.filterwarnings("ignore:variable 'cl' has multiple fill values")
def test_hybrid_level_coefficients_get_no_fill_value(archive_dir, tmp_path):
    source = archive_dir / (
        "badc/cmip6/data/CMIP6/CMIP/NCAR/CESM2/amip/r1i1p1f1/Amon/cl/gn/v20190319/"
        "cl_Amon_CESM2_amip_r1i1p1f1_gn_195001-201412.nc"
    )
    path = write_netcdf(open_source(source).isel(time=slice(0, 3)), tmp_path / "o.nc", history="x")
    with netCDF4.Dataset(path) as out:
        for name in ("a_bnds", "b_bnds", "p0", "ps", "lev", "lev_bnds"):
            assert "_FillValue" not in out[name].ncattrs(), name
        assert out["cl"].getncattr("_FillValue") == np.float32(1e20)
        # the source's double missing_value is written in the type of the data (float)
        assert out["cl"].getncattr("missing_value").dtype == np.float32


def test_chunks_hold_whole_fields_up_to_4_mib():
    assert chunk_shape((1000, 10, 20), np.dtype("f4")) == (1000, 10, 20)
    assert chunk_shape((100_000, 100, 100), np.dtype("f4")) == (104, 100, 100)
    assert chunk_shape((10, 2000, 2000), np.dtype("f8")) == (1, 262, 2000)


def test_chunks_along_time_divide_the_dask_chunks_written():
    # 34,303 days written 120 at a time: 104 fields fit in 4 MiB; 60 fill each dask chunk twice
    dask_chunks = ((120,) * 285 + (103,), (100,), (100,))
    assert chunk_shape((34_303, 100, 100), np.dtype("f4"), dask_chunks) == (60, 100, 100)
    # small fields: the disk chunk is the dask chunk (48 KiB)
    dask_chunks = ((120,) * 285 + (103,), (10,), (10,))
    assert chunk_shape((34_303, 10, 10), np.dtype("f4"), dask_chunks) == (120, 10, 10)
    # aligned chunks would be tiny (100 bytes): whole fields up to the size limit, as without
    dask_chunks = ((4,) * 282, (5,), (5,))
    assert chunk_shape((1128, 5, 5), np.dtype("f4"), dask_chunks) == (1128, 5, 5)
    # one dask chunk: nothing to align
    assert chunk_shape((1000, 10, 20), np.dtype("f4"), ((1000,), (10,), (20,))) == (1000, 10, 20)


def test_existing_file_replaced_and_no_temporary_left(tmp_path):
    target = tmp_path / "out.nc"
    target.write_bytes(b"old")
    assert write_netcdf(synthetic(), target, history="x") == target
    with xr.open_dataset(target) as out:
        assert out.sizes["time"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def failing_chunk(block: np.ndarray, block_info=None) -> np.ndarray:
    if block_info[0]["chunk-location"][0] == 2:
        raise OSError("read error in the third chunk")
    return block


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        # fails while writing data, after the file was created
        (
            lambda ds: ds.assign(
                pr=ds["pr"].copy(data=da.map_blocks(failing_chunk, ds["pr"].data, dtype="f4"))
            ),
            OSError,
        ),
        # cannot be encoded at all
        (
            lambda ds: ds.assign(bad=("time", [{"a": 1}] * ds.sizes["time"])),
            (TypeError, ValueError),
        ),
    ],
    ids=["read-error", "unencodable"],
)
def test_failed_write_leaves_no_file(tmp_path, broken, error):
    ds = broken(synthetic(8).chunk(time=2))
    target = tmp_path / "out.nc"
    target.write_bytes(b"previous")
    with pytest.raises(error):
        write_netcdf(ds, target, history="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]
    assert target.read_bytes() == b"previous"


@pytest.mark.timeout(60)
def test_writing_lazily_read_data_does_not_deadlock(tmp_path):
    """Reading netCDF4 and writing netCDF4 in dask threads used to deadlock now and then."""
    source = tmp_path / "source.nc"
    synthetic(400).to_netcdf(source)
    with dask.config.set(scheduler="threads"):
        for i in range(20):
            with xr.open_dataset(source, decode_times=CFTIME, chunks={"time": 1}) as ds:
                write_netcdf(ds, tmp_path / f"out{i}.nc", history="x")
    with xr.open_dataset(tmp_path / "out19.nc") as out:
        assert out.sizes["time"] == 400


def test_differing_fill_and_missing_values_are_written_as_one(tmp_path):
    data = np.array([[1.0, np.nan], [3.0, 4.0]], dtype="float32")
    ds = xr.Dataset({"psl": (("lat", "lon"), data)}, coords={"lat": [0.0, 1.0], "lon": [0.0, 1.0]})
    ds.psl.encoding = {"dtype": "float32", "_FillValue": -1.7e38, "missing_value": 1.0e34}
    path = write_netcdf(ds, tmp_path / "psl.nc", history="test")
    with netCDF4.Dataset(path) as nc:
        var = nc["psl"]
        assert var._FillValue == var.missing_value == np.float32(-1.7e38)
    np.testing.assert_array_equal(xr.open_dataset(path).psl.values, data)


def test_coordinates_naming_absent_variables_are_left_out(tmp_path):
    # a file of the IPCC atlas lists "gcm_variant" in pr's coordinates but has no such variable
    source = open_dataset([ensemble_file(tmp_path)])
    assert "gcm_variant" in source.pr.encoding["coordinates"]
    path = write_netcdf(source, tmp_path / "out.nc", history="x")
    with netCDF4.Dataset(path) as out:
        assert set(out["pr"].coordinates.split()) == {
            "member_id",
            "time",
            "lat",
            "lon",
            "gcm_model",
        }
    assert cf_failures(path) == set()
    dropped = write_netcdf(source.drop_vars("gcm_model"), tmp_path / "dropped.nc", history="x")
    with netCDF4.Dataset(dropped) as out:
        assert "gcm_model" not in out["pr"].coordinates.split()


def test_a_full_file_system_is_no_space_left_and_leaves_no_partial_file(tmpfs):
    folder = tmpfs(256)
    ds = xr.Dataset(
        {"tas": (("time", "lat"), np.random.default_rng(0).random((100, 1000)))},
        coords={"time": np.arange(100.0), "lat": np.linspace(-90, 90, 1000)},
    )  # 800 kB of random values: zlib cannot make them fit into 256 KiB
    with pytest.raises(NoSpaceLeft, match="no space left on the device"):
        write_netcdf(ds, folder / "big.nc", history="test")
    assert list(folder.iterdir()) == []
