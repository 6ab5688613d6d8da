"""WPS process ``subset``: select a time range, area and levels of datasets by id."""

from __future__ import annotations

from cp4cds_wps.config import get_settings
from cp4cds_wps.ops.params import parse_area, parse_level, parse_time, parse_time_components
from cp4cds_wps.processes.common import (
    DataProcess,
    area_input,
    collection_input,
    level_input,
    literal,
    original_files_input,
    time_components_input,
    time_input,
)
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.subset import SubsetRequest, plan_subset, run_subset


def _request(wps_request) -> SubsetRequest:
    return SubsetRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        time=parse_time(literal(wps_request, "time")),
        time_components=parse_time_components(literal(wps_request, "time_components")),
        area=parse_area(literal(wps_request, "area")),
        level=parse_level(literal(wps_request, "level")),
        original_files=bool(literal(wps_request, "original_files", False)),
    )


class Subset(DataProcess):
    """Subset datasets of the archive in time, area and level (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="subset",
            title="Subset",
            abstract="Subset datasets of the archive, given by ESGF dataset ids, by time "
            "range, time components, area and level. Returns a Metalink document listing "
            "the resulting netCDF files, and the provenance of the result.",
            inputs=[
                collection_input(),
                time_input(),
                time_components_input(),
                area_input(),
                level_input(),
                original_files_input(),
            ],
        )

    parse = staticmethod(_request)
    plan = staticmethod(plan_subset)

    def run(self, request, plans, **options):
        """Subset; whole files are linked from where the service serves the archive."""
        return run_subset(request, plans, data_url=get_settings().data_url, **options)
