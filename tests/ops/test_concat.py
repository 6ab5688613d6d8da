"""Concatenating ensemble members along realization, on synthetic members."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.concat import concat_realizations


def member(
    seed: int,
    *,
    start: int = 1961,
    months: int = 12,
    calendar: str = "standard",
    variable: str = "tas",
    lat: tuple[float, ...] = (-45.0, 45.0),
    **attrs,
) -> xr.Dataset:
    """A monthly member on a 2 x 3 grid, random values; ``attrs`` are global attributes."""
    times = [
        cftime.datetime(start + m // 12, m % 12 + 1, 16, calendar=calendar) for m in range(months)
    ]
    values = np.random.default_rng(seed).uniform(250, 300, (months, len(lat), 3))
    ds = xr.Dataset(
        {
            variable: (("time", "lat", "lon"), values, {"units": "K"}),
            "lat_bnds": (("lat", "bnds"), np.array([[v - 1, v + 1] for v in lat])),
        },
        coords={
            "time": ("time", times),
            "lat": ("lat", np.array(lat), {"standard_name": "latitude", "bounds": "lat_bnds"}),
            "lon": ("lon", [0.0, 120.0, 240.0], {"standard_name": "longitude"}),
        },
        attrs={"frequency": "mon", **attrs},
    )
    ds[variable].encoding = {"dtype": np.dtype("float32"), "_FillValue": np.float32(1e20)}
    return ds.chunk({"time": 6})


def test_members_are_stacked_in_order_with_labels_and_shared_attributes():
    members = [(f"r{i}i1p1f1", member(i, variant_label=f"r{i}i1p1f1")) for i in (1, 2, 3)]
    out = concat_realizations(members)
    assert out.tas.dims == ("realization", "time", "lat", "lon")
    for k, (_, ds) in enumerate(members):
        np.testing.assert_array_equal(out.tas.isel(realization=k).values, ds.tas.values)
    assert list(out.realization.values) == [0, 1, 2]
    assert out.realization.attrs["standard_name"] == "realization"
    assert list(out.member_id.values) == ["r1i1p1f1", "r2i1p1f1", "r3i1p1f1"]
    assert out.attrs == {"frequency": "mon"}  # variant_label differs between members
    assert out.lat_bnds.dims == ("lat", "bnds")  # bounds are not repeated per member
    assert out.tas.encoding == {"dtype": np.dtype("float32"), "_FillValue": np.float32(1e20)}
    assert out.tas.chunks is not None


def test_gregorian_and_standard_are_one_calendar_and_rounded_bounds_one_grid():
    rounded = member(2, calendar="gregorian")
    rounded["lat_bnds"] = rounded.lat_bnds + 1.5e-6
    out = concat_realizations([("a", member(1)), ("b", rounded)])
    assert out.sizes["realization"] == 2


@pytest.mark.parametrize(
    ("other", "reason"),
    [
        (member(2, variable="pr"), "it has the variables pr, the first member tas"),
        (
            member(2).assign(tas=lambda ds: ds.tas.assign_attrs(units="degC")),
            "its tas is in degC, that of the first member in K",
        ),
        (
            member(2, lat=(-45.0, 0.0, 45.0)),
            "its grid has the dimensions lat (3), lon (3), bnds (2), the first member lat (2), "
            "lon (3), bnds (2)",
        ),
        (
            member(2, lat=(-40.0, 40.0)),
            "its lat values differ from those of the first member (another grid)",
        ),
        (
            member(2).rename(lat_bnds="lat_edges"),
            "it lacks the variable lat_bnds of the first member",
        ),
        (
            member(2, calendar="360_day"),
            "its calendar is 360_day, that of the first member standard",
        ),
        (
            member(2, months=24),
            "its time axis is 1961-01-16T00:00:00 to 1962-12-16T00:00:00 (24 steps), that of "
            "the first member 1961-01-16T00:00:00 to 1961-12-16T00:00:00 (12 steps); select the "
            "dates both cover with the time input, e.g. 1961-01-16/1961-12-16",
        ),
    ],
    ids=["variable", "units", "grid-size", "grid-values", "bounds", "calendar", "time"],
)
def test_a_member_that_differs_is_refused_saying_how(other, reason):
    with pytest.raises(DatasetInconsistent) as info:
        concat_realizations([("r1", member(1)), ("r2", member(1)), ("r3", other)])
    assert info.value.name == "collection"
    assert info.value.reason == f"member r3 cannot be concatenated with r1: {reason}"


def test_hindcasts_of_different_start_dates_are_not_aligned_by_lead_time():
    s1960 = member(1, start=1960, months=24, sub_experiment_id="s1960")
    s1961 = member(2, start=1961, months=24, sub_experiment_id="s1961")
    with pytest.raises(DatasetInconsistent) as info:
        concat_realizations([("s1960-r1", s1960), ("s1961-r1", s1961)])
    assert info.value.reason.endswith(
        "; hindcasts of different start dates (s1960, s1961) are not aligned by lead time; "
        "select the dates both cover with the time input, e.g. 1961-01-16/1961-12-16"
    )
    # the dates both cover concatenate
    common = slice("1961-01-01", "1961-12-31")
    out = concat_realizations(
        [("s1960-r1", s1960.sel(time=common)), ("s1961-r1", s1961.sel(time=common))]
    )
    np.testing.assert_array_equal(out.tas.values[1], s1961.tas.values[:12])


def test_members_with_the_same_span_but_other_steps_are_refused():
    shifted = member(2)
    shifted["time"] = [t.replace(day=15) if t.month == 6 else t for t in shifted.time.values]
    with pytest.raises(DatasetInconsistent, match="12 steps\\); the steps between differ$"):
        concat_realizations([("a", member(1)), ("b", shifted)])


def test_members_sharing_no_date_are_refused_saying_so():
    with pytest.raises(DatasetInconsistent, match="; they share no date$"):
        concat_realizations([("a", member(1)), ("b", member(2, start=1990))])
