"""Repair the CF metadata of coordinates that archive files get slightly wrong.

Seen on real files, each breaking CF 1.8 in every output that keeps the coordinate:

- a vertical coordinate whose ``positive`` is spelled ``"Up"`` or ``"DOWN"`` (CF allows only
  ``up`` and ``down``), or missing on a coordinate whose standard name fixes the direction
  (``height`` and ``altitude`` are up, ``depth`` is down);
- a time axis without ``standard_name`` (CMIP5 EC-EARTH files: only units, calendar and
  bounds);
- cell indices (``i``/``j``, ``nlon``/``nlat``) or degrees (``x``/``y``) named
  ``projection_x_coordinate``/``projection_y_coordinate``, which CF reserves for lengths in
  a map projection: the standard name is removed (``long_name``, ``units`` and ``axis``
  stay);
- CMOR's names of generic model levels (``alevel``, ``olevel``, ...) as a coordinate's
  standard name (CESM2's ``lev``): no CF standard names, so removed;
- cell bounds whose ``standard_name``, ``units``, ``axis``, ``positive`` or
  ``formula_terms`` differ from (or are absent on) their coordinate's (CESM2's
  ``lev_bnds``: a hybrid sigma-pressure formula the ``lev`` it bounds lacks; GFDL's
  ``lon_bnds`` with ``axis: X`` on 2-D longitudes, which are no axis): CF 7.1 makes bounds
  inherit those of the coordinate, so the bounds' own are removed.

Each repair is noted (:func:`cp4cds_wps.ops.notes.note`) for the output's history and
provenance.
"""

from __future__ import annotations

import xarray as xr
from cf_units import Unit

from cp4cds_wps.ops.notes import note

__all__ = ["repaired_coordinates"]

#: The direction CF's standard names of vertical coordinates imply.
POSITIVE = {"height": "up", "altitude": "up", "depth": "down"}
#: CMOR's names of generic vertical levels (CMIP6_coordinate.json), not CF standard names.
GENERIC_LEVELS = ("alevel", "alevhalf", "olevel", "olevhalf")
#: Attributes that cell bounds inherit from their coordinate (CF 7.1).
INHERITED = ("standard_name", "units", "axis", "positive", "formula_terms", "formula")
#: Standard names of coordinates in a map projection, which CF measures in lengths.
PROJECTION = ("projection_x_coordinate", "projection_y_coordinate")


def _is_length(units: object) -> bool:
    """Whether ``units`` (UDUNITS text) measure a length."""
    try:
        return Unit(str(units)).is_convertible(Unit("m"))
    except ValueError:
        return False


def repaired_coordinates(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the ``positive`` attribute of vertical coordinates, the standard name of
    the time axis, projection standard names of index coordinates and attributes of cell
    bounds repaired where they break CF; ``ds`` itself when nothing needs it.

    Parameters
    ----------
    ds
        A dataset as opened from the archive.

    Returns
    -------
    xarray.Dataset
        A shallow copy with new attributes on the repaired coordinates, or ``ds``.
    """
    repairs: dict[str, dict[str, str | None]] = {}
    for name, coord in ds.coords.items():
        positive = coord.attrs.get("positive")
        implied = POSITIVE.get(coord.attrs.get("standard_name"))
        if isinstance(positive, str) and positive != positive.strip().lower():
            if positive.strip().lower() in ("up", "down"):
                repairs.setdefault(str(name), {})["positive"] = positive.strip().lower()
                note(f"{name}: positive {positive!r} written as {positive.strip().lower()!r}")
        elif positive is None and implied is not None:
            repairs.setdefault(str(name), {})["positive"] = implied
            note(f"{name}: positive {implied!r} added, as its standard name implies")
        standard_name = coord.attrs.get("standard_name")
        if standard_name in GENERIC_LEVELS:
            # a long_name in its place, as CF recommends one of them (CESM2's lev: its title)
            long_name = coord.attrs.get("long_name", coord.attrs.get("title", standard_name))
            repairs.setdefault(str(name), {}).update(standard_name=None, long_name=long_name)
            note(f"{name}: standard_name {standard_name!r} (a CMOR level name, not CF) removed")
        if standard_name in PROJECTION and not _is_length(coord.attrs.get("units", "1")):
            repairs.setdefault(str(name), {})["standard_name"] = None
            note(
                f"{name}: standard_name {standard_name!r} removed: its units "
                f"{coord.attrs.get('units', '1')!r} are not a length in a map projection"
            )
        bounds = coord.attrs.get("bounds")
        if bounds in ds.variables and bounds != name:
            differing = [
                key
                for key in INHERITED
                if key in ds[bounds].attrs and ds[bounds].attrs[key] != coord.attrs.get(key)
            ]
            if differing:
                repairs.setdefault(str(bounds), {}).update(dict.fromkeys(differing))
                note(
                    f"{bounds}: {', '.join(differing)} removed: bounds inherit those of "
                    f"{name} (CF 7.1), which differ"
                )
    time = ds.coords.get("time")
    if time is not None and time.dtype.kind in "OM" and "standard_name" not in time.attrs:
        repairs.setdefault("time", {})["standard_name"] = "time"
        note("time: standard_name 'time' added")
    if not repairs:
        return ds
    out = ds.copy(deep=False)
    for name, attrs in repairs.items():
        variable = out.variables[name]
        merged = {**variable.attrs, **attrs}
        variable.attrs = {k: v for k, v in merged.items() if v is not None}
    return out
