"""What every data process shares: input and output definitions, outputs, job handling
(errors become WPS exceptions in :mod:`cp4cds_wps.processes.failures`).

Input names and outputs follow roocs' rook service, so that the Climate Data Store's client
``rooki`` and scripts written for rook work unchanged.
"""

from __future__ import annotations

import base64
import os
import pickle
import threading
from functools import cache
from pathlib import Path
from typing import Any

from pywps import FORMATS, ComplexInput, ComplexOutput, Format, LiteralInput, Process, configuration
from pywps.exceptions import NotEnoughStorage, ServerBusy
from pywps.inout.storage.file import FileStorage
from pywps.processing.job import Job
from pywps.response.status import WPS_STATUS
from pywps.validator.mode import MODE

from cp4cds_wps import __version__, errors
from cp4cds_wps.config import Settings
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.jobs import synchronous
from cp4cds_wps.jobs.store import JobStore, QueueFull
from cp4cds_wps.jobs.synchronous import SlotsTaken, run_in_worker, sync_slot
from cp4cds_wps.jobs.worker import output_urls
from cp4cds_wps.meta.estimate import estimate_plan, within_limits
from cp4cds_wps.meta.links import meta_links
from cp4cds_wps.operations.base import Input, Operation
from cp4cds_wps.output.metalink import metalink4
from cp4cds_wps.output.space import has_room
from cp4cds_wps.processes.failures import (
    failed_as_process_error,
    fetched_inputs,
    rejected_as_wps_exception,
    sync_failure,
)
from cp4cds_wps.tasks.runner import RunContext, TaskResult
from cp4cds_wps.wps2 import OWNER_KEY

#: Start and end of an XML CDATA section.
_CDATA = ("<![CDATA[", "]]>")
#: PyWPS formats of the kinds of JSON documents an input takes.
_FORMATS = {"geojson": FORMATS.GEOJSON, "json": FORMATS.JSON}


def wps_input(item: Input, base_url: str | None = None) -> LiteralInput | ComplexInput:
    """The PyWPS input of an operation's input (see :class:`cp4cds_wps.operations.base.Input`).

    Text and choices are strings (rook's inputs are), checked by the operation's parser,
    which names the input (PyWPS's own check of allowed values does not); inputs the
    meta-WPS knows the valid values of link to it (the meta-WPS of the service at
    ``base_url``; default: the configured one, see :func:`cp4cds_wps.meta.links.meta_url`).
    """
    if item.kind == "json":
        return ComplexInput(
            item.identifier,
            item.title,
            abstract=item.abstract,
            supported_formats=[_FORMATS[f] for f in item.formats],
            min_occurs=1 if item.required else 0,
            max_occurs=item.max_occurs,
        )
    options = {}
    if item.kind == "choice":
        options.update(allowed_values=list(item.choices), mode=MODE.NONE)
    if item.default is not None:
        options["default"] = item.default
    if item.linked:
        options["metadata"] = meta_links(item.identifier, base_url)
    return LiteralInput(
        item.identifier,
        item.title,
        abstract=item.abstract,
        data_type="boolean" if item.kind == "flag" else "string",
        min_occurs=1 if item.required else 0,
        max_occurs=item.max_occurs,
        **options,
    )


def wps_values(operation: Operation, request) -> dict:
    """The values of an operation's inputs in a PyWPS request (None when not given)."""
    return {
        item.identifier: (complex_text if item.kind == "json" else literal)(
            request, item.identifier
        )
        for item in operation.inputs
    }


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
    """Value of a literal input, or ``default`` when it was not given; the values of a
    repeated input joined by commas."""
    values = [value.data for value in request.inputs.get(name) or ()]
    if len(values) > 1:
        return ",".join(str(value) for value in values)
    return values[0] if values else default


def complex_text(request, name: str) -> str | None:
    """Text of a complex input (a GeoJSON shape, a JSON workflow), or None when not given.

    PyWPS 4.8 keeps a queued job's complex input in a CDATA section and removes it again,
    rebuilding the job, only when the text holds no line break: it is removed here.
    """
    text = literal(request, name)
    if isinstance(text, bytes):
        text = text.decode()
    if text and text.startswith(_CDATA[0]) and text.endswith(_CDATA[1]):
        text = text.removeprefix(_CDATA[0]).removesuffix(_CDATA[1])
    return text


