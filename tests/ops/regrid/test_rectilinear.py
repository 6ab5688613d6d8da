"""Regridding rectilinear sources, checked against the cdo program on the same files."""

from __future__ import annotations

import subprocess

import dask
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.regrid import METHODS, GridSpec, parse_grid, regrid
from cp4cds_wps.ops.weights import cell_areas
from tests.cdo_reference import cdo_remap, gaps_as_missing_cells, needs_cdo
from tests.synthetic import LAT_ATTRS, LON_ATTRS, regular, with_time

ONE_DEGREE = GridSpec("1deg", 1.0, 1.0)


def computed(ds: xr.Dataset) -> xr.Dataset:
    with dask.config.set(scheduler="synchronous"):
        return ds.compute()


def regridded(src: xr.Dataset, method: str, grid: GridSpec, tmp_path) -> np.ndarray:
    out = regrid(src.chunk({"time": 1}), method=method, grid=grid, work_dir=tmp_path)
    return computed(out).tas.transpose("time", "lat", "lon").values


def area_mean(values: np.ndarray, areas: np.ndarray) -> float:
    valid = np.isfinite(values) & (areas > 0)
    return float((values[valid] * areas[valid]).sum() / areas[valid].sum())


# -- sources -------------------------------------------------------------------------------


def masked() -> xr.Dataset:
    """A 5-degree global grid with a "continent" of missing values."""
    src = regular(5.0)
    src["tas"][:, 20:26, 4:12] = np.nan
    return src


def dense() -> xr.Dataset:
    """A dense 256x512 grid (Gaussian-like latitudes, the outer bounds at the poles), noisy
    values and an ocean mask."""
    lat = np.linspace(-89.46, 89.46, 256)
    lon = np.arange(512) * 360 / 512
    middle = (lat[1:] + lat[:-1]) / 2
    ds = xr.Dataset(
        {
            "lat_bnds": (("lat", "bnds"), np.stack([np.r_[-90, middle], np.r_[middle, 90]], -1)),
            "lon_bnds": (("lon", "bnds"), np.stack([lon - 360 / 1024, lon + 360 / 1024], -1)),
        },
        coords={
            "lat": ("lat", lat, {**LAT_ATTRS, "bounds": "lat_bnds"}),
            "lon": ("lon", lon, {**LON_ATTRS, "bounds": "lon_bnds"}),
        },
    )
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    noise = np.random.default_rng(1).normal(0.0, 2.0, phi.shape)
    values = 280 + 20 * np.cos(2 * phi) + 5 * np.sin(3 * lam) + noise
    values[np.sin(3 * lam) * np.cos(2 * phi) > 0.3] = np.nan
    return with_time(ds, values, ("lat", "lon"))


def descending() -> xr.Dataset:
    """A 2-degree grid with latitudes north to south and longitudes -180 to 180."""
    src = regular(2.0, west=-180.0, east=180.0)
    return src.isel(lat=slice(None, None, -1)).assign(lat_bnds=lambda d: d.lat_bnds[:, ::-1])


def across_the_date_line(west: float = 160.0) -> xr.Dataset:
    """A regional 2-degree grid from 160 E to 160 W, longitudes from ``west``."""
    src = regular(2.0, south=-20.0, north=20.0, west=160.0, east=200.0)
    turned = (src.lon.values - west) % 360 + west
    bounds = src.lon_bnds.values + (turned - src.lon.values)[:, None]
    return src.assign_coords(lon=("lon", turned, src.lon.attrs)).assign(
        lon_bnds=(src.lon_bnds.dims, bounds)
    )


def sparse() -> xr.Dataset:
    """Every 20th latitude and 30th longitude of a 1-degree grid, with their own bounds:
    small cells far apart, as the archive's sampled files."""
    return regular(1.0).isel(lat=slice(None, None, 20), lon=slice(None, None, 30))


def single_row() -> xr.Dataset:
    """One latitude row of two cells near the south pole (a sampled DCPP file)."""
    return regular(1.875).isel(lat=[0], lon=[0, 100])


SOURCES = {
    "global": lambda: regular(10.0),
    "masked": masked,
    "regional": lambda: regular(2.0, south=30.0, north=60.0, west=-20.0, east=30.0),
    "polar-cap": lambda: regular(1.5, south=60.0),
    "dense": dense,
    "without-bounds": lambda: dense().drop_vars(["lat_bnds", "lon_bnds"]),
    "descending": descending,
    "date-line": across_the_date_line,
}
TARGETS = {"regional": parse_grid("custom", "-30 50 0.5 25 65 0.5"), "polar-cap": ONE_DEGREE}


@needs_cdo
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(SOURCES))
def test_equals_cdo_remapping_of_the_same_file(name, method, tmp_path):
    src = SOURCES[name]()
    grid = TARGETS.get(name, ONE_DEGREE)
    out = regridded(src, method, grid, tmp_path)
    expected = cdo_remap(src, method, grid, tmp_path)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.isfinite(out).any()


@needs_cdo
@pytest.mark.parametrize("method", METHODS)
def test_longitudes_from_minus_180_across_the_date_line(method, tmp_path):
    # CDO remaps the grid with longitudes 160..200 but, for conservative weights, not the
    # same grid with longitudes 160..180, -180..-160 (it fills no target cell)
    expected = cdo_remap(across_the_date_line(), method, ONE_DEGREE, tmp_path)
    out = regridded(across_the_date_line(west=-180.0), method, ONE_DEGREE, tmp_path)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.isfinite(out).sum() == {"conservative": 2 * 1600}.get(method, 2 * 1444)


