"""The regrid task on archive data of every grid type, checked against CDO's own remapping
of the archive files and against the area means of the source."""

from __future__ import annotations

import functools

import dask
import numpy as np
import pytest
import xarray as xr
from cdo import Cdo

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.regrid import GridSpec, parse_grid, regrid
from cp4cds_wps.ops.weights import cell_areas
from cp4cds_wps.tasks.regrid import RegridRequest, plan_regrid, run_regrid
from tests.cf_check import CFTIME, cf_failures

pytestmark = pytest.mark.realdata

REGULAR = "CMIP6.ScenarioMIP.INM.INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"
CMIP5_TAS = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
FULL_REGULAR = "CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.day.tas.gn.v20191016"
FULL_LEVELS = "CMIP6.CMIP.MPI-M.MPI-ESM1-2-LR.historical.r1i1p1f1.AERmon.o3.gn.v20190710"
SEA_ICE = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.latest"
MIROC_SEA_ICE = "CMIP6.CMIP.MIROC.MIROC6.historical.r1i1p1f1.SImon.siconc.gn.latest"
CORDEX = (
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212"
)
LEVELS = "CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.Amon.ta.gn.v20190807"
NO_GRID = "cmip5.output1.INM.inmcm4.rcp45.mon.ocean.Omon.r1i1p1.latest.zostoga"
CDO_OPERATORS = {"nearest_s2d": "remapnn", "bilinear": "remapbil", "conservative": "remapcon"}


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def run(inventory, tmp_path, dataset_id, method, grid, custom_grid=None, **kwargs):
    request = RegridRequest((dataset_id,), method, parse_grid(grid, custom_grid))
    result = run_regrid(
        request,
        plan_regrid(request, inventory),
        out_dir=tmp_path / "job",
        out_url="http://test/outputs/job",
        **{"time_chunk": 120, **kwargs},
    )
    assert len(result.files) == 1
    path = tmp_path / "job" / result.files[0].name
    return result, path, xr.open_dataset(path, decode_times=CFTIME)


@functools.cache
def cdo() -> Cdo:
    return Cdo()


def cdo_remap(inventory, dataset_id, method, grid: GridSpec, tmp_path, file=0) -> xr.DataArray:
    """The variable of one file of a dataset remapped by CDO itself (no extrapolation)."""
    dataset = inventory.get(dataset_id)
    nlat, nlon = grid.shape
    description = tmp_path / "grid.txt"
    description.write_text(
        f"gridtype = lonlat\nxsize = {nlon}\nysize = {nlat}\nxfirst = {grid.lon0 + grid.dlon / 2}"
        f"\nxinc = {grid.dlon}\nyfirst = {grid.lat0 + grid.dlat / 2}\nyinc = {grid.dlat}\n"
    )
    return getattr(cdo(), CDO_OPERATORS[method])(
        str(description),
        input=str(dataset.files[file].path),
        returnXArray=dataset.variable,
        env={"REMAP_EXTRAPOLATE": "off"},
    )


def assert_equal_where_cdo_has_values(ours: np.ndarray, expected: np.ndarray) -> None:
    """Equal wherever CDO has a value; we may have more (renormalised around missing
    values, where CDO's bilinear needs four valid neighbours)."""
    has = np.isfinite(expected)
    assert has.sum() > 0
    assert np.isfinite(ours[has]).all()
    np.testing.assert_allclose(ours[has], expected[has], rtol=1e-6)


