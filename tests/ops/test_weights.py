"""Cell areas on regular, curvilinear and rotated-pole grids, and from areacella fields."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.weights import EARTH_RADIUS, cell_areas
from tests.synthetic import rotated_pole

SPHERE = 4 * np.pi * EARTH_RADIUS**2


def regular_grid(step: float = 10.0, *, bounds: bool = True) -> xr.Dataset:
    lat = np.arange(-90 + step / 2, 90, step)
    lon = np.arange(step / 2, 360, step)
    ds = xr.Dataset(
        {"tas": (("lat", "lon"), np.ones((lat.size, lon.size)))},
        coords={
            "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
            "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"}),
        },
    )
    if bounds:
        ds["lat"].attrs["bounds"] = "lat_bnds"
        ds["lon"].attrs["bounds"] = "lon_bnds"
        ds["lat_bnds"] = (("lat", "bnds"), np.stack([lat - step / 2, lat + step / 2], -1))
        ds["lon_bnds"] = (("lon", "bnds"), np.stack([lon - step / 2, lon + step / 2], -1))
    return ds


def curvilinear_grid(step: float = 10.0) -> xr.Dataset:
    """The regular grid written as a curvilinear one: 2-D lat/lon on (j, i) with 4 vertices."""
    regular = regular_grid(step)
    lat2, lon2 = xr.broadcast(regular.lat, regular.lon)
    lat_b, lon_b = regular.lat_bnds.values, regular.lon_bnds.values
    # vertices counter-clockwise: (south, west), (south, east), (north, east), (north, west)
    vlat = np.stack([lat_b[:, 0], lat_b[:, 0], lat_b[:, 1], lat_b[:, 1]], -1)
    vlon = np.stack([lon_b[:, 0], lon_b[:, 1], lon_b[:, 1], lon_b[:, 0]], -1)
    shape = (regular.sizes["lat"], regular.sizes["lon"], 4)
    vlat = np.broadcast_to(vlat[:, None, :], shape).copy()
    vlon = np.broadcast_to(vlon[None, :, :], shape).copy()
    lat_attrs = {"standard_name": "latitude", "units": "degrees_north", "bounds": "vertices_lat"}
    lon_attrs = {"standard_name": "longitude", "units": "degrees_east", "bounds": "vertices_lon"}
    return xr.Dataset(
        {
            "tas": (("j", "i"), np.ones(shape[:2])),
            "vertices_lat": (("j", "i", "vertices"), vlat),
            "vertices_lon": (("j", "i", "vertices"), vlon),
        },
        coords={
            "latitude": (("j", "i"), lat2.values, lat_attrs),
            "longitude": (("j", "i"), lon2.values, lon_attrs),
        },
    )


def test_regular_cells_are_latitude_bands_and_tile_the_sphere():
    areas = cell_areas(regular_grid())
    assert areas.dims == ("lat", "lon")
    assert areas.attrs["units"] == "m2"
    np.testing.assert_allclose(float(areas.sum()), SPHERE, rtol=1e-12)
    band = 2 * np.pi * EARTH_RADIUS**2 * (np.sin(np.deg2rad(10)) - 0) / 36
    np.testing.assert_allclose(float(areas.sel(lat=5).isel(lon=0)), band, rtol=1e-12)


def test_curvilinear_cells_are_spherical_polygons():
    areas = cell_areas(curvilinear_grid())
    assert areas.dims == ("j", "i")
    # great-circle quadrilaterals sharing their edges tile the sphere exactly
    np.testing.assert_allclose(float(areas.sum()), SPHERE, rtol=1e-10)
    # and are close to the latitude bands (they differ by the bulge of the edges)
    np.testing.assert_allclose(areas.values, cell_areas(regular_grid()).values, rtol=0.02)


def test_small_cells_of_a_rotated_grid_match_the_rotated_band_formula():
    # a 0.11 degree cell centred 50N in rotated coordinates; its vertices in geographic ones
    # are the same cell (rotating the sphere keeps areas): give them unrotated
    ds = curvilinear_grid(10.0).isel(j=slice(0, 1), i=slice(0, 1)).copy(deep=True)
    half = 0.055
    ds["vertices_lat"][:] = [[[50 - half, 50 - half, 50 + half, 50 + half]]]
    ds["vertices_lon"][:] = [[[10 - half, 10 + half, 10 + half, 10 - half]]]
    expected = (
        EARTH_RADIUS**2
        * np.deg2rad(2 * half)
        * (np.sin(np.deg2rad(50 + half)) - np.sin(np.deg2rad(50 - half)))
    )
    np.testing.assert_allclose(float(cell_areas(ds)[0, 0]), expected, rtol=1e-6)


def test_without_bounds_regular_cells_end_midway_between_the_centres():
    # IPSL's gr grid has centres on the poles and no bounds: cos(latitude) gave its polar
    # rows no (even a negative) weight; the cells midway between the centres, as CDO takes
    # them, tile the sphere
    ds = regular_grid(bounds=False)
    with recorded_notes() as notes:
        areas = cell_areas(ds)
    assert notes == ["cell areas: the grid has no cell bounds; bounds midway between the centres"]
    assert areas.attrs["units"] == "m2"
    np.testing.assert_allclose(areas.values, cell_areas(regular_grid()).values, rtol=1e-12)


def test_a_single_row_without_bounds_is_weighted_by_cos_latitude():
    ds = regular_grid(bounds=False).isel(lat=[3])
    areas = cell_areas(ds)
    assert areas.attrs["units"] == "1"
    np.testing.assert_allclose(areas.values[0], np.cos(np.deg2rad(ds.lat.values[0])))


def test_areacella_is_matched_to_a_grid_of_every_nth_point():
    full = regular_grid(2.0)
    areacella = (full.lat * 0 + full.lon * 1000 + full.lat).rename("areacella")
    data = full.isel(lat=slice(3, None, 10), lon=slice(1, None, 20))
    areas = cell_areas(data, areacella=areacella)
    expected = data.lon.values[None, :] * 1000 + data.lat.values[:, None]
    np.testing.assert_allclose(areas.values, expected)
    assert areas.attrs["comment"] == "from areacella"


def test_areacella_of_another_grid_is_refused():
    areacella = cell_areas(regular_grid(5.0)).rename("areacella")
    with pytest.raises(DatasetInconsistent, match="areacella"):
        cell_areas(regular_grid(10.0), areacella=areacella)


def test_a_dataset_without_latitude_has_no_cell_areas():
    ds = xr.Dataset({"x": ("time", [1.0, 2.0])})
    with pytest.raises(InvalidParameter, match="no latitude axis; its dimensions are time"):
        cell_areas(ds)


def test_a_single_row_of_a_rotated_grid_without_bounds_has_the_areas_of_its_rotated_cells():
    # two cells of one rotated row are equally large; cos(latitude) would weigh them apart
    ds = rotated_pole(vertices=("lat_vertices", "lon_vertices")).isel(rlat=[7], rlon=[10, 11])
    expected = cell_areas(ds).values
    with recorded_notes() as notes:
        areas = cell_areas(ds.drop_vars(["lat_vertices", "lon_vertices"]))
    assert areas.attrs["units"] == "m2"
    np.testing.assert_allclose(areas.values, expected, rtol=1e-9)
    assert any("corners from its rotated axes" in n for n in notes)
