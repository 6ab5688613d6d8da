"""Coordinate metadata that breaks CF in archive files is repaired, and the repair noted."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.ops.coordinates import repaired_coordinates
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.output.netcdf import write_netcdf
from tests.cf_check import CFTIME, cf_failures
from tests.synthetic import curvilinear, regular


def _height(ds: xr.Dataset, **attrs) -> xr.Dataset:
    """``ds`` with the scalar ``height`` coordinate of near-surface variables."""
    height = xr.DataArray(
        2.0, attrs={"standard_name": "height", "units": "m", "axis": "Z", **attrs}
    )
    ds = ds.assign_coords(height=height)
    ds.tas.attrs["coordinates"] = "height"
    return ds


def _written(ds: xr.Dataset, path):
    """The path of ``ds`` written by the service's writer."""
    return write_netcdf(ds, path, history="test")


@pytest.mark.parametrize(
    ("attrs", "positive", "noted"),
    [
        ({"positive": "Up"}, "up", "height: positive 'Up' written as 'up'"),
        ({}, "up", "height: positive 'up' added, as its standard name implies"),
    ],
)
def test_the_positive_direction_of_a_height_is_repaired(tmp_path, attrs, positive, noted):
    ds = _height(regular(30.0), **attrs)
    assert any("positive" in f for f in cf_failures(_written(ds, tmp_path / "raw.nc")))
    with recorded_notes() as notes:
        out = repaired_coordinates(ds)
    assert notes == [noted]
    assert out.height.attrs["positive"] == positive
    assert ds.height.attrs.get("positive") == attrs.get("positive")  # the input is unchanged
    assert not cf_failures(_written(out, tmp_path / "out.nc"))


def test_a_time_axis_without_standard_name_gets_one(tmp_path):
    ds = regular(30.0)
    ds.time.attrs.pop("standard_name")
    assert cf_failures(_written(ds, tmp_path / "raw.nc"))
    with recorded_notes() as notes:
        out = repaired_coordinates(ds)
    assert notes == ["time: standard_name 'time' added"]
    path = _written(out, tmp_path / "out.nc")
    assert xr.open_dataset(path, decode_times=CFTIME).time.attrs["standard_name"] == "time"
    assert not cf_failures(path)


def test_a_dataset_without_anything_to_repair_is_returned_as_it_is():
    ds = _height(regular(30.0), positive="up")
    with recorded_notes() as notes:
        assert repaired_coordinates(ds) is ds
    assert notes == []


@pytest.mark.parametrize(("units", "start"), [("1", np.int32(1)), ("degrees", 0.5)])
def test_cell_indices_named_projection_coordinates_lose_that_name(tmp_path, units, start):
    # CMIP6 ocean files: i/j (nlon/nlat) cell indices, or x/y in degrees, called
    # projection_x/y_coordinate, which CF measures in lengths
    ds = curvilinear(60.0)
    for dim, axis in (("i", "X"), ("j", "Y")):
        ds.coords[dim] = (dim, np.arange(ds.sizes[dim], dtype=np.int32) + start)
        ds[dim].attrs = {
            "standard_name": f"projection_{axis.lower()}_coordinate",
            "long_name": f"cell index along {dim}",
            "units": units,
            "axis": axis,
        }
    assert any("canonical units" in f for f in cf_failures(_written(ds, tmp_path / "raw.nc")))
    with recorded_notes() as notes:
        out = repaired_coordinates(ds)
    assert sorted(notes) == [
        f"{dim}: standard_name 'projection_{axis}_coordinate' removed: its units {units!r} "
        "are not a length in a map projection"
        for dim, axis in (("i", "x"), ("j", "y"))
    ]
    assert out.i.attrs == {"long_name": "cell index along i", "units": units, "axis": "X"}
    assert not cf_failures(_written(out, tmp_path / "out.nc"))


def test_projection_coordinates_in_lengths_keep_their_name():
    ds = regular(30.0).assign_coords(
        x=("x", [0.0, 1000.0], {"standard_name": "projection_x_coordinate", "units": "km"})
    )
    assert repaired_coordinates(ds) is ds


def test_a_cmor_level_name_and_bounds_attributes_differing_from_the_coordinate_go(tmp_path):
    # CESM2's cl: lev has CMOR's level name for a standard name, and lev_bnds a hybrid
    # sigma-pressure standard name, units and formula terms that lev lacks
    ds = regular(30.0).expand_dims(lev=[0.5, 0.8], axis=1)
    ds["lev"].attrs = {"axis": "Z", "positive": "down", "units": "1", "bounds": "lev_bnds",
                       "title": "hybrid level", "standard_name": "alevel"}  # fmt: skip
    ds["a_bnds"] = (("lev", "bnds"), [[0.1, 0.2], [0.2, 0.3]], {"long_name": "a coefficient"})
    ds["lev_bnds"] = (("lev", "bnds"), [[0.4, 0.6], [0.6, 1.0]])
    ds["lev_bnds"].attrs = {
        "standard_name": "atmosphere_hybrid_sigma_pressure_coordinate",
        "units": "hPa",
        "formula_terms": "a: a_bnds",
    }
    assert any("lev_bnds" in f for f in cf_failures(_written(ds, tmp_path / "raw.nc")))
    with recorded_notes() as notes:
        out = repaired_coordinates(ds)
    assert notes == [
        "lev: standard_name 'alevel' (a CMOR level name, not CF) removed",
        "lev_bnds: standard_name, units, formula_terms removed: bounds inherit those of lev "
        "(CF 7.1), which differ",
    ]
    assert out.lev_bnds.attrs == {} and "standard_name" not in out.lev.attrs
    assert out.lev.attrs["long_name"] == "hybrid level"
    assert not cf_failures(_written(out, tmp_path / "out.nc"))


def test_bounds_of_two_dimensional_longitudes_lose_their_axis(tmp_path):
    # GFDL ocean files: lon_bnds(y, x, vertex) with axis X; xarray drops the units it shares
    # with lon when writing, and a checker then takes lon_bnds for a longitude without units
    ds = curvilinear(60.0)
    ds.lon.attrs["bounds"] = "vertices_longitude"
    ds.vertices_longitude.attrs = {"units": "degrees_east", "axis": "X"}
    assert "longitude variable 'vertices_longitude' must define units" in cf_failures(
        _written(ds, tmp_path / "raw.nc")
    )
    with recorded_notes() as notes:
        out = repaired_coordinates(ds)
    assert notes == [
        "vertices_longitude: axis removed: bounds inherit those of lon (CF 7.1), which differ"
    ]
    assert not cf_failures(_written(out, tmp_path / "out.nc"))
