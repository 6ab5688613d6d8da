"""Regridding curvilinear, rotated-pole and unstructured sources with CDO's weights,
checked against the cdo program's own remapping of the same files."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter, NoDataSelected
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.regrid import METHODS, GridSpec, parse_grid, regrid
from cp4cds_wps.ops.weights import cell_areas
from tests.cdo_reference import cdo_remap, needs_cdo
from tests.synthetic import curvilinear, regular, rotated_pole, unstructured

pytestmark = needs_cdo

GRID = GridSpec("2pt5deg", 2.5, 2.5)
EUROPE = GridSpec("custom", 1, 1, -30, 50, 25, 75)


def computed(ds: xr.Dataset) -> xr.Dataset:
    with dask.config.set(scheduler="synchronous"):
        return ds.compute()


def regridded(src: xr.Dataset, method: str, grid: GridSpec, tmp_path) -> np.ndarray:
    out = regrid(src.chunk({"time": 1}), method=method, grid=grid, work_dir=tmp_path)
    assert out.tas.dims == ("time", "lat", "lon")
    return computed(out).tas.values


def area_mean(values: np.ndarray, areas: np.ndarray) -> float:
    valid = np.isfinite(values)
    return float((values[valid] * areas[valid]).sum() / areas[valid].sum())


def masked_curvilinear() -> xr.Dataset:
    src = curvilinear()
    src["tas"][:, 10:14, 20:30] = np.nan  # a "continent"
    return src


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("name", "source", "grid"),
    [
        ("curvilinear", masked_curvilinear, GRID),
        ("rotated-pole", lambda: rotated_pole(vertices=("lat_vertices", "lon_vertices")), EUROPE),
    ],
)
def test_equals_cdo_remapping_of_the_same_file(name, source, grid, method, tmp_path):
    src = source()
    out = regridded(src, method, grid, tmp_path)
    expected = cdo_remap(src, method, grid, tmp_path)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_curvilinear_conservative_keeps_the_area_mean(tmp_path):
    src = curvilinear(4.0)
    out = regridded(src, "conservative", GridSpec("1deg", 1, 1), tmp_path)
    before = area_mean(src.tas.values[0], cell_areas(src).values)
    after = area_mean(out[0], cell_areas(regular(1.0)).values)
    assert after == pytest.approx(before, rel=1e-6)


def test_rotated_pole_without_corners_uses_the_grid_mapping(tmp_path):
    src = rotated_pole()
    out = regridded(src, "conservative", EUROPE, tmp_path)
    # CDO derives the cell corners from the rotated axes, as when it reads the file itself
    expected = cdo_remap(src.drop_vars(["lat", "lon"]), "conservative", EUROPE, tmp_path)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.isfinite(out).sum() > 1000


def test_unstructured_conservative_averages_nested_cells(tmp_path):
    src = unstructured(1.0, -10, 10)
    grid = GridSpec("custom", 5, 5, 0, 360, -10, 10)
    out = regridded(src, "conservative", grid, tmp_path)
    values = src.tas.values.reshape(2, 4, 5, 72, 5)
    areas = cell_areas(regular(1.0, south=-10, north=10)).values.reshape(4, 5, 72, 5)
    expected = (values * areas).sum(axis=(2, 4)) / areas.sum(axis=(1, 3))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    with pytest.raises(
        InvalidParameter, match="method: bilinear interpolation needs a structured grid"
    ):
        regrid(src, method="bilinear", grid=grid, work_dir=tmp_path)


# -- cell corners prepared for CDO ----------------------------------------------------------


def test_missing_corners_are_derived_from_the_centres_and_noted(tmp_path):
    src = curvilinear(4.0)
    with recorded_notes() as notes:
        out = regridded(
            src.drop_vars(["vertices_latitude", "vertices_longitude"]),
            "conservative",
            GRID,
            tmp_path,
        )
    assert notes == [
        "cell bounds: the grid has no cell corners; corners derived from the cell centres are "
        "used for conservative regridding"
    ]
    # CDO cannot remap the file itself ("corner coordinates missing"); its remapping with
    # the grid's true corners is close: the derived ones are a fraction of a cell off
    expected = cdo_remap(src, "conservative", GRID, tmp_path)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=2e-4)


def test_corrupt_corners_are_replaced_before_cdo_sees_them(tmp_path):
    src = curvilinear(4.0)
    corrupt = src.copy(deep=True)
    for j, i in [(5, 10), (20, 40), (30, 70)]:
        corrupt.vertices_longitude.values[j, i, 2] += 150.0
    with recorded_notes() as notes:
        out = regridded(corrupt, "conservative", GRID, tmp_path)
    assert len(notes) == 1 and "of some cells are implausible" in notes[0]
    expected = cdo_remap(src, "conservative", GRID, tmp_path)
    # the cells around the three repaired ones are a little off; CDO's own remapping of
    # the corrupt file spreads each corrupt cell over far more target cells
    assert np.nanmax(np.abs(out - expected) / expected) < 1e-3
    own = cdo_remap(corrupt, "conservative", GRID, tmp_path)
    assert np.nanmax(np.abs(own - expected) / expected) > 10 * np.nanmax(
        np.abs(out - expected) / expected
    )


@pytest.mark.parametrize("method", METHODS)
def test_cells_without_position_are_left_out_and_noted(method, tmp_path):
    # land cells of an ocean grid whose latitude and longitude are fill values
    src = masked_curvilinear()
    without = src.copy(deep=True)
    without.lat.values[10:12, 20:30] = without.lon.values[10:12, 20:30] = np.nan
    without.vertices_latitude.values[10:12, 20:30] = -5e35
    with recorded_notes() as notes:
        out = regridded(without, method, GRID, tmp_path)
    assert notes[0] == (
        "grid: 20 of 1800 cells have no valid latitude or longitude (e.g. land cells of an "
        "ocean grid); their values are left out, and positions from their neighbours "
        "complete the grid for CDO"
    )
    # their values are missing anyway: as CDO's remapping of the grid with their positions
    expected = cdo_remap(src, method, GRID, tmp_path)
    both = np.isfinite(out) & np.isfinite(expected)
    np.testing.assert_allclose(out[both], expected[both], rtol=1e-12)
    differ = np.isnan(out) != np.isnan(expected)
    if method == "nearest_s2d":
        # targets at the rim of the hole: the positions from the neighbours are near the
        # true ones, not equal, and so are the distances
        assert differ.sum() < 0.01 * np.isfinite(expected).sum()
    else:
        assert not differ.any()


def test_an_unstructured_grid_without_positions_is_refused(tmp_path):
    ds = unstructured(5.0, -30, 30)
    ds.lat.values[:3] = np.nan
    with pytest.raises(DatasetInconsistent, match="needs the position of every cell"):
        regrid(ds, method="nearest_s2d", grid=GRID, work_dir=tmp_path)


def test_a_target_beside_a_regional_grid_is_refused(tmp_path):
    grid = parse_grid("custom", "100 140 1 -40 -10 1")
    with pytest.raises(
        NoDataSelected, match="custom_grid: no cell of the target grid .* lies within"
    ):
        regrid(rotated_pole(), method="bilinear", grid=grid, work_dir=tmp_path)


def test_a_single_row_of_a_rotated_grid_without_corners_is_regridded_conservatively(tmp_path):
    # CDO derives no corners from an axis of a single cell: the service gives it those of
    # the rotated axes, the cells the same grid with its vertices has
    full = rotated_pole(vertices=("lat_vertices", "lon_vertices")).isel(rlat=[40])
    with recorded_notes() as notes:
        out = regridded(
            full.drop_vars(["lat_vertices", "lon_vertices"]), "conservative", EUROPE, tmp_path
        )
    np.testing.assert_allclose(out, regridded(full, "conservative", EUROPE, tmp_path), rtol=1e-9)
    assert np.isfinite(out).sum() > 10
    assert any("corners from its rotated axes" in n for n in notes)