def job_dir(process: Process, settings: Settings) -> tuple[Path, str]:
    """Output folder of this job and the URL it is served at."""
    return settings.output_dir / str(process.uuid), f"{settings.output_url}/{process.uuid}"


def write_result(process: Process, response, result: TaskResult) -> None:
    """Fill the ``output``, ``prov`` and ``prov_plot`` outputs from a task's result."""
    response.outputs["output"].data = metalink4(result.files, generator=f"cp4cds-wps/{__version__}")
    response.outputs["prov"].data = result.provenance.json()
    plot = result.provenance.plot(Path(process.workdir) / "provenance.png")
    response.outputs["prov_plot"].file = str(plot)


def requester(wps_request) -> str | None:
    """The user a request comes from, as the token check (``cp4cds_wps.auth``) found it;
    None without it."""
    http_request = getattr(wps_request, "http_request", None)
    return http_request.environ.get(OWNER_KEY) if http_request is not None else None


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
    (see ``cp4cds_wps.jobs``). A synchronous execution runs in a worker process of its own
    while the request waits, at most ``[server] max_sync_executes`` at once in the service
    (ServerBusy beyond; see ``cp4cds_wps.jobs.synchronous``); when it fails, the answer is
    an OGC exception report saying why (:func:`sync_failure`), not an execute response
    whose status says "failed" (which birdy reports as "Sorry, process failed.").
    """

    #: What made the handler fail (set by subclasses' handlers).
    failure: BaseException | None = None
    #: The settings of the service the process runs in: given when the service builds it
    #: (``cp4cds_wps.app.create_app``), or by the worker that rebuilds it from a job
    #: (:meth:`restore`); None in a process only described.
    settings: Settings | None = None

    def restore(self, value: dict, settings: Settings | None) -> None:
        """Set up a process PyWPS rebuilt from a job: ``value`` is its :attr:`json`,
        ``settings`` those of the service that runs it."""
        self.settings = settings

    def inventory(self) -> Inventory:
        """The archive inventory of the service's settings."""
        return Inventory.from_settings(self.settings)

    def execute(self, wps_request, uuid):
        """Refuse any request while the output folder is full."""
        if not has_room(self.settings.output_dir):
            raise NotEnoughStorage(str(errors.NoSpaceLeft()))
        return super().execute(wps_request, uuid)

    def _setup_status_storage(self):
        self._status_store = StatusFileStorage(
            configuration.get_config_value("server", "outputpath"),
            configuration.get_config_value("server", "outputurl"),
            copy_function=configuration.get_config_value("server", "storage_copy_function"),
        )

    def _execute_process(self, async_, wps_request, wps_response):
        settings = self.settings
        if not async_ and synchronous.IN_WORKER:  # computing it is this process's work
            wps_response = super()._execute_process(async_, wps_request, wps_response)
            if wps_response.status == WPS_STATUS.FAILED:
                raise sync_failure(self.failure, fetched_inputs(wps_request))
            return wps_response
        if not async_:
            try:
                with sync_slot(settings.var_dir / "sync-slots", settings.max_sync_executes):
                    wps_response._update_status(WPS_STATUS.ACCEPTED, "accepted", 0)
                    wps_response = run_in_worker(self, wps_request, wps_response, settings)
            except SlotsTaken as err:
                self.clean()
                raise ServerBusy(str(err)) from err
            owner = requester(wps_request)
            if owner is not None and settings.auth.private_results:
                # its outputs are its owner's: /outputs serves them to the owner only
                job_store(settings.jobs.database).record_done(
                    str(self.uuid),
                    self.identifier,
                    owner=owner,
                    outputs=output_urls(wps_response.doc),
                )
            return wps_response
        wps_response._update_status(WPS_STATUS.ACCEPTED, "queued", 0)
        try:
            job_store(settings.jobs.database).submit(
                str(self.uuid),
                self.identifier,
                Job(self, wps_request, wps_response).json,
                status_url=self.status_url,
                owner=requester(wps_request),
                max_queued=settings.jobs.max_queued,
            )
        except QueueFull as err:
            Path(self.status_location).unlink(missing_ok=True)
            self.clean()
            raise ServerBusy(str(err)) from err
        return wps_response


