"""Checks of one file: checksums, CF compliance, coordinates and their bounds."""

from __future__ import annotations

import hashlib

import netCDF4
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.qc.checks import (
    cell_area_findings,
    cf_findings,
    checksum_findings,
    coordinate_findings,
    read_sha256,
)


def test_checksums_against_the_archives_files(tmp_path):
    path = tmp_path / "a.nc"
    path.write_bytes(b"netcdf" * 1000)
    md5, sha256 = (
        hashlib.md5(path.read_bytes()).hexdigest(),
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    (tmp_path / "a.nc.sha256").write_text(f"{sha256.upper()}  a.nc\n")
    assert read_sha256(path) == sha256
    assert checksum_findings("a.nc", md5, sha256, md5, sha256) == []
    (wrong,) = checksum_findings("a.nc", md5, sha256, "0" * 32, None)
    assert (wrong.check, wrong.severity, wrong.files) == ("checksum", "error", ("a.nc",))
    assert wrong.message == f"a.nc: its MD5 is {md5}, the archive's checksum file says {'0' * 32}"
    (none,) = checksum_findings("a.nc", md5, sha256, None, None)
    assert none.severity == "warning" and "no .md5 or .sha256 file" in none.message


def _grid_file(path, lat=(-45.0, 45.0), lat_bnds=None, time_attrs=None):
    lat = np.asarray(lat)
    bounds = np.stack([lat - 45, lat + 45], 1) if lat_bnds is None else np.asarray(lat_bnds)
    ds = xr.Dataset(
        {
            "tas": (
                ("time", "lat"),
                np.ones((2, lat.size), "f4"),
                {"standard_name": "air_temperature", "units": "K"},
            ),
            "lat_bnds": (("lat", "bnds"), bounds),
        },
        coords={"time": [0.5, 1.5], "lat": lat},
        attrs={"Conventions": "CF-1.8"},
    )
    ds["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north", "bounds": "lat_bnds"}
    ds["time"].attrs = time_attrs or {
        "standard_name": "time",
        "units": "days since 2000-01-01",
        "calendar": "standard",
    }
    ds.to_netcdf(
        path, encoding={name: {"_FillValue": None} for name in ("time", "lat", "lat_bnds")}
    )
    return path


def test_cf_failures_are_counted_as_a_warning(tmp_path):
    assert cf_findings(_grid_file(tmp_path / "good.nc")) == []
    bad = _grid_file(tmp_path / "bad.nc", time_attrs={"units": "days since 2000-01-01"})
    (finding,) = cf_findings(bad)
    assert (finding.check, finding.severity) == ("cf", "warning")
    assert finding.message.startswith("2 high-priority CF 1.8 failure(s):")
    assert "standard_name" in finding.message


def test_good_coordinates_pass(tmp_path):
    assert coordinate_findings(_grid_file(tmp_path / "a.nc")) == []


def test_a_coordinate_out_of_order_is_an_error(tmp_path):
    path = _grid_file(
        tmp_path / "a.nc", lat=(-60.0, 30.0, 0.0), lat_bnds=[[-90, -30], [0, 60], [-30, 30]]
    )
    (finding,) = coordinate_findings(path)
    assert (finding.check, finding.severity) == ("coordinates", "error")
    assert finding.message == "coordinate lat is not strictly monotonic (30 then 0 at index 1)"


def test_bounds_shifted_by_a_cell_are_an_error(tmp_path):
    path = _grid_file(tmp_path / "a.nc", lat_bnds=[[0, 90], [90, 180]])
    (finding,) = coordinate_findings(path)
    assert finding.severity == "error"
    assert finding.message.startswith(
        "lat_bnds do not contain 2 of 2 lat value(s) (first at index 0: -45 not in [0, 90])"
    )


def _curvilinear(path, lat, lon, vertices_lat, vertices_lon):
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("j", lat.shape[0]), ("i", lat.shape[1]), ("vertices", 4)):
            nc.createDimension(name, size)
        for name, values, units, bounds in (
            ("latitude", lat, "degrees_north", "vertices_latitude"),
            ("longitude", lon, "degrees_east", "vertices_longitude"),
        ):
            var = nc.createVariable(name, "f8", ("j", "i"))
            var.units, var.bounds, var[:] = units, bounds, values
        nc.createVariable("vertices_latitude", "f8", ("j", "i", "vertices"))[:] = vertices_lat
        nc.createVariable("vertices_longitude", "f8", ("j", "i", "vertices"))[:] = vertices_lon
    return path


