"""Cell bounds: found by attribute or conventional name, checked cell by cell, repaired."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.ops.cells import (
    INVALID,
    LARGE,
    axis_bounds,
    cell_corners,
    find_bounds,
    implausible_cells,
)
from cp4cds_wps.ops.grid import horizontal_grid, polygon_areas
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.weights import cell_areas
from tests.synthetic import curvilinear, regular, rotated_pole, unstructured

#: Cells given corrupt vertices by :func:`corrupted`.
CORRUPT = [(3, 4), (10, 20), (20, 57)]


def corrupted(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` (a curvilinear grid) whose cells :data:`CORRUPT` have a vertex longitude that
    jumps by 150 degrees, as in files of the archive."""
    ds = ds.copy(deep=True)
    for j, i in CORRUPT:
        ds.vertices_longitude.values[j, i, 2] += 150.0
    return ds


# -- finding -------------------------------------------------------------------------------


def test_bounds_are_found_by_their_attribute_or_by_a_conventional_name():
    ds = curvilinear()
    grid = horizontal_grid(ds)
    assert find_bounds(ds, grid.lat, grid).name == "vertices_latitude"
    for coord in ("lat", "lon"):
        del ds[coord].attrs["bounds"]
    grid = horizontal_grid(ds)
    assert find_bounds(ds, grid.lon, grid).name == "vertices_longitude"
    cordex = rotated_pole(2.0, vertices=("lat_vertices", "lon_vertices"))
    del cordex.lat.attrs["bounds"]
    grid = horizontal_grid(cordex)
    assert find_bounds(cordex, grid.lat, grid).name == "lat_vertices"


def test_bounds_of_the_wrong_shape_are_not_taken():
    ds = regular(10.0)
    del ds.lat.attrs["bounds"]
    ds["lat_bnds"] = (("lat", "nv"), np.zeros((18, 4)))  # not two per cell
    grid = horizontal_grid(ds)
    assert find_bounds(ds, grid.lat, grid) is None
    assert find_bounds(ds, grid.lon, grid).name == "lon_bnds"


# -- checking ------------------------------------------------------------------------------


def test_cells_whose_vertex_longitudes_jump_are_found_and_said_why():
    check = implausible_cells(corrupted(curvilinear()))
    assert check.count == len(CORRUPT)
    assert [tuple(p) for p in np.argwhere(check.mask.values)] == CORRUPT
    assert set(check.reason.values[check.mask.values]) == {LARGE}
    assert (check.ratio.values[check.mask.values] > 10).all()
    assert check.summary() == [
        f"3 of 1800 cells: {LARGE} (up to {check.ratio.values[check.mask.values].max():.3g} times)"
    ]
    assert check.bounds == ("vertices_latitude", "vertices_longitude")


@pytest.mark.parametrize(
    "ds",
    [
        curvilinear(),
        rotated_pole(2.0, vertices=("lat_vertices", "lon_vertices")),
        regular(1.0),
        # a sparse selection (every 20th cell) keeps the small cells of the model
        regular(1.0).isel(lat=slice(None, None, 20), lon=slice(None, None, 20)),
        unstructured(5.0, -30, 30),
    ],
    ids=["curvilinear", "rotated-pole", "regular", "sparse", "unstructured"],
)
def test_the_cells_of_sound_grids_are_plausible(ds):
    check = implausible_cells(ds)
    assert check.count == 0, check.summary()


def test_invalid_vertices_and_bounds_are_implausible():
    ds = curvilinear()
    ds.vertices_latitude.values[0, :2, 0] = -5e35  # a fill value, as in a file of the archive
    check = implausible_cells(ds)
    assert check.summary() == [f"2 of 1800 cells: {INVALID}"]
    regular_grid = regular(10.0)
    regular_grid.lon_bnds.values[5] = [45.0, 300.0]  # one column spans most of the globe
    check = implausible_cells(regular_grid)
    assert check.mask.values[:, 5].all() and check.count == 18
    assert check.ratio.values[0, 5] == pytest.approx(25.5)


def test_a_grid_without_bounds_is_not_judged():
    assert implausible_cells(curvilinear(bounds=False)) is None


# -- repairing -----------------------------------------------------------------------------


