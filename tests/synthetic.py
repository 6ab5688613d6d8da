"""Synthetic netCDF files with the quirks of real archive files, written by the tests.

Each builder writes a small file in a folder the test gives (``tmp_path``) and returns its
path; tests open it with :func:`cp4cds_wps.ops.open.open_dataset`, as the service does.
"""

from __future__ import annotations

from pathlib import Path

import cftime
import numpy as np
import xarray as xr

CALENDAR = "360_day"
TIME_ENCODING = {"units": "days since 2000-01-01", "calendar": CALENDAR, "dtype": "float64"}


def smooth_field(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A smooth positive field of latitude and longitude (degrees)."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return 280.0 + 20.0 * np.cos(2 * phi) + 5.0 * np.sin(lam) * np.cos(phi) + 3.0 * np.sin(phi)


def monthly_axis(months: int, start_year: int = 2000) -> xr.Dataset:
    """Monthly ``time`` with ``time_bnds`` in the 360-day calendar."""
    starts = [
        cftime.datetime(start_year + m // 12, m % 12 + 1, 1, calendar=CALENDAR)
        for m in range(months + 1)
    ]
    mids = [a + (b - a) / 2 for a, b in zip(starts[:-1], starts[1:], strict=True)]
    ds = xr.Dataset(
        {"time_bnds": (("time", "bnds"), np.stack([starts[:-1], starts[1:]], -1))},
        coords={"time": ("time", mids, {"standard_name": "time", "axis": "T"})},
    )
    ds.time.attrs["bounds"] = "time_bnds"
    ds.time.encoding = dict(TIME_ENCODING)
    ds.time_bnds.encoding = dict(TIME_ENCODING)
    return ds


def regular_axes(step: float, south: float = -90.0, north: float = 90.0) -> xr.Dataset:
    """1-D ``lat``/``lon`` of a regular grid of ``step`` degrees with their bounds."""
    lat = np.arange(south + step / 2, north, step)
    lon = np.arange(step / 2, 360, step)
    ds = xr.Dataset(
        {
            "lat_bnds": (("lat", "bnds"), np.stack([lat - step / 2, lat + step / 2], -1)),
            "lon_bnds": (("lon", "bnds"), np.stack([lon - step / 2, lon + step / 2], -1)),
        },
        coords={
            "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
            "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"}),
        },
    )
    ds.lat.attrs.update(axis="Y", bounds="lat_bnds")
    ds.lon.attrs.update(axis="X", bounds="lon_bnds")
    return ds


#: Members of the ensemble file and the offset of each member's values.
MEMBERS = {"CNRM_CNRM-CM5_r1i1p1": 0.0, "MPI-M_MPI-ESM-LR_r1i1p1": 1.5, "NCC_NorESM1-M_r1i1p1": 4}


def ensemble_file(folder: Path, *, step: float = 30.0, months: int = 3) -> Path:
    """A file as those of the IPCC/C3S atlas: ``pr(member, time, lat, lon)``, one member
    per netCDF chunk, with string variables along ``member`` (``member_id``,
    ``gcm_model``), a ``crs`` grid mapping and a ``coordinates`` attribute naming a
    variable the file does not have (``gcm_variant``, as in the archive's files).

    The values are a smooth field of latitude and longitude plus the member's offset of
    :data:`MEMBERS` plus the month's index.
    """
    ds = monthly_axis(months).merge(regular_axes(step))
    members = list(MEMBERS)
    base = smooth_field(*np.meshgrid(ds.lat.values, ds.lon.values, indexing="ij"))
    offsets = np.array(list(MEMBERS.values()))[:, None, None, None]
    values = base[None, None] + offsets + np.arange(months)[None, :, None, None]
    ds["pr"] = (
        ("member", "time", "lat", "lon"),
        values.astype(np.float32),
        {
            "standard_name": "lwe_thickness_of_precipitation_amount",
            "units": "mm",
            "cell_methods": "time: mean",
            "grid_mapping": "crs",
        },
    )
    ds["crs"] = ((), np.int32(0), {"grid_mapping_name": "latitude_longitude"})
    labels = {"standard_name": "realization"}
    ds = ds.assign_coords(
        member_id=("member", np.array(members, dtype=object), {**labels, "long_name": "Member"}),
        gcm_model=(
            "member",
            np.array([m.split("_")[1] for m in members], dtype=object),
            {**labels, "long_name": "GCM model ID"},
        ),
    )
    ds.pr.encoding = {
        "chunksizes": (1, 1, ds.sizes["lat"], ds.sizes["lon"]),
        "coordinates": "member_id time lat lon gcm_model gcm_variant",
        "_FillValue": np.float32(1e20),
    }
    ds.attrs = {"Conventions": "CF-1.9", "project": "synthetic atlas"}
    path = Path(folder) / "pr_ENSEMBLE_rcp26_mon_200001-200003.nc"
    ds.to_netcdf(path, encoding={n: {"dtype": str} for n in ("member_id", "gcm_model")})
    return path


