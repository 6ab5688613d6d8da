"""What every data process shares: input and output definitions, error translation, outputs.

Input names and outputs follow roocs' rook service, so that the Climate Data Store's client
``rooki`` and scripts written for rook work unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from pywps import FORMATS, ComplexOutput, Format, LiteralInput, Process, configuration
from pywps.app.exceptions import ProcessError
from pywps.exceptions import InvalidParameterValue, MissingParameterValue, ServerBusy
from pywps.inout.storage.file import FileStorage
from pywps.processing.job import Job
from pywps.response.status import WPS_STATUS

from cp4cds_wps import __version__, errors
from cp4cds_wps.config import Settings, get_settings
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.jobs.store import JobStore, QueueFull
from cp4cds_wps.output.metalink import metalink4
from cp4cds_wps.tasks.subset import TaskResult

#: Characters kept in messages of errors raised while a job runs (PyWPS drops all others).
MESSAGE_CHARS = ".:!?=,;-_/'()[]+*<>@"


def text_input(
    identifier: str, title: str, abstract: str, *, required: bool = False
) -> LiteralInput:
    """A single string input (the form of all rook-style inputs)."""
    return LiteralInput(
        identifier,
        title,
        abstract=abstract,
        data_type="string",
        min_occurs=1 if required else 0,
        max_occurs=1,
    )


def collection_input() -> LiteralInput:
    """The dataset ids a process works on."""
    return text_input(
        "collection",
        "Collection",
        "A dataset identifier or list of comma separated identifiers. "
        "Example: CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803",
        required=True,
    )


def time_input() -> LiteralInput:
    """Time range ``start/end``."""
    return text_input(
        "time",
        "Time Period",
        "The time period for subsetting separated by /. Either end may be left "
        "open. Example: 1860-01-01/1900-12-30",
    )


def time_components_input() -> LiteralInput:
    """Time components such as years and months."""
    return text_input(
        "time_components",
        "Time Components",
        "Optional time components to describe parts of the time period (e.g. year, "
        "month and day). Example: year:1970,1980|month:01,02,03",
    )


def area_input() -> LiteralInput:
    """Bounding box ``W,S,E,N``."""
    return text_input(
        "area",
        "Area",
        "The area to subset over separated by commas: west,south,east,north in "
        "degrees. Example: 0.,49.,10.,65",
    )


def level_input() -> LiteralInput:
    """Level range ``first/last``."""
    return text_input(
        "level",
        "Level",
        "The level range to subset over separated by a /, in the units of the "
        "dataset's vertical axis. Example: 1000/2000",
    )


def original_files_input() -> LiteralInput:
    """Whether to return the archive's files instead of processed copies."""
    return LiteralInput(
        "original_files",
        "Original Files",
        abstract="If True, returns the original files of the archive that hold the time "
        "period, without any processing and without copying.",
        data_type="boolean",
        min_occurs=0,
        max_occurs=1,
        default=False,
    )


def result_outputs() -> list[ComplexOutput]:
    """The three outputs of every data process, in rook's order."""
    return [
        ComplexOutput(
            "output",
            "METALINK v4 output",
            abstract="Metalink v4 document with references to the netCDF files.",
            as_reference=True,
            supported_formats=[FORMATS.META4],
        ),
        ComplexOutput(
            "prov",
            "Provenance",
            abstract="Provenance document using W3C standard.",
            as_reference=True,
            supported_formats=[FORMATS.JSON],
        ),
        ComplexOutput(
            "prov_plot",
            "Provenance Diagram",
            abstract="Provenance document as diagram.",
            as_reference=True,
            supported_formats=[Format("image/png", extension=".png", encoding="base64")],
        ),
    ]


def literal(request, name: str, default=None):
    """Value of a literal input, or ``default`` when it was not given."""
    if name in request.inputs and request.inputs[name]:
        return request.inputs[name][0].data
    return default


def inventory() -> Inventory:
    """The archive inventory of the configured service."""
    return Inventory.from_settings(get_settings())


@contextmanager
def rejected_as_wps_exception() -> Iterator[None]:
    """Turn errors found before a job is accepted into OGC exception reports (HTTP 400)."""
    try:
        yield
    except errors.MissingParameter as err:
        raise MissingParameterValue(str(err), locator=err.name) from err
    except errors.InvalidParameter as err:
        raise InvalidParameterValue(str(err), locator=err.name) from err


@contextmanager
def failed_as_process_error() -> Iterator[None]:
    """Turn errors found while a job runs into a readable failure message of its status."""
    try:
        yield
    except errors.MissingParameter as err:
        raise ProcessError(
            f"MissingParameterValue: {err}", max_length=2000, allowed_chars=MESSAGE_CHARS
        ) from err
    except errors.InvalidParameter as err:
        raise ProcessError(
            f"InvalidParameterValue: {err}", max_length=2000, allowed_chars=MESSAGE_CHARS
        ) from err


def job_dir(process: Process, settings: Settings) -> tuple[Path, str]:
    """Output folder of this job and the URL it is served at."""
    return settings.output_dir / str(process.uuid), f"{settings.output_url}/{process.uuid}"


def write_result(process: Process, response, result: TaskResult) -> None:
    """Fill the ``output``, ``prov`` and ``prov_plot`` outputs from a task's result."""
    response.outputs["output"].data = metalink4(result.files, generator=f"cp4cds-wps/{__version__}")
    response.outputs["prov"].data = result.provenance.json()
    plot = result.provenance.plot(Path(process.workdir) / "provenance.png")
    response.outputs["prov_plot"].file = str(plot)


@cache
def job_store(database: str) -> JobStore:
    """The job store at ``database``, opened once per process."""
    return JobStore(database)


class StatusFileStorage(FileStorage):
    """PyWPS's file storage, writing each document whole: aside, then renamed over the old
    one, so that a client polling a status document never reads half of it."""

    def write(self, data, destination, data_format=None):
        path = Path(self.target) / destination
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_text(data)
        partial.replace(path)
        return self.url(destination)


class JobProcess(Process):
    """A process whose asynchronous executions are queued in the job store.

    PyWPS's own fork is not used: an async Execute is recorded in the store and answered
    with PyWPS's usual "accepted" status document; the dispatcher runs it later in a worker
    (see ``cp4cds_wps.jobs``). Synchronous executions run here, as PyWPS runs them.
    """

    def _setup_status_storage(self):
        self._status_store = StatusFileStorage(
            configuration.get_config_value("server", "outputpath"),
            configuration.get_config_value("server", "outputurl"),
            copy_function=configuration.get_config_value("server", "storage_copy_function"),
        )

    def _execute_process(self, async_, wps_request, wps_response):
        if not async_:
            return super()._execute_process(async_, wps_request, wps_response)
        settings = get_settings()
        wps_response._update_status(WPS_STATUS.ACCEPTED, "queued", 0)
        try:
            job_store(settings.jobs.database).submit(
                str(self.uuid),
                self.identifier,
                Job(self, wps_request, wps_response).json,
                status_url=self.status_url,
                max_queued=settings.jobs.max_queued,
            )
        except QueueFull as err:
            Path(self.status_location).unlink(missing_ok=True)
            self.clean()
            raise ServerBusy(str(err)) from err
        return wps_response
