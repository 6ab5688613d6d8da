"""WPS 2.0.0 job operations (GetStatus, GetResult, Dismiss) in front of PyWPS.

PyWPS 4.8 answers only GetCapabilities for WPS 2.0, although its 2.0 capabilities already
list GetStatus, GetResult and Dismiss. :class:`Wps2Jobs` is a WSGI middleware placed before
PyWPS's ``Service`` at ``/wps``: it answers those three operations from the job store, in KVP
(GET) and XML (POST) encoding, and passes every other request through unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree
from werkzeug.wrappers import Request, Response

from cp4cds_wps.jobs.store import JobRecord, JobStore, NoSuchJob, NotOwner
from cp4cds_wps.ows import OWS2_NS as OWS_NS
from cp4cds_wps.ows import WPS2_NS as WPS_NS
from cp4cds_wps.ows import (
    OwsException,
    buffered_body,
    is_wps2_request,
    printable,
    report_response,
)

XLINK_NS = "http://www.w3.org/1999/xlink"
NSMAP = {"wps": WPS_NS, "ows": OWS_NS, "xlink": XLINK_NS}

#: WSGI environ key under which an authentication layer puts the requesting user (or None).
OWNER_KEY = "cp4cds_wps.owner"

#: The operations this middleware answers, by lower-case name.
OPERATIONS = {name.lower(): name for name in ("GetStatus", "GetResult", "Dismiss")}

#: WPS 2.0 status names of the job store's states.
STATUS = {
    "accepted": "Accepted",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "dismissed": "Dismissed",
}

#: Longest job id (the job store's column); ids are printable ASCII without spaces.
MAX_JOB_ID = 64

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


@dataclass(frozen=True)
class JobRequest:
    """One parsed WPS 2.0 job request."""

    operation: str  # GetStatus, GetResult or Dismiss
    job_id: str


def parse_kvp(args: dict[str, str]) -> JobRequest | None:
    """Read a KVP job request; ``None`` when ``args`` ask for another operation.

    Parameter names are case-insensitive (``args`` may use any case).

    Raises
    ------
    OwsException
        MissingParameterValue / InvalidParameterValue for service, version or jobId.
    """
    params = {key.lower(): value for key, value in args.items()}
    operation = OPERATIONS.get(params.get("request", "").lower())
    if operation is None:
        return None
    _check_service_version(params.get("service"), params.get("version"))
    return JobRequest(operation, _job_id(params.get("jobid"), "jobId"))


def parse_xml(root: etree._Element) -> JobRequest | None:
    """Read an XML job request; ``None`` when ``root`` is not a WPS 2.0 job request.

    Raises
    ------
    OwsException
        MissingParameterValue / InvalidParameterValue for service, version or JobID.
    """
    qname = etree.QName(root)
    if qname.namespace != WPS_NS or qname.localname not in OPERATIONS.values():
        return None
    _check_service_version(root.get("service"), root.get("version"))
    return JobRequest(qname.localname, _job_id(root.findtext("wps:JobID", None, NSMAP), "JobID"))


def _required(value: str | None, name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise OwsException("MissingParameterValue", f"{name} is required", 400, name)
    return value


def _job_id(value: str | None, name: str) -> str:
    job_id = _required(value, name)
    if len(job_id) > MAX_JOB_ID or not all("!" <= c <= "~" for c in job_id):
        raise OwsException(
            "InvalidParameterValue",
            f"{name} {printable(job_id[:MAX_JOB_ID])!r} is not a job id: job ids are at most "
            f"{MAX_JOB_ID} printable ASCII characters without spaces",
            400,
            name,
        )
    return job_id


def _check_service_version(service: str | None, version: str | None) -> None:
    if _required(service, "service").upper() != "WPS":
        raise OwsException("InvalidParameterValue", "service must be WPS", 400, "service")
    if _required(version, "version") != "2.0.0":
        raise OwsException(
            "InvalidParameterValue",
            f"GetStatus, GetResult and Dismiss are WPS 2.0.0 operations, not version {version}",
            400,
            "version",
        )


def effective_state(record: JobRecord) -> str:
    """The job's state as clients see it: a requested dismissal counts as dismissed."""
    if record.dismiss_requested and record.state in ("accepted", "running"):
        return "dismissed"
    return record.state


def _element(parent: etree._Element, name: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{WPS_NS}}}{name}")
    child.text = text
    return child


def _datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def status_info(
    record: JobRecord,
    *,
    now: datetime,
    next_poll: timedelta,
    retention: timedelta | None = None,
) -> bytes:
    """The ``wps:StatusInfo`` document of a job.

    Parameters
    ----------
    record
        The job.
    now
        Current time; ``NextPoll`` is ``now + next_poll`` for jobs not yet final.
    next_poll
        How long clients should wait before asking again.
    retention
        How long finished jobs are kept; gives ``ExpirationDate`` of finished jobs.
    """
    state = effective_state(record)
    root = etree.Element(f"{{{WPS_NS}}}StatusInfo", nsmap=NSMAP)
    _element(root, "JobID", record.id)
    _element(root, "Status", STATUS[state])
    if retention is not None and record.finished is not None:
        _element(root, "ExpirationDate", _datetime(record.finished + retention))
    if state in ("accepted", "running"):
        _element(root, "NextPoll", _datetime(now + next_poll))
    percent = 100 if state == "succeeded" else max(0, min(100, record.progress))
    _element(root, "PercentCompleted", str(percent))
    return _to_bytes(root)