@needs_cdo
def test_a_sparse_grid_fills_only_the_target_cells_its_cells_overlap(tmp_path):
    src = sparse()
    out = regridded(src, "conservative", ONE_DEGREE, tmp_path)
    # each source cell is one target cell: 9 rows by 12 columns
    assert np.isfinite(out[0]).sum() == src.sizes["lat"] * src.sizes["lon"] == 108
    np.testing.assert_allclose(
        out, cdo_remap(gaps_as_missing_cells(src), "conservative", ONE_DEGREE, tmp_path), 1e-12
    )
    # CDO on the file itself takes the bounds as contiguous edges and fills the gaps
    assert np.isfinite(cdo_remap(src, "conservative", ONE_DEGREE, tmp_path)[0]).sum() > 50_000


@needs_cdo
@pytest.mark.parametrize("method", ["bilinear", "nearest_s2d"])
def test_a_sparse_grid_is_interpolated_between_its_centres_as_cdo_does(method, tmp_path):
    out = regridded(sparse(), method, ONE_DEGREE, tmp_path)
    expected = cdo_remap(sparse(), method, ONE_DEGREE, tmp_path)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["global", "masked", "regional", "dense", "sparse"])
def test_conservative_regridding_keeps_the_area_mean_of_the_covered_region(name, tmp_path):
    src = sparse() if name == "sparse" else SOURCES[name]()
    grid = TARGETS.get(name, parse_grid("custom", "0.75 0.5"))
    out = computed(regrid(src, method="conservative", grid=grid, work_dir=tmp_path))
    # the fraction of each target cell that valid source cells cover
    valid = src.assign(tas=src.tas.notnull().astype(float))
    covered = computed(regrid(valid, method="conservative", grid=grid, work_dir=tmp_path))
    weights = cell_areas(out).values * np.nan_to_num(covered.tas.values[0])
    before = area_mean(src.tas.values[0], cell_areas(src).values)
    assert area_mean(out.tas.values[0], weights) == pytest.approx(before, rel=1e-12)


@needs_cdo
def test_a_single_row_of_cells_is_regridded_conservatively_only(tmp_path):
    src = single_row()
    out = regridded(src, "conservative", ONE_DEGREE, tmp_path)
    # CDO takes the two cells for one from 0 to 187.5 degrees east and one beyond
    expected = cdo_remap(gaps_as_missing_cells(src), "conservative", ONE_DEGREE, tmp_path)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # two cells of 1.875 x 1.875 degrees: 2 by 2 and 2 by 3 target cells
    assert np.isfinite(out[0]).sum() == 4 + 6
    for method in ("bilinear", "nearest_s2d"):
        assert np.isnan(cdo_remap(src, method, ONE_DEGREE, tmp_path)).all()
        with pytest.raises(NoDataSelected, match="has a single row or column: use conservative"):
            regrid(src, method=method, grid=ONE_DEGREE, work_dir=tmp_path)
    with pytest.raises(InvalidParameter, match="method: conservative regridding needs the"):
        regrid(
            src.drop_vars(["lat_bnds", "lon_bnds"]),
            method="conservative",
            grid=ONE_DEGREE,
            work_dir=tmp_path,
        )


def test_grids_without_bounds_get_bounds_midway_between_centres_and_a_note(tmp_path):
    src = regular(10.0).drop_vars(["lat_bnds", "lon_bnds"])
    with recorded_notes() as notes:
        out = regrid(src, method="conservative", grid=ONE_DEGREE, work_dir=tmp_path)
    assert notes == [
        "cell bounds: the grid has none; bounds midway between the cell centres are used "
        "for conservative regridding"
    ]
    np.testing.assert_allclose(
        computed(out).tas.values, regridded(regular(10.0), "conservative", ONE_DEGREE, tmp_path)
    )


# -- 2-D latitude and longitude of a rectilinear grid ---------------------------------------


def two_dimensional(src: xr.Dataset, *, vertices: bool) -> xr.Dataset:
    """``src`` (regular) with 2-D latitude and longitude along ``(y, x)``, as some ocean
    files have them, with cell vertices or none."""
    lat, lon = xr.broadcast(src.lat, src.lon)
    out = xr.Dataset(
        {"tas": (("time", "y", "x"), src.tas.values, src.tas.attrs)},
        coords={
            "time": src.time.variable,
            "lat": (("y", "x"), lat.values, LAT_ATTRS),
            "lon": (("y", "x"), lon.values, LON_ATTRS),
        },
    )
    if vertices:
        south, north = (src.lat_bnds.values[:, k][:, None] for k in (0, 1))
        west, east = (src.lon_bnds.values[:, k][None, :] for k in (0, 1))
        corners = [(south, west), (south, east), (north, east), (north, west)]
        for name, k in (("vertices_latitude", 0), ("vertices_longitude", 1)):
            stacked = np.stack([np.broadcast_arrays(*c)[k] for c in corners], -1)
            out[name] = (("y", "x", "vertices"), stacked)
    return out


@needs_cdo
@pytest.mark.parametrize("vertices", [True, False], ids=["vertices", "no-vertices"])
@pytest.mark.parametrize("method", METHODS)
def test_two_dimensional_coordinates_of_a_rectilinear_grid(method, vertices, tmp_path):
    src = masked() if vertices else masked().drop_vars(["lat_bnds", "lon_bnds"])
    out = regridded(two_dimensional(masked(), vertices=vertices), method, ONE_DEGREE, tmp_path)
    np.testing.assert_allclose(out, cdo_remap(src, method, ONE_DEGREE, tmp_path), rtol=1e-12)
    if method == "conservative" and not vertices:
        # CDO itself takes 2-D coordinates for a curvilinear grid, whose corners it needs
        with pytest.raises(subprocess.CalledProcessError) as info:
            cdo_remap(two_dimensional(masked(), vertices=False), method, ONE_DEGREE, tmp_path)
        assert b"corner coordinates missing" in info.value.stderr
