"""Means over GeoJSON polygons on synthetic grids, checked against plain numpy."""

from __future__ import annotations

import json

import dask
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter, NoDataSelected
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.shape import average_shape, parse_shape
from cp4cds_wps.output.netcdf import write_netcdf
from tests.cf_check import cf_failures
from tests.synthetic import MEMBERS, ensemble_file

R2 = 6_371_000.0**2


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def box(west, south, east, north) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry: dict, **extra) -> dict:
    return {"type": "Feature", "geometry": geometry, **extra}


def shapes(*geometries: dict):
    return parse_shape(
        json.dumps({"type": "FeatureCollection", "features": [feature(g) for g in geometries]})
    )


def regular(west: float = 0.0, step: float = 1.0, times: int = 3) -> xr.Dataset:
    """A global grid of ``step`` degree cells, longitudes from ``west``, random values."""
    lat_edges = np.arange(-90.0, 90.0 + step / 2, step)
    lon_edges = np.arange(west, west + 360.0 + step / 2, step)
    rng = np.random.default_rng(0)
    data = rng.uniform(200, 300, (times, lat_edges.size - 1, lon_edges.size - 1))
    ds = xr.Dataset(
        {
            "tas": (("time", "lat", "lon"), data, {"units": "K", "cell_methods": "time: mean"}),
            "lat_bnds": (("lat", "bnds"), np.stack([lat_edges[:-1], lat_edges[1:]], -1)),
            "lon_bnds": (("lon", "bnds"), np.stack([lon_edges[:-1], lon_edges[1:]], -1)),
        },
        coords={
            "time": np.arange(times),
            "lat": ("lat", lat_edges[:-1] + step / 2, _lat_attrs()),
            "lon": ("lon", lon_edges[:-1] + step / 2, _lon_attrs()),
        },
    )
    return ds.chunk({"time": 1})


def _lat_attrs(bounds="lat_bnds"):
    return {"standard_name": "latitude", "units": "degrees_north", "bounds": bounds}


def _lon_attrs(bounds="lon_bnds"):
    return {"standard_name": "longitude", "units": "degrees_east", "bounds": bounds}


def band_areas(ds: xr.Dataset) -> np.ndarray:
    """Exact areas of the latitude-longitude cells of a regular grid (m2)."""
    lat, lon = np.deg2rad(ds.lat_bnds.values), np.deg2rad(ds.lon_bnds.values)
    return R2 * np.outer(np.abs(np.diff(np.sin(lat))), np.abs(np.diff(lon)))


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over the last two axes, NaN values excluded."""
    valid = ~np.isnan(values)
    return np.nansum(values * weights, axis=(-2, -1)) / (valid * weights).sum(axis=(-2, -1))


def rows_cols(ds, west, south, east, north):
    """Positions of the cells whose centres lie in the box (longitudes as the grid's)."""
    rows = (ds.lat.values > south) & (ds.lat.values < north)
    cols = (ds.lon.values > west) & (ds.lon.values < east)
    return rows, cols


# -- parsing -------------------------------------------------------------------------------


def test_a_polygon_a_feature_and_a_collection_are_named():
    assert parse_shape(json.dumps(box(0, 0, 1, 1))).names == ("0",)
    named = feature(box(0, 0, 1, 1), properties={"name": "Somewhere"})
    assert parse_shape(json.dumps(named)).names == ("Somewhere",)
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature(box(0, 0, 1, 1), id="by-id"),
            feature(box(0, 0, 1, 1), properties={"id": 7}),
            feature({"type": "MultiPolygon", "coordinates": [box(0, 0, 1, 1)["coordinates"]]}),
        ],
    }
    parsed = parse_shape(json.dumps(collection))
    assert parsed.names == ("by-id", "7", "2")
    assert str(parsed).startswith("3 polygon(s) (by-id, 7, 2) within longitudes 0 to 1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not GeoJSON: Expecting property name"),
        ('{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}', "type 'LineString' given"),
        ('{"type": "FeatureCollection", "features": []}', "holds no feature"),
        (
            json.dumps(feature({"type": "Point", "coordinates": [0, 0]}, id="p")),
            "feature 'p' has a Point geometry; only Polygon and MultiPolygon",
        ),
        (json.dumps(feature(None)), "feature '0' has no geometry"),
        (json.dumps(box(0, 0, 10, 95)), "latitudes 0 to 95, beyond -90..90"),
        (json.dumps(box(-190, 0, 180, 10)), "spans longitudes -190 to 180, more than 360"),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}',
            "feature '0' is not a valid polygon: Self-intersection",
        ),
        ('{"type": "Polygon", "coordinates": [[[0, 0], [1]]]}', "not those of a Polygon"),
        (  # was a GEOSException: HTTP 500
            '{"type": "Polygon", "coordinates": [[["NaN", "NaN"], ["NaN", 1], [1, 1], '
            '["NaN", "NaN"]]]}',
            "feature '0' has a coordinate that is no number: 'NaN'",
        ),
        (json.dumps(box(0, 0, "1", 1)), "a coordinate that is no number: '1'"),
        (json.dumps(box(0, 0, True, 1)), "a coordinate that is no number: True"),
        (  # JSON's NaN literal: a float, but no ring can close on it
            '{"type": "Polygon", "coordinates": [[[NaN, NaN], [NaN, 1], [1, 1], [NaN, NaN]]]}',
            "not those of a Polygon",
        ),
        ("[" * 50000, "nests lists and objects deeper than 64 levels"),  # was a RecursionError
        ('{"type": "Polygon", "coordinates": ' + "[" * 70 + "]" * 70 + "}", "deeper than 64"),
    ],
)
def test_bad_geojson_is_refused_naming_the_shape_input(text, message):
    with pytest.raises(InvalidParameter, match="^shape: ") as info:
        parse_shape(text)
    assert message in info.value.reason


