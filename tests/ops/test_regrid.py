"""Regridding on synthetic grids, checked against numpy and against CDO's own remapping."""

from __future__ import annotations

import functools
import re

import dask
import dask.array
import numpy as np
import pytest
import xarray as xr
from cdo import Cdo

from cp4cds_wps.errors import (
    DatasetInconsistent,
    InvalidParameter,
    NoDataSelected,
)
from cp4cds_wps.ops.open import CHUNK_BYTES
from cp4cds_wps.ops.regrid import (
    GRIDS,
    METHODS,
    GridSpec,
    cell_size,
    parse_grid,
    parse_method,
    regrid,
    target_grid,
)
from cp4cds_wps.ops.weights import cell_areas
from tests.synthetic import curvilinear, regular, rotated_pole, unstructured

CDO_OPERATORS = {"nearest_s2d": "remapnn", "bilinear": "remapbil", "conservative": "remapcon"}


def lazy(ds: xr.Dataset) -> xr.Dataset:
    return ds.chunk({"time": 1})


def computed(ds: xr.Dataset) -> xr.Dataset:
    with dask.config.set(scheduler="synchronous"):
        return ds.compute()


@functools.cache
def cdo() -> Cdo:
    return Cdo()


def cdo_remap(ds: xr.Dataset, method: str, grid: GridSpec, tmp_path) -> np.ndarray:
    """``tas`` remapped by CDO itself, on ``ds`` written to a file."""
    source, description = tmp_path / "source.nc", tmp_path / "grid.txt"
    ds.to_netcdf(source)
    nlat, nlon = grid.shape
    description.write_text(
        f"gridtype = lonlat\nxsize = {nlon}\nysize = {nlat}\nxfirst = {grid.lon0 + grid.dlon / 2}"
        f"\nxinc = {grid.dlon}\nyfirst = {grid.lat0 + grid.dlat / 2}\nyinc = {grid.dlat}\n"
    )
    operator = getattr(cdo(), CDO_OPERATORS[method])
    out = operator(
        str(description),
        input=str(source),
        returnXArray="tas",
        env={"REMAP_EXTRAPOLATE": "off"},
    )
    return out.values.astype(float)


def area_mean(values: np.ndarray, areas: np.ndarray) -> float:
    valid = np.isfinite(values)
    return float((values[valid] * areas[valid]).sum() / areas[valid].sum())


# -- parsing -------------------------------------------------------------------------------


def test_parse_method_accepts_the_three_methods_in_any_case():
    assert [parse_method(m.upper()) for m in METHODS] == list(METHODS)


def test_parse_method_errors_name_the_input():
    with pytest.raises(
        InvalidParameter, match="method: 'patch' is not one of nearest_s2d, bilinear"
    ) as info:
        parse_method("patch")
    assert info.value.name == "method"


def test_method_and_grid_default_to_rooks_defaults():
    assert parse_method(" ") == "nearest_s2d"
    assert parse_grid(None, None) == GridSpec("auto")


def test_parse_grid_named_and_custom_grids():
    assert parse_grid("1pt25deg", None) == GridSpec("1pt25deg", 1.25, 1.25)
    assert parse_grid("0pt25deg", "").shape == (720, 1440)
    assert parse_grid("AUTO", None) == GridSpec("auto")
    spec = parse_grid("custom", "2, 1.5")
    assert (spec.shape, spec.lon_edges()[[0, -1]].tolist()) == ((120, 180), [0.0, 360.0])
    spec = parse_grid("custom", "-30 50 0.5 30 75 0.5")
    assert spec.shape == (90, 160)
    assert spec.lon_edges()[0] == -30 and spec.lat_edges()[-1] == 75
    assert spec.custom_grid == "-30 50 0.5 30 75 0.5"


