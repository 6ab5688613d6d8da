"""The operation ``average_shape``: area-weighted means over GeoJSON polygons.

Free of WPS code, like :mod:`cp4cds_wps.operations.average`, whose planning it shares: the
dataset's cell areas (``areacella``/``areacello``) are used when the archive has them.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.average import AveragePlan, area_weighted_step, plan_average
from cp4cds_wps.operations.base import COLLECTION, Input, Operation, Values
from cp4cds_wps.operations.sizing import DatasetEstimate, read_only
from cp4cds_wps.ops.shape import Shapes, average_shape, parse_shape
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.runner import RunContext, TaskResult, run_steps

SHAPE = Input(
    "shape",
    "Vector Shape",
    "GeoJSON of the polygons to average over: a Polygon or MultiPolygon "
    "geometry, a Feature or a FeatureCollection, in longitude/latitude degrees (WGS84; "
    "longitudes in -180..180 or 0..360). One mean per feature, named by its "
    'properties.name or id. Example: {"type": "Polygon", "coordinates": '
    "[[[0, 40], [10, 40], [10, 50], [0, 50], [0, 40]]]}",
    kind="json",
    required=True,
    formats=("geojson", "json"),
    linked=False,
)


@dataclass(frozen=True)
class AverageShapeRequest:
    """Means over the polygons of ``shape``."""

    collection: tuple[str, ...]
    shape: Shapes

    #: Cell areas are needed (see :func:`cp4cds_wps.operations.average.plan_average`).
    spatial = True

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history (the shape summarised)."""
        return {"collection": ",".join(self.collection), "shape": str(self.shape)}


def parse_average_shape(values: Values) -> AverageShapeRequest:
    """The request the input values make."""
    return AverageShapeRequest(
        collection=parse_collection(values.get("collection")),
        shape=parse_shape(values.get("shape")),
    )


def apply_average_shape(
    ds: xr.Dataset, request: AverageShapeRequest, weights: xr.DataArray | None = None, **_
) -> xr.Dataset:
    """The means of ``ds`` over each polygon, weighted by ``weights`` if given."""
    return average_shape(ds, request.shape, weights=weights)


def plan_average_shape(
    request: AverageShapeRequest, inventory: Inventory
) -> tuple[AveragePlan, ...]:
    """Resolve the datasets of a request, their files and cell areas, without reading data.

    See :func:`cp4cds_wps.operations.average.plan_average`.
    """
    return plan_average(request, inventory)


def estimate_average_shape(
    request: AverageShapeRequest, plans: tuple[AveragePlan, ...], inventory: Inventory, _: int
) -> tuple[DatasetEstimate, ...]:
    """What each planned dataset reads (the output is not estimated)."""
    return read_only((plan.dataset, plan.files) for plan in plans)


def run_average_shape(
    request: AverageShapeRequest, plans: tuple[AveragePlan, ...], context: RunContext
) -> TaskResult:
    """Average each planned dataset over the request's polygons; write CF netCDF.

    See :func:`cp4cds_wps.tasks.runner.run_steps`.
    """

    def mean(ds: xr.Dataset, weights: xr.DataArray | None) -> xr.Dataset:
        return apply_average_shape(ds, request, weights)

    steps = [area_weighted_step(plan, mean) for plan in plans]
    return run_steps("average_shape", request.parameters(), steps, context)


AVERAGE_SHAPE = Operation(
    name="average_shape",
    title="Average over polygonal shape",
    abstract="Average datasets of the archive, given by ESGF dataset ids, over each "
    "polygon of a GeoJSON shape, on regular, curvilinear and rotated-pole grids. Each "
    "cell is weighted by its area times the fraction of it inside the polygon. "
    "Returns a Metalink document listing the resulting netCDF files (with a geom "
    "dimension, one entry per polygon), and the provenance of the result.",
    inputs=(COLLECTION, SHAPE),
    parse=parse_average_shape,
    plan=plan_average_shape,
    estimate=estimate_average_shape,
    run=run_average_shape,
    apply=apply_average_shape,
    weighted=lambda request: True,
    sized=False,
)
