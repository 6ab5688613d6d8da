"""What every data process shares: input and output definitions, error translation, outputs.

Input names and outputs follow roocs' rook service, so that the Climate Data Store's client
``rooki`` and scripts written for rook work unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pywps import FORMATS, ComplexOutput, Format, LiteralInput, Process
from pywps.app.exceptions import ProcessError
from pywps.exceptions import InvalidParameterValue, MissingParameterValue

from cp4cds_wps import __version__, errors
from cp4cds_wps.config import Settings, get_settings
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.output.metalink import metalink4
from cp4cds_wps.tasks.subset import TaskResult

#: Characters kept in messages of errors raised while a job runs (PyWPS drops all others).
MESSAGE_CHARS = ".:!?=,;-_/'()[]+*<>@"


def collection_input() -> LiteralInput:
    """The dataset ids a process works on."""
    return LiteralInput(
        "collection",
        "Collection",
        abstract="A dataset identifier or list of comma separated identifiers. "
        "Example: CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803",
        data_type="string",
        min_occurs=1,
        max_occurs=1,
    )


def time_input() -> LiteralInput:
    """Time range ``start/end``."""
    return LiteralInput(
        "time",
        "Time Period",
        abstract="The time period for subsetting separated by /. Either end may be left "
        "open. Example: 1860-01-01/1900-12-30",
        data_type="string",
        min_occurs=0,
        max_occurs=1,
    )


def time_components_input() -> LiteralInput:
    """Time components such as years and months."""
    return LiteralInput(
        "time_components",
        "Time Components",
        abstract="Optional time components to describe parts of the time period (e.g. year, "
        "month and day). Example: year:1970,1980|month:01,02,03",
        data_type="string",
        min_occurs=0,
        max_occurs=1,
    )


def area_input() -> LiteralInput:
    """Bounding box ``W,S,E,N``."""
    return LiteralInput(
        "area",
        "Area",
        abstract="The area to subset over separated by commas: west,south,east,north in "
        "degrees. Example: 0.,49.,10.,65",
        data_type="string",
        min_occurs=0,
        max_occurs=1,
    )


def level_input() -> LiteralInput:
    """Level range ``first/last``."""
    return LiteralInput(
        "level",
        "Level",
        abstract="The level range to subset over separated by a /, in the units of the "
        "dataset's vertical axis. Example: 1000/2000",
        data_type="string",
        min_occurs=0,
        max_occurs=1,
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
