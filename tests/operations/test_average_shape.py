"""The average_shape task on real archive data of every grid type, checked with plain numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import NoDataSelected
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.average_shape import (
    AverageShapeRequest,
    plan_average_shape,
    run_average_shape,
)
from cp4cds_wps.ops.shape import parse_shape
from cp4cds_wps.tasks.runner import RunContext
from tests.cf_check import cf_failures

pytestmark = pytest.mark.realdata

REGULAR = "CMIP6.ScenarioMIP.INM.INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"
TAS_360_DAY = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
SEA_ICE = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.SImon.siconc.gn.latest"
AREACELLO = "CMIP6.CMIP.NOAA-GFDL.GFDL-ESM4.historical.r1i1p1f1.Ofx.areacello.gn.v20190726"
CORDEX = (
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212"
)
CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def rings(west, south, east, north) -> list:
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def box(west, south, east, north) -> dict:
    return {"type": "Polygon", "coordinates": rings(west, south, east, north)}


def collection(**geometries: dict) -> str:
    features = [
        {"type": "Feature", "properties": {"name": name}, "geometry": geometry}
        for name, geometry in geometries.items()
    ]
    return json.dumps({"type": "FeatureCollection", "features": features})


def run(dataset_id, geojson, inventory, tmp_path):
    request = AverageShapeRequest((dataset_id,), parse_shape(geojson))
    result = run_average_shape(
        request,
        plan_average_shape(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="http://test/outputs/job", time_chunk=120),
    )
    assert len(result.files) == 1
    path = tmp_path / "job" / result.files[0].name
    return result, path, xr.open_dataset(path, decode_times=CFTIME)


def source(inventory, dataset_id) -> xr.Dataset:
    """The dataset's files opened with plain xarray, values loaded."""
    paths = [f.path for f in inventory.get(dataset_id).files]
    return xr.open_mfdataset(
        paths,
        decode_times=CFTIME,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        chunks={"time": -1},  # the files' own chunks (one step each) take minutes
    ).load()


def test_regular_grid_whole_cells_half_cells_and_the_globe(inventory, tmp_path):
    # cells: lat 60..61.5 x lon -1..1 and lon 199..201 (given in -180..180 as -161..-159)
    shape = collection(
        cell={"type": "Polygon", "coordinates": rings(-1, 60, 1, 61.5)},
        cell_and_half={
            "type": "MultiPolygon",
            "coordinates": [rings(-1, 60, 1, 61.5), rings(-161, 60, -160, 61.5)],
        },
        globe=box(-180, -90, 180, 90),
    )
    _, path, out = run(REGULAR, shape, inventory, tmp_path)
    src = source(inventory, REGULAR)
    rlds = src.rlds.values.astype(float)
    lat_b, lon_b = np.deg2rad(src.lat_bnds.values), np.deg2rad(src.lon_bnds.values)
    areas = np.outer(np.abs(np.diff(np.sin(lat_b))), np.abs(np.diff(lon_b)))
    np.testing.assert_allclose(out.rlds.values[:, 0], rlds[:, 1, 0], rtol=1e-6)
    # the two cells have the same area: the half cell weighs half as much
    expected = (rlds[:, 1, 0] + 0.5 * rlds[:, 1, 1]) / 1.5
    np.testing.assert_allclose(out.rlds.values[:, 1], expected, rtol=1e-6)
    expected = (rlds * areas).sum(axis=(1, 2)) / areas.sum()
    np.testing.assert_allclose(out.rlds.values[:, 2], expected, rtol=1e-6)
    assert list(out.geom_name.values) == ["cell", "cell_and_half", "globe"]
    assert out.rlds.dims == ("time", "geom")
    assert {"lat", "lon", "lat_bnds", "lon_bnds"}.isdisjoint(out.variables)
    assert "area: mean (comment: over each polygon of geom_name" in out.rlds.cell_methods
    assert not cf_failures(path)


