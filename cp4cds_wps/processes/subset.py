"""WPS process ``subset``: select a time range, area and levels of datasets by id."""

from __future__ import annotations

from cp4cds_wps.config import get_settings
from cp4cds_wps.ops.params import parse_area, parse_level, parse_time, parse_time_components
from cp4cds_wps.processes.common import (
    JobProcess,
    area_input,
    collection_input,
    failed_as_process_error,
    inventory,
    job_dir,
    level_input,
    literal,
    original_files_input,
    rejected_as_wps_exception,
    result_outputs,
    time_components_input,
    time_input,
    write_result,
)
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.subset import SubsetRequest, plan_subset, run_subset


class Subset(JobProcess):
    """Subset datasets of the archive in time, area and level (rook-compatible)."""

    def __init__(self):
        super().__init__(
            self._handler,
            identifier="subset",
            title="Subset",
            abstract="Subset datasets of the archive, given by ESGF dataset ids, by time "
            "range, time components, area and level. Returns a Metalink document listing "
            "the resulting netCDF files, and the provenance of the result.",
            version="1.0",
            inputs=[
                collection_input(),
                time_input(),
                time_components_input(),
                area_input(),
                level_input(),
                original_files_input(),
            ],
            outputs=result_outputs(),
            store_supported=True,
            status_supported=True,
        )

    def execute(self, wps_request, uuid):
        """Validate the request before PyWPS accepts it, so bad input is an OGC exception."""
        with rejected_as_wps_exception():
            plan_subset(_request(wps_request), inventory())
        return super().execute(wps_request, uuid)

    def _handler(self, request, response):
        settings = get_settings()
        with failed_as_process_error():
            subset_request = _request(request)
            plans = plan_subset(subset_request, inventory())
            out_dir, out_url = job_dir(self, settings)
            result = run_subset(
                subset_request,
                plans,
                out_dir=out_dir,
                out_url=out_url,
                data_url=settings.data_url,
                time_chunk=settings.time_chunk,
                progress=lambda percent, message: response.update_status(message, percent),
            )
        write_result(self, response, result)
        return response


def _request(wps_request) -> SubsetRequest:
    return SubsetRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        time=parse_time(literal(wps_request, "time")),
        time_components=parse_time_components(literal(wps_request, "time_components")),
        area=parse_area(literal(wps_request, "area")),
        level=parse_level(literal(wps_request, "level")),
        original_files=bool(literal(wps_request, "original_files", False)),
    )
