"""Helpers to build small synthetic DRS archives of netCDF files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from cp4cds_wps.config import Root
from cp4cds_wps.inventory import Inventory

CMIP6_DIR = "CMIP/INST/MODEL/historical/r1i1p1f1/day/tas/gn"


def _write_nc(
    path: Path,
    times: Sequence[float] | None,
    *,
    variable: str = "tas",
    units: str = "days since 2000-01-01",
    calendar: str = "standard",
    shape: tuple[int, int] = (3, 4),
) -> Path:
    """Write a small netCDF file with a time axis (None: no time) and a lat/lon variable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("lat", shape[0])
        nc.createDimension("lon", shape[1])
        dims: tuple[str, ...] = ("lat", "lon")
        if times is not None:
            nc.createDimension("time", None)
            time = nc.createVariable("time", "f8", ("time",))
            time.units = units
            time.calendar = calendar
            time.axis = "T"
            time[:] = np.asarray(times, dtype="f8")
            dims = ("time", *dims)
        var = nc.createVariable(variable, "f4", dims)
        var[:] = np.zeros([len(nc.dimensions[d]) for d in dims], dtype="f4")
    return path


@pytest.fixture
def cmip6_root(tmp_path) -> Root:
    """An empty CMIP6 root in tmp_path."""
    path = tmp_path / "CMIP6"
    path.mkdir()
    return Root("cmip6", path, "cmip6")


@pytest.fixture
def make_inventory(tmp_path):
    """Return a function making an Inventory with a db in tmp_path over the given roots."""

    def make(*roots: Root) -> Inventory:
        return Inventory(tmp_path / "db" / "inventory.sqlite", roots)

    return make


@pytest.fixture
def write_nc():
    """Return a function writing a small netCDF file (see ``_write_nc``)."""
    return _write_nc