def result_document(record: JobRecord, *, retention: timedelta | None = None) -> bytes:
    """The ``wps:Result`` document of a succeeded job: a reference per output URL."""
    root = etree.Element(f"{{{WPS_NS}}}Result", nsmap=NSMAP)
    _element(root, "JobID", record.id)
    if retention is not None and record.finished is not None:
        _element(root, "ExpirationDate", _datetime(record.finished + retention))
    for identifier, url in record.outputs.items():
        output = etree.SubElement(root, f"{{{WPS_NS}}}Output", id=identifier)
        etree.SubElement(output, f"{{{WPS_NS}}}Reference", {f"{{{XLINK_NS}}}href": url})
    return _to_bytes(root)


def _no_such_job(job_id: str) -> OwsException:
    return OwsException("NoSuchJob", f"there is no job {job_id}", 404, "JobID")


class Wps2Jobs:
    """WSGI middleware answering WPS 2.0.0 GetStatus, GetResult and Dismiss.

    Parameters
    ----------
    app
        The WSGI application behind (PyWPS's ``Service``); gets every other request.
    store_factory
        Returns the job store; called once, at the first job request (so that each
        server process opens its own database connections after forking).
    next_poll
        Seconds a client should wait before polling a job that is not final again.
    retention
        How long finished jobs are kept (gives ``ExpirationDate``); ``None`` leaves it out.
    private
        Whether the status and result of a job with an owner are for its owner only (the
        requester given under :data:`OWNER_KEY`).
    """

    def __init__(
        self,
        app: Callable,
        store_factory: Callable[[], JobStore],
        *,
        next_poll: float = 5.0,
        retention: timedelta | None = None,
        private: bool = False,
    ):
        self.app = app
        self.store_factory = store_factory
        self.next_poll = timedelta(seconds=next_poll)
        self.retention = retention
        self.private = private
        self._store: JobStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> JobStore:
        """The job store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = self.store_factory()
            return self._store

    def __call__(self, environ, start_response):
        request = Request(environ, populate_request=False)
        try:
            job_request = self._parse(request, environ)
            if job_request is None:
                return self.app(environ, start_response)
            body = self._answer(job_request, environ.get(OWNER_KEY))
            response = Response(body, status=200, content_type="text/xml; charset=utf-8")
        except OwsException as err:
            response = report_response(err)
        return response(environ, start_response)

    def _parse(self, request: Request, environ: dict) -> JobRequest | None:
        """The job request in ``request``, or None (then ``environ`` is ready to pass on)."""
        if request.method == "GET":
            return parse_kvp(request.args.to_dict())
        if request.method != "POST":
            return None
        body = buffered_body(environ)
        if not is_wps2_request(body, OPERATIONS.values()):
            return None
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as err:
            raise OwsException("InvalidParameterValue", f"invalid XML: {err}", 400) from err
        return parse_xml(root)

    def _answer(self, job_request: JobRequest, owner: str | None) -> bytes:
        job_id = job_request.job_id
        try:
            if job_request.operation == "Dismiss":
                record = self.store.request_dismiss(job_id, owner)
            else:
                record = self.store.get(job_id)
        except NoSuchJob as err:
            raise _no_such_job(job_id) from err
        except NotOwner as err:
            raise OwsException(
                "NoApplicableCode", "only the job's owner can dismiss it", 403, "JobID"
            ) from err
        if self.private and record.owner is not None and owner != record.owner:
            raise OwsException(
                "NoApplicableCode",
                "only the job's owner can read its status and result",
                403,
                "JobID",
            )
        if job_request.operation == "GetResult":
            return self._result(record)
        return self._status(record)

    def status_document(self, job_id: str) -> bytes:
        """The ``wps:StatusInfo`` document of the job ``job_id`` (just submitted: no owner
        check).

        Raises
        ------
        OwsException
            NoSuchJob when there is no such job.
        """
        try:
            return self._status(self.store.get(job_id))
        except NoSuchJob as err:
            raise _no_such_job(job_id) from err

    def _status(self, record: JobRecord) -> bytes:
        return status_info(
            record, now=datetime.now(UTC), next_poll=self.next_poll, retention=self.retention
        )

    def _result(self, record: JobRecord) -> bytes:
        state = effective_state(record)
        if state == "succeeded":
            return result_document(record, retention=self.retention)
        if state == "failed":
            raise OwsException("NoApplicableCode", record.message or "the job failed", 500)
        if state == "dismissed":
            raise OwsException(
                "NoSuchJob", f"job {record.id} was dismissed: it has no result", 404, "JobID"
            )
        raise OwsException(
            "ResultNotReady",
            f"job {record.id} is {state} ({record.progress}%): its result is not ready yet",
            404,
            "JobID",
        )
