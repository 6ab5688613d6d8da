"""WPS process ``concat``: ensemble members concatenated along realization, or their mean."""

from __future__ import annotations

from pywps import LiteralInput

from cp4cds_wps.ops.params import parse_time
from cp4cds_wps.processes.common import (
    DataProcess,
    collection_input,
    literal,
    time_input,
)
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.concat import ConcatRequest, plan_concat, run_concat


def apply_average_input() -> LiteralInput:
    """Whether to return the ensemble mean instead of the members."""
    return LiteralInput(
        "apply_average",
        "Apply Average",
        abstract="If True, returns the mean over the members (the realization dimension) "
        "instead of the members themselves.",
        data_type="boolean",
        min_occurs=0,
        max_occurs=1,
        default=False,
    )


def _request(wps_request) -> ConcatRequest:
    return ConcatRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        time=parse_time(literal(wps_request, "time")),
        apply_average=bool(literal(wps_request, "apply_average", False)),
    )


class Concat(DataProcess):
    """Concatenate ensemble members of the archive along realization (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="concat",
            title="Concat",
            abstract="Concatenate two or more ensemble members (e.g. decadal hindcast members "
            "of one start date), given by ESGF dataset ids, along a new realization "
            "dimension into one netCDF file, optionally averaged over the members. Members "
            "must share variable, grid, calendar and time steps: members of different start "
            "dates are concatenated over the dates they share, chosen with the time input. "
            "Returns a Metalink document listing the resulting netCDF file, and the "
            "provenance of the result.",
            inputs=[collection_input(), time_input(), apply_average_input()],
        )

    parse = staticmethod(_request)
    plan = staticmethod(plan_concat)
    run = staticmethod(run_concat)