def test_360_day_grid_polygons_across_the_dateline_and_the_prime_meridian(inventory, tmp_path):
    # cells: lat 34.375..35.625 at lon -0.9375..0.9375 and 186.5625..188.4375
    shape = collection(
        beyond_180=box(170, 30, 190, 40),
        split_at_180={
            "type": "MultiPolygon",
            "coordinates": [rings(170, 30, 180, 40), rings(-180, 30, -170, 40)],
        },
        prime_meridian=box(-5, 30, 5, 40),
    )
    _, path, out = run(TAS_360_DAY, shape, inventory, tmp_path)
    tas = source(inventory, TAS_360_DAY).tas.values
    np.testing.assert_allclose(out.tas.values[:, 0], tas[:, 1, 1], rtol=1e-6)
    np.testing.assert_allclose(out.tas.values[:, 1], tas[:, 1, 1], rtol=1e-6)
    np.testing.assert_allclose(out.tas.values[:, 2], tas[:, 1, 0], rtol=1e-6)
    assert out.time.dt.calendar == "360_day"
    assert out.height.values == 1.5  # scalar coordinates stay
    assert path.name == "tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-200511.nc"


def test_curvilinear_sea_ice_uses_areacello_on_either_longitude_convention(inventory, tmp_path):
    shape = collection(south=box(-180, -90, 180, 0), south_0_360=box(0, -90, 360, 0))
    result, path, out = run(SEA_ICE, shape, inventory, tmp_path)
    src = source(inventory, SEA_ICE)
    fx = source(inventory, AREACELLO)
    rows = np.flatnonzero(np.isin(fx.y.values.round(4), src.y.values.round(4)))
    cols = np.flatnonzero(np.isin(fx.x.values.round(4), src.x.values.round(4)))
    areas = fx.areacello.values[np.ix_(rows, cols)].astype(float)
    south = src.lat.values < 0  # rows of cells wholly south of the equator
    values = np.where(south, src.siconc.values.astype(float), np.nan)
    valid = ~np.isnan(values)
    expected = np.nansum(values * areas, axis=(1, 2)) / (valid * areas).sum(axis=(1, 2))
    np.testing.assert_allclose(out.siconc.values[:, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(out.siconc.values[:, 1], expected, rtol=1e-5)
    assert "cell area, from areacello, times the fraction" in out.siconc.cell_methods
    assert AREACELLO in result.provenance.json()
    assert not cf_failures(path)


def test_rotated_pole_domain_and_a_cell_at_the_prime_meridian(inventory, tmp_path):
    # the CORDEX cells lie at longitudes 317..360 and 0..59 (0..360), latitudes 21..72
    shape = collection(europe=box(-60, 10, 80, 80), cell=box(-1, 25, 1, 26))
    _, _, out = run(CORDEX, shape, inventory, tmp_path)
    src = source(inventory, CORDEX)
    # a rotated-pole cell is a latitude-longitude cell of the rotated sphere (0.11 degrees)
    rlat, half = np.deg2rad(src.rlat.values), np.deg2rad(0.055)
    areas = np.outer(np.sin(rlat + half) - np.sin(rlat - half), np.ones(src.sizes["rlon"]))
    expected = (src.psl.values * areas).sum(axis=(1, 2)) / areas.sum()
    np.testing.assert_allclose(out.psl.values[:, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(out.psl.values[:, 1], src.psl.values[:, 0, 1], rtol=1e-6)
    assert out.psl.dims == ("time", "geom")
    assert {"rlat", "rlon", "lat", "lon"}.isdisjoint(out.variables)


def test_a_polygon_off_the_grid_fails_naming_the_grid_and_leaves_no_folder(inventory, tmp_path):
    with pytest.raises(NoDataSelected) as info:
        run(TAS_360_DAY, json.dumps(box(10, 10, 20, 20)), inventory, tmp_path)
    assert str(info.value) == (
        "shape: polygon '0' covers no grid cell; the dataset's grid covers latitudes -90 to 35 "
        "and longitudes 0 to 187.5"
    )
    assert not (tmp_path / "job").exists()
