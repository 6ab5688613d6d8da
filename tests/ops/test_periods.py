"""Means over calendar periods on synthetic data, checked against hand computations."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.periods import average_time, parse_freq
from tests.synthetic import MEMBERS, ensemble_file

from .test_average import DAYS, monthly, written_cf_failures


def test_parse_freq():
    assert parse_freq("Season") == "season"
    with pytest.raises(InvalidParameter, match="'decade' is not one of day, month, season, year"):
        parse_freq("decade")


# -- time means ----------------------------------------------------------------------------


@pytest.mark.parametrize("calendar", list(DAYS))
def test_yearly_and_seasonal_means_weight_months_by_their_days(calendar):
    months = np.tile(np.arange(1.0, 13.0), 2)
    ds = monthly(calendar, months)
    days = np.array(DAYS[calendar], dtype=float)
    year = average_time(ds, "year")
    np.testing.assert_allclose(year.tas.values[0], (np.arange(1, 13) * days).sum() / days.sum())
    seasons = average_time(ds, "season")
    # 2000: JF (DJF of Dec 1999), MAM, JJA, SON, DJF (Dec 2000 + Jan, Feb 2001), ...
    assert seasons.sizes["time"] == 9
    feb_2001 = DAYS["noleap" if calendar == "gregorian" else calendar][1]
    jan, feb, dec = (30, 30, 30) if calendar == "360_day" else (31, feb_2001, 31)
    djf = (12 * dec + 1 * jan + 2 * feb) / (dec + jan + feb)
    np.testing.assert_allclose(seasons.tas.values[4], djf)
    mam = (3 * days[2] + 4 * days[3] + 5 * days[4]) / days[2:5].sum()
    np.testing.assert_allclose(seasons.tas.values[1], mam)
    assert [str(b) for b in seasons.time_bnds.values[4]] == [
        "2000-12-01 00:00:00",
        "2001-03-01 00:00:00",
    ]
    assert seasons.tas.attrs["cell_methods"] == "time: mean"
    # time at the middle of the bounds
    lo, hi = year.time_bnds.values[1]
    assert year.time.values[1] == lo + (hi - lo) / 2


def test_without_time_bounds_monthly_steps_are_weighted_by_days_in_month():
    ds = monthly("gregorian", np.tile(np.arange(1.0, 13.0), 2), bounds=False)
    year = average_time(ds, "year")
    days = np.array(DAYS["gregorian"])
    np.testing.assert_allclose(year.tas.values[0], (np.arange(1, 13) * days).sum() / days.sum())
    assert [str(b) for b in year.time_bnds.values[0]] == [
        "2000-01-01 00:00:00",
        "2001-01-01 00:00:00",
    ]


def test_missing_steps_do_not_count():
    values = np.tile(np.arange(1.0, 13.0), 2)
    values[:6] = np.nan
    year = average_time(monthly("360_day", values), "year")
    np.testing.assert_allclose(year.tas.values, [9.5, 6.5])


def test_daily_means_of_six_hourly_data():
    times = [cftime.datetime(2000, 2, 28, h, calendar="noleap") for h in (0, 6, 12, 18)]
    times += [cftime.datetime(2000, 3, 1, h, calendar="noleap") for h in (0, 6)]
    ds = xr.Dataset({"pr": ("time", [1.0, 2, 3, 4, 10, 20])}, coords={"time": times})
    day = average_time(ds, "day")
    np.testing.assert_allclose(day.pr.values, [2.5, 15])
    assert [str(b) for b in day.time_bnds.values[1]] == [
        "2000-03-01 00:00:00",
        "2000-03-02 00:00:00",
    ]
    assert day.attrs["frequency"] == "day"


@pytest.mark.parametrize("freq", ["day", "month"])
def test_a_freq_not_coarser_than_the_data_is_refused(freq):
    with pytest.raises(InvalidParameter, match=f"not shorter than a {freq}") as info:
        average_time(monthly("noleap", np.arange(24.0)), freq)
    assert info.value.name == "freq"
    assert "choose season or year" in info.value.reason


def test_time_means_of_an_ensemble_file_keep_the_members(tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    season = average_time(ds, "season")
    assert season.pr.dims == ("member", "time", "lat", "lon")
    values = ds.pr.values.astype(float)
    # JF of the DJF season starting in December 1999, then March alone (MAM)
    np.testing.assert_allclose(season.pr.values[:, 0], values[:, :2].mean(1), rtol=1e-6)
    np.testing.assert_allclose(season.pr.values[:, 1], values[:, 2], rtol=1e-6)
    assert list(season.member_id.values) == list(MEMBERS)
    assert written_cf_failures(season, tmp_path) == set()
