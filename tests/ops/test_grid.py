"""Geometry from the cell centres: corners and bounds derived for grids without any."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.ops.grid import (
    centre_spacing_areas,
    derived_axis_bounds,
    derived_corners,
    horizontal_grid,
    polygon_areas,
    rotated_corners,
)
from tests.synthetic import curvilinear, regular, rotated_pole


def test_derived_corners_of_a_turned_grid_are_close_to_its_own_and_tile_the_sphere():
    ds = curvilinear(6.0)
    corners = derived_corners(horizontal_grid(ds))
    true = ds.vertices_latitude.values, ds.vertices_longitude.values
    # corners are the 3-D means of the four centres around them: a fraction of a degree
    # off the turned grid's own, which lie on its meridians and parallels
    np.testing.assert_allclose(corners.lat, true[0], atol=0.3)
    lon_diff = (corners.lon - true[1] + 180) % 360 - 180
    assert np.abs(lon_diff[np.abs(true[0]) < 80]).max() < 0.5
    areas = polygon_areas(corners.lat, corners.lon)
    assert areas.sum() == pytest.approx(4 * np.pi, rel=1e-3)


def test_derived_corners_of_a_regular_grid_are_its_cell_edges_up_to_the_poles():
    ds = regular(10.0)
    lat, lon = xr.broadcast(ds.lat, ds.lon)
    ds = ds.drop_vars(["lat", "lon"]).assign_coords(
        lat=(("j", "i"), lat.values, {"standard_name": "latitude", "units": "degrees_north"}),
        lon=(("j", "i"), lon.values, {"standard_name": "longitude", "units": "degrees_east"}),
    )
    corners = derived_corners(horizontal_grid(ds))
    # the extrapolated row beyond the last one lies past the pole: the corners are the pole
    np.testing.assert_allclose(corners.lat[-1, :, 2:], 90.0, atol=1e-9)
    np.testing.assert_allclose(corners.lat[0, :, :2], -90.0, atol=1e-9)
    np.testing.assert_allclose(corners.lat[5, 7], [-40, -40, -30, -30], atol=0.15)
    band = np.sin(np.deg2rad(ds.lat_bnds.values[:, 1])) - np.sin(
        np.deg2rad(ds.lat_bnds.values[:, 0])
    )
    areas = polygon_areas(corners.lat, corners.lon)
    np.testing.assert_allclose(areas.sum(), 4 * np.pi, rtol=1e-9)
    # great-circle edges against parallels: close to the bands away from the poles
    np.testing.assert_allclose(areas[3:-3, 0], band[3:-3] * np.deg2rad(10), rtol=0.02)


def test_derived_axis_bounds_are_midway_and_clipped_at_the_poles():
    ds = regular(10.0).drop_vars(["lat_bnds", "lon_bnds"]).isel(lat=[0, 1, 3], lon=[0, 1, 2])
    bounds = derived_axis_bounds(horizontal_grid(ds))
    np.testing.assert_allclose(bounds.lat, [[-90, -80], [-80, -65], [-65, -45]])
    np.testing.assert_allclose(bounds.lon, [[0, 10], [10, 20], [20, 30]])


def test_spacing_areas_match_the_cells_of_a_dense_grid():
    ds = regular(2.0)
    expected = centre_spacing_areas(horizontal_grid(ds))
    band = np.diff(np.sin(np.deg2rad(ds.lat_bnds.values)), axis=1) * np.deg2rad(2.0)
    np.testing.assert_allclose(expected[1:-1, 0], band[1:-1, 0], rtol=1e-3)


@pytest.mark.parametrize("rows", [slice(None), [7]])
def test_rotated_corners_are_the_rotated_cells_also_with_a_single_row(rows):
    # a CORDEX grid sampled to a single row (ANT-44 files of 1x2 cells): CDO derives no
    # corners from it, nor do the centres along one row give any
    ds = rotated_pole(vertices=("lat_vertices", "lon_vertices")).isel(rlat=rows)
    corners = rotated_corners(ds.drop_vars(["lat_vertices", "lon_vertices"]), horizontal_grid(ds))
    np.testing.assert_allclose(corners.lat, ds.lat_vertices.values, atol=1e-9)
    np.testing.assert_allclose(corners.lon, ds.lon_vertices.values, atol=1e-9)


def test_rotated_corners_need_a_rotated_grid():
    ds = curvilinear()
    assert rotated_corners(ds, horizontal_grid(ds)) is None
