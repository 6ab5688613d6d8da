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
from cp4cds_wps.operations.regrid import RegridRequest, plan_regrid, run_regrid
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.regrid import GridSpec, parse_grid, regrid
from cp4cds_wps.ops.weights import cell_areas
from cp4cds_wps.tasks.runner import RunContext
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
        RunContext(
            out_dir=tmp_path / "job",
            out_url="http://test/outputs/job",
            **{"time_chunk": 120, **kwargs},
        ),
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
    return cdo_remap_file(dataset.files[file].path, dataset.variable, method, grid, tmp_path)


def cdo_remap_file(path, variable, method, grid: GridSpec, tmp_path) -> xr.DataArray:
    """``variable`` of a file remapped by CDO itself (no extrapolation)."""
    nlat, nlon = grid.shape
    description = tmp_path / "grid.txt"
    description.write_text(
        f"gridtype = lonlat\nxsize = {nlon}\nysize = {nlat}\nxfirst = {grid.lon0 + grid.dlon / 2}"
        f"\nxinc = {grid.dlon}\nyfirst = {grid.lat0 + grid.dlat / 2}\nyinc = {grid.dlat}\n"
    )
    return getattr(cdo(), CDO_OPERATORS[method])(
        str(description),
        input=str(path),
        returnXArray=variable,
        env={"REMAP_EXTRAPOLATE": "off"},
    )


def assert_equal_where_cdo_has_values(ours: np.ndarray, expected: np.ndarray) -> None:
    """Equal to CDO's remapping (to the float32 precision of the files), missing where
    CDO's is."""
    assert np.isfinite(expected).sum() > 0
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


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
    expected = cdo_remap(
        inventory, CMIP5_TAS, "nearest_s2d", GridSpec("1pt25deg", 1.25, 1.25), tmp_path
    )
    assert_equal_where_cdo_has_values(out.tas.values[: expected.sizes["time"]], expected.values)
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


def test_two_dimensional_coordinates_of_a_rectilinear_selection_equal_cdo(inventory, tmp_path):
    # the archive's MIROC6 sea ice cells are a rectilinear selection of the tripolar grid,
    # with 2-D latitude and longitude: regridded as rectilinear, as CDO does the same cells
    # with 1-D coordinates
    _, _, out = run(inventory, tmp_path, MIROC_SEA_ICE, "nearest_s2d", "2pt5deg")
    src = xr.open_dataset(inventory.get(MIROC_SEA_ICE).files[0].path, decode_times=False)
    rectilinear = (
        src[["siconc"]].drop_vars(["latitude", "longitude", "x", "y"]).rename(y="lat", x="lon")
    )
    rectilinear = rectilinear.assign_coords(
        lat=(
            "lat",
            src.latitude.values[:, 0],
            {"standard_name": "latitude", "units": "degrees_north"},
        ),
        lon=(
            "lon",
            src.longitude.values[0],
            {"standard_name": "longitude", "units": "degrees_east"},
        ),
    )
    path = tmp_path / "rectilinear.nc"
    rectilinear.to_netcdf(path)
    expected = cdo_remap_file(
        path, "siconc", "nearest_s2d", GridSpec("2pt5deg", 2.5, 2.5), tmp_path
    )
    assert_equal_where_cdo_has_values(out.siconc.values[:1200], expected.values)


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


def test_conservative_on_a_whole_global_grid_equals_cdo_and_keeps_the_area_mean(
    inventory, tmp_path
):
    _, _, out = run(inventory, tmp_path, FULL_REGULAR, "conservative", "1deg")
    expected = cdo_remap(inventory, FULL_REGULAR, "conservative", GridSpec("1deg", 1, 1), tmp_path)
    assert_equal_where_cdo_has_values(out.tas.values, expected.values)
    src = xr.open_dataset(inventory.get(FULL_REGULAR).files[0].path)
    before = area_means(src.tas.values.astype(float), cell_areas(src).values)
    after = area_means(out.tas.values.astype(float), cell_areas(out).values)
    np.testing.assert_allclose(after, before, rtol=1e-6)


def test_conservative_keeps_the_area_mean_of_each_level(inventory, tmp_path):
    # the dataset's zonal-mean file makes it inconsistent for the task: its main file
    path = [f.path for f in inventory.get(FULL_LEVELS).files if not f.path.stem.endswith("_zm")]
    src = open_dataset(path)
    out = regrid(src, method="conservative", grid=GridSpec("2pt5deg", 2.5, 2.5), work_dir=tmp_path)
    with dask.config.set(scheduler="synchronous"):
        before = area_means(src.o3.values.astype(float), cell_areas(src).values)
        after = area_means(out.o3.values.astype(float), cell_areas(out).values)
    assert out.o3.dims == ("time", "lev", "lat", "lon") and after.shape == (1, 3)
    grid = GridSpec("2pt5deg", 2.5, 2.5)
    expected = cdo_remap_file(path[0], "o3", "conservative", grid, tmp_path)
    assert_equal_where_cdo_has_values(out.o3.values, expected.values)
    # the cells' bounds stop half a degree short of the poles: the polar target cells are
    # means over the part the cells cover, which their full areas weigh slightly more
    np.testing.assert_allclose(after, before, rtol=1e-5)


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
