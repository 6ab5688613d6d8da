"""Means over axes and calendar periods on synthetic data, checked against hand computations."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.ops.average import average_over_dims, parse_dims, parse_freq
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.output.netcdf import write_netcdf
from tests.cf_check import cf_failures
from tests.synthetic import MEMBERS, ensemble_file, rotated_pole

DAYS = {
    "360_day": [30] * 12,
    "noleap": [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    # 2000 is a leap year, 2001 is not
    "gregorian": [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
}


def grid(step: float = 1.0, south: float = -90.0, north: float = 90.0) -> xr.Dataset:
    lat = np.arange(south + step / 2, north, step)
    lon = np.arange(step / 2, 360, step)
    return xr.Dataset(
        {
            "lat_bnds": (("lat", "bnds"), np.stack([lat - step / 2, lat + step / 2], -1)),
            "lon_bnds": (("lon", "bnds"), np.stack([lon - step / 2, lon + step / 2], -1)),
        },
        coords={
            "lat": (
                "lat",
                lat,
                {"standard_name": "latitude", "units": "degrees_north", "bounds": "lat_bnds"},
            ),
            "lon": (
                "lon",
                lon,
                {"standard_name": "longitude", "units": "degrees_east", "bounds": "lon_bnds"},
            ),
        },
    )


def curvilinear(dims=("j", "i"), rotated: bool = False) -> xr.Dataset:
    """A 10-degree grid with 2-D lat/lon along ``dims`` and cell vertices."""
    regular = grid(10.0)
    lat_b, lon_b = regular.lat_bnds.values, regular.lon_bnds.values
    shape = (18, 36, 4)
    vlat = np.broadcast_to(np.stack([lat_b[:, 0]] * 2 + [lat_b[:, 1]] * 2, -1)[:, None], shape)
    vlon = np.stack([lon_b[:, 0], lon_b[:, 1], lon_b[:, 1], lon_b[:, 0]], -1)
    vlon = np.broadcast_to(vlon[None], shape)
    lat2, lon2 = (a.values for a in xr.broadcast(regular.lat, regular.lon))
    ds = xr.Dataset(
        {
            "lat_vertices": ((*dims, "nv"), vlat.copy()),
            "lon_vertices": ((*dims, "nv"), vlon.copy()),
        },
        coords={
            "lat": (
                dims,
                lat2,
                {"standard_name": "latitude", "units": "degrees_north", "bounds": "lat_vertices"},
            ),
            "lon": (
                dims,
                lon2,
                {"standard_name": "longitude", "units": "degrees_east", "bounds": "lon_vertices"},
            ),
        },
    )
    if rotated:
        ds = ds.assign_coords(
            {
                dims[0]: (dims[0], np.arange(18.0), {"standard_name": "grid_latitude"}),
                dims[1]: (dims[1], np.arange(36.0), {"standard_name": "grid_longitude"}),
            }
        )
    return ds


def monthly(calendar: str, values, years=(2000, 2001), *, bounds: bool = True) -> xr.Dataset:
    starts = [cftime.datetime(y, m, 1, calendar=calendar) for y in years for m in range(1, 13)]
    ends = starts[1:] + [cftime.datetime(years[-1] + 1, 1, 1, calendar=calendar)]
    mids = [a + (b - a) / 2 for a, b in zip(starts, ends, strict=True)]
    ds = xr.Dataset(
        {"tas": ("time", np.asarray(values, dtype=float), {"cell_methods": "time: mean"})},
        coords={"time": ("time", mids, {"standard_name": "time", "axis": "T"})},
    )
    ds.time.encoding = {"units": "days since 1990-01-01", "calendar": calendar}
    if bounds:
        ds["time_bnds"] = (("time", "bnds"), np.stack([starts, ends], -1))
        ds.time.attrs["bounds"] = "time_bnds"
    return ds.chunk({"time": 5})


# -- parsing -------------------------------------------------------------------------------


def test_parse_dims_accepts_commas_spaces_and_any_case():
    assert parse_dims("Latitude, longitude time") == ("latitude", "longitude", "time")


@pytest.mark.parametrize(
    ("text", "message"),
    [("height", "unknown dimension 'height'"), ("time,time", "more than once: time")],
)
def test_parse_dims_names_the_input_and_the_problem(text, message):
    with pytest.raises(InvalidParameter, match=message) as info:
        parse_dims(text)
    assert info.value.name == "dims"


def test_parse_dims_and_freq_require_a_value():
    with pytest.raises(MissingParameter):
        parse_dims(" ")
    with pytest.raises(MissingParameter):
        parse_freq(None)


# -- spatial means -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ds",
    [
        grid(5.0),
        curvilinear(),
        curvilinear(("y", "x")),
        curvilinear(("rlat", "rlon"), True),
        curvilinear(("nlat", "nlon")),
        curvilinear(("nj", "ni")),
    ],
    ids=["regular", "j-i", "y-x", "rotated", "nlat-nlon", "nj-ni"],
)
def test_a_uniform_field_averages_to_its_value_on_every_grid(ds):
    dims = ds.lat.dims if ds.lat.ndim == 2 else ("lat", "lon")
    ds["tas"] = (("time", *dims), np.full((2, ds.sizes[dims[0]], ds.sizes[dims[1]]), 287.5))
    mean = average_over_dims(ds.chunk({"time": 1}), ["latitude", "longitude"])
    assert mean.tas.dims == ("time",)
    np.testing.assert_allclose(mean.tas.values, 287.5)
    assert mean.tas.attrs["cell_methods"].startswith("area: mean (comment: area-weighted")
    # no variable keeps a horizontal dimension: 2-D latitude/longitude and vertices are
    # dropped, 1-D ones become scalar coordinates with bounds spanning the grid
    assert not [name for name, var in mean.variables.items() if set(var.dims) & set(dims)]
    assert "lat_vertices" not in mean.variables


def test_a_field_equal_to_latitude_has_the_analytic_area_mean():
    ds = grid(0.5, south=0.0)
    ds["lat_field"] = ds.lat * xr.ones_like(ds.lon)
    mean = average_over_dims(ds, ["latitude", "longitude"])
    # over the northern hemisphere: int(phi cos phi) / int(cos phi) = pi/2 - 1 (radians)
    np.testing.assert_allclose(float(mean.lat_field), np.rad2deg(np.pi / 2 - 1), atol=1e-3)
    # regular grids keep scalar coordinates spanning the averaged range
    assert float(mean.lat) == 45.0
    np.testing.assert_allclose(mean[mean.lat.attrs["bounds"]].values, [0, 90])


def test_a_zonal_mean_on_a_regular_grid():
    ds = grid(30.0)
    ds["tas"] = ds.lat + 0 * ds.lon
    mean = average_over_dims(ds, ["longitude"])
    np.testing.assert_allclose(mean.tas.values, ds.lat.values)
    assert mean.tas.attrs["cell_methods"].startswith("lon: mean")


def test_masked_cells_count_neither_in_sums_nor_weights():
    ds = curvilinear()
    values = np.full((18, 36), np.nan)
    values[9, :] = 1.0  # band 0..10 N
    values[0, :5] = 5.0  # five cells of the band 90..80 S
    ds["tos"] = (("j", "i"), values)
    band0 = np.sin(np.deg2rad(10))
    band_s = np.sin(np.deg2rad(-80)) - np.sin(np.deg2rad(-90))
    # the 2-D cells are great-circle polygons, close to the bands for the low band; the polar
    # one is a triangle-like cell: compare with the areas the code would need to be right to
    expected = (1.0 * 36 * band0 + 5.0 * 5 * band_s) / (36 * band0 + 5 * band_s)
    mean = average_over_dims(ds, ["latitude", "longitude"])
    np.testing.assert_allclose(float(mean.tos), expected, rtol=0.02)
    regular = grid(10.0)
    regular["tos"] = (("lat", "lon"), values)
    exact = average_over_dims(regular, ["latitude", "longitude"])
    np.testing.assert_allclose(float(exact.tos), expected, rtol=1e-12)


def test_only_latitude_on_a_curvilinear_grid_is_refused_with_the_reason():
    ds = curvilinear(("rlat", "rlon"), True)
    ds["tas"] = (("rlat", "rlon"), np.ones((18, 36)))
    with pytest.raises(InvalidParameter, match="rotated-pole grid latitude and longitude both"):
        average_over_dims(ds, ["latitude"])


def test_a_missing_axis_is_named_with_the_dimensions_the_dataset_has():
    ds = grid(30.0)
    ds["tas"] = ds.lat + 0 * ds.lon
    with pytest.raises(InvalidParameter, match=r"no level axis; its dimensions are lat \(6\)"):
        average_over_dims(ds, ["level"])
    with pytest.raises(InvalidParameter, match="no realization axis"):
        average_over_dims(ds, ["realization"])


def test_level_means_are_thickness_weighted_when_levels_have_bounds():
    plev = xr.DataArray(
        [1000.0, 800.0, 200.0],
        dims="plev",
        attrs={"axis": "Z", "standard_name": "air_pressure", "units": "hPa"},
    )
    ds = xr.Dataset({"ta": ("plev", [300.0, 280.0, 220.0])}, coords={"plev": plev})
    plain = average_over_dims(ds, ["level"])
    assert float(plain.ta) == pytest.approx(800.0 / 3)
    assert "unweighted" in plain.ta.attrs["cell_methods"]
    ds["plev_bnds"] = (("plev", "bnds"), [[1050.0, 900.0], [900.0, 500.0], [500.0, 0.0]])
    ds.plev.attrs["bounds"] = "plev_bnds"
    weighted = average_over_dims(ds, ["level"])
    assert float(weighted.ta) == pytest.approx((300 * 150 + 280 * 400 + 220 * 500) / 1050)
    assert weighted.ta.attrs["cell_methods"] == "plev: mean (comment: thickness-weighted)"
    np.testing.assert_allclose(weighted.plev_bnds.values, [0, 1050])


def test_realization_and_time_means():
    ds = monthly("noleap", np.arange(24.0))
    ds["tas"] = ds.tas + xr.DataArray([0.0, 1.0, 5.0], dims="realization")
    mean = average_over_dims(ds, ["realization", "time"])
    days = np.array(DAYS["noleap"] * 2)
    np.testing.assert_allclose(float(mean.tas), (np.arange(24) * days).sum() / days.sum() + 2)
    assert mean.time.ndim == 0
    assert [str(t) for t in mean.time_bnds.values] == ["2000-01-01 00:00:00", "2002-01-01 00:00:00"]


# -- datasets with other axes: ensemble members ----------------------------------------------


def band_weights(ds: xr.Dataset) -> np.ndarray:
    """Exact areas (up to a constant) of the cells of a regular grid with bounds."""
    sin = np.sin(np.deg2rad(ds.lat_bnds.values))
    width = np.diff(ds.lon_bnds.values, axis=1)[:, 0]
    return np.abs(np.diff(sin, axis=1)) * width[None, :]


def written_cf_failures(ds: xr.Dataset, tmp_path) -> set[str]:
    return cf_failures(write_netcdf(ds, tmp_path / "out.nc", history="test"))


def test_area_means_of_an_ensemble_file_keep_the_members_and_their_labels(tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    mean = average_over_dims(ds, ["latitude", "longitude"])
    assert mean.pr.dims == ("member", "time")
    values = ds.pr.values.astype(float)
    expected = (values * band_weights(ds)).sum((-2, -1)) / band_weights(ds).sum()
    np.testing.assert_allclose(mean.pr.values, expected, rtol=1e-6)
    assert list(mean.member_id.values) == list(MEMBERS)
    assert written_cf_failures(mean, tmp_path) == set()


def test_every_axis_of_an_ensemble_file_can_be_averaged(tmp_path):
    ds = open_dataset([ensemble_file(tmp_path)])
    values = ds.pr.values.astype(float)
    over_time = average_over_dims(ds, ["time"])
    assert over_time.pr.dims == ("member", "lat", "lon")
    np.testing.assert_allclose(over_time.pr.values, values.mean(1), rtol=1e-6)  # 30-day months
    over_members = average_over_dims(ds, ["realization"])
    assert over_members.pr.dims == ("time", "lat", "lon")
    np.testing.assert_allclose(over_members.pr.values, values.mean(0), rtol=1e-6)
    assert "member_id" not in over_members.variables
    assert over_members.pr.attrs["cell_methods"] == "time: mean member: mean"
    for mean in (over_time, over_members):
        assert written_cf_failures(mean, tmp_path) == set()


@pytest.mark.parametrize("vertices", [("lat_vertices", "lon_vertices"), None])
def test_averaging_away_a_rotated_pole_grid_leaves_no_grid_mapping_behind(vertices, tmp_path):
    path = tmp_path / "tas_EUR-44_rotated.nc"
    rotated_pole(2.0, vertices=vertices).to_netcdf(path)
    mean = average_over_dims(open_dataset([path]), ["latitude", "longitude"])
    assert mean.tas.dims == ("time",)
    assert "grid_mapping" not in mean.tas.attrs and "rotated_pole" not in mean.variables
    assert not {"rlat", "rlon", "lat", "lon", "lat_vertices", "lon_vertices"} & set(mean.variables)
    assert written_cf_failures(mean, tmp_path) == set()
