"""Whether a time range, area or level range selects data of one dataset, and which.

Judged from the inventory's records and the dataset's geometry (coordinates from its first
file), with the rules and messages of the main WPS's ``subset``: time ranges choose the files
that overlap them, areas the grid cells whose centre lies inside (on regular grids per axis,
on other grids the smallest index box holding them), level ranges the levels between their
ends (an open end runs to the first or last level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord
from cp4cds_wps.inventory.geometry import Geometry, read_lat_lon
from cp4cds_wps.ops.params import Area, LevelRange, TimeRange
from cp4cds_wps.ops.subset import level_positions, lon_in_area, no_cell_in
from cp4cds_wps.tasks.files import select_files


@dataclass(frozen=True)
class AreaCells:
    """The cells an area selects: positions kept along each horizontal dimension."""

    positions: dict[str, np.ndarray]
    cells: int

    @property
    def shape(self) -> dict[str, int]:
        """Size kept of each horizontal dimension."""
        return {dim: int(p.size) for dim, p in self.positions.items()}


def time_files(dataset: Dataset, time: TimeRange | None) -> tuple[FileRecord, ...]:
    """The files of ``dataset`` that a time range needs (all for None).

    Raises
    ------
    InvalidParameter, NoDataSelected
        As the main WPS does: no time axis, or a range outside the dataset.
    """
    files, _ = select_files(dataset, time)
    return files


def area_cells(dataset: Dataset, geometry: Geometry, area: Area) -> AreaCells:
    """The grid cells of ``dataset`` whose centre lies in ``area``.

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude.
    NoDataSelected
        When no cell centre lies in the area.
    """
    if geometry.grid_type == "none" or not dataset.files:
        raise InvalidParameter("area", "dataset has no latitude/longitude coordinates")
    lat, lon = read_lat_lon(dataset.files[0].path, geometry)
    with np.errstate(invalid="ignore"):
        lat_inside = (lat >= area.south) & (lat <= area.north)
    lon_inside = lon_in_area(lon, area)
    if geometry.grid_type == "regular":
        positions = {
            geometry.lat_dims[0]: np.flatnonzero(lat_inside),
            geometry.lon_dims[0]: np.flatnonzero(lon_inside),
        }
    else:
        inside = lat_inside & lon_inside
        positions = {}
        for axis, dim in enumerate(geometry.lat_dims):
            others = tuple(i for i in range(inside.ndim) if i != axis)
            found = np.flatnonzero(inside.any(axis=others) if others else inside)
            positions[dim] = np.arange(found[0], found[-1] + 1) if found.size else found
    cells = int(np.prod([p.size for p in positions.values()]))
    if cells == 0:
        raise no_cell_in(area, lat, lon)
    return AreaCells(positions, cells)


def selected_levels(geometry: Geometry, level: LevelRange) -> np.ndarray:
    """The positions of the levels a level range selects.

    Raises
    ------
    InvalidParameter
        When the dataset has no vertical axis.
    NoDataSelected
        When the range holds no level.
    """
    if geometry.levels is None:
        raise InvalidParameter("level", "dataset has no vertical (level) axis")
    levels = geometry.levels
    return level_positions(levels.values, level, axis=levels.name, units=levels.units or "")
