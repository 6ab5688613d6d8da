"""Synthetic datasets on every kind of grid, and files with the quirks of real archive files.

The grid builders return small in-memory datasets with a smooth ``tas`` of two monthly steps
(the second 1 K warmer); the file builders write a file in the folder a test gives
(``tmp_path``) and return its path, to be opened with
:func:`cp4cds_wps.ops.open.open_dataset` as the service does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cftime
import numpy as np
import xarray as xr

CALENDAR = "360_day"
TIME_ENCODING = {"units": "days since 2000-01-01", "calendar": CALENDAR, "dtype": "float64"}
LAT_ATTRS = {"standard_name": "latitude", "units": "degrees_north"}
LON_ATTRS = {"standard_name": "longitude", "units": "degrees_east"}


def field(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
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


def with_time(ds: xr.Dataset, data: np.ndarray, dims: tuple[str, ...]) -> xr.Dataset:
    """``ds`` with a variable ``tas`` (two time steps of ``data``, the second 1 K warmer),
    CMIP-like attributes and cftime time bounds."""
    ds = ds.merge(monthly_axis(2))
    ds["tas"] = (
        ("time", *dims),
        np.stack([data, data + 1.0]),
        {
            "standard_name": "air_temperature",
            "units": "K",
            "cell_methods": "area: time: mean",
            "cell_measures": "area: areacella",
        },
    )
    ds.attrs = {
        "grid": "native atmosphere grid",
        "nominal_resolution": "500 km",
        "external_variables": "areacella",
    }
    return ds


def regular(
    step: float,
    *,
    south: float = -90.0,
    north: float = 90.0,
    west: float = 0.0,
    east: float = 360.0,
) -> xr.Dataset:
    """A regular grid of ``step`` degrees with bounds between those edges, and ``tas``."""
    lat = np.arange(south + step / 2, north, step)
    lon = np.arange(west + step / 2, east, step)
    ds = xr.Dataset(
        {
            "lat_bnds": (("lat", "bnds"), np.stack([lat - step / 2, lat + step / 2], -1)),
            "lon_bnds": (("lon", "bnds"), np.stack([lon - step / 2, lon + step / 2], -1)),
        },
        coords={
            "lat": ("lat", lat, {**LAT_ATTRS, "axis": "Y", "bounds": "lat_bnds"}),
            "lon": ("lon", lon, {**LON_ATTRS, "axis": "X", "bounds": "lon_bnds"}),
        },
    )
    return with_time(ds, field(*np.meshgrid(lat, lon, indexing="ij")), ("lat", "lon"))


def to_geographic(rlat: np.ndarray, rlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions on a sphere turned by 50 degrees about the y axis, then 40 about the z axis."""
    phi, lam = np.deg2rad(rlat), np.deg2rad(rlon)
    xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)
    b, a = np.deg2rad(50.0), np.deg2rad(40.0)
    turn_y = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    turn_z = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    x, y, z = np.moveaxis(xyz @ (turn_z @ turn_y).T, -1, 0)
    return np.rad2deg(np.arcsin(np.clip(z, -1, 1))), np.rad2deg(np.arctan2(y, x)) % 360


def curvilinear(
    step: float = 6.0,
    *,
    bounds: bool = True,
    names: tuple[str, str] = ("vertices_latitude", "vertices_longitude"),
) -> xr.Dataset:
    """A global curvilinear grid (a turned regular grid) along ``(j, i)``, with its cell
    vertices (CMIP6 ocean names by default; counterclockwise), and a smooth ``tas`` of the
    geographic positions."""
    redges, ledges = np.arange(-90, 90 + step / 2, step), np.arange(0, 360 + step / 2, step)
    rlat, rlon = np.meshgrid((redges[:-1] + redges[1:]) / 2, (ledges[:-1] + ledges[1:]) / 2)
    rlat, rlon = rlat.T, rlon.T
    lat, lon = to_geographic(rlat, rlon)
    # counterclockwise corners: SW, SE, NE, NW
    corner_lat = np.stack([redges[:-1], redges[:-1], redges[1:], redges[1:]], -1)[:, None, :]
    corner_lon = np.stack([ledges[:-1], ledges[1:], ledges[1:], ledges[:-1]], -1)[None, :, :]
    vlat, vlon = to_geographic(*np.broadcast_arrays(corner_lat, corner_lon))
    ds = xr.Dataset(
        coords={"lat": (("j", "i"), lat, LAT_ATTRS), "lon": (("j", "i"), lon, LON_ATTRS)}
    )
    if bounds:
        ds[names[0]] = (("j", "i", "vertices"), vlat)
        ds[names[1]] = (("j", "i", "vertices"), vlon)
        ds.lat.attrs["bounds"], ds.lon.attrs["bounds"] = names
    return with_time(ds, field(lat, lon), ("j", "i"))


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