def test_no_shape_is_a_missing_parameter():
    with pytest.raises(MissingParameter, match="shape"):
        parse_shape("  ")


# -- means on regular grids ----------------------------------------------------------------


def test_a_block_of_whole_cells_gives_the_area_weighted_mean_of_those_cells():
    ds = regular()
    out = average_shape(ds, shapes(box(10, 40, 15, 44), box(0, -90, 360, 90)))
    rows, cols = rows_cols(ds, 10, 40, 15, 44)
    areas = band_areas(ds)
    block = ds.tas.values[:, rows][:, :, cols]
    expected = weighted_mean(block, areas[np.ix_(rows, cols)])
    np.testing.assert_allclose(out.tas.isel(geom=0).values, expected, rtol=1e-12)
    np.testing.assert_allclose(
        out.tas.isel(geom=1).values, weighted_mean(ds.tas.values, areas), rtol=1e-12
    )
    assert out.tas.dims == ("time", "geom")


def test_cells_half_inside_count_half():
    ds = regular()
    # all of the cell at 10.5E 40.5N, and the west half of the cell at 11.5E
    out = average_shape(ds, shapes(box(10, 40, 11.5, 41)))
    j, i = 130, 10
    areas = band_areas(ds)[j, i : i + 2] * [1.0, 0.5]
    expected = (ds.tas.values[:, j, i : i + 2] * areas).sum(-1) / areas.sum()
    np.testing.assert_allclose(out.tas.values[:, 0], expected, rtol=1e-12)


def test_missing_values_count_neither_in_sums_nor_weights():
    ds = regular()
    ds["tas"] = ds.tas.where(ds.lon > 12)
    out = average_shape(ds, shapes(box(10, 40, 15, 44)))
    rows, cols = rows_cols(ds, 10, 40, 15, 44)
    block = ds.tas.values[:, rows][:, :, cols]
    expected = weighted_mean(block, band_areas(ds)[np.ix_(rows, cols)])
    np.testing.assert_allclose(out.tas.values[:, 0], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "geometry",
    [
        box(170, -10, 190, 10),
        box(-190, -10, -170, 10),
        {
            "type": "MultiPolygon",
            "coordinates": [
                box(170, -10, 180, 10)["coordinates"],
                box(-180, -10, -170, 10)["coordinates"],
            ],
        },
    ],
    ids=["beyond-180", "below-minus-180", "split-at-180"],
)
@pytest.mark.parametrize("west", [0.0, -180.0], ids=["grid-0-360", "grid-180-180"])
def test_polygons_across_the_dateline_on_either_longitude_convention(geometry, west):
    ds = regular(west=west)
    out = average_shape(ds, shapes(geometry))
    lon = np.mod(ds.lon.values, 360)
    cols = (lon > 170) & (lon < 190)
    rows = (ds.lat.values > -10) & (ds.lat.values < 10)
    assert cols.sum() == 20 and rows.sum() == 20
    expected = weighted_mean(ds.tas.values[:, rows][:, :, cols], band_areas(ds)[np.ix_(rows, cols)])
    np.testing.assert_allclose(out.tas.values[:, 0], expected, rtol=1e-12)


def test_a_polygon_in_minus_180_180_on_a_0_360_grid():
    ds = regular(west=0.0)
    out = average_shape(ds, shapes(box(-5, 50, 5, 55)))
    lon = np.where(ds.lon.values > 180, ds.lon.values - 360, ds.lon.values)
    rows, cols = (ds.lat.values > 50) & (ds.lat.values < 55), (lon > -5) & (lon < 5)
    expected = weighted_mean(ds.tas.values[:, rows][:, :, cols], band_areas(ds)[np.ix_(rows, cols)])
    np.testing.assert_allclose(out.tas.values[:, 0], expected, rtol=1e-12)


def test_without_bounds_cells_whose_centre_is_inside_count_with_midway_bounds():
    full = regular()
    ds = full.drop_vars(["lat_bnds", "lon_bnds"])
    out = average_shape(ds, shapes(box(10, 40, 15, 44.7)))
    rows, cols = rows_cols(ds, 10, 40, 15, 44.7)
    # the cells midway between the centres: on this regular grid, its own cells
    south, north = np.deg2rad(full.lat_bnds.values[rows]).T
    weights = (np.sin(north) - np.sin(south))[:, None] * np.ones(cols.sum())
    expected = weighted_mean(ds.tas.values[:, rows][:, :, cols], weights)
    np.testing.assert_allclose(out.tas.values[:, 0], expected, rtol=1e-12)
    assert "from bounds midway between the cell centres" in out.tas.attrs["cell_methods"]


