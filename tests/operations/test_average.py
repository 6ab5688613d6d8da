"""The averaging tasks on real archive data of every grid type, checked with plain numpy."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.average import (
    AverageRequest,
    AverageTimeRequest,
    plan_average,
    run_average,
    run_average_time,
)
from cp4cds_wps.tasks.runner import RunContext
from tests.cf_check import CFTIME, cf_failures

pytestmark = pytest.mark.realdata

REGULAR = "CMIP6.ScenarioMIP.INM.INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"
SEA_ICE = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.latest"
AREACELLO = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.Ofx.areacello.gn.v20190726"
CORDEX = (
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212"
)
LEVELS = "CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.Amon.ta.gn.v20190807"
R2 = 6_371_000.0**2


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def run(request, inventory, tmp_path, **kwargs):
    runner = run_average if isinstance(request, AverageRequest) else run_average_time
    result = runner(
        request,
        plan_average(request, inventory),
        RunContext(
            out_dir=tmp_path / "job", out_url="http://test/outputs/job", time_chunk=120, **kwargs
        ),
    )
    assert len(result.files) == 1
    return result, xr.open_dataset(tmp_path / "job" / result.files[0].name, decode_times=CFTIME)


@functools.cache
def source(inventory, dataset_id) -> xr.Dataset:
    """The dataset's files opened with plain xarray, values loaded."""
    paths = [f.path for f in inventory.get(dataset_id).files]
    return xr.open_mfdataset(
        paths,
        decode_times=CFTIME,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        chunks={"time": -1},
    ).load()


def test_regular_area_mean_equals_numpy_and_is_cf_compliant(inventory, tmp_path):
    result, out = run(AverageRequest((REGULAR,), ("latitude", "longitude")), inventory, tmp_path)
    src = source(inventory, REGULAR)
    lat_b, lon_b = np.deg2rad(src.lat_bnds.values), np.deg2rad(src.lon_bnds.values)
    areas = np.outer(np.abs(np.diff(np.sin(lat_b))), np.abs(np.diff(lon_b)))
    expected = (src.rlds.values * areas).sum(axis=(1, 2)) / areas.sum()
    np.testing.assert_allclose(out.rlds.values, expected, rtol=1e-5)
    assert out.rlds.dims == ("time",)
    assert "area: mean" in out.rlds.attrs["cell_methods"]
    assert not cf_failures(tmp_path / "job" / result.files[0].name)


def test_curvilinear_sea_ice_mean_uses_the_archive_areacello(inventory, tmp_path):
    result, out = run(AverageRequest((SEA_ICE,), ("latitude", "longitude")), inventory, tmp_path)
    src = source(inventory, SEA_ICE)
    fx = source(inventory, AREACELLO)
    rows = np.flatnonzero(np.isin(fx.y.values.round(4), src.y.values.round(4)))
    cols = np.flatnonzero(np.isin(fx.x.values.round(4), src.x.values.round(4)))
    areas = fx.areacello.values[np.ix_(rows, cols)].astype(float)
    values = src.siconc.values.astype(float)
    valid = ~np.isnan(values)
    expected = np.nansum(values * areas, axis=(1, 2)) / (valid * areas).sum(axis=(1, 2))
    np.testing.assert_allclose(out.siconc.values, expected, rtol=1e-5)
    assert "cell areas from areacello" in out.siconc.attrs["cell_methods"]
    assert "cell_measures" not in out.siconc.attrs
    inputs = result.provenance.json()
    assert AREACELLO in inputs and SEA_ICE in inputs
    assert not cf_failures(tmp_path / "job" / result.files[0].name)


def test_rotated_pole_area_mean_equals_the_rotated_band_areas(inventory, tmp_path):
    _, out = run(AverageRequest((CORDEX,), ("latitude", "longitude")), inventory, tmp_path)
    src = source(inventory, CORDEX)
    # a rotated-pole cell is a latitude-longitude cell of the rotated sphere (0.11 degrees)
    rlat = np.deg2rad(src.rlat.values)
    half = np.deg2rad(0.055)
    areas = np.outer(np.sin(rlat + half) - np.sin(rlat - half), np.ones(src.sizes["rlon"]))
    expected = (src.psl.values * areas).sum(axis=(1, 2)) / areas.sum()
    # the file's cell vertices are rounded and the output is float32: a few 1e-6 apart
    np.testing.assert_allclose(out.psl.values, expected, rtol=1e-5)
    assert out.psl.shape == (src.sizes["time"],)


def test_rotated_pole_yearly_means_equal_numpy(inventory, tmp_path):
    result, out = run(AverageTimeRequest((CORDEX,), "year"), inventory, tmp_path)
    src = source(inventory, CORDEX)
    years = src.time.dt.year.values
    psl = src.psl.values.astype(float)
    expected = np.stack([psl[years == y].mean(axis=0) for y in np.unique(years)])
    np.testing.assert_allclose(out.psl.values, expected, rtol=1e-6)
    assert out.time_bnds.values[0, 0].year == 2006 and out.time_bnds.values[-1, -1].year == 2099
    assert out.time.dt.calendar == src.time.dt.calendar
    assert out.psl.attrs["cell_methods"] == "time: mean"
    assert not cf_failures(tmp_path / "job" / result.files[0].name)


def test_time_and_level_mean_with_levels_without_bounds(inventory, tmp_path):
    _, out = run(AverageRequest((LEVELS,), ("time", "level")), inventory, tmp_path)
    src = source(inventory, LEVELS)
    days = np.array([(b - a).days for a, b in src.time_bnds.values], dtype=float)
    # below-ground levels are missing (NaN): they count neither in sums nor in weights
    ta = src.ta.values.astype(float)
    weights = days[:, None, None, None] * ~np.isnan(ta)
    expected = np.nansum(ta * weights, axis=(0, 1)) / weights.sum(axis=(0, 1))
    np.testing.assert_allclose(out.ta.values, expected, rtol=1e-5)
    assert out.ta.dims == ("lat", "lon")
    assert out.plev.ndim == 0 and out.time.ndim == 0
    assert "plev: mean (comment: unweighted" in out.ta.attrs["cell_methods"]


def test_a_dim_the_dataset_lacks_fails_and_leaves_no_folder(inventory, tmp_path):
    with pytest.raises(InvalidParameter, match="no level axis; its dimensions are"):
        run(AverageRequest((CORDEX,), ("level",)), inventory, tmp_path)
    assert not (tmp_path / "job").exists()


def test_a_daily_mean_of_monthly_data_is_refused(inventory, tmp_path):
    with pytest.raises(InvalidParameter, match="freq: .* a day mean needs finer data"):
        run(AverageTimeRequest((LEVELS,), "day"), inventory, tmp_path)


def test_progress_is_reported(inventory, tmp_path):
    seen = []
    run(
        AverageTimeRequest((LEVELS,), "year"),
        inventory,
        tmp_path,
        progress=lambda percent, message: seen.append((percent, message)),
    )
    assert seen == [(0, f"average_time: {LEVELS}"), (100, "average_time done: 1 file(s)")]