#: The rotated pole of the synthetic rotated-pole grids (that of CORDEX EUR domains).
ROTATED_POLE = {
    "grid_mapping_name": "rotated_latitude_longitude",
    "grid_north_pole_latitude": 39.25,
    "grid_north_pole_longitude": -162.0,
}


def unrotated(rlat: np.ndarray, rlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geographic latitude and longitude (-180..180) of rotated positions (degrees), by the
    standard rotated-pole formulas of :data:`ROTATED_POLE`."""
    pole_lat = np.deg2rad(ROTATED_POLE["grid_north_pole_latitude"])
    pole_lon = np.deg2rad(ROTATED_POLE["grid_north_pole_longitude"] + 180)
    phi, lam = np.deg2rad(rlat), np.deg2rad(rlon)
    lat = np.arcsin(np.sin(phi) * np.sin(pole_lat) + np.cos(phi) * np.cos(lam) * np.cos(pole_lat))
    lon = pole_lon + np.arctan2(
        np.cos(phi) * np.sin(lam),
        np.sin(pole_lat) * np.cos(phi) * np.cos(lam) - np.cos(pole_lat) * np.sin(phi),
    )
    return np.rad2deg(lat), (np.rad2deg(lon) + 180) % 360 - 180


def rotated_pole_dataset(
    step: float = 2.0, *, vertices: tuple[str, str] | None = ("lat_vertices", "lon_vertices")
) -> xr.Dataset:
    """A CORDEX-like regional rotated-pole grid (EUR-44-like, coarser): rotated axes
    ``rlat``/``rlon``, 2-D ``lat``/``lon``, the ``rotated_pole`` grid mapping, and (unless
    ``vertices`` is None) the cell corners under those names, counterclockwise; monthly
    ``tas`` with ``coordinates: lat lon``."""
    redges, ledges = (
        np.arange(-20.0, 20.0 + step / 2, step),
        np.arange(-24.0, 16.0 + step / 2, step),
    )
    rlat, rlon = (redges[:-1] + redges[1:]) / 2, (ledges[:-1] + ledges[1:]) / 2
    lat, lon = unrotated(*np.meshgrid(rlat, rlon, indexing="ij"))
    ds = monthly_axis(2).assign_coords(
        rlat=("rlat", rlat, {"standard_name": "grid_latitude", "units": "degrees", "axis": "Y"}),
        rlon=("rlon", rlon, {"standard_name": "grid_longitude", "units": "degrees", "axis": "X"}),
        lat=(("rlat", "rlon"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
        lon=(("rlat", "rlon"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
    )
    ds["rotated_pole"] = ((), np.int32(0), ROTATED_POLE)
    values = smooth_field(lat, lon)
    ds["tas"] = (
        ("time", "rlat", "rlon"),
        np.stack([values, values + 1]).astype(np.float32),
        {"standard_name": "air_temperature", "units": "K", "grid_mapping": "rotated_pole"},
    )
    ds.tas.encoding["coordinates"] = "lat lon"
    if vertices is not None:
        south, north = redges[:-1][:, None], redges[1:][:, None]
        west, east = ledges[:-1][None, :], ledges[1:][None, :]
        corners = [(south, west), (south, east), (north, east), (north, west)]
        geographic = [unrotated(*np.broadcast_arrays(a, b)) for a, b in corners]
        for name, k, standard_name in ((vertices[0], 0, "latitude"), (vertices[1], 1, "longitude")):
            ds[name] = (("rlat", "rlon", "vertices"), np.stack([g[k] for g in geographic], -1))
            ds[standard_name[:3]].attrs["bounds"] = name
    ds.attrs = {"Conventions": "CF-1.8", "project_id": "CORDEX"}
    return ds
