"""A synthetic CMIP6 dataset with the quirks of real archives: a December repeated at the start
of the next file and a year missing between two files (a 4x8 regular grid, 360_day months)."""

from __future__ import annotations

import cftime
import numpy as np
import xarray as xr

DIR = "CMIP/INST/MODEL/historical/{member}/Amon/tas/gn/v20200101"
ID = "CMIP6.CMIP.INST.MODEL.historical.{member}.Amon.tas.gn.v20200101"
LAT = np.array([-67.5, -22.5, 22.5, 67.5])
LON = np.arange(8) * 45.0 + 22.5
#: Files of each member: 2000-2001, then 2001-12 (repeated) to 2003, then (2004 missing) 2005-2006.
FILES = {
    "200001-200112": [(y, m) for y in (2000, 2001) for m in range(1, 13)],
    "200112-200312": [(2001, 12)] + [(y, m) for y in (2002, 2003) for m in range(1, 13)],
    "200501-200612": [(y, m) for y in (2005, 2006) for m in range(1, 13)],
}
STEPS = [step for months in FILES.values() for step in months if step != (2001, 12)]
STEPS.insert(23, (2001, 12))  # the dataset's steps once: 2000..2003 and 2005..2006


def date(year, month, day=16, calendar="360_day"):
    """A date of ``calendar``."""
    return cftime.datetime(year, month, day, calendar=calendar)


def write_months(path, months, values, calendar="360_day"):
    """A CF-compliant file of monthly ``tas`` at the (year, month) steps ``months``."""

    def day(y, m, d=16):
        return date(y, m, d, calendar)

    bounds = [[day(y, m, 1), day(y, m + 1, 1) if m < 12 else day(y + 1, 1, 1)] for y, m in months]
    ds = xr.Dataset(
        {
            "tas": (("time", "lat", "lon"), values.astype("float32")),
            "time_bnds": (("time", "bnds"), bounds),
            "lat_bnds": (("lat", "bnds"), np.stack([LAT - 22.5, LAT + 22.5], 1)),
            "lon_bnds": (("lon", "bnds"), np.stack([LON - 22.5, LON + 22.5], 1)),
        },
        coords={"time": [day(y, m) for y, m in months], "lat": LAT, "lon": LON},
        attrs={"Conventions": "CF-1.8", "realm": "atmos"},
    )
    ds["tas"].attrs = {
        "standard_name": "air_temperature",
        "units": "K",
        "cell_methods": "time: mean",
    }
    ds["time"].attrs = {"standard_name": "time", "axis": "T", "bounds": "time_bnds"}
    ds["lat"].attrs = {
        "standard_name": "latitude",
        "units": "degrees_north",
        "axis": "Y",
        "bounds": "lat_bnds",
    }
    ds["lon"].attrs = {
        "standard_name": "longitude",
        "units": "degrees_east",
        "axis": "X",
        "bounds": "lon_bnds",
    }
    for name in ("time", "time_bnds"):
        ds[name].encoding = {
            "units": "days since 1850-01-01",
            "calendar": calendar,
            "dtype": "float64",
        }
    ds.to_netcdf(path)


def write_member(root, member: str, seed: int, conflict: bool = False) -> np.ndarray:
    """Write one member's three files; return its values once per step (as in STEPS)."""
    values = 250 + 50 * np.random.default_rng(seed).random((len(STEPS), 4, 8))
    folder = root / DIR.format(member=member)
    folder.mkdir(parents=True)
    for span, months in FILES.items():
        part = np.stack([values[STEPS.index(step)] for step in months])
        if conflict and span == "200112-200312":
            part[0, 0, 0] += 1.0
        write_months(folder / f"tas_Amon_MODEL_historical_{member}_gn_{span}.nc", months, part)
    return values


def areas():
    """The cells' areas on the unit sphere (for area means)."""
    lat_b = np.deg2rad(np.stack([LAT - 22.5, LAT + 22.5], 1))
    return np.outer(np.abs(np.diff(np.sin(lat_b), axis=1))[:, 0], np.full(8, np.pi / 4))