def _cells(lat0, dlat, lon0, dlon, nj, ni):
    lat = lat0 + dlat * (np.arange(nj)[:, None] + 0.5) + 0 * np.arange(ni)
    lon = lon0 + dlon * (np.arange(ni)[None, :] + 0.5) + 0 * np.arange(nj)[:, None]
    corners_lat = np.stack([lat - dlat / 2, lat - dlat / 2, lat + dlat / 2, lat + dlat / 2], -1)
    corners_lon = np.stack([lon - dlon / 2, lon + dlon / 2, lon + dlon / 2, lon - dlon / 2], -1)
    return lat, lon, corners_lat, corners_lon


def test_curvilinear_cells_are_judged_on_the_sphere(tmp_path):
    lat, lon, vlat, vlon = _cells(-40, 20, 350, 20, 4, 5)  # crossing 0 degrees east
    vlon = vlon % 360
    assert coordinate_findings(_curvilinear(tmp_path / "a.nc", lat, lon % 360, vlat, vlon)) == []
    # a cell around the pole: its centre lies north of all its corners, yet inside
    pole = _curvilinear(
        tmp_path / "pole.nc",
        np.array([[89.9]]),
        np.array([[10.0]]),
        np.array([[[89.0, 89.0, 89.0, 89.0]]]),
        np.array([[[0.0, 90.0, 180.0, 270.0]]]),
    )
    assert coordinate_findings(pole) == []


def test_a_few_cells_off_their_centres_are_a_warning_all_an_error(tmp_path):
    lat, lon, vlat, vlon = _cells(-40, 20, 0, 20, 4, 5)
    vlat[1, 2] += 60  # one corrupt cell
    (finding,) = coordinate_findings(_curvilinear(tmp_path / "a.nc", lat, lon, vlat, vlon))
    assert finding.severity == "warning"
    assert finding.message.startswith(
        "the cells of vertices_latitude and vertices_longitude do not contain 1 of 20 centre(s) "
        "(first at index (1, 2)"
    )
    lat, lon, vlat, vlon = _cells(-40, 20, 0, 20, 4, 5)
    (finding,) = coordinate_findings(_curvilinear(tmp_path / "b.nc", lat, lon, vlat, vlon + 40))
    assert finding.severity == "error"


@pytest.mark.parametrize("missing", [np.nan, 1e30])
def test_cells_of_missing_values_are_not_judged(tmp_path, missing):
    lat, lon, vlat, vlon = _cells(-40, 20, 0, 20, 4, 5)
    lat[0, 0] = lon[0, 0] = missing  # land points of an ocean grid
    vlat[2, 2] = missing
    assert coordinate_findings(_curvilinear(tmp_path / "a.nc", lat, lon, vlat, vlon)) == []


def _ocean_field(path, *cells):
    """A field on the curvilinear grid of :func:`_curvilinear`, as in model files."""
    _curvilinear(path, *cells)
    with netCDF4.Dataset(path, "a") as nc:
        tos = nc.createVariable("tos", "f4", ("j", "i"))
        tos.coordinates, tos[:] = "latitude longitude", 280.0
    return path


def test_cells_whose_vertices_jump_are_a_cell_area_warning(tmp_path):
    lat, lon, vlat, vlon = _cells(-60, 2, 0, 2, 60, 90)
    assert cell_area_findings(_ocean_field(tmp_path / "sound.nc", lat, lon, vlat, vlon)) == []
    vlon[10, 20, 2] += 150.0  # a vertex longitude that jumps, as in ocean grids of the archive
    path = _ocean_field(tmp_path / "corrupt.nc", lat, lon, vlat, vlon)
    found = [f for f in coordinate_findings(path) if f.check == "cell_area"]
    assert [f.severity for f in found] == ["warning"]
    assert found[0].message.startswith("vertices_latitude, vertices_longitude: 1 of 5400 cells:")


def test_files_without_a_grid_have_no_cell_area_findings(tmp_path):
    path = tmp_path / "series.nc"
    xr.Dataset({"tas": ("time", np.zeros(3))}).to_netcdf(path)
    assert cell_area_findings(path) == []