class DataProcess(JobProcess):
    """The WPS process of an operation (:mod:`cp4cds_wps.operations`).

    Its inputs are the operation's; a request is parsed and planned by the operation before
    it is accepted (so that bad input is an OGC exception report), sized and refused over
    the configured limits (``[limits]``, with the reason the meta-WPS ``estimate`` gives),
    once: the request and its plan go with the job to where it runs (a worker process,
    :attr:`prepared`), and serve there for the work and its provenance; the operation's ``run``
    does the work in the :class:`~cp4cds_wps.tasks.runner.RunContext` the service sets;
    ``write`` fills the outputs (by default ``output``, ``prov`` and ``prov_plot``). Other
    keyword arguments (e.g. ``metadata``) go to :class:`pywps.Process`; ``settings`` are
    those of the service (see :attr:`JobProcess.settings`).
    """

    def __init__(
        self,
        operation: Operation,
        *,
        settings: Settings | None = None,
        outputs: list | None = None,
        **process_options,
    ):
        self.operation = operation
        self.settings = settings
        super().__init__(
            self._handler,
            identifier=operation.name,
            title=operation.title,
            abstract=operation.abstract,
            version="1.0",
            inputs=[wps_input(item, settings and settings.url) for item in operation.inputs],
            outputs=outputs if outputs is not None else result_outputs(),
            store_supported=True,
            status_supported=True,
            **process_options,
        )

    #: The request and its plan, made once when the request is accepted (:meth:`execute`)
    #: and handed to where it runs with PyWPS's job (:attr:`json`, :meth:`restore`).
    prepared: tuple[Any, Any] | None = None

    def planned(self, wps_request) -> tuple[Any, Any]:
        """The request the WPS inputs make, and its plan."""
        request = self.operation.parse(wps_values(self.operation, wps_request))
        return request, self.operation.plan(request, self.inventory())

    @property
    def json(self) -> dict:
        """PyWPS's description of the process in a job, with the request and plan made
        when it was accepted (restored by :meth:`restore`)."""
        value = super().json
        if self.prepared is not None:
            value["prepared"] = base64.b64encode(pickle.dumps(self.prepared)).decode()
        return value

    def restore(self, value: dict, settings: Settings | None) -> None:
        """Take back the request and plan of a job's process (see :attr:`json`).

        The text is the service's own, written into its job store or handover file when
        the request was accepted (as PyWPS trusts the process class the job names).
        """
        super().restore(value, settings)
        if value.get("prepared"):
            self.prepared = pickle.loads(base64.b64decode(value["prepared"]))  # noqa: S301

    def write(self, response, result, context: RunContext) -> None:
        """Fill the outputs from the task's result."""
        write_result(self, response, result)

    def execute(self, wps_request, uuid):
        """Validate the request and check it against the limits before PyWPS accepts it."""
        settings = self.settings
        with rejected_as_wps_exception(fetched_inputs(wps_request)):
            self.prepared = request, plan = self.planned(wps_request)
            found = estimate_plan(
                self.operation, request, plan, self.inventory(), max_file_mb=settings.max_file_mb
            )
            within_limits(found, settings.limits)
        return super().execute(wps_request, uuid)

    def _handler(self, wps_request, response):
        try:
            return self._run(wps_request, response)
        except Exception as err:
            self.failure = err
            raise

    def _run(self, wps_request, response):
        settings = self.settings
        out_dir, out_url = job_dir(self, settings)
        context = RunContext(
            out_dir=out_dir,
            out_url=out_url,
            time_chunk=settings.time_chunk,
            data_url=settings.data_url,
            max_file_mb=settings.max_file_mb,
            progress=lambda percent, message: response.update_status(message, percent),
        )
        with failed_as_process_error():
            # planned when accepted; a job queued by an earlier version is planned here
            request, plan = self.prepared or self.planned(wps_request)
            result = self.operation.run(request, plan, context)
        self.write(response, result, context)
        return response
