"""Quick-look plots on synthetic data: the numbers shown, the figure's parts, the errors."""

from __future__ import annotations

import io

import cftime
import matplotlib.image
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.plot import (
    parse_kind,
    parse_timestep,
    plot_map,
    plot_timeseries,
    select_timestep,
)
from tests.synthetic import ensemble_file

from .test_average import curvilinear, grid


def with_time(ds: xr.Dataset, values: np.ndarray, calendar: str = "360_day") -> xr.Dataset:
    """``ds`` with a variable ``tas(time, ...)`` of monthly steps from January 2000."""
    times = [
        cftime.datetime(2000 + i // 12, i % 12 + 1, 16, calendar=calendar)
        for i in range(len(values))
    ]
    dims = ds.lat.dims if ds.lat.ndim == 2 else ("lat", "lon")
    attrs = {"long_name": "Near-Surface Air Temperature", "units": "K"}
    ds = ds.assign_coords(time=("time", times, {"standard_name": "time"}))
    return ds.assign(tas=(("time", *dims), values, attrs)).chunk({"time": 5})


def png_pixels(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png")


# -- parsing -------------------------------------------------------------------------------


def test_parse_kind_defaults_to_a_map():
    assert parse_kind(None) == "map"
    assert parse_kind("TimeSeries") == "timeseries"
    with pytest.raises(InvalidParameter, match="'bar' is not one of map, timeseries") as info:
        parse_kind("bar")
    assert info.value.name == "kind"


def test_parse_timestep_reads_indices_and_dates():
    assert parse_timestep(None) is None
    assert parse_timestep(" -1 ").index == -1
    assert parse_timestep("2015").index == 2015  # a bare number is an index
    july = parse_timestep("2015-07")
    assert july.index is None and str(july) == "2015-07"
    assert (july.within.start, july.within.end) == ("2015-07-01T00:00:00", "2015-07-31T23:59:59")


@pytest.mark.parametrize("text", ["July", "2015-13", "2015-01/2015-02", "1.5"])
def test_parse_timestep_names_the_input(text):
    with pytest.raises(InvalidParameter, match="neither a time step index") as info:
        parse_timestep(text)
    assert info.value.name == "timestep"


# -- choosing a time step ------------------------------------------------------------------


def test_select_timestep_by_index_date_and_default():
    ds = with_time(grid(30.0), np.arange(24.0)[:, None, None] * np.ones((24, 6, 12)))
    assert select_timestep(ds, None).time.dt.month.values.tolist() == [1]
    assert select_timestep(ds, parse_timestep("-1")).time.dt.year.values.tolist() == [2001]
    step = select_timestep(ds, parse_timestep("2001-03"))
    assert step.sizes["time"] == 1
    assert step.tas.isel(lat=0, lon=0).values.tolist() == [14.0]


def test_select_timestep_errors_give_the_data_range():
    ds = with_time(grid(30.0), np.zeros((24, 6, 12)))
    with pytest.raises(InvalidParameter, match="index 24 is out of range: .* 24 time steps"):
        select_timestep(ds, parse_timestep("24"))
    with pytest.raises(
        NoDataSelected, match="no time step lies within 2003-01; .* run from"
    ) as info:
        select_timestep(ds, parse_timestep("2003-01"))
    assert info.value.name == "timestep"
    with pytest.raises(InvalidParameter, match="no time axis"):
        select_timestep(grid(30.0), None)


# -- time series ---------------------------------------------------------------------------


def test_timeseries_is_the_area_weighted_mean_of_each_step():
    ds = grid(30.0)
    rng = np.random.default_rng(0)
    values = rng.normal(280, 10, (14, 6, 12))
    ds = with_time(ds, values)
    fig, table = plot_timeseries(ds, "tas", title="my.dataset.id")
    lat_b = np.deg2rad(ds.lat_bnds.values)
    weights = np.abs(np.diff(np.sin(lat_b), axis=1))[:, 0]
    expected = (values.mean(axis=2) * weights).sum(axis=1) / weights.sum()
    np.testing.assert_allclose(table["value"], expected, rtol=1e-12)
    assert table["time"].tolist()[:2] == ["2000-01-16T00:00:00", "2000-02-16T00:00:00"]
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_allclose(line.get_ydata(), expected)
    title = fig.axes[0].get_title()
    assert title.startswith("my.dataset.id\nNear-Surface Air Temperature (tas),")
    assert "area-weighted mean over the cells with centres at latitudes 75°S" in title
    assert "all longitudes" in title
    assert fig.axes[0].get_ylabel() == "tas [K]"
    assert png_pixels(fig).shape[:2] == (550, 1000)


def test_timeseries_x_axis_is_in_years_of_the_calendar():
    ds = with_time(grid(30.0), np.ones((24, 6, 12)))
    fig, _ = plot_timeseries(ds, "tas", title="t")
    x = fig.axes[0].get_lines()[0].get_xdata()
    # 16 January in a 360-day year: 15 of 360 days after its start
    np.testing.assert_allclose(x[:2], [2000 + 15 / 360, 2000 + 45 / 360])
    formatter = fig.axes[0].xaxis.get_major_formatter()
    assert formatter(2001.0) == "2001"
    assert formatter(2001.5) == "2001-07-01"
    assert "360_day" in fig.axes[0].get_xlabel()


def test_timeseries_on_a_curvilinear_grid_uses_the_given_cell_areas():
    ds = curvilinear()
    values = np.ones((3, 18, 36))
    values[:, :, :18] = 3.0
    ds = with_time(ds, values)
    areas = xr.DataArray(np.ones((18, 36)), dims=("j", "i"), name="areacello")
    areas[:, :18] = 3.0  # three times as much weight on the cells of value 3
    _, table = plot_timeseries(ds, "tas", title="t", areacella=areas)
    np.testing.assert_allclose(table["value"], (3 * 3 + 1) / 4)


def test_timeseries_of_data_with_levels_shows_the_first_level_and_says_so():
    ds = grid(30.0).assign_coords(plev=("plev", [85000.0, 50000.0], {"units": "Pa", "axis": "Z"}))
    values = np.stack([np.full((4, 6, 12), 280.0), np.full((4, 6, 12), 250.0)], axis=1)
    ds = ds.assign_coords(time=("time", [cftime.datetime(2000, m, 16) for m in range(1, 5)]))
    ds = ds.assign(tas=(("time", "plev", "lat", "lon"), values, {"units": "K"}))
    fig, table = plot_timeseries(ds, "tas", title="t")
    np.testing.assert_allclose(table["value"], 280.0)
    assert "plev = 85000 Pa (first of 2)" in fig.axes[0].get_title()


def test_plots_of_an_ensemble_file_show_the_first_member_by_its_label(tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    fig, table = plot_timeseries(ds, "pr", title="t")
    first = ds.pr.isel(member=0).values.astype(float)
    sin = np.sin(np.deg2rad(ds.lat_bnds.values))
    weights = np.abs(sin[:, 1] - sin[:, 0])[:, None] * np.ones(ds.sizes["lon"])
    np.testing.assert_allclose(table["value"], (first * weights).sum((1, 2)) / weights.sum())
    assert "member CNRM_CNRM-CM5_r1i1p1 (first of 3)" in fig.axes[0].get_title()
    fig, table = plot_map(select_timestep(ds, None), "pr", title="t")
    np.testing.assert_allclose(table["value"], first[0].ravel(), rtol=1e-6)
    assert "member CNRM_CNRM-CM5_r1i1p1" in fig.axes[0].get_title()


def test_timeseries_of_data_without_grid_plots_the_values():
    ds = xr.Dataset(
        {"zostoga": ("time", [0.1, 0.2, 0.4], {"units": "m"})},
        coords={"time": [cftime.datetime(2000, m, 16, calendar="noleap") for m in (1, 2, 3)]},
    )
    _, table = plot_timeseries(ds, "zostoga", title="t")
    assert table["value"].tolist() == [0.1, 0.2, 0.4]


def test_timeseries_of_a_regional_subset_names_its_longitudes_across_greenwich():
    ds = grid(10.0)
    ds = ds.isel(lon=list(range(34, 36)) + list(range(3)))  # 15 W to 25 E on a 0..360 grid
    fig, _ = plot_timeseries(with_time(ds, np.ones((2, 18, 5))), "tas", title="t")
    assert "longitudes 15°W to 25°E" in fig.axes[0].get_title()


def test_timeseries_needs_time():
    ds = grid(30.0).assign(orog=(("lat", "lon"), np.zeros((6, 12))))
    with pytest.raises(InvalidParameter, match="orog has no time axis") as info:
        plot_timeseries(ds, "orog", title="t")
    assert info.value.name == "kind"


# -- maps ----------------------------------------------------------------------------------


def test_map_of_a_regular_grid_lists_every_cell_with_data():
    ds = grid(30.0)
    values = np.arange(72.0).reshape(1, 6, 12)
    values[0, 0, :] = np.nan  # no data south of 60 S
    ds = with_time(ds, values)
    fig, table = plot_map(ds, "tas", title="my.dataset.id")
    assert list(table.columns) == ["lat", "lon", "value"]
    assert len(table) == 60
    lat, lon = np.meshgrid(ds.lat.values, ds.lon.values, indexing="ij")
    row = table.iloc[0]
    assert (row["lat"], row["lon"], row["value"]) == (lat[1, 0], lon[1, 0], 12.0)
    np.testing.assert_array_equal(table["value"], values[0, 1:].ravel())
    ax, colourbar = fig.axes
    assert colourbar.get_ylabel() == "tas [K]"
    assert ax.get_title() == (
        "my.dataset.id\nNear-Surface Air Temperature (tas), at 2000-01-16 00:00:00"
    )
    assert ax.xaxis.get_major_formatter()(-30.0) == "30°W"
    assert ax.yaxis.get_major_formatter()(45.0) == "45°N"
    assert png_pixels(fig).shape[:2] == (550, 1000)


def test_map_of_a_sparse_grid_ends_at_the_poles():
    ds = grid(60.0).isel(lat=[0, 2])  # centres at 60 S and 60 N: cells drawn to 180 S/N
    fig, _ = plot_map(with_time(ds, np.ones((1, 2, 6))), "tas", title="t")
    assert fig.axes[0].get_ylim() == (-90.0, 90.0)


def test_map_of_a_curvilinear_grid_has_no_cell_across_the_seam():
    ds = curvilinear()
    # longitudes of a model grid starting at 80 E: 80..360 then 0..80 along each row
    ds = ds.assign_coords(lon=ds.lon.copy(data=np.mod(ds.lon.values + 80.0, 360.0)))
    ds = with_time(ds, np.arange(18 * 36.0).reshape(1, 18, 36))
    fig, table = plot_map(ds, "tas", title="t")
    corners = fig.axes[0].collections[0].get_coordinates()
    assert np.abs(np.diff(corners[..., 0], axis=1)).max() <= 10.0 + 1e-9
    # the table keeps the longitudes of the file
    assert table["lon"].min() == 5.0 and table["lon"].max() == 355.0
    assert len(table) == 18 * 36


def test_map_of_a_grid_with_undeclared_fill_coordinates_leaves_those_cells_out():
    ds = curvilinear()
    lat = ds.lat.values.copy()
    lat[0, :4] = 9.969209968386869e36
    ds = with_time(ds.assign_coords(lat=ds.lat.copy(data=lat)), np.ones((1, 18, 36)))
    fig, table = plot_map(ds, "tas", title="t")
    assert len(table) == 18 * 36 - 4
    assert fig.axes[0].get_ylim()[1] < 100
    png_pixels(fig)


def test_map_of_data_with_levels_shows_the_first_level():
    ds = grid(30.0).assign_coords(lev=("lev", [1.0, 2.0], {"units": "m", "axis": "Z"}))
    ds = ds.assign(thetao=(("lev", "lat", "lon"), np.stack([np.ones((6, 12)), np.zeros((6, 12))])))
    fig, table = plot_map(ds, "thetao", title="t")
    assert (table["value"] == 1.0).all()
    assert fig.axes[0].get_title().endswith(", lev = 1 m (first of 2)")
    fig, _ = plot_map(ds.isel(lev=[1]), "thetao", title="t")
    assert fig.axes[0].get_title().endswith(", lev = 2 m")


def test_map_needs_one_step_and_a_grid():
    ds = with_time(grid(30.0), np.zeros((2, 6, 12)))
    with pytest.raises(ValueError, match="select_timestep"):
        plot_map(ds, "tas", title="t")
    flat = xr.Dataset({"zostoga": ("time", [0.1])}, coords={"time": [cftime.datetime(2000, 1, 1)]})
    with pytest.raises(InvalidParameter, match="no latitude/longitude grid") as info:
        plot_map(flat, "zostoga", title="t")
    assert info.value.name == "kind"
