"""WPS process ``average_time``: daily, monthly, seasonal or yearly means of datasets by id."""

from __future__ import annotations

from cp4cds_wps.ops.average import parse_freq
from cp4cds_wps.processes.common import (
    DataProcess,
    collection_input,
    freq_input,
    literal,
)
from cp4cds_wps.tasks.average import (
    AverageTimeRequest,
    plan_average,
    run_average_time,
)
from cp4cds_wps.tasks.collection import parse_collection


def _request(wps_request) -> AverageTimeRequest:
    return AverageTimeRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        freq=parse_freq(literal(wps_request, "freq")),
    )


class AverageTime(DataProcess):
    """Average datasets of the archive over calendar periods (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="average_time",
            title="Average by Time",
            abstract="Daily, monthly, seasonal or yearly means of datasets of the archive, "
            "given by ESGF dataset ids, in each dataset's own calendar; steps are weighted by "
            "their length. Returns a Metalink document listing the resulting netCDF files, "
            "and the provenance of the result.",
            inputs=[collection_input(), freq_input()],
        )

    parse = staticmethod(_request)
    plan = staticmethod(plan_average)
    run = staticmethod(run_average_time)