@pytest.mark.parametrize(
    ("grid", "custom", "name", "text"),
    [
        ("2deg", None, "grid", "'2deg' is not one of auto, 0pt25deg, 0pt5deg, 1deg, 1pt25deg"),
        ("custom", None, "custom_grid", "grid custom needs a custom_grid: give 'dlon dlat'"),
        ("custom", "1 a", "custom_grid", "'1 a' is not numbers"),
        ("custom", "1 2 3", "custom_grid", "'1 2 3' has 3 numbers"),
        ("custom", "0 360 -1 -90 90 1", "custom_grid", "steps dlon and dlat must be positive"),
        ("custom", "0 360 1 -95 90 1", "custom_grid", "-90 <= lat0 < lat1 <= 90"),
        ("custom", "50 -30 1 30 75 1", "custom_grid", "lon0 < lon1 <= lon0 + 360"),
        ("custom", "0.7 1", "custom_grid", "longitude step 0.7 does not divide 360 degrees"),
        ("custom", "0.01 0.01", "custom_grid", "cells are too many"),
        ("1deg", "1 1", "custom_grid", "only used with grid custom, not with grid 1deg"),
    ],
)
def test_parse_grid_errors_name_the_input(grid, custom, name, text):
    with pytest.raises(InvalidParameter, match=re.escape(text)) as info:
        parse_grid(grid, custom)
    assert info.value.name == name


def test_grids_and_methods_are_those_rook_offers():
    assert METHODS == ("nearest_s2d", "bilinear", "conservative")
    assert list(GRIDS) == ["auto", "0pt25deg", "0pt5deg", "1deg", "1pt25deg", "2pt5deg", "custom"]


# -- auto grid -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "name"), [(0.3, "0pt25deg"), (0.6, "0pt5deg"), (1.0, "1deg"), (2.0, "2pt5deg")]
)
def test_auto_picks_the_named_grid_closest_to_the_cell_size(step, name):
    ds = regular(step, south=-30, north=30)
    assert cell_size(ds) == pytest.approx(step, rel=0.02)
    assert target_grid(ds, GridSpec("auto")) == GridSpec(name, GRIDS[name], GRIDS[name])


def test_auto_takes_the_model_resolution_from_the_bounds_of_scattered_cells():
    # every 30th cell of a 1-degree grid, as in the test archive: cells far apart
    ds = regular(1.0).isel(lat=slice(None, None, 30), lon=slice(None, None, 30))
    assert cell_size(ds) == pytest.approx(1.0, rel=0.02)
    assert target_grid(ds, GridSpec("auto")).name == "1deg"


def test_auto_without_bounds_uses_the_distance_between_cells():
    assert cell_size(regular(2.0).drop_vars(["lat_bnds", "lon_bnds"])) == pytest.approx(2.0, 1e-4)
    # a turned grid: its cells' latitudes are not those of the turned grid, as with bounds
    without = curvilinear(3.0, bounds=False)
    assert cell_size(without) == pytest.approx(cell_size(curvilinear(3.0)), rel=1e-3)
    assert target_grid(without, GridSpec("auto")).name == "2pt5deg"


# -- rectilinear sources (xarray-regrid) ---------------------------------------------------


