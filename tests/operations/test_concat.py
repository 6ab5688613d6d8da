"""The concat task: real DCPP members of the archive, and a small synthetic DCPP archive."""

from __future__ import annotations

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.config import Root
from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.concat import ConcatRequest, plan_concat, run_concat
from cp4cds_wps.ops.params import parse_time
from cp4cds_wps.tasks.runner import RunContext
from tests.cf_check import cf_failures

MEMBERS = tuple(
    f"CMIP6.DCPP.DWD.MPI-ESM1-2-LR.dcppA-hindcast.s1980-r{r}i1p1f1.day.tasmax.gn.v20220126"
    for r in range(1, 6)
)
OTHER_VARIABLE = "CMIP6.DCPP.CMCC.CMCC-CM2-SR5.dcppA-hindcast.s1960-r1i1p1f1.day.tas.gn.v20210806"
EC_EARTH = (  # gregorian and proleptic_gregorian calendars
    "CMIP6.DCPP.EC-Earth-Consortium.EC-Earth3.dcppA-hindcast.s1960-r2i1p1f1.Amon.tas.gr.v20201215",
    "CMIP6.DCPP.EC-Earth-Consortium.EC-Earth3.dcppA-hindcast.s1960-r6i2p1f1.Amon.tas.gr.v20200508",
)
CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def run(request, inventory, tmp_path, **kwargs):
    result = run_concat(
        request,
        plan_concat(request, inventory),
        RunContext(
            out_dir=tmp_path / "job", out_url="http://test/outputs/job", time_chunk=120, **kwargs
        ),
    )
    assert len(result.files) == 1
    path = tmp_path / "job" / result.files[0].name
    return result, path, xr.open_dataset(path, decode_times=CFTIME)


def source(inventory, dataset_id) -> xr.Dataset:
    (record,) = inventory.get(dataset_id).files
    return xr.open_dataset(record.path, decode_times=CFTIME)


@pytest.mark.realdata
def test_dcpp_members_of_one_start_date_are_stacked(inventory, tmp_path):
    seen = []
    result, path, out = run(
        ConcatRequest(MEMBERS),
        inventory,
        tmp_path,
        progress=lambda percent, message: seen.append((percent, message)),
    )
    sources = [source(inventory, m) for m in MEMBERS]
    np.testing.assert_array_equal(out.tasmax.values, np.stack([s.tasmax.values for s in sources]))
    assert out.tasmax.dims == ("realization", "time", "lat", "lon")
    assert list(out.member_id.values) == [f"s1980-r{r}i1p1f1" for r in range(1, 6)]
    assert out.realization.attrs["standard_name"] == "realization"
    assert list(out.time.values) == list(sources[0].time.values)
    assert "variant_label" not in out.attrs and out.attrs["sub_experiment_id"] == "s1980"
    assert (
        path.name
        == "tasmax_day_MPI-ESM1-2-LR_dcppA-hindcast_s1980-5members_gn_19801101-19901231.nc"
    )
    assert all(m in result.provenance.json() for m in MEMBERS)
    assert seen == [(0, f"concat: {', '.join(MEMBERS)}"), (100, "concat done: 1 file(s)")]
    # the sources lack a "positive" attribute on height; nothing else fails
    assert cf_failures(path) <= cf_failures(inventory.get(MEMBERS[0]).files[0].path)


@pytest.mark.realdata
def test_the_ensemble_mean_over_a_time_range(inventory, tmp_path):
    request = ConcatRequest(MEMBERS[:3], time=parse_time("1985/1986"), apply_average=True)
    _, path, out = run(request, inventory, tmp_path)
    values = [source(inventory, m).tasmax.sel(time=slice("1985", "1986")) for m in MEMBERS[:3]]
    expected = np.mean([v.values.astype(float) for v in values], axis=0)
    np.testing.assert_allclose(out.tasmax.values, expected, rtol=1e-6)
    assert out.tasmax.dims == ("time", "lat", "lon")
    assert out.tasmax.attrs["cell_methods"] == "area: time: maximum realization: mean"
    assert {"realization", "member_id"}.isdisjoint(out.variables)
    assert path.name.endswith("_s1980-3members-mean_gn_19850101-19861231.nc")
    assert cf_failures(path) <= cf_failures(inventory.get(MEMBERS[0]).files[0].path)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("collection", "error", "message"),
    [
        (MEMBERS[:1], InvalidParameter, "concat needs two or more dataset ids"),
        (
            (MEMBERS[0], OTHER_VARIABLE),
            DatasetInconsistent,
            f"member {OTHER_VARIABLE} has the variable tas, {MEMBERS[0]} tasmax",
        ),
        (
            EC_EARTH,
            DatasetInconsistent,
            f"member {EC_EARTH[1]} has the calendar proleptic_gregorian, {EC_EARTH[0]} standard",
        ),
    ],
    ids=["one-member", "variables", "calendars"],
)
def test_members_that_do_not_fit_are_refused_before_reading(inventory, collection, error, message):
    with pytest.raises(error) as info:
        plan_concat(ConcatRequest(collection), inventory)
    assert info.value.name == "collection"
    assert message in info.value.reason