# -- curvilinear grids ---------------------------------------------------------------------


def curvilinear(ds: xr.Dataset) -> xr.Dataset:
    """The regular grid ``ds`` as a curvilinear one: 2-D coordinates on j/i, cell vertices,
    longitudes in 0..360 (so the cells at the 0 meridian have vertices 359 and 0)."""
    lat2, lon2 = np.meshgrid(ds.lat.values, ds.lon.values, indexing="ij")
    (s, n), (w, e) = ds.lat_bnds.values.T, ds.lon_bnds.values.T
    lat_v = np.stack(np.broadcast_arrays(s[:, None], s[:, None], n[:, None], n[:, None]), -1)
    lon_v = np.stack(np.broadcast_arrays(w[None], e[None], e[None], w[None]), -1)
    lat_v, lon_v = np.broadcast_arrays(lat_v, lon_v)
    return xr.Dataset(
        {
            "tas": (("time", "j", "i"), ds.tas.data, ds.tas.attrs),
            "vertices_latitude": (("j", "i", "vertices"), lat_v),
            "vertices_longitude": (("j", "i", "vertices"), np.mod(lon_v, 360.0)),
        },
        coords={
            "time": ds.time.values,
            "latitude": (("j", "i"), lat2, _lat_attrs("vertices_latitude")),
            "longitude": (("j", "i"), np.mod(lon2, 360), _lon_attrs("vertices_longitude")),
        },
    )


def test_a_curvilinear_grid_gives_the_fractions_of_the_same_regular_grid():
    ds = regular(west=-180.0, step=2.0)
    curved = curvilinear(ds)
    areas = xr.DataArray(band_areas(ds), dims=("lat", "lon"))
    polygons = shapes(box(-7, 39, 7.5, 44), box(170, -10, 191, 10))
    expected = average_shape(ds, polygons, weights=areas)
    out = average_shape(curved, polygons, weights=areas.rename(lat="j", lon="i"))
    np.testing.assert_allclose(out.tas.values, expected.tas.values, rtol=1e-12)
    assert set(out.variables) == {"tas", "time", "geom", "geom_name"}


def test_the_result_names_the_polygons_and_drops_the_grid():
    ds = curvilinear(regular(step=5.0))
    ds["crs"] = xr.DataArray(0, attrs={"grid_mapping_name": "latitude_longitude"})
    ds["tas"].attrs.update(grid_mapping="crs", cell_measures="area: areacella")
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature(box(0, 0, 10, 10), properties={"name": "A"}),
            feature(box(20, 0, 30, 10), id=12),
        ],
    }
    out = average_shape(ds, parse_shape(json.dumps(collection)))
    assert list(out.geom.values) == [0, 1]
    assert list(out.geom_name.values) == ["A", "12"]
    assert "crs" not in out.variables and "grid_mapping" not in out.tas.attrs
    assert "cell_measures" not in out.tas.attrs
    assert out.tas.attrs["cell_methods"] == (
        "time: mean area: mean (comment: over each polygon of geom_name, weighted by cell "
        "area, from cell bounds on a sphere of radius 6371 km, times the fraction of the cell "
        "inside it)"
    )
    assert out.tas.chunks is not None  # still lazy


def test_a_polygon_off_the_grid_is_no_data_naming_the_grid_extent():
    ds = regular(step=5.0).sel(lat=slice(30, 70), lon=slice(0, 40))
    with pytest.raises(NoDataSelected, match="^shape: ") as info:
        average_shape(ds, shapes(box(0, 35, 10, 45), box(100, 0, 110, 10)))
    assert info.value.reason == (
        "polygon '1' covers no grid cell; the dataset's grid covers latitudes 32.5 to 67.5 "
        "and longitudes 2.5 to 37.5"
    )


def test_polygon_means_of_an_ensemble_file_keep_the_members(tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    shapes = parse_shape(
        '{"type": "Polygon", "coordinates": [[[0, -30], [90, -30], [90, 30], [0, 30], [0, -30]]]}'
    )
    out = average_shape(ds, shapes)
    assert out.pr.dims == ("member", "time", "geom")
    # the 2 x 3 cells of 30 degrees inside the polygon, weighted by their areas
    sin = np.sin(np.deg2rad(ds.lat_bnds.values[2:4]))
    weights = np.abs(sin[:, 1] - sin[:, 0])[:, None] * np.ones(3)
    values = ds.pr.values[:, :, 2:4, 0:3].astype(float)
    expected = (values * weights).sum((-2, -1)) / weights.sum()
    np.testing.assert_allclose(out.pr.values[..., 0], expected, rtol=1e-6)
    assert list(out.member_id.values) == list(MEMBERS)
    assert cf_failures(write_netcdf(out, tmp_path / "out.nc", history="test")) == set()
