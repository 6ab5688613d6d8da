"""Target grids of regridding: the named grids, custom grids, and parsing the inputs.

Target grids are regular in latitude and longitude, with cell edges on multiples of the
step: the named grids and ``custom_grid="dlon dlat"`` span -90 to 90 north and 0 to 360
east (the first cell centre is half a step east of 0 and north of -90);
``custom_grid="lon0 lon1 dlon lat0 lat1 dlat"`` gives the cells between those edges (a
regional grid, longitudes as given, e.g. -30 to 50). ``auto`` picks the named grid closest
to the source's typical cell size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.ops.cells import axis_bounds, cell_corners
from cp4cds_wps.ops.grid import (
    HorizontalGrid,
    band_areas,
    centre_spacing_areas,
    horizontal_grid,
    polygon_areas,
)

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_METHOD",
    "GRIDS",
    "LAT_ATTRS",
    "LON_ATTRS",
    "MAX_CELLS",
    "METHODS",
    "GridSpec",
    "cell_size",
    "parse_grid",
    "parse_method",
    "target_grid",
]

#: Attributes of the latitude and longitude of the target grids (and of CDO's samples).
LAT_ATTRS = {
    "standard_name": "latitude",
    "long_name": "latitude",
    "units": "degrees_north",
    "axis": "Y",
    "bounds": "lat_bnds",
}
LON_ATTRS = {
    "standard_name": "longitude",
    "long_name": "longitude",
    "units": "degrees_east",
    "axis": "X",
    "bounds": "lon_bnds",
}
#: Regridding methods, by their xESMF names (as rook's).
METHODS = ("nearest_s2d", "bilinear", "conservative")
#: Target grids and their step in degrees (``auto`` and ``custom`` are resolved later).
GRIDS: dict[str, float | None] = {
    "auto": None,
    "0pt25deg": 0.25,
    "0pt5deg": 0.5,
    "1deg": 1.0,
    "1pt25deg": 1.25,
    "2pt5deg": 2.5,
    "custom": None,
}
#: The method and grid of a request that names none (as rook's).
DEFAULT_METHOD = "nearest_s2d"
DEFAULT_GRID = "auto"
#: Most cells of a target grid (a global 0.1 degree grid).
MAX_CELLS = 1800 * 3600
_CUSTOM_FORM = (
    "give 'dlon dlat' (a global grid) or 'lon0 lon1 dlon lat0 lat1 dlat' (cell edges and "
    "steps) in degrees, e.g. '2 1.5' or '-30 50 0.5 30 75 0.5'"
)


@dataclass(frozen=True)
class GridSpec:
    """A target grid: cells of ``dlon`` by ``dlat`` degrees between the edges ``lon0`` to
    ``lon1`` east and ``lat0`` to ``lat1`` north.

    ``name`` is a key of :data:`GRIDS`; the steps of an ``auto`` grid are None until
    :func:`target_grid` resolves it against a dataset.
    """

    name: str
    dlon: float | None = None
    dlat: float | None = None
    lon0: float = 0.0
    lon1: float = 360.0
    lat0: float = -90.0
    lat1: float = 90.0

    @property
    def shape(self) -> tuple[int, int]:
        """Number of cells along latitude and longitude."""
        return (
            round((self.lat1 - self.lat0) / self.dlat),
            round((self.lon1 - self.lon0) / self.dlon),
        )

    def lat_edges(self) -> np.ndarray:
        """The latitudes of the cell edges, south to north."""
        return np.linspace(self.lat0, self.lat1, self.shape[0] + 1)

    def lon_edges(self) -> np.ndarray:
        """The longitudes of the cell edges, west to east."""
        return np.linspace(self.lon0, self.lon1, self.shape[1] + 1)

    @property
    def custom_grid(self) -> str:
        """The grid in the form of the ``custom_grid`` input."""
        values = (self.lon0, self.lon1, self.dlon, self.lat0, self.lat1, self.dlat)
        return " ".join(f"{v:g}" for v in values)

    def describe(self) -> str:
        """The grid in words, e.g. ``global 1x1 degree latitude-longitude grid (180x360)``."""
        nlat, nlon = self.shape
        where = (
            "global"
            if (self.lat0, self.lat1, self.lon1 - self.lon0) == (-90, 90, 360)
            else f"regional ({self.lon0:g} to {self.lon1:g} E, {self.lat0:g} to {self.lat1:g} N)"
        )
        return (
            f"{where} {self.dlon:g}x{self.dlat:g} degree (lon x lat) latitude-longitude grid "
            f"of {nlat}x{nlon} cells"
        )


def _words(text: str | None) -> list[str]:
    return (text or "").replace(",", " ").split()


def parse_method(text: str | None, name: str = "method") -> str:
    """Parse a regridding method: one of :data:`METHODS` (any case); :data:`DEFAULT_METHOD`
    when none is given.

    Raises
    ------
    InvalidParameter
        On any other value.
    """
    words = [w.lower() for w in _words(text)] or [DEFAULT_METHOD]
    if len(words) > 1 or words[0] not in METHODS:
        raise InvalidParameter(name, f"{text!r} is not one of {', '.join(METHODS)}")
    return words[0]


def parse_grid(grid: str | None, custom_grid: str | None) -> GridSpec:
    """Parse the ``grid`` and ``custom_grid`` inputs into a target grid.

    Parameters
    ----------
    grid
        A key of :data:`GRIDS` (any case); :data:`DEFAULT_GRID` when not given.
    custom_grid
        With ``grid`` ``custom`` only: ``"dlon dlat"`` for a global grid, or
        ``"lon0 lon1 dlon lat0 lat1 dlat"`` (cell edges and steps, degrees; commas or
        spaces between the numbers). The steps must divide the spans into whole cells.

    Returns
    -------
    GridSpec
        Without steps for ``auto`` (see :func:`target_grid`).

    Raises
    ------
    InvalidParameter
        On an unknown grid, ``custom`` without or with a malformed ``custom_grid``, or a
        ``custom_grid`` with another grid.
    """
    words = [w.lower() for w in _words(grid)] or [DEFAULT_GRID]
    if len(words) > 1 or words[0] not in GRIDS:
        raise InvalidParameter("grid", f"{grid!r} is not one of {', '.join(GRIDS)}")
    name = words[0]
    if name == "custom":
        return _custom_grid(custom_grid)
    if _words(custom_grid):
        raise InvalidParameter(
            "custom_grid", f"is only used with grid custom, not with grid {name}; leave it out"
        )
    return GridSpec(name, GRIDS[name], GRIDS[name])


def _custom_grid(text: str | None) -> GridSpec:
    parts = _words(text)
    if not parts:
        raise InvalidParameter("custom_grid", f"grid custom needs a custom_grid: {_CUSTOM_FORM}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameter("custom_grid", f"{text!r} is not numbers: {_CUSTOM_FORM}") from None
    if len(values) == 2:
        (dlon, dlat), (lon0, lon1, lat0, lat1) = values, (0.0, 360.0, -90.0, 90.0)
    elif len(values) == 6:
        lon0, lon1, dlon, lat0, lat1, dlat = values
    else:
        raise InvalidParameter("custom_grid", f"{text!r} has {len(values)} numbers: {_CUSTOM_FORM}")
    reason = None
    if not all(math.isfinite(v) for v in values):
        reason = "every number must be finite"
    elif dlon <= 0 or dlat <= 0:
        reason = "the steps dlon and dlat must be positive"
    elif not -90 <= lat0 < lat1 <= 90:
        reason = "latitudes must satisfy -90 <= lat0 < lat1 <= 90"
    elif not lon0 < lon1 <= lon0 + 360:
        reason = "longitudes must satisfy lon0 < lon1 <= lon0 + 360"
    else:
        for axis, span, step in (("longitude", lon1 - lon0, dlon), ("latitude", lat1 - lat0, dlat)):
            cells = span / step
            if round(cells) < 1 or abs(cells - round(cells)) > 1e-6 * cells:
                reason = (
                    f"the {axis} step {step:g} does not divide {span:g} degrees into whole cells"
                )
                break
    if reason is None:
        spec = GridSpec("custom", dlon, dlat, lon0, lon1, lat0, lat1)
        if math.prod(spec.shape) > MAX_CELLS:
            reason = f"{math.prod(spec.shape)} cells are too many; at most {MAX_CELLS}"
        else:
            return spec
    raise InvalidParameter("custom_grid", f"{text!r}: {reason}")


def target_grid(ds: xr.Dataset, grid: GridSpec) -> GridSpec:
    """``grid``, or for ``auto`` the named grid whose step is closest (in ratio) to the
    typical cell size of ``ds`` (see :func:`cell_size`)."""
    if grid.name != "auto":
        return grid
    size = cell_size(ds)
    named = {n: step for n, step in GRIDS.items() if step is not None}
    name = min(named, key=lambda n: abs(math.log(named[n] / size)))
    return GridSpec(name, named[name], named[name])


def cell_size(ds: xr.Dataset) -> float:
    """The typical width of the cells of the dataset's horizontal grid, in degrees.

    The square root of the median over cells of the cell area divided by the cosine of the
    cell's latitude: the width a cell of that area has on the equator, which is the step of
    a regular latitude-longitude grid. Areas come from the cell bounds (so that a selection
    of scattered cells still shows the model's resolution), or without bounds from the
    distances to the neighbouring cells along the grid's dimensions.

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude, or neither bounds nor two cells along
        two dimensions.
    """
    grid = horizontal_grid(ds, "collection")
    areas = _areas(ds, grid)
    if areas is None:
        raise InvalidParameter(
            "grid",
            "the dataset's grid has no cell bounds and too few cells to tell its "
            "resolution; choose a grid other than auto",
        )
    lat = np.deg2rad(grid.positions()[0])
    cosine = np.cos(lat)
    usable = (areas > 0) & (cosine > 1e-6)
    if not usable.any():
        raise InvalidParameter(
            "grid",
            "the sizes of the dataset's cells are unknown (no valid positions or bounds); "
            "choose a grid other than auto",
        )
    return float(np.degrees(np.sqrt(np.median(areas[usable] / cosine[usable]))))


def _areas(ds: xr.Dataset, grid: HorizontalGrid) -> np.ndarray | None:
    """The areas (steradians) of the cells: from their bounds, else from the spacing of
    their centres; None when neither is known."""
    if grid.regular:
        bounds = axis_bounds(ds, grid)
        if bounds is not None:
            return band_areas(bounds)
    else:
        corners = cell_corners(ds, grid)
        if corners is not None:
            return polygon_areas(corners.lat, corners.lon)
    return centre_spacing_areas(grid)
