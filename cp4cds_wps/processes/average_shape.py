"""WPS process ``average_shape``: area-weighted means of datasets over GeoJSON polygons."""

from __future__ import annotations

from pywps import FORMATS, ComplexInput

from cp4cds_wps.ops.shape import parse_shape
from cp4cds_wps.processes.common import (
    DataProcess,
    collection_input,
    complex_text,
    literal,
)
from cp4cds_wps.tasks.average_shape import (
    AverageShapeRequest,
    plan_average_shape,
    run_average_shape,
)
from cp4cds_wps.tasks.collection import parse_collection


def shape_input() -> ComplexInput:
    """The polygons, as GeoJSON (given in the request or by reference, as rook takes it)."""
    return ComplexInput(
        "shape",
        "Vector Shape",
        abstract="GeoJSON of the polygons to average over: a Polygon or MultiPolygon "
        "geometry, a Feature or a FeatureCollection, in longitude/latitude degrees (WGS84; "
        "longitudes in -180..180 or 0..360). One mean per feature, named by its "
        'properties.name or id. Example: {"type": "Polygon", "coordinates": '
        "[[[0, 40], [10, 40], [10, 50], [0, 50], [0, 40]]]}",
        supported_formats=[FORMATS.GEOJSON, FORMATS.JSON],
        min_occurs=1,
        max_occurs=1,
    )


def _request(wps_request) -> AverageShapeRequest:
    return AverageShapeRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        shape=parse_shape(complex_text(wps_request, "shape")),
    )


class AverageShape(DataProcess):
    """Average datasets of the archive over polygons (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="average_shape",
            title="Average over polygonal shape",
            abstract="Average datasets of the archive, given by ESGF dataset ids, over each "
            "polygon of a GeoJSON shape, on regular, curvilinear and rotated-pole grids. Each "
            "cell is weighted by its area times the fraction of it inside the polygon. "
            "Returns a Metalink document listing the resulting netCDF files (with a geom "
            "dimension, one entry per polygon), and the provenance of the result.",
            inputs=[collection_input(), shape_input()],
        )

    parse = staticmethod(_request)
    plan = staticmethod(plan_average_shape)
    run = staticmethod(run_average_shape)
