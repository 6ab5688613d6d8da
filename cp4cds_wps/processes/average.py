"""WPS process ``average``: area-, level-, time- and ensemble-means of datasets by id."""

from __future__ import annotations

from cp4cds_wps.ops.average import parse_dims
from cp4cds_wps.processes.common import (
    DataProcess,
    collection_input,
    dims_input,
    literal,
)
from cp4cds_wps.tasks.average import AverageRequest, plan_average, run_average
from cp4cds_wps.tasks.collection import parse_collection


def _request(wps_request) -> AverageRequest:
    return AverageRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        dims=parse_dims(literal(wps_request, "dims")),
    )


class Average(DataProcess):
    """Average datasets of the archive over some of their dimensions (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="average",
            title="Average",
            abstract="Average datasets of the archive, given by ESGF dataset ids, over "
            "time, level, latitude, longitude and/or realization. Means over the grid are "
            "area-weighted on regular, curvilinear and rotated-pole grids, level means "
            "thickness-weighted and time means weighted by the length of each step when the "
            "data have bounds. Returns a Metalink document listing the resulting netCDF "
            "files, and the provenance of the result.",
            inputs=[collection_input(), dims_input()],
        )

    parse = staticmethod(_request)
    plan = staticmethod(plan_average)
    run = staticmethod(run_average)
