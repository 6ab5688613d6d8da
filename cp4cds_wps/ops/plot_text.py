"""Texts of the plots: tick labels of longitudes, latitudes and calendar years, and titles."""

from __future__ import annotations

import cftime
import numpy as np
import xarray as xr

__all__ = [
    "decimal_years",
    "lat_text",
    "lon_text",
    "longitude_range",
    "quantity",
    "title_text",
    "year_label",
]

#: Longitudes without a gap wider than this (degrees) go round the globe.
GLOBAL_GAP = 30.0
#: Characters per line of the titles' details.
TITLE_WIDTH = 110


def longitude_range(lon: np.ndarray) -> tuple[float, float] | None:
    """West and east end of the shortest arc holding all longitudes (-180 <= west < 180),
    or None when they go round the globe (no gap much wider than the others)."""
    ordered = np.unique(np.mod(lon + 180.0, 360.0) - 180.0)
    gaps = np.diff(np.r_[ordered, ordered[0] + 360.0])
    widest = int(np.argmax(gaps))
    others = np.delete(gaps, widest)
    if gaps[widest] <= max(GLOBAL_GAP, 1.5 * others.max(initial=0.0)):
        return None
    west = ordered[(widest + 1) % ordered.size]
    return west, west + 360.0 - gaps[widest]


def lon_text(lon: float, _position=None) -> str:
    """A longitude as ``30°E``/``60°W``, whatever turn it is given in."""
    lon = (lon + 180.0) % 360.0 - 180.0
    if np.isclose(abs(lon), 180.0) or np.isclose(lon, 0.0):
        return f"{abs(lon):.4g}°"
    return f"{abs(lon):.4g}°{'E' if lon > 0 else 'W'}"


def lat_text(lat: float, _position=None) -> str:
    """A latitude as ``45°N``/``30°S``."""
    if np.isclose(lat, 0.0):
        return "0°"
    return f"{abs(lat):.4g}°{'N' if lat > 0 else 'S'}"


def quantity(da: xr.DataArray) -> str:
    units = da.attrs.get("units")
    return f"{da.name} [{units}]" if units else str(da.name)


def title_text(first: str, da: xr.DataArray, notes: list[str]) -> str:
    """``first``, then the variable's name and the notes, broken into lines between notes."""
    name = da.attrs.get("long_name") or da.attrs.get("standard_name") or da.name
    lines = [first, name if name == da.name else f"{name} ({da.name})"]
    for note in filter(None, notes):
        if len(lines[-1]) + len(note) + 2 > TITLE_WIDTH:
            lines[-1] += ","
            lines.append(note)
        else:
            lines[-1] += f", {note}"
    return "\n".join(lines)


def _year_start(year: int, calendar: str) -> cftime.datetime:
    return cftime.datetime(year, 1, 1, calendar=calendar)


def _year_length(year: int, calendar: str):
    return _year_start(year + 1, calendar) - _year_start(year, calendar)


def decimal_years(times: xr.CFTimeIndex) -> np.ndarray:
    """Times as years with a fraction (2015.5 is the middle of 2015 in the calendar)."""
    lengths: dict[int, object] = {}
    years = []
    for t in times:
        if t.year not in lengths:
            lengths[t.year] = _year_length(t.year, times.calendar)
        years.append(t.year + (t - _year_start(t.year, times.calendar)) / lengths[t.year])
    return np.array(years, dtype=float)


def year_label(calendar: str):
    """Tick labels of decimal years: ``2015`` at the start of a year, else the date."""

    def label(x: float, _position=None) -> str:
        year = int(np.floor(x))
        if np.isclose(x, round(x), atol=1e-9):
            return f"{round(x)}"
        date = _year_start(year, calendar) + (x - year) * _year_length(year, calendar)
        return date.strftime("%Y-%m-%d")

    return label
