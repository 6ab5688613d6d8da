"""Reading grid, levels and variables from synthetic netCDF files of each grid type."""

from __future__ import annotations

import zlib

import netCDF4
import numpy as np
import pytest

from cp4cds_wps.inventory.geometry import (
    Geometry,
    compressed_fraction,
    read_geometry,
    read_lat_lon,
)


def _coordinate(nc, name, dims, values, **attrs):
    var = nc.createVariable(name, "f8", dims)
    var.setncatts(attrs)
    var[:] = values
    return var


def write(path, kind: str):
    """A file with ``ta(time, plev, <grid>)`` on a regular, curvilinear, rotated-pole or
    unstructured grid; 2-D coordinates hold a fill value 1e30 the file does not declare."""
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("plev", 3)
        nc.createDimension("bnds", 2)
        _coordinate(nc, "time", ("time",), [0.5, 1.5], units="days since 2000-01-01", axis="T")
        _coordinate(
            nc, "plev", ("plev",), [100000.0, 85000.0, 50000.0], units="Pa", positive="down"
        )
        if kind == "regular":
            nc.createDimension("lat", 3)
            nc.createDimension("lon", 4)
            lat = _coordinate(nc, "lat", ("lat",), [-30.0, 0.0, 30.0], units="degrees_north")
            lat.bounds = "lat_bnds"
            _coordinate(nc, "lat_bnds", ("lat", "bnds"), np.zeros((3, 2)))
            _coordinate(nc, "lon", ("lon",), [0.0, 90.0, 180.0, 270.0], units="degrees_east")
            grid = ("lat", "lon")
        elif kind == "unstructured":
            nc.createDimension("cell", 5)
            lat = [-60.0, -30.0, 0.0, 30.0, 60.0]
            _coordinate(nc, "lat", ("cell",), lat, standard_name="latitude")
            _coordinate(nc, "lon", ("cell",), [0.0, 72, 144, 216, 288], standard_name="longitude")
            grid = ("cell",)
        else:
            y, x = ("rlat", "rlon") if kind == "rotated" else ("j", "i")
            nc.createDimension(y, 2)
            nc.createDimension(x, 3)
            if kind == "rotated":
                pole = nc.createVariable("rotated_pole", "c")
                pole.grid_mapping_name = "rotated_latitude_longitude"
                _coordinate(nc, y, (y,), [-1.0, 1.0], standard_name="grid_latitude")
                _coordinate(nc, x, (x,), [-1.0, 0.0, 1.0], standard_name="grid_longitude")
            lat = np.array([[40.0, 41.0, 1e30], [42.0, 43.0, 44.0]])
            lon = np.array([[-10.0, 0.0, 1e30], [-11.0, 1.0, 12.0]])
            _coordinate(nc, "latitude", (y, x), lat, standard_name="latitude")
            _coordinate(nc, "longitude", (y, x), lon, standard_name="longitude")
            grid = (y, x)
        ta = nc.createVariable("ta", "f4", ("time", "plev", *grid), zlib=True)
        ta.units = "K"
        ta.long_name = "Air Temperature"
        if kind in ("curvilinear", "rotated"):
            ta.coordinates = "latitude longitude"
        if kind == "rotated":
            ta.grid_mapping = "rotated_pole"
        ta[:] = 280 + np.arange(np.prod(ta.shape)).reshape(ta.shape) % 7
    return path