def bilinear_reference(src: xr.Dataset, lat_t: np.ndarray, lon_t: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of the first step of ``tas`` at the targets inside the source
    coordinates, renormalised over valid neighbours, in plain numpy."""
    lat, lon, values = src.lat.values, src.lon.values, src.tas.values[0]
    out = np.full((lat_t.size, lon_t.size), np.nan)
    for a, y in enumerate(lat_t):
        for b, x in enumerate(lon_t):
            if not (lat[0] <= y <= lat[-1] and lon[0] <= x <= lon[-1]):
                continue
            i = min(np.searchsorted(lat, y, side="right") - 1, lat.size - 2)
            j = min(np.searchsorted(lon, x, side="right") - 1, lon.size - 2)
            u = (y - lat[i]) / (lat[i + 1] - lat[i])
            v = (x - lon[j]) / (lon[j + 1] - lon[j])
            w = np.array([(1 - u) * (1 - v), (1 - u) * v, u * (1 - v), u * v])
            corners = values[[i, i, i + 1, i + 1], [j, j + 1, j, j + 1]]
            ok = np.isfinite(corners) & (w > 0)
            if ok.any():
                out[a, b] = (w[ok] * corners[ok]).sum() / w[ok].sum()
    return out


def test_regular_bilinear_equals_numpy_and_renormalises_around_missing_values(tmp_path):
    src = regular(10.0)
    src["tas"][:, 8:10, 5:9] = np.nan  # a "continent"
    out = computed(
        regrid(lazy(src), method="bilinear", grid=GridSpec("custom", 3, 3), work_dir=tmp_path)
    )
    expected = bilinear_reference(src, out.lat.values, out.lon.values)
    inside = np.isfinite(expected)
    np.testing.assert_allclose(out.tas.values[0][inside], expected[inside], rtol=1e-12)
    assert np.isnan(out.tas.values[0][29, 22])  # inside the continent


def test_regular_nearest_takes_the_nearest_row_and_column(tmp_path):
    src = regular(10.0)
    out = computed(
        regrid(lazy(src), method="nearest_s2d", grid=GridSpec("custom", 3, 3), work_dir=tmp_path)
    )
    rows = np.abs(out.lat.values[:, None] - src.lat.values[None]).argmin(1)
    cols = np.abs(out.lon.values[:, None] - src.lon.values[None]).argmin(1)
    expected = src.tas.values[1][np.ix_(rows, cols)]
    # ties (a target half-way between two sources) may go either way: compare the others;
    # poleward of the first and last rows xarray-regrid adds the rows' mean at the poles
    rows_kept = (np.abs(out.lat.values % 10 - 5) > 1e-9) & (np.abs(out.lat.values) < 85)
    cols_kept = np.abs(out.lon.values % 10 - 5) > 1e-9
    unique = rows_kept[:, None] & cols_kept[None]
    np.testing.assert_array_equal(out.tas.values[1][unique], expected[unique])


def test_regular_conservative_averages_nested_cells_over_valid_values(tmp_path):
    src = regular(0.5)
    src["tas"][:, 100:110, 200:203] = np.nan
    out = computed(
        regrid(
            lazy(src), method="conservative", grid=GridSpec("2pt5deg", 2.5, 2.5), work_dir=tmp_path
        )
    )
    # each 2.5-degree cell holds 5x5 source cells: their area-weighted mean over valid values
    values = src.tas.values.reshape(2, 72, 5, 144, 5)
    areas = cell_areas(src).values.reshape(72, 5, 144, 5)
    weights = np.where(np.isnan(values), 0.0, areas)
    expected = np.nansum(values * weights, axis=(2, 4)) / weights.sum(axis=(2, 4))
    # xarray-regrid spreads a source cell evenly in degrees of latitude: a few 1e-6 off
    np.testing.assert_allclose(out.tas.values, expected, rtol=1e-5)


def test_regular_conservative_keeps_the_area_mean(tmp_path):
    src = regular(3.0)
    out = computed(
        regrid(
            lazy(src),
            method="conservative",
            grid=GridSpec("1pt25deg", 1.25, 1.25),
            work_dir=tmp_path,
        )
    )
    before = area_mean(src.tas.values[0], cell_areas(src).values)
    after = area_mean(out.tas.values[0], cell_areas(out).values)
    # xarray-regrid's latitude weights are those of whole source cells: 1e-5 close
    assert after == pytest.approx(before, rel=5e-5)


# -- other grids (CDO weights) -------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_curvilinear_equals_cdo_remapping_of_the_same_file(method, tmp_path):
    src = curvilinear()
    if method == "conservative":
        src["tas"][:, 10:14, 20:30] = np.nan  # CDO renormalises conservative weights alike
    grid = GridSpec("2pt5deg", 2.5, 2.5)
    out = computed(regrid(lazy(src), method=method, grid=grid, work_dir=tmp_path))
    expected = cdo_remap(src, method, grid, tmp_path)
    assert out.tas.dims == ("time", "lat", "lon")
    np.testing.assert_array_equal(np.isnan(out.tas.values), np.isnan(expected))
    np.testing.assert_allclose(out.tas.values, expected, rtol=1e-12)


def test_curvilinear_conservative_keeps_the_area_mean(tmp_path):
    src = curvilinear(4.0)
    out = computed(
        regrid(lazy(src), method="conservative", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)
    )
    before = area_mean(src.tas.values[0], cell_areas(src).values)
    after = area_mean(out.tas.values[0], cell_areas(out).values)
    assert after == pytest.approx(before, rel=1e-6)


def test_rotated_pole_without_bounds_uses_the_grid_mapping(tmp_path):
    src = rotated_pole()
    grid = GridSpec("custom", 1, 1, -30, 50, 25, 75)
    out = computed(regrid(lazy(src), method="conservative", grid=grid, work_dir=tmp_path))
    # CDO derives the cell corners from the rotated axes, as when it reads the file itself
    np.testing.assert_allclose(
        out.tas.values,
        cdo_remap(src.drop_vars(["lat", "lon"]), "conservative", grid, tmp_path),
        rtol=1e-12,
    )
    assert np.isfinite(out.tas.values).sum() > 1000
    assert "rotated_pole" not in out.variables and "grid_mapping" not in out.tas.attrs


def test_unstructured_conservative_averages_nested_cells(tmp_path):
    src = unstructured(1.0, -10, 10)
    grid = GridSpec("custom", 5, 5, 0, 360, -10, 10)
    out = computed(regrid(lazy(src), method="conservative", grid=grid, work_dir=tmp_path))
    values = src.tas.values.reshape(2, 4, 5, 72, 5)
    areas = cell_areas(regular(1.0, south=-10, north=10)).values.reshape(4, 5, 72, 5)
    expected = (values * areas).sum(axis=(2, 4)) / areas.sum(axis=(1, 3))
    np.testing.assert_allclose(out.tas.values, expected, rtol=1e-6)
    with pytest.raises(
        InvalidParameter, match="method: bilinear interpolation needs a structured grid"
    ):
        regrid(lazy(src), method="bilinear", grid=grid, work_dir=tmp_path)


# -- the result ----------------------------------------------------------------------------


def unreadable(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` whose ``tas`` fails when computed."""

    def fail(block):
        raise AssertionError("data were read")

    data = dask.array.map_blocks(
        fail, dask.array.zeros(ds.tas.shape, chunks=(1, *ds.tas.shape[1:])), dtype=float
    )
    return ds.assign(tas=ds.tas.copy(data=data))


@pytest.mark.parametrize("source", [regular, curvilinear], ids=["regular", "curvilinear"])
def test_result_is_lazy_and_keeps_time_levels_and_attributes(source, tmp_path):
    src = source(10.0)
    src = src.assign(
        tas=src.tas.expand_dims(plev=[85000.0, 50000.0], axis=1),
        plev_bnds=(("plev", "bnds"), [[100000.0, 70000.0], [70000.0, 30000.0]]),
    )
    src.plev.attrs = {"standard_name": "air_pressure", "units": "Pa", "bounds": "plev_bnds"}
    out = regrid(
        unreadable(src), method="conservative", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path
    )
    assert out.tas.chunks is not None
    assert out.tas.dims == ("time", "plev", "lat", "lon")
    assert list(tmp_path.iterdir()) == []  # CDO's files are gone
    xr.testing.assert_identical(out.time_bnds, src.time_bnds)
    xr.testing.assert_identical(out.plev_bnds, src.plev_bnds)
    assert out.time.attrs == src.time.attrs and out.plev.attrs == src.plev.attrs
    assert out.tas.attrs == {
        "standard_name": "air_temperature",
        "units": "K",
        "cell_methods": "area: time: mean",
    }
    assert out.lat.attrs["standard_name"] == "latitude" and out.lat.attrs["bounds"] == "lat_bnds"
    assert out.lon.attrs["units"] == "degrees_east" and out.lon.attrs["bounds"] == "lon_bnds"
    np.testing.assert_array_equal(out.lat_bnds.values[[0, -1]], [[-90, -89], [89, 90]])
    np.testing.assert_array_equal(out.lon_bnds.values[[0, -1]], [[0, 1], [359, 360]])
    assert out.attrs["grid"].startswith("global 1x1 degree (lon x lat) latitude-longitude grid")
    assert "nominal_resolution" not in out.attrs and "external_variables" not in out.attrs
    # the source grid's coordinates and vertices are replaced by the target's
    assert set(out.variables) - set(src.variables) <= {"lat", "lon", "lat_bnds", "lon_bnds"}
    assert not {"i", "j", "vertices_latitude", "vertices_longitude"} & set(out.variables)


def test_chunks_of_large_targets_stay_bounded(tmp_path):
    src = regular(10.0).isel(time=[0, 1, 1, 0, 1, 0, 0, 1, 1, 0])
    out = regrid(
        src.chunk({"time": -1}),
        method="bilinear",
        grid=GridSpec("0pt25deg", 0.25, 0.25),
        work_dir=tmp_path,
    )
    steps = max(out.tas.chunks[0])
    assert steps > 1 and steps * 720 * 1440 * 8 <= CHUNK_BYTES


# -- errors --------------------------------------------------------------------------------


def test_a_dataset_without_latitude_and_longitude_is_refused(tmp_path):
    ds = xr.Dataset({"zostoga": ("time", np.zeros(3))})
    with pytest.raises(InvalidParameter, match="collection: dataset has no latitude axis"):
        regrid(ds, method="bilinear", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)


def test_conservative_needs_the_corners_of_curvilinear_cells(tmp_path):
    with pytest.raises(InvalidParameter, match="method: conservative regridding needs the corners"):
        regrid(
            curvilinear(bounds=False),
            method="conservative",
            grid=GridSpec("1deg", 1, 1),
            work_dir=tmp_path,
        )


def test_invalid_corners_are_refused_for_conservative_regridding_only(tmp_path):
    ds = curvilinear()
    ds.vertices_latitude.values[0, :2] = -5e35  # as in a file of the archive
    with pytest.raises(DatasetInconsistent, match="collection: the corners of 2 of 1800 cells"):
        regrid(ds, method="conservative", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)
    regrid(ds, method="bilinear", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)


def test_cells_without_position_are_refused(tmp_path):
    ds = curvilinear()
    ds.lat.values[0, :3] = np.nan
    with pytest.raises(
        DatasetInconsistent, match="latitude or longitude is missing or invalid at 3 of"
    ):
        regrid(ds, method="bilinear", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)


def test_a_target_beside_a_regional_grid_is_refused(tmp_path):
    grid = parse_grid("custom", "100 140 1 -40 -10 1")
    with pytest.raises(
        NoDataSelected, match="custom_grid: no cell of the target grid .* lies within"
    ):
        regrid(rotated_pole(), method="bilinear", grid=grid, work_dir=tmp_path)


def test_a_single_row_of_a_regular_grid_is_refused(tmp_path):
    with pytest.raises(InvalidParameter, match="1 latitude.* and 36 longitude.*at least two"):
        regrid(
            regular(10.0).isel(lat=[3]),
            method="nearest_s2d",
            grid=GridSpec("1deg", 1, 1),
            work_dir=tmp_path,
        )


def test_an_unknown_method_is_refused(tmp_path):
    with pytest.raises(InvalidParameter, match="method: 'linear' is not one of"):
        regrid(regular(10.0), method="linear", grid=GridSpec("1deg", 1, 1), work_dir=tmp_path)


def test_grid_spec_describes_itself():
    assert GridSpec("1deg", 1, 1).describe() == (
        "global 1x1 degree (lon x lat) latitude-longitude grid of 180x360 cells"
    )
    assert parse_grid("custom", "-30 50 0.5 30 75 0.5").describe() == (
        "regional (-30 to 50 E, 30 to 75 N) 0.5x0.5 degree (lon x lat) latitude-longitude grid "
        "of 90x160 cells"
    )