# -- a synthetic archive of decadal hindcasts ------------------------------------------------


def write_member(root, start: int, member: str, lat=(-30.0, 30.0), seed: int = 0):
    """A monthly DCPP member starting in November of ``start``, 14 months long."""
    folder = root / f"DCPP/INST/MODEL/dcppA-hindcast/s{start}-{member}/Amon/tas/gn/v20200101"
    folder.mkdir(parents=True)
    path = folder / f"tas_Amon_MODEL_dcppA-hindcast_s{start}-{member}_gn_{start}11-{start + 1}12.nc"
    dates = [cftime.datetime(start + (10 + m) // 12, (10 + m) % 12 + 1, 16) for m in range(14)]
    with netCDF4.Dataset(path, "w") as nc:
        nc.sub_experiment_id = f"s{start}"
        for name, size in (("time", None), ("lat", len(lat)), ("lon", 2), ("bnds", 2)):
            nc.createDimension(name, size)
        time = nc.createVariable("time", "f8", ("time",))
        time.setncatts({"units": "days since 1850-01-01", "calendar": "standard", "axis": "T"})
        time[:] = cftime.date2num(dates, time.units, time.calendar)
        for name, values, units in (
            ("lat", lat, "degrees_north"),
            ("lon", (0, 180), "degrees_east"),
        ):
            var = nc.createVariable(name, "f8", (name,))
            var.setncatts({"units": units, "bounds": f"{name}_bnds"})
            var[:] = values
            bounds = nc.createVariable(f"{name}_bnds", "f8", (name, "bnds"))
            bounds[:] = np.add.outer(values, [-1, 1])
        tas = nc.createVariable("tas", "f4", ("time", "lat", "lon"))
        tas.units = "K"
        tas[:] = np.random.default_rng(seed).uniform(250, 300, (14, len(lat), 2))
    return path


@pytest.fixture
def dcpp(tmp_path):
    """An inventory over hindcasts started in 1960 (r1, r2 on another grid) and 1961 (r1)."""
    root = tmp_path / "CMIP6"
    files = {
        "s1960-r1": write_member(root, 1960, "r1i1p1f1", seed=1),
        "s1960-r2": write_member(root, 1960, "r2i1p1f1", lat=(-20.0, 20.0), seed=2),
        "s1961-r1": write_member(root, 1961, "r1i1p1f1", seed=3),
    }
    inventory = Inventory(tmp_path / "db" / "inventory.sqlite", [Root("cmip6", root, "cmip6")])
    inventory.ensure_scanned()
    ids = {
        key: f"CMIP6.DCPP.INST.MODEL.dcppA-hindcast.{key}i1p1f1.Amon.tas.gn.v20200101"
        for key in files
    }
    return inventory, ids, files


def test_hindcasts_of_different_start_dates_are_refused_naming_the_common_dates(dcpp):
    inventory, ids, _ = dcpp
    with pytest.raises(DatasetInconsistent) as info:
        plan_concat(ConcatRequest((ids["s1960-r1"], ids["s1961-r1"])), inventory)
    assert info.value.reason.endswith(
        "hindcasts of different start dates (s1960, s1961) are not aligned by lead time; "
        "select the dates all cover with the time input, e.g. 1961-11-16/1961-12-16"
    )


def test_hindcasts_of_different_start_dates_concatenate_over_their_common_dates(dcpp, tmp_path):
    inventory, ids, files = dcpp
    request = ConcatRequest((ids["s1960-r1"], ids["s1961-r1"]), time=parse_time("1961-11/1961-12"))
    _, path, out = run(request, inventory, tmp_path)
    expected = [
        xr.open_dataset(files[k], decode_times=CFTIME).tas for k in ("s1960-r1", "s1961-r1")
    ]
    np.testing.assert_array_equal(out.tas.values[0], expected[0].values[-2:])
    np.testing.assert_array_equal(out.tas.values[1], expected[1].values[:2])
    assert list(out.member_id.values) == ["s1960-r1i1p1f1", "s1961-r1i1p1f1"]
    assert path.name == "tas_Amon_MODEL_dcppA-hindcast_2members_gn_196111-196112.nc"
    assert [str(t) for t in out.time.values] == ["1961-11-16 00:00:00", "1961-12-16 00:00:00"]


def test_members_on_different_grids_fail_when_read_and_leave_no_folder(dcpp, tmp_path):
    inventory, ids, _ = dcpp
    with pytest.raises(DatasetInconsistent) as info:
        run(ConcatRequest((ids["s1960-r1"], ids["s1960-r2"])), inventory, tmp_path)
    assert info.value.reason == (
        "member s1960-r2i1p1f1 cannot be concatenated with s1960-r1i1p1f1: its lat values "
        "differ from those of the first member (another grid)"
    )
    assert not (tmp_path / "job").exists()
