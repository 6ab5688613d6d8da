"""Area-weighted means over polygons given as GeoJSON, on every kind of horizontal grid.

Each grid cell is weighted by its area (see :func:`cp4cds_wps.ops.weights.cell_areas`) times
the fraction of the cell that lies inside the polygon. The fraction is that of the cell's
polygon, built from the cell bounds (vertices), on the longitude-latitude plane, where GeoJSON
draws its edges; a grid without cell bounds counts the cells whose centre lies inside the
polygon. Longitudes are periodic: a polygon in -180..180 meets a 0..360 grid, and a polygon
may cross the 180 degree meridian (as a MultiPolygon split there, or with longitudes beyond
180).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import shapely
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter, NoDataSelected
from cp4cds_wps.ops.cf import bounds_names, bounds_of, value_encoding, with_cell_method
from cp4cds_wps.ops.params import parse_json
from cp4cds_wps.ops.weights import (
    HorizontalGrid,
    cell_areas,
    horizontal_grid,
    on_grid,
)

__all__ = ["Shapes", "average_shape", "parse_shape"]

#: GeoJSON geometry types that enclose an area.
_POLYGON_TYPES = ("Polygon", "MultiPolygon")
#: Shifts (degrees) that make a polygon periodic in longitude on any grid's convention.
_TURNS = (-360.0, 0.0, 360.0)
#: Polygon names shown in the text of a request (provenance, history).
_NAMES_SHOWN = 10


@dataclass(frozen=True)
class Shapes:
    """Polygons to average over, in longitude/latitude degrees (WGS84), and their names.

    ``names`` are the features' ``properties.name``, else their ``id``, else their position
    in the GeoJSON (``"0"``, ``"1"``, ...).
    """

    polygons: tuple[shapely.Polygon | shapely.MultiPolygon, ...]
    names: tuple[str, ...]

    def __str__(self) -> str:
        west, south, east, north = shapely.total_bounds(np.array(self.polygons))
        shown = ", ".join(self.names[:_NAMES_SHOWN])
        if len(self.names) > _NAMES_SHOWN:
            shown += f" and {len(self.names) - _NAMES_SHOWN} more"
        return (
            f"{len(self.polygons)} polygon(s) ({shown}) within longitudes {west:g} to {east:g} "
            f"and latitudes {south:g} to {north:g}"
        )


def parse_shape(text: str | None, name: str = "shape") -> Shapes:
    """Parse GeoJSON text: a Polygon or MultiPolygon geometry, a Feature or a FeatureCollection.

    Parameters
    ----------
    text
        The GeoJSON document, coordinates in longitude/latitude degrees. Longitudes may be in
        -180..180 or 0..360; a polygon crossing 180 degrees may be split there (RFC 7946) or
        run on beyond 180.
    name
        The request input named in errors.

    Returns
    -------
    Shapes
        One polygon per feature, in document order.

    Raises
    ------
    MissingParameter
        When no text is given.
    InvalidParameter
        When the text is not GeoJSON, holds no feature, a feature is not a (valid) polygon,
        a latitude is beyond 90 degrees or a polygon is wider than 360 degrees.
    """
    if text is None or not text.strip():
        raise MissingParameter(name)
    doc = parse_json(text, name, "GeoJSON")
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidParameter(name, "the GeoJSON FeatureCollection holds no feature")
    elif kind == "Feature":
        features = [doc]
    elif kind in _POLYGON_TYPES:
        features = [{"type": "Feature", "geometry": doc}]
    else:
        raise InvalidParameter(
            name,
            f"GeoJSON of type {kind!r} given; expected a FeatureCollection, a Feature, a "
            "Polygon or a MultiPolygon",
        )
    names = tuple(_feature_name(f, i) for i, f in enumerate(features))
    polygons = tuple(_polygon(f, n, name) for f, n in zip(features, names, strict=True))
    return Shapes(polygons=polygons, names=names)


def _feature_name(feature, index: int) -> str:
    if not isinstance(feature, dict):
        return str(index)
    properties = feature.get("properties") or {}
    for value in (properties.get("name"), feature.get("id"), properties.get("id")):
        if value is not None and str(value).strip():
            return str(value).strip()
    return str(index)


def _polygon(feature, label: str, name: str) -> shapely.Polygon | shapely.MultiPolygon:
    """The polygon of one feature, checked."""
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in _POLYGON_TYPES:
        raise InvalidParameter(
            name,
            f"feature {label!r} has {'a ' + kind if kind else 'no'} geometry; only Polygon "
            "and MultiPolygon geometries enclose an area to average over",
        )
    strange = _not_a_number(geometry.get("coordinates"))
    if strange is not None:
        raise InvalidParameter(
            name,
            f"feature {label!r} has a coordinate that is no number: {strange!r}; GeoJSON "
            "coordinates are numbers",
        )
    try:
        polygon = shapely.geometry.shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidParameter(
            name, f"the coordinates of feature {label!r} are not those of a {kind}: {exc}"
        ) from exc
    coords = shapely.get_coordinates(polygon)
    if polygon.is_empty or not np.isfinite(coords).all():
        raise InvalidParameter(name, f"feature {label!r} has no coordinates or non-numbers")
    west, south, east, north = polygon.bounds
    if south < -90 or north > 90:
        raise InvalidParameter(
            name,
            f"feature {label!r} has latitudes {south:g} to {north:g}, beyond -90..90: "
            "coordinates are longitude, latitude in degrees",
        )
    if east - west > 360:
        raise InvalidParameter(
            name, f"feature {label!r} spans longitudes {west:g} to {east:g}, more than 360"
        )
    if not polygon.is_valid:
        raise InvalidParameter(
            name, f"feature {label!r} is not a valid polygon: {shapely.is_valid_reason(polygon)}"
        )
    if polygon.area == 0:
        raise InvalidParameter(name, f"feature {label!r} encloses no area")
    return polygon


def _not_a_number(coordinates) -> object | None:
    """The first leaf of nested ``coordinates`` lists that is no JSON number (a string such as
    ``"NaN"``, a boolean, null, an object), or None when all are numbers."""
    todo = [coordinates]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, bool) or not isinstance(item, int | float):
            return item
    return None


def average_shape(
    ds: xr.Dataset, shapes: Shapes, *, weights: xr.DataArray | None = None
) -> xr.Dataset:
    """Area-weighted means of every data variable over each polygon of ``shapes``.

    Parameters
    ----------
    ds
        The dataset (regular, curvilinear or rotated-pole grid), as returned by
        :func:`cp4cds_wps.ops.open.open_dataset`.
    shapes
        The polygons, from :func:`parse_shape`.
    weights
        Cell areas of the horizontal grid (e.g. ``cell_areas(ds, areacella=...)``); by default
        computed from the grid by :func:`cp4cds_wps.ops.weights.cell_areas`.

    Returns
    -------
    xarray.Dataset
        Lazy means. Variables on the horizontal grid have the new dimension ``geom`` (one
        entry per polygon) in place of the grid's dimensions; ``geom`` is the polygon's
        position and ``geom_name`` its name. Missing values (NaN, e.g. land cells of ocean
        data) count neither in sums nor in weights. The grid's coordinates, cell bounds and
        grid mapping are dropped; ``cell_methods`` end with an ``area: mean`` saying how
        the cells were weighted. Other variables are kept unchanged.

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude.
    NoDataSelected
        When a polygon covers no grid cell; the reason gives the grid's extent.
    """
    grid = horizontal_grid(ds, "shape")
    areas = cell_areas(ds) if weights is None else weights
    area_values = np.asarray(areas.transpose(*grid.dims).values, dtype=float)
    covers, by_bounds = _covers(ds, grid, shapes)
    factors = [_weights(cover, area_values, grid) for cover in covers]
    missed = [repr(n) for n, f in zip(shapes.names, factors, strict=True) if f is None]
    if missed:
        raise NoDataSelected(
            "shape", f"polygon {', '.join(missed)} covers no grid cell; {_extent(grid)}"
        )
    method = _method(areas, by_bounds)
    means = {}
    for name, var in ds.data_vars.items():
        if name in bounds_names(ds) or not set(grid.dims) <= set(var.dims):
            continue
        mean = xr.concat(
            [var.isel(box).weighted(w).mean(grid.dims, keep_attrs=True) for box, w in factors],
            dim="geom",
            coords="minimal",
            compat="override",
            join="override",
        )
        order = [d for d in var.dims if d not in grid.dims[1:]]
        mean = mean.transpose(*["geom" if d == grid.dims[0] else d for d in order])
        mean.attrs["cell_methods"] = with_cell_method(var.attrs.get("cell_methods"), method)
        for key in ("cell_measures", "grid_mapping"):
            mean.attrs.pop(key, None)
        mean.encoding = value_encoding(var)
        means[name] = mean
    return _replace_grid(ds, means, grid, shapes)


#: The cells a polygon covers: their positions along each grid dimension and the fraction of
#: each inside the polygon.
_Cover = tuple[tuple[np.ndarray, ...], np.ndarray]


def _covers(ds: xr.Dataset, grid: HorizontalGrid, shapes: Shapes) -> tuple[list[_Cover], bool]:
    """The cells each polygon covers, and whether the fractions come from cell bounds (else
    they are 1 for the cells whose centre is inside)."""
    shape = tuple(ds.sizes[d] for d in grid.dims)
    vertices = _vertices(ds, grid)
    if vertices is None:
        lat = np.asarray(on_grid(grid.lat, grid).values, dtype=float)
        lon = _centred(np.asarray(on_grid(grid.lon, grid).values, dtype=float))
        covers = []
        for polygon in shapes.polygons:
            positions = np.nonzero(shapely.contains_xy(_periodic(polygon), lon, lat))
            covers.append((positions, np.ones(positions[0].size)))
        return covers, False
    cells = np.full(int(np.prod(shape)), None, dtype=object)
    lon_v, lat_v = (v.reshape(-1, v.shape[-1]) for v in vertices)
    valid = np.isfinite(lon_v).all(axis=1) & np.isfinite(lat_v).all(axis=1)
    cells[valid] = shapely.polygons(np.stack([lon_v[valid], lat_v[valid]], axis=-1))
    twisted = valid & ~shapely.is_valid(cells)  # e.g. corners not in ring order
    cells[twisted] = shapely.make_valid(cells[twisted])
    planar = np.zeros(cells.shape)
    planar[valid] = shapely.area(cells[valid])
    tree = shapely.STRtree(cells)
    covers = []
    for polygon in shapes.polygons:
        periodic = _periodic(polygon)
        hits = tree.query(periodic, predicate="intersects")
        hits = hits[planar[hits] > 0]
        inside = shapely.area(shapely.intersection(cells[hits], periodic)) / planar[hits]
        covers.append((np.unravel_index(hits, shape), np.clip(inside, 0.0, 1.0)))
    return covers, True


def _weights(
    cover: _Cover, areas: np.ndarray, grid: HorizontalGrid
) -> tuple[dict[str, slice], xr.DataArray] | None:
    """The smallest index box of the grid holding the cells a polygon covers, and the
    weights of the cells in it (area times fraction); None when no cell has weight."""
    positions, fractions = cover
    weights = areas[positions] * fractions
    used = weights > 0
    if not used.any():
        return None
    positions = tuple(p[used] for p in positions)
    box = {
        d: slice(int(p.min()), int(p.max()) + 1) for d, p in zip(grid.dims, positions, strict=True)
    }
    values = np.zeros(tuple(b.stop - b.start for b in box.values()))
    values[tuple(p - b.start for p, b in zip(positions, box.values(), strict=True))] = weights[used]
    return box, xr.DataArray(values, dims=grid.dims)


def _centred(lon: np.ndarray) -> np.ndarray:
    """Longitudes shifted by whole turns into -180..180."""
    return (lon + 180.0) % 360.0 - 180.0


def _vertices(ds: xr.Dataset, grid: HorizontalGrid) -> tuple[np.ndarray, np.ndarray] | None:
    """Longitudes and latitudes of the cell corners ``(*grid shape, nv)``, each cell's
    longitudes made continuous and its first corner in -180..180; None without bounds."""
    lat_bounds, lon_bounds = bounds_of(ds, grid.lat), bounds_of(ds, grid.lon)
    if lat_bounds is None or lon_bounds is None:
        return None
    if grid.regular:
        lat_b = np.asarray(lat_bounds.values, dtype=float)
        lon_b = np.asarray(lon_bounds.values, dtype=float)
        south, north = lat_b[:, 0], lat_b[:, -1]
        west, east = lon_b[:, 0], lon_b[:, -1]
        lat = np.stack([south, south, north, north], axis=-1)[:, None, :]
        lon = np.stack([west, east, east, west], axis=-1)[None, :, :]
        lat, lon = np.broadcast_arrays(lat, lon)  # grid.dims is (lat, lon) on regular grids
    else:
        lat = np.asarray(lat_bounds.transpose(*grid.dims, ...).values, dtype=float)
        lon = np.asarray(lon_bounds.transpose(*grid.dims, ...).values, dtype=float)
    first = lon[..., :1]
    lon = first + _centred(lon - first)
    return lon - (first - _centred(first)), lat


def _periodic(polygon: shapely.Geometry) -> shapely.Geometry:
    """The polygon repeated every 360 degrees of longitude, around -180..180."""
    west = polygon.bounds[0]
    start = _centred(west) - west
    copies = [shapely.transform(polygon, lambda xy, s=start + t: xy + [s, 0.0]) for t in _TURNS]
    return shapely.union_all(copies)


def _extent(grid: HorizontalGrid) -> str:
    lat, lon = grid.lat.values, grid.lon.values
    return (
        f"the dataset's grid covers latitudes {np.nanmin(lat):g} to {np.nanmax(lat):g} and "
        f"longitudes {np.nanmin(lon):g} to {np.nanmax(lon):g}"
    )


def _method(areas: xr.DataArray, by_bounds: bool) -> str:
    """The ``cell_methods`` entry of a mean over polygons."""
    # no parentheses inside the comment of a cell method ("cos(latitude)" -> "cos of latitude")
    source = re.sub(r"\((.*?)\)", r" of \1", areas.attrs.get("comment", "as given"))
    if by_bounds:
        how = f"weighted by cell area, {source}, times the fraction of the cell inside it"
    else:
        how = f"of the cells whose centre lies inside it, weighted by cell area, {source}"
    return f"area: mean (comment: over each polygon of geom_name, {how})"


def _replace_grid(
    ds: xr.Dataset, means: dict[str, xr.DataArray], grid: HorizontalGrid, shapes: Shapes
) -> xr.Dataset:
    """``ds`` with ``means`` in place of their variables and the horizontal grid removed."""
    mappings = {ds[name].attrs.get("grid_mapping") for name in means}
    out = ds.drop_vars([n for n, v in ds.variables.items() if set(v.dims) & set(grid.dims)])
    still_used = {v.attrs.get("grid_mapping") for v in out.data_vars.values()}
    out = out.drop_vars([m for m in mappings if m in out.variables and m not in still_used])
    geom = xr.Variable(
        "geom",
        np.arange(len(shapes.names), dtype=np.int32),
        {"long_name": "position of the polygon in the shape input"},
    )
    names = xr.Variable(
        "geom",
        np.array(shapes.names, dtype=object),
        {"long_name": "name of the polygon in the shape input"},
    )
    return out.assign(means).assign_coords(geom=geom, geom_name=names)