@pytest.mark.parametrize(
    ("kind", "grid_type", "grid_dims", "extent"),
    [
        ("regular", "regular", ("lat", "lon"), (0.0, 270.0, -30.0, 30.0)),
        ("curvilinear", "curvilinear", ("j", "i"), (-11.0, 12.0, 40.0, 44.0)),
        ("rotated", "rotated_pole", ("rlat", "rlon"), (-11.0, 12.0, 40.0, 44.0)),
        ("unstructured", "unstructured", ("cell",), (0.0, 288.0, -60.0, 60.0)),
    ],
)
def test_grid_types_extent_and_levels(tmp_path, kind, grid_type, grid_dims, extent):
    path = write(tmp_path / f"{kind}.nc", kind)
    geometry = read_geometry(path, "ta")
    assert geometry.grid_type == grid_type
    assert geometry.grid_dims == grid_dims
    assert geometry.time_dim == "time"
    assert tuple(geometry.extent[k] for k in ("west", "east", "south", "north")) == extent
    assert geometry.levels.name == "plev" and geometry.levels.units == "Pa"
    assert geometry.levels.values == (100000.0, 85000.0, 50000.0)
    assert geometry.levels.positive == "down"
    main = geometry.main()
    assert (main.dims, main.shape[:2]) == (("time", "plev", *grid_dims), (2, 3))
    assert (main.units, main.long_name, main.role, main.dtype) == (
        "K",
        "Air Temperature",
        "data",
        "float32",
    )
    # JSON round trip, as the inventory keeps it
    assert Geometry.from_dict(geometry.to_dict()) == geometry


def test_roles_of_variables(tmp_path):
    geometry = read_geometry(write(tmp_path / "r.nc", "regular"), "ta")
    roles = {v.name: v.role for v in geometry.variables}
    assert roles == {
        "time": "coordinate",
        "plev": "coordinate",
        "lat": "coordinate",
        "lat_bnds": "bounds",
        "lon": "coordinate",
        "ta": "data",
    }


def test_regular_axes_are_kept_and_other_grids_read_again(tmp_path):
    regular = read_geometry(write(tmp_path / "r.nc", "regular"), "ta")
    assert regular.lat == (-30.0, 0.0, 30.0)
    path = write(tmp_path / "c.nc", "curvilinear")
    curvilinear = read_geometry(path, "ta")
    assert curvilinear.lat == ()
    lat, lon = read_lat_lon(path, curvilinear)
    assert lat.shape == (2, 3) and np.isnan(lat[0, 2]) and lon[1, 2] == 12.0


def test_a_variable_missing_from_the_file_falls_back_to_the_first_data_variable(tmp_path):
    geometry = read_geometry(write(tmp_path / "r.nc", "regular"), "tas")
    assert geometry.variable == "ta"


def test_compressed_fraction_is_that_of_shuffled_zlib(tmp_path):
    path = write(tmp_path / "r.nc", "regular")
    with netCDF4.Dataset(path) as nc:
        values = np.asarray(nc.variables["ta"][:, :, :, 1:3], dtype="f4")
    shuffled = values.view(np.uint8).reshape(-1, 4).T.tobytes()
    expected = len(zlib.compress(shuffled, 1)) / values.nbytes
    fraction = compressed_fraction(path, "ta", {"lon": np.array([1, 2])})
    assert fraction == pytest.approx(expected)
    # at most max_bytes along the first dimension: one time step here
    one = compressed_fraction(path, "ta", {}, max_bytes=3 * 3 * 4 * 4)
    with netCDF4.Dataset(path) as nc:
        first = np.asarray(nc.variables["ta"][:1], dtype="f4")
    assert one == pytest.approx(
        len(zlib.compress(first.view(np.uint8).reshape(-1, 4).T.tobytes(), 1)) / first.nbytes
    )
    # a slice larger than max_bytes: part of it (1 time, 1 level, 1 lat, 3 lon values)
    part = compressed_fraction(path, "ta", {}, max_bytes=12)
    with netCDF4.Dataset(path) as nc:
        values = np.asarray(nc.variables["ta"][:1, :1, :1, :3], dtype="f4")
    shuffled = values.view(np.uint8).reshape(-1, 4).T.tobytes()
    assert part == pytest.approx(len(zlib.compress(shuffled, 1)) / values.nbytes)
    assert compressed_fraction(path, "time_missing", {}) is None
