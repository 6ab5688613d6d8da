"""Output file names: the source's name with the time range of the data written."""

from __future__ import annotations

import cftime
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cp4cds_wps.output.naming import output_filename


def monthly(start: str, months: int, calendar: str = "360_day") -> xr.Dataset:
    """Monthly mean data stamped in the middle of each month."""
    time = xr.date_range(start, periods=months, freq="MS", calendar=calendar, use_cftime=True)
    mid = [t.replace(day=16) for t in time]
    return xr.Dataset({"tas": ("time", np.zeros(months))}, coords={"time": mid})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-188411.nc",
            "tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-186912.nc",
        ),
        # a single date in the source name: the range of the data
        (
            "zos_Omon_bcc-csm1-1_rcp85_r1i1p1_200601.nc",
            "zos_Omon_bcc-csm1-1_rcp85_r1i1p1_186001-186912.nc",
        ),
        ("t_E-OBS_mon_195001.nc", "t_E-OBS_mon_186001-186912.nc"),
        # yearly precision stays yearly; a path is reduced to the name; -clim is kept
        (
            "/archive/x/co2_yr_M_historical_r1i1p1_1850-2014.nc",
            "co2_yr_M_historical_r1i1p1_1860-1869.nc",
        ),
        (
            "tas_Amon_M_historical_r1i1p1_185001-200512-clim.nc",
            "tas_Amon_M_historical_r1i1p1_186001-186912-clim.nc",
        ),
    ],
)
def test_time_range_replaced_in_source_precision(source, expected):
    assert output_filename(source, monthly("1860-01-01", 120)) == expected


def test_daily_and_subdaily_precision():
    time = pd.date_range("2000-03-01T03:00", periods=16, freq="3h")
    ds = xr.Dataset({"pr": ("time", np.zeros(16))}, coords={"time": time})
    name = output_filename("pr_3hr_M_historical_r1i1p1f1_gn_200001010300-200912312100.nc", ds)
    assert name == "pr_3hr_M_historical_r1i1p1f1_gn_200003010300-200003030000.nc"
    day = output_filename("tas_day_M_rcp45_r1i1p1_20051201-20151130.nc", ds)
    assert day == "tas_day_M_rcp45_r1i1p1_20000301-20000303.nc"


def test_fixed_field_keeps_its_name():
    ds = xr.Dataset({"areacello": (("j", "i"), np.ones((2, 3)))})
    name = "areacello_Ofx_GFDL-ESM4_historical_r1i1p1f1_gn.nc"
    assert output_filename(name, ds) == name


def test_name_without_date_gets_range_of_frequency():
    ds = monthly("1950-01-01", 3, "standard").assign_attrs(frequency="day")
    assert output_filename("sfcwind_obs.nc", ds) == "sfcwind_obs_19500116-19500316.nc"
    ds.attrs.pop("frequency")
    assert output_filename("sfcwind_obs.nc", ds) == "sfcwind_obs_195001-195003.nc"


def test_parts_of_a_split_output_get_distinct_names():
    ds = monthly("1860-01-01", 24)
    source = "tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-188411.nc"
    names = {output_filename(source, ds.isel(time=part)) for part in (slice(0, 12), slice(12, 24))}
    assert names == {
        "tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-186012.nc",
        "tas_Amon_HadGEM2-ES_historical_r1i1p1_186101-186112.nc",
    }


@pytest.mark.filterwarnings("ignore:variable 't' has multiple fill values")
def test_single_step_archive_file(archive_dir):
    path = archive_dir / "pool/data/c3s-cica-atlas/E-OBS/t_E-OBS_mon_195001.nc"
    with xr.open_dataset(path) as ds:
        assert output_filename(str(path), ds) == "t_E-OBS_mon_195001-195001.nc"


def test_a_mean_over_all_time_is_named_by_its_bounds():
    bounds = xr.DataArray(
        [[cftime.Datetime360Day(1860, 1, 1), cftime.Datetime360Day(1870, 1, 1)]],
        dims=("t", "bnds"),
    ).isel(t=0)
    ds = xr.Dataset(
        coords={"time": ((), cftime.Datetime360Day(1865, 1, 1), {"bounds": "time_bnds"})},
        data_vars={"time_bnds": bounds},
    )
    name = output_filename("tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-188411.nc", ds)
    assert name == "tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-187001.nc"