def rotated_pole(step: float = 0.5, *, vertices: tuple[str, str] | None = None) -> xr.Dataset:
    """A CORDEX-like regional rotated-pole grid (EUR-44-like): rotated axes ``rlat``,
    ``rlon`` from -20 to 20 and -25 to 15 degrees, 2-D ``lat``/``lon``, the ``rotated_pole``
    grid mapping, ``tas`` with ``coordinates: lat lon``, and with ``vertices`` the cell
    corners under those names (CORDEX: ``lat_vertices``, ``lon_vertices``)."""
    rlat, rlon = np.arange(-20.0, 20 + step / 2, step), np.arange(-25.0, 15 + step / 2, step)
    lat, lon = unrotated(*np.meshgrid(rlat, rlon, indexing="ij"))
    ds = xr.Dataset(
        {"rotated_pole": ((), np.int32(0), ROTATED_POLE)},
        coords={
            "rlat": ("rlat", rlat, {"standard_name": "grid_latitude", "units": "degrees"}),
            "rlon": ("rlon", rlon, {"standard_name": "grid_longitude", "units": "degrees"}),
            "lat": (("rlat", "rlon"), lat, LAT_ATTRS),
            "lon": (("rlat", "rlon"), lon, LON_ATTRS),
        },
    )
    ds = with_time(ds, field(lat, lon), ("rlat", "rlon"))
    ds.tas.attrs["grid_mapping"] = "rotated_pole"
    ds.tas.encoding["coordinates"] = "lat lon"
    if vertices is not None:
        south, north = rlat[:, None] - step / 2, rlat[:, None] + step / 2
        west, east = rlon[None, :] - step / 2, rlon[None, :] + step / 2
        corners = [(south, west), (south, east), (north, east), (north, west)]
        geographic = [unrotated(*np.broadcast_arrays(a, b)) for a, b in corners]
        for name, k, coord in ((vertices[0], 0, "lat"), (vertices[1], 1, "lon")):
            ds[name] = (("rlat", "rlon", "vertices"), np.stack([g[k] for g in geographic], -1))
            ds[coord].attrs["bounds"] = name
    return ds


def unstructured(step: float, south: float, north: float) -> xr.Dataset:
    """The cells of a regular grid as an unstructured grid (one dimension ``cell``)."""
    grid = regular(step, south=south, north=north)
    lat, lon = (a.values.ravel() for a in xr.broadcast(grid.lat, grid.lon))
    south_, north_ = lat - step / 2, lat + step / 2
    west, east = lon - step / 2, lon + step / 2
    ds = xr.Dataset(
        {
            "lat_vertices": (("cell", "nv"), np.stack([south_, south_, north_, north_], -1)),
            "lon_vertices": (("cell", "nv"), np.stack([west, east, east, west], -1)),
        },
        coords={"lat": ("cell", lat, LAT_ATTRS), "lon": ("cell", lon, LON_ATTRS)},
    )
    ds.lat.attrs["bounds"], ds.lon.attrs["bounds"] = "lat_vertices", "lon_vertices"
    return with_time(ds, grid.tas.values[0].ravel(), ("cell",))


# -- files with the quirks of archive files --------------------------------------------------


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
    ds = regular(step).drop_vars(["tas", "time", "time_bnds"]).merge(monthly_axis(months))
    members = list(MEMBERS)
    base = field(*np.meshgrid(ds.lat.values, ds.lon.values, indexing="ij"))
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


#: The dataset directory of :func:`dcpp_file` below a CMIP6 root.
DCPP_DIR = "DCPP/INST/MODEL/dcppA-hindcast/s1980-r1i1p1f1/day/tasmax/gn/v20220126"


def dcpp_file(root: Path, *, days: int = 61) -> Path:
    """A daily decadal hindcast file of a CMIP6 root, as the archive's sampled DCPP files:
    member ``s1980-r1i1p1f1`` starting on 1 November 1980, a ``height`` scalar coordinate,
    and a grid sampled down to a single latitude row of two cells far apart (with the
    model's own cell bounds), where interpolation between centres has nothing to work on.

    ``tasmax`` is a smooth field of longitude plus 0.1 K per day.
    """
    lat, lon = np.array([-88.5722]), np.array([0.0, 187.5])
    start = cftime.datetime(1980, 11, 1, calendar="standard")
    edges = [start + timedelta(days=int(n)) for n in range(days + 1)]
    ds = xr.Dataset(
        {
            "time_bnds": (("time", "bnds"), np.stack([edges[:-1], edges[1:]], -1)),
            "lat_bnds": (("lat", "bnds"), [[-89.4970, -87.6473]]),
            "lon_bnds": (("lon", "bnds"), [[-0.9375, 0.9375], [186.5625, 188.4375]]),
            "tasmax": (
                ("time", "lat", "lon"),
                (
                    280.0
                    + 5 * np.cos(np.deg2rad(lon))[None, None, :]
                    + 0.1 * np.arange(days)[:, None, None]
                ).astype(np.float32),
                {
                    "standard_name": "air_temperature",
                    "units": "K",
                    "cell_methods": "area: mean time: maximum",
                },
            ),
        },
        coords={
            "time": (
                "time",
                [a + (b - a) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)],
                {"standard_name": "time", "axis": "T", "bounds": "time_bnds"},
            ),
            "lat": ("lat", lat, {**LAT_ATTRS, "axis": "Y", "bounds": "lat_bnds"}),
            "lon": ("lon", lon, {**LON_ATTRS, "axis": "X", "bounds": "lon_bnds"}),
            "height": (
                (),
                2.0,
                {"standard_name": "height", "units": "m", "axis": "Z", "positive": "up"},
            ),
        },
        attrs={
            "Conventions": "CF-1.7 CMIP-6.2",
            "activity_id": "DCPP",
            "experiment_id": "dcppA-hindcast",
            "sub_experiment_id": "s1980",
            "variant_label": "r1i1p1f1",
            "frequency": "day",
        },
    )
    encoding = {"units": "days since 1850-01-01", "calendar": "standard", "dtype": "float64"}
    ds.time.encoding = dict(encoding)
    ds.time_bnds.encoding = dict(encoding)
    end = edges[-2].strftime("%Y%m%d")
    path = (
        Path(root)
        / DCPP_DIR
        / f"tasmax_day_MODEL_dcppA-hindcast_s1980-r1i1p1f1_gn_19801101-{end}.nc"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)
    return path
