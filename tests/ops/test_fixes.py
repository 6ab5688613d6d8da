"""Declared fixes applied to an opened dataset: attributes, units, calendar, coordinates."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.inventory.errata import Fix
from cp4cds_wps.ops.fixes import apply_fixes
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.open import open_dataset


@pytest.fixture
def path(tmp_path):
    """A file whose time says standard calendar, 30 days a month apart (really 360_day)."""
    ds = xr.Dataset(
        {"tas": (("time", "lat"), np.arange(6.0).reshape(3, 2), {"units": "degC", "unit": "x"})},
        coords={"time": ("time", [15.0, 45.0, 75.0]), "lat": [-45.0, 45.0]},
        attrs={"title": "old"},
    )
    ds["time"].attrs = {"units": "days since 2000-01-01", "calendar": "standard"}
    ds.to_netcdf(tmp_path / "tas.nc")
    return tmp_path / "tas.nc"


def fix(action, **params):
    return Fix(action, params, "E1")


def test_attributes_are_set_renamed_and_units_replaced_and_noted(path):
    fixes = [
        fix("set_attributes", attributes={"title": "new", "source": "model"}),
        fix("rename_attributes", variable="tas", names={"unit": "comment"}),
        fix("set_units", variable="tas", units="K"),
    ]
    with recorded_notes() as notes:
        ds = apply_fixes(open_dataset([path]), fixes)
    assert (ds.attrs["title"], ds.attrs["source"]) == ("new", "model")
    assert ds.tas.attrs == {"units": "K", "comment": "x"}
    np.testing.assert_array_equal(ds.tas.values, np.arange(6.0).reshape(3, 2))  # values kept
    assert notes == [
        "fix of erratum E1: global attributes set: title='new', source='model'",
        "fix of erratum E1: tas attributes renamed: unit -> comment",
        "fix of erratum E1: tas units set to 'K'",
    ]


def test_time_is_decoded_again_in_the_declared_calendar(path, tmp_path):
    with recorded_notes():
        ds = apply_fixes(open_dataset([path]), [fix("set_calendar", calendar="360_day")])
    assert list(ds.time.values) == [
        cftime.datetime(2000, 1, 16, calendar="360_day"),
        cftime.datetime(2000, 2, 16, calendar="360_day"),
        cftime.datetime(2000, 3, 16, calendar="360_day"),
    ]
    assert ds.time.encoding["calendar"] == "360_day"
    ds.to_netcdf(tmp_path / "out.nc")  # written in the new calendar, same numbers
    with xr.open_dataset(tmp_path / "out.nc", decode_times=False) as out:
        assert out.time.attrs["calendar"] == "360_day"
        np.testing.assert_array_equal(out.time.values, [15.0, 45.0, 75.0])


def test_coordinates_are_replaced_from_a_reference_file(path, tmp_path):
    xr.Dataset(coords={"lat": ("lat", [-30.0, 30.0], {"units": "degrees_north"})}).to_netcdf(
        tmp_path / "grid.nc"
    )
    replace = fix("replace_coordinates", file=str(tmp_path / "grid.nc"), variables=("lat",))
    with recorded_notes() as notes:
        ds = apply_fixes(open_dataset([path]), [replace])
    np.testing.assert_array_equal(ds.lat.values, [-30.0, 30.0])
    assert ds.lat.attrs["units"] == "degrees_north"
    assert notes == ["fix of erratum E1: lat replaced from grid.nc"]
    xr.Dataset(coords={"lat": [0.0, 1.0, 2.0]}).to_netcdf(tmp_path / "other.nc")
    wrong = fix("replace_coordinates", file=str(tmp_path / "other.nc"), variables=("lat",))
    with pytest.raises(DatasetInconsistent, match=r"lat is \{'lat': 3\} in the reference file"):
        apply_fixes(open_dataset([path]), [wrong])


def test_a_fix_naming_a_missing_variable_is_refused(path):
    with pytest.raises(DatasetInconsistent, match="the dataset has no pr"):
        apply_fixes(open_dataset([path]), [fix("set_units", variable="pr", units="K")])
