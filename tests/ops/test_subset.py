"""Subsetting by time, time components, level and area on synthetic and real grids."""

from __future__ import annotations

import cftime
import dask.array
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import parse_area, parse_level, parse_time, parse_time_components
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.output.netcdf import write_netcdf
from tests.cf_check import cf_failures
from tests.synthetic import MEMBERS, ensemble_file


def regular(lon, lat=(-60.0, -20.0, 20.0, 60.0), calendar="noleap", months=24, plev=None):
    """A lazy monthly dataset on a regular grid; ``tas`` numbers every value uniquely."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    times = [
        cftime.datetime(2000 + m // 12, m % 12 + 1, 15, calendar=calendar) for m in range(months)
    ]
    dims = ("time", "lat", "lon") if plev is None else ("time", "plev", "lat", "lon")
    shape = tuple(
        {"time": months, "plev": len(plev or []), "lat": lat.size, "lon": lon.size}[d] for d in dims
    )
    step = np.diff(lon).mean() if lon.size > 1 else 10.0
    ds = xr.Dataset(
        {
            "tas": (dims, np.arange(np.prod(shape), dtype="float32").reshape(shape)),
            "lon_bnds": (("lon", "bnds"), np.stack([lon - step / 2, lon + step / 2], axis=1)),
        },
        coords={"time": times, "lat": lat, "lon": lon},
    )
    ds["tas"].attrs = {"units": "K", "standard_name": "air_temperature"}
    ds["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north"}
    ds["lon"].attrs = {"standard_name": "longitude", "units": "degrees_east", "bounds": "lon_bnds"}
    if plev is not None:
        ds = ds.assign_coords(plev=("plev", np.asarray(plev, dtype=float)))
        ds["plev"].attrs = {"standard_name": "air_pressure", "units": "Pa", "axis": "Z"}
    return ds.chunk({"time": 6})


def curvilinear():
    """A lazy 2-D lat/lon grid (dims j, i) whose longitudes run 0..360, with cell vertices."""
    j, i = np.meshgrid(np.arange(6), np.arange(8), indexing="ij")
    lat = -75.0 + 30.0 * j + 2.0 * i
    lon = (i * 45.0 + 10.0 * j) % 360.0
    ds = xr.Dataset(
        {
            "siconc": (("time", "j", "i"), np.arange(2 * 48, dtype="float64").reshape(2, 6, 8)),
            "vertices_latitude": (("j", "i", "vertices"), np.repeat(lat[..., None], 4, axis=2)),
        },
        coords={
            "time": [cftime.datetime(2000, m, 15, calendar="360_day") for m in (1, 2)],
            "latitude": (
                ("j", "i"),
                lat,
                {"standard_name": "latitude", "bounds": "vertices_latitude"},
            ),
            "longitude": (("j", "i"), lon, {"standard_name": "longitude"}),
        },
    )
    ds["siconc"].attrs = {"units": "%"}
    return ds.chunk({"time": 1})


def test_area_crossing_greenwich_on_0_360_grid():
    ds = regular(np.arange(0.0, 360.0, 30.0))
    out = subset(ds, area=parse_area("-40,-30,40,30"))
    np.testing.assert_array_equal(out["lon"], [-30.0, 0.0, 30.0])
    np.testing.assert_array_equal(out["lat"], [-20.0, 20.0])
    source = ds["tas"].sel(lat=[-20.0, 20.0], lon=[330.0, 0.0, 30.0]).values
    np.testing.assert_array_equal(out["tas"].values, source)
    bounds = out["lon_bnds"].values
    assert np.all((bounds[:, 0] < out["lon"].values) & (out["lon"].values < bounds[:, 1]))
    assert out["lon"].attrs["bounds"] == "lon_bnds"


@pytest.mark.parametrize("text", ["150,-90,-150,90", "150,-90,210,90"])
def test_area_crossing_dateline_on_180_grid(text):
    ds = regular(np.arange(-165.0, 180.0, 30.0))
    out = subset(ds, area=parse_area(text))
    np.testing.assert_array_equal(out["lon"], [165.0, 195.0])
    source = ds["tas"].sel(lon=[165.0, -165.0]).values
    np.testing.assert_array_equal(out["tas"].values, source)
    np.testing.assert_array_equal(out["lon_bnds"].values, [[150.0, 180.0], [180.0, 210.0]])


def test_area_crossing_dateline_on_0_360_grid_keeps_values():
    ds = regular(np.arange(15.0, 360.0, 30.0))
    out = subset(ds, area=parse_area("150,-90,-150,90"))
    np.testing.assert_array_equal(out["lon"], [165.0, 195.0])
    np.testing.assert_array_equal(out["tas"].values, ds["tas"].sel(lon=[165.0, 195.0]).values)


def test_area_keeps_descending_latitudes():
    ds = regular(np.arange(0.0, 360.0, 90.0), lat=[60.0, 20.0, -20.0, -60.0])
    out = subset(ds, area=parse_area("0,-30,100,70"))
    np.testing.assert_array_equal(out["lat"], [60.0, 20.0, -20.0])
    np.testing.assert_array_equal(out["lon"], [0.0, 90.0])


def test_whole_globe_keeps_all_longitudes():
    ds = regular(np.arange(0.0, 360.0, 30.0))
    out = subset(ds, area=parse_area("-180,-90,180,90"))
    np.testing.assert_array_equal(out["lon"], ds["lon"])


def test_curvilinear_area_crossing_greenwich_masks_data_not_vertices():
    ds = curvilinear()
    out = subset(ds, area=parse_area("-50,-40,50,40"))
    lat, lon = ds["latitude"].values, ds["longitude"].values
    inside = (lat >= -40) & (lat <= 40) & ((lon >= 310) | (lon <= 50))
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    assert out.sizes["j"] == rows[-1] - rows[0] + 1
    assert out.sizes["i"] == cols[-1] - cols[0] + 1
    assert isinstance(out["siconc"].data, dask.array.Array)
    expected = np.where(inside[box], ds["siconc"].values[:, box[0], box[1]], np.nan)
    np.testing.assert_array_equal(out["siconc"].values, expected)
    np.testing.assert_array_equal(
        out["vertices_latitude"].values, ds["vertices_latitude"].values[box]
    )
    assert out["siconc"].attrs["units"] == "%"
    assert np.isnan(out["siconc"].values).any()


def test_area_without_grid_cell():
    ds = regular(np.arange(0.0, 360.0, 30.0))
    with pytest.raises(NoDataSelected) as info:
        subset(ds, area=parse_area("1,0,2,1"))
    assert info.value.name == "area"
    assert "area 1,0,2,1 contains no grid cell centre" in info.value.reason
    assert "longitudes 0 to 330" in info.value.reason


def test_time_in_360_day_calendar():
    ds = regular([0.0], calendar="360_day")
    out = subset(ds, time=parse_time("2000-02-30/2001-02"))
    months = [(t.year, t.month) for t in out.indexes["time"]]
    assert months == [(2000, m) for m in range(3, 13)] + [(2001, 1), (2001, 2)]
    assert isinstance(out["tas"].data, dask.array.Array)


def test_time_open_ended_noleap():
    ds = regular([0.0], calendar="noleap")
    assert subset(ds, time=parse_time("/2000-02-28")).sizes["time"] == 2
    assert subset(ds, time=parse_time("2001-12-15/")).sizes["time"] == 1


def test_time_outside_dataset():
    ds = regular([0.0])
    with pytest.raises(NoDataSelected) as info:
        subset(ds, time=parse_time("2100-01-01/2101-01-01"))
    assert info.value.name == "time"
    assert info.value.reason == (
        "time 2100-01-01T00:00:00/2101-01-01T23:59:59 is outside the dataset's time range "
        "2000-01-15 to 2001-12-15"
    )


def test_time_between_steps():
    ds = regular([0.0])
    with pytest.raises(NoDataSelected, match="selects no step of the dataset's time range"):
        subset(ds, time=parse_time("2000-01-20/2000-01-25"))


def test_time_on_dataset_without_time():
    ds = regular([0.0]).isel(time=0, drop=True)
    with pytest.raises(InvalidParameter, match="dataset has no time axis"):
        subset(ds, time=parse_time("2000/2001"))


def test_time_components():
    ds = regular([0.0])
    out = subset(ds, time_components=parse_time_components("month:dec,jan"))
    assert [(t.year, t.month) for t in out.indexes["time"]] == [
        (2000, 1),
        (2000, 12),
        (2001, 1),
        (2001, 12),
    ]
    with pytest.raises(NoDataSelected) as info:
        subset(ds, time_components=parse_time_components("year:1990"))
    assert info.value.name == "time_components"
    assert "2000-01-15 to 2001-12-15" in info.value.reason


PLEV = [100000.0, 85000.0, 50000.0, 25000.0, 10000.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85000/25000", [85000.0, 50000.0, 25000.0]),
        ("25000/85000", [85000.0, 50000.0, 25000.0]),
        ("50000/", [50000.0, 25000.0, 10000.0]),
        ("/50000", [100000.0, 85000.0, 50000.0]),
        ("85000", [85000.0]),
    ],
)
def test_level_on_descending_pressure_axis(text, expected):
    ds = regular([0.0], plev=PLEV)
    out = subset(ds, level=parse_level(text))
    np.testing.assert_array_equal(out["plev"], expected)
    positions = [PLEV.index(p) for p in expected]
    np.testing.assert_array_equal(out["tas"].values, ds["tas"].values[:, positions])


def test_level_outside_axis():
    ds = regular([0.0], plev=PLEV)
    with pytest.raises(NoDataSelected) as info:
        subset(ds, level=parse_level("200000/300000"))
    assert info.value.reason == (
        "level 200000/300000 selects no level of the dataset; its plev levels are "
        "100000, 85000, 50000, 25000, 10000 Pa"
    )


def test_level_without_vertical_axis():
    with pytest.raises(InvalidParameter) as info:
        subset(regular([0.0]), level=parse_level("1000/2000"))
    assert (info.value.name, info.value.reason) == ("level", "dataset has no vertical (level) axis")


# --- real data: every grid type and project of the test archive -----------------------------

CMIP6 = "badc/cmip6/data/CMIP6"
CORDEX_PSL = (
    "gws/nopw/j04/cp4cds1_vol1/data/c3s-cordex/output/EUR-11/IPSL/MOHC-HadGEM2-ES/rcp85"
    "/r1i1p1/IPSL-WRF381P/v1/day/psl/v20190212"
)


def _files(archive_dir, folder, pattern="*.nc"):
    paths = sorted((archive_dir / folder).glob(pattern))
    assert paths, folder
    return paths


def _raw(path) -> xr.Dataset:
    """The file as plain xarray opens it, times as cftime."""
    return xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))


def _time_mask(times, start, end):
    return np.array([start <= t <= end for t in times])


@pytest.mark.realdata
def test_regular_grid_ipsl(archive_dir):
    (path,) = _files(
        archive_dir,
        f"{CMIP6}/CMIP/IPSL/IPSL-CM6A-LR/historical/r1i1p1f1/Amon/rlds/gr/v20180803",
        "*185001-201412.nc",
    )
    out = subset(
        open_dataset([path]), time=parse_time("1900/1909"), area=parse_area("-120,-90,10,0")
    )
    raw = _raw(path)
    tmask = np.array([t.year in range(1900, 1910) for t in raw["time"].values])
    lat_mask = raw["lat"].values <= 0
    lon_mask = (raw["lon"].values >= 240) | (raw["lon"].values <= 10)
    expected = raw["rlds"].values[tmask][:, lat_mask][:, :, lon_mask]
    np.testing.assert_array_equal(out["rlds"].values, expected)
    assert out.sizes["time"] == 120
    assert out["rlds"].attrs["units"] == raw["rlds"].attrs["units"]
    assert "time_bounds" in out


@pytest.mark.realdata
def test_curvilinear_sea_ice_miroc(archive_dir):
    paths = _files(
        archive_dir, f"{CMIP6}/CMIP/MIROC/MIROC6/historical/r1i1p1f1/SImon/siconc/gn/latest"
    )
    out = subset(
        open_dataset(paths), time=parse_time("1949-06/1950-06"), area=parse_area("-100,-90,120,0")
    )
    assert out.sizes["time"] == 13
    raw = xr.concat([_raw(p) for p in paths], dim="time")
    lat, lon = raw["latitude"].values, raw["longitude"].values
    inside = (lat <= 0) & ((lon >= 260) | (lon <= 120))
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    tmask = _time_mask(
        raw["time"].values,
        cftime.datetime(1949, 6, 1, calendar="gregorian"),
        cftime.datetime(1950, 6, 30, calendar="gregorian"),
    )
    expected = np.where(inside, raw["siconc"].values[tmask], np.nan)
    expected = expected[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    np.testing.assert_array_equal(out["siconc"].values, expected)
    assert not np.isnan(out["vertices_latitude"].values).any()


@pytest.mark.realdata
def test_rotated_pole_cordex_ten_files(archive_dir):
    paths = _files(archive_dir, CORDEX_PSL)
    assert len(paths) == 10
    out = subset(
        open_dataset(paths),
        time=parse_time("2050-12-01/2051-01-31"),
        area=parse_area("-10,40,20,60"),
    )
    assert set(out["psl"].dims) == {"time", "rlat", "rlon"}
    assert out.sizes["time"] == 62
    raw = xr.concat(
        [_raw(p) for p in paths if "2041" in p.name or "2051" in p.name],
        dim="time",
        data_vars="minimal",
    )
    lat, lon = raw["lat"].values, raw["lon"].values
    inside = (lat >= 40) & (lat <= 60) & ((lon >= 350) | (lon <= 20))
    tmask = _time_mask(
        raw["time"].values,
        cftime.datetime(2050, 12, 1, calendar="standard"),
        cftime.datetime(2051, 1, 31, 23, 59, 59, calendar="standard"),
    )
    values = out["psl"].values
    np.testing.assert_array_equal(
        values[~np.isnan(values)], raw["psl"].values[tmask][:, inside].ravel()
    )
    assert not np.isnan(out["lat_bnds"].values).any()
    assert out["rlat"].attrs["standard_name"] == "grid_latitude"


@pytest.mark.realdata
def test_ec_earth_time_range_across_files(archive_dir):
    paths = _files(
        archive_dir,
        "gws/nopw/j04/cp4cds1_vol1/data/c3s-cmip5/output1/ICHEC/EC-EARTH/historical/day/atmos"
        "/day/r1i1p1/tas/v20131231",
    )
    ds = open_dataset(paths)
    out = subset(ds, time=parse_time("1859-12-25/1860-01-05"), area=parse_area("0,0,360,90"))
    assert [t.strftime("%Y-%m-%d") for t in out.indexes["time"]][:1] == ["1859-12-25"]
    assert out.sizes["time"] == 12
    assert (out["lat"].values >= 0).all()
    np.testing.assert_array_equal(out["lon"].values, ds["lon"].values)


@pytest.mark.realdata
def test_pressure_levels_miroc_ta(archive_dir):
    (path,) = _files(
        archive_dir,
        f"{CMIP6}/ScenarioMIP/MIROC/MIROC6/ssp119/r1i1p1f1/Amon/ta/gn/files/d20190807",
    )
    out = subset(open_dataset([path]), level=parse_level("85000/50000"))
    raw = _raw(path)
    keep = (raw["plev"].values <= 85000) & (raw["plev"].values >= 50000)
    np.testing.assert_array_equal(out["plev"].values, raw["plev"].values[keep])
    np.testing.assert_array_equal(out["ta"].values, raw["ta"].values[:, keep])


@pytest.mark.realdata
def test_hybrid_levels_cesm2_cl(archive_dir):
    (path,) = _files(archive_dir, f"{CMIP6}/CMIP/NCAR/CESM2/amip/r1i1p1f1/Amon/cl/gn/v20190319")
    ds = open_dataset([path])
    lev = ds["lev"].values
    out = subset(ds, level=parse_level(f"{lev[3]}/{lev[6]}"), time=parse_time("2000/2000"))
    assert out.sizes["lev"] == 4
    for name in ("a_bnds", "b_bnds", "lev_bnds"):
        np.testing.assert_array_equal(out[name].values, ds[name].values[3:7])
    raw = _raw(path)
    tmask = np.array([t.year == 2000 for t in raw["time"].values])
    np.testing.assert_array_equal(out["cl"].values, raw["cl"].values[tmask][:, 3:7])
    assert "time" not in out["p0"].dims


@pytest.mark.realdata
def test_360_day_hadgem(archive_dir):
    paths = _files(
        archive_dir,
        "badc/cmip5/data/cmip5/output1/MOHC/HadGEM2-ES/historical/mon/land/Lmon/r1i1p1/latest/rh",
    )
    ds = open_dataset(paths)
    assert ds["time"].encoding["calendar"] == "360_day"
    out = subset(ds, time=parse_time("1909-02-30/1935-02-30"))
    assert out.indexes["time"][0].strftime("%Y-%m") == "1909-03"
    assert out.indexes["time"][-1].strftime("%Y-%m") == "1935-02"
    assert out.sizes["time"] == 26 * 12
    with pytest.raises(NoDataSelected, match="time range 1859-12-16 to 2005-11-16"):
        subset(ds, time=parse_time("2100/2101"))


def test_an_area_of_an_ensemble_file_keeps_the_members_and_their_labels(tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    out = subset(ds, area=parse_area("0,-30,90,30"))
    assert out.pr.dims == ("member", "time", "lat", "lon") and out.pr.shape == (3, 3, 2, 3)
    np.testing.assert_array_equal(out.pr.values, ds.pr.values[:, :, 2:4, 0:3])
    assert list(out.member_id.values) == list(MEMBERS)
    assert cf_failures(write_netcdf(out, tmp_path / "out.nc", history="test")) == set()