def area_means(values: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Area-weighted means over the last two axes, of the valid values."""
    weights = np.where(np.isnan(values), 0.0, areas)
    return np.nansum(values * weights, axis=(-2, -1)) / weights.sum(axis=(-2, -1))


# -- every grid type against CDO -----------------------------------------------------------


def test_regular_bilinear_equals_cdo_and_is_cf_compliant(inventory, tmp_path):
    result, path, out = run(inventory, tmp_path, REGULAR, "bilinear", "2pt5deg")
    expected = cdo_remap(inventory, REGULAR, "bilinear", GridSpec("2pt5deg", 2.5, 2.5), tmp_path)
    assert out.rlds.shape == (1032, 72, 144)
    assert_equal_where_cdo_has_values(out.rlds.values, expected.values)
    src = xr.open_dataset(inventory.get(REGULAR).files[0].path, decode_times=CFTIME)
    xr.testing.assert_identical(out.time_bnds, src.time_bnds)
    assert out.rlds.attrs["cell_methods"] == src.rlds.attrs["cell_methods"]
    assert REGULAR in result.provenance.json()
    assert not cf_failures(path)


def test_cmip5_360_day_nearest_keeps_the_calendar(inventory, tmp_path):
    _, path, out = run(inventory, tmp_path, CMIP5_TAS, "nearest_s2d", "auto")
    assert out.time.dt.calendar == "360_day" and out.sizes["time"] == 1752
    # the model's 1.25 x 1.875 degree cells, seen in the bounds of the sampled cells
    assert (out.sizes["lat"], out.sizes["lon"]) == (144, 288)
    first = xr.open_dataset(inventory.get(CMIP5_TAS).files[0].path, decode_times=CFTIME)
    # source values; north of the midpoint between the last row and the pole, xarray-regrid
    # takes the mean of that row (its pole point)
    south = out.tas.values[:300, out.lat.values < 62.5]
    np.testing.assert_array_equal(np.unique(south), np.unique(first.tas.values))
    north = out.tas.values[:300, -1]
    np.testing.assert_allclose(north, first.tas.values[:, -1].mean(-1)[:, None] + 0 * north)
    assert not cf_failures(path)


def test_curvilinear_conservative_equals_cdo(inventory, tmp_path):
    _, path, out = run(inventory, tmp_path, SEA_ICE, "conservative", "2pt5deg")
    grid = GridSpec("2pt5deg", 2.5, 2.5)
    expected = cdo_remap(inventory, SEA_ICE, "conservative", grid, tmp_path)
    # the first file's 1200 months; sea ice fractions with land (missing) cells
    np.testing.assert_array_equal(np.isnan(out.siconc.values[:1200]), np.isnan(expected.values))
    np.testing.assert_allclose(out.siconc.values[:1200], expected.values, rtol=1e-6)
    assert "cell_measures" not in out.siconc.attrs
    assert out.attrs["grid"].startswith("global 2.5x2.5 degree")
    assert not cf_failures(path)


def test_curvilinear_nearest_equals_cdo(inventory, tmp_path):
    _, _, out = run(inventory, tmp_path, MIROC_SEA_ICE, "nearest_s2d", "2pt5deg")
    expected = cdo_remap(
        inventory, MIROC_SEA_ICE, "nearest_s2d", GridSpec("2pt5deg", 2.5, 2.5), tmp_path
    )
    np.testing.assert_array_equal(out.siconc.values[:1200], expected.values)


def test_rotated_pole_onto_a_regional_grid_equals_cdo(inventory, tmp_path):
    custom = "-10 30 5 35 65 5"
    # 34,303 days: with 120 per chunk, writing the small result takes 10 s (each chunk
    # rewrites the compressed file chunk it falls in)
    _, path, out = run(inventory, tmp_path, CORDEX, "bilinear", "custom", custom, time_chunk=2000)
    expected = cdo_remap(inventory, CORDEX, "bilinear", parse_grid("custom", custom), tmp_path)
    assert out.sizes == {"time": 34303, "bnds": 2, "lat": 6, "lon": 8}
    np.testing.assert_array_equal(out.lon_bnds.values[[0, -1]], [[-10, -5], [25, 30]])
    # the first file's 1826 days
    assert_equal_where_cdo_has_values(out.psl.values[:1826], expected.values)
    assert not cf_failures(path)


def test_levels_bilinear_equals_cdo_and_keeps_the_levels(inventory, tmp_path):
    _, path, out = run(inventory, tmp_path, LEVELS, "bilinear", "2pt5deg")
    expected = cdo_remap(inventory, LEVELS, "bilinear", GridSpec("2pt5deg", 2.5, 2.5), tmp_path)
    assert out.ta.dims == ("time", "plev", "lat", "lon")
    src = xr.open_dataset(inventory.get(LEVELS).files[0].path)
    xr.testing.assert_identical(out.plev, src.plev)
    assert_equal_where_cdo_has_values(out.ta.values, expected.values)
    assert not cf_failures(path)


# -- conservation --------------------------------------------------------------------------


def test_conservative_keeps_the_area_mean_of_a_whole_global_grid(inventory, tmp_path):
    _, _, out = run(inventory, tmp_path, FULL_REGULAR, "conservative", "1deg")
    src = xr.open_dataset(inventory.get(FULL_REGULAR).files[0].path)
    before = area_means(src.tas.values.astype(float), cell_areas(src).values)
    after = area_means(out.tas.values.astype(float), cell_areas(out).values)
    np.testing.assert_allclose(after, before, rtol=5e-5)


def test_conservative_keeps_the_area_mean_of_each_level(inventory, tmp_path):
    # the dataset's zonal-mean file makes it inconsistent for the task: its main file
    path = [f.path for f in inventory.get(FULL_LEVELS).files if not f.path.stem.endswith("_zm")]
    src = open_dataset(path)
    out = regrid(src, method="conservative", grid=GridSpec("2pt5deg", 2.5, 2.5), work_dir=tmp_path)
    with dask.config.set(scheduler="synchronous"):
        before = area_means(src.o3.values.astype(float), cell_areas(src).values)
        after = area_means(out.o3.values.astype(float), cell_areas(out).values)
    assert out.o3.dims == ("time", "lev", "lat", "lon") and after.shape == (1, 3)
    np.testing.assert_allclose(after, before, rtol=5e-5)


# -- errors and bookkeeping ----------------------------------------------------------------


def test_a_dataset_without_a_grid_fails_and_leaves_nothing(inventory, tmp_path):
    with pytest.raises(InvalidParameter, match="collection: dataset has no latitude axis"):
        run(inventory, tmp_path, NO_GRID, "bilinear", "1deg")
    assert list(tmp_path.iterdir()) == []


def test_cdo_work_files_are_removed_and_progress_is_reported(inventory, tmp_path):
    seen = []
    run(
        inventory,
        tmp_path,
        MIROC_SEA_ICE,
        "bilinear",
        "2pt5deg",
        progress=lambda percent, message: seen.append((percent, message)),
    )
    assert [p.name for p in tmp_path.iterdir()] == ["job"]
    assert seen == [(0, f"regrid: {MIROC_SEA_ICE}"), (100, "regrid done: 1 file(s)")]


def test_request_parameters_name_the_custom_grid():
    request = RegridRequest(("a", "b"), "conservative", parse_grid("custom", "2 1"))
    assert request.parameters() == {
        "collection": "a,b",
        "method": "conservative",
        "grid": "custom",
        "custom_grid": "0 360 2 -90 90 1",
    }