def test_implausible_corners_are_replaced_by_corners_from_the_centres_and_noted():
    sound, corrupt = curvilinear(), corrupted(curvilinear())
    grid = horizontal_grid(corrupt)
    with recorded_notes() as notes:
        corners = cell_corners(corrupt, grid)
    areas = polygon_areas(corners.lat, corners.lon)
    true = polygon_areas(sound.vertices_latitude.values, sound.vertices_longitude.values)
    # the corners derived from the centres of a smooth grid are close to its own
    np.testing.assert_allclose(areas, true, rtol=3e-3)
    unchanged = np.ones(areas.shape, bool)
    unchanged[tuple(np.array(CORRUPT).T)] = False
    np.testing.assert_array_equal(corners.lat[unchanged], sound.vertices_latitude.values[unchanged])
    (text,) = notes
    assert text.startswith(
        "cell bounds: the corners (vertices_latitude, vertices_longitude) of some cells are "
        f"implausible (3 of 1800 cells: {LARGE}"
    )
    assert text.endswith("; corners derived from the cell centres are used for them")


def test_area_means_over_corrupt_vertices_use_the_repaired_areas():
    sound, corrupt = curvilinear(), corrupted(curvilinear())
    with recorded_notes() as notes:
        areas = cell_areas(corrupt).values
    assert notes
    true = cell_areas(sound).values
    assert areas.max() / areas.min() == pytest.approx(true.max() / true.min(), rel=1e-2)
    values = sound.tas.values[0]
    mean = (values * areas).sum() / areas.sum()
    assert mean == pytest.approx((values * true).sum() / true.sum(), rel=1e-6)


def test_implausible_bounds_of_a_regular_axis_are_replaced_by_midpoints():
    ds = regular(10.0)
    ds.lon_bnds.values[5] = [45.0, 300.0]
    grid = horizontal_grid(ds)
    with recorded_notes() as notes:
        bounds = axis_bounds(ds, grid)
    np.testing.assert_array_equal(bounds.lon[5], [50.0, 60.0])
    np.testing.assert_array_equal(bounds.lon[[4, 6]], [[40.0, 50.0], [60.0, 70.0]])
    assert notes == [
        "cell bounds: the longitude bounds (lon_bnds) of 1 of 36 cells are implausible "
        f"({LARGE}); bounds midway between the cell centres are used for them"
    ]


def test_cells_centred_on_the_poles_end_at_the_poles():
    # ERA5's 0.25 degree grid sampled far apart (the IPCC atlas files): its polar cells are
    # centred on the poles, with bounds a half cell beyond them
    lat = np.array([-90.0, -40.0, 10.0, 60.0, 90.0])
    ds = regular(30.0).isel(lat=[0, 1, 2, 3, 4])
    ds = ds.assign_coords(lat=("lat", lat, ds.lat.attrs))
    ds["lat_bnds"] = (("lat", "bnds"), np.stack([lat - 0.125, lat + 0.125], -1))
    assert implausible_cells(ds).count == 0
    with recorded_notes() as notes:
        bounds = axis_bounds(ds, horizontal_grid(ds))
    assert notes == []
    np.testing.assert_array_equal(bounds.lat[[0, -1]], [[-90.0, -89.875], [89.875, 90.0]])
    areas = cell_areas(ds).values[:, 0]
    cap = 6371000.0**2 * (1 - np.sin(np.deg2rad(89.875))) * np.deg2rad(30.0)
    np.testing.assert_allclose(areas[[0, -1]], cap, rtol=1e-9)


def test_latitude_bounds_far_beyond_a_pole_are_invalid():
    ds = regular(30.0)
    ds.lat_bnds.values[0] = [-150.0, -60.0]
    assert implausible_cells(ds).summary() == [f"12 of 72 cells: {INVALID}"]


@pytest.mark.realdata
def test_the_corrupt_vertices_of_an_archive_ocean_grid_are_found_and_repaired(archive_dir):
    # EC-Earth3-Veg's ORCA grid in the archive: vertex longitudes that jump at the fold
    (path,) = archive_dir.glob("**/deptho_Ofx_EC-Earth3-Veg_*.nc")
    ds = xr.open_dataset(path)
    check = implausible_cells(ds)
    assert (check.reason == LARGE).sum() == 134
    assert check.ratio.values[(check.reason == LARGE).values].max() > 1e4
    grid = horizontal_grid(ds)
    sphere = 4 * np.pi
    raw = [find_bounds(ds, c, grid).transpose(*grid.dims, ...).values for c in (grid.lat, grid.lon)]
    assert polygon_areas(*raw).sum() > 1.5 * sphere  # the corrupt cells cover the globe again
    with recorded_notes():
        corners = cell_corners(ds, grid)
    # the grid's halo columns and fold row repeat some cells: a little more than the sphere
    assert polygon_areas(corners.lat, corners.lon).sum() == pytest.approx(sphere, rel=0.1)
