"""``/metrics``: Prometheus metrics of the service, collected by a WSGI middleware.

:class:`Metrics` wraps the whole application. For every request it records the endpoint
(``wps``, ``meta-wps``, ``api``, ``outputs``, ``data``, ``health``, ...), the WPS operation
(GetCapabilities, DescribeProcess, Execute, GetStatus, GetResult, Dismiss; the endpoint's
name elsewhere), the HTTP status and the time until the application returned its response
(a file's transfer is not included, so that gunicorn can still send files with sendfile).
It counts the bytes of archive files (``/data``) and outputs (``/outputs``) served, as their
Content-Length says, and the variables of the datasets named in Execute's ``collection``
input (the ``variable`` facet parsed from each id, no database lookup). Jobs by state and
the queue length are read from the job store when Prometheus scrapes.

The same datasets of each accepted Execute of the WPS, and the dataset of each original
file downloaded whole from ``/data`` (HTTP 200 to a GET; range requests are parts of one
download and not counted), are counted per day in the usage table of the request log
(:meth:`cp4cds_wps.request_log.RequestLog.record_usage`), by process, project, model,
experiment and variable: the catalogue's usage page.

gunicorn runs several worker processes: ``cp4cds-wps start`` calls
:func:`prepare_multiprocess`, which empties ``<var_dir>/metrics`` and exports
``PROMETHEUS_MULTIPROC_DIR`` so that prometheus_client's multiprocess mode sums the workers'
values at each scrape. Without it (one process, e.g. in tests) the values stay in memory.

Each request is also added to the dashboard's per-minute series
(:mod:`cp4cds_wps.request_log`).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs

from lxml import etree
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from cp4cds_wps.config import Settings
from cp4cds_wps.inventory import Inventory, drs
from cp4cds_wps.jobs.store import JobStore
from cp4cds_wps.request_log import USAGE_FACETS, RequestLog

LOGGER = logging.getLogger(__name__)

#: Environment variable that switches prometheus_client to its multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: WPS operations by lower-case name.
WPS_OPERATIONS = {
    name.lower(): name
    for name in (
        "GetCapabilities",
        "DescribeProcess",
        "Execute",
        "GetStatus",
        "GetResult",
        "Dismiss",
    )
}
#: First path segments recorded as endpoints (others count as ``other``).
ENDPOINTS = (
    "wps", "meta-wps", "api", "outputs", "data", "health", "metrics", "dashboard", "catalogue",
)  # fmt: skip
#: Endpoints whose response bodies count as bytes served.
FILE_ENDPOINTS = ("outputs", "data")
#: Largest request body read to find the operation and the collection (PyWPS's limit).
MAX_BODY = 20 * 1024 * 1024
#: Distinct variable labels one process records; further variables count as ``other``.
MAX_VARIABLES = 1000
_STATUS_DOCUMENT = re.compile(r"^/outputs/[^/]+\.xml$")
_VARIABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def prepare_multiprocess(settings: Settings) -> Path:
    """Empty ``<var_dir>/metrics`` and export ``PROMETHEUS_MULTIPROC_DIR`` for the workers.

    Call this in the process that starts gunicorn, before it starts: the values of a
    previous run are dropped (Prometheus counters start again from zero after a restart).

    Returns
    -------
    Path
        The folder.
    """
    folder = settings.var_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


class JobsCollector:
    """Jobs by state and the queue length, read from the job store at each scrape."""

    def __init__(self, jobs: JobStore):
        self.jobs = jobs

    def collect(self):
        """Yield the two gauges (nothing when the job store does not answer)."""
        try:
            counts = self.jobs.counts()
        except Exception:  # noqa: BLE001 - a scrape must not fail with the database
            LOGGER.exception("cannot read job counts")
            return
        states = GaugeMetricFamily(
            "cp4cds_wps_jobs", "Jobs in the job store by state.", labels=["state"]
        )
        for state, n in counts.items():
            states.add_metric([state], n)
        yield states
        yield GaugeMetricFamily(
            "cp4cds_wps_queue_length",
            "Jobs accepted and waiting for a worker.",
            value=counts["accepted"],
        )


class Classified(NamedTuple):
    """What a request is: endpoint, operation, the dataset ids of an Execute's
    ``collection`` and the process it executes (empty otherwise)."""

    endpoint: str
    operation: str
    ids: list[str]
    process: str = ""


def classify(environ: dict) -> Classified:
    """The endpoint, operation, requested dataset ids and process of a request.

    Reads a POST body to ``/wps`` or ``/meta-wps`` and puts it back for the application.

    Returns
    -------
    Classified
        The operation is a WPS operation (``unknown`` when none is recognised) for ``wps``
        and ``meta-wps`` and GetStatus for a WPS 1.0 status document
        (``/outputs/<job>.xml``), else the endpoint.
    """
    segment = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
    endpoint = segment if segment in ENDPOINTS else ("index" if not segment else "other")
    if endpoint == "outputs" and _STATUS_DOCUMENT.match(environ.get("PATH_INFO", "")):
        return Classified(endpoint, "GetStatus", [])  # WPS 1.0: a job's status document
    if endpoint not in ("wps", "meta-wps"):
        return Classified(endpoint, endpoint, [])
    if environ.get("REQUEST_METHOD") == "POST":
        operation, ids, process = _from_xml(_body(environ))
    else:
        operation, ids, process = _from_kvp(environ.get("QUERY_STRING", ""))
    if operation != "Execute":
        return Classified(endpoint, operation, [])
    return Classified(endpoint, operation, ids, process)


def _body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    if not 0 < length <= MAX_BODY:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _from_kvp(query: str) -> tuple[str, list[str], str]:
    params = {key.lower(): values[0] for key, values in parse_qs(query).items()}
    operation = WPS_OPERATIONS.get(params.get("request", "").lower(), "unknown")
    ids = []
    for item in params.get("datainputs", "").split(";"):
        name, _, value = item.partition("=")
        if name.strip().lower() == "collection":
            ids += value.split("@", 1)[0].split(",")
    return operation, ids, params.get("identifier", "").strip()


def _from_xml(body: bytes) -> tuple[str, list[str], str]:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return "unknown", [], ""
    operation = WPS_OPERATIONS.get(etree.QName(root).localname.lower(), "unknown")
    ids = []
    for element in root.iter("{*}Input"):
        name = element.get("id") or element.findtext("{*}Identifier") or ""
        data = element.find("{*}Data")
        if name.strip().lower() == "collection" and data is not None:
            ids += "".join(data.itertext()).split(",")
    process = root.get("id") or root.findtext("{*}Identifier") or ""
    return operation, ids, process.strip()


def _facets(dataset_id: str) -> dict[str, str]:
    try:
        return drs.parse_id(dataset_id.strip())
    except ValueError:
        return {}


def variables(ids: list[str]) -> list[str]:
    """The variable of each dataset id (``unknown`` when an id names none)."""
    found = []
    for dataset_id in ids:
        variable = _facets(dataset_id).get("variable", "")
        found.append(variable if _VARIABLE.match(variable) else "unknown")
    return found


def _label(value: str) -> str:
    """A facet value as usage records it (``unknown`` when it is no facet value)."""
    return value if _VARIABLE.match(value) else "unknown"


def usage_facets(dataset_id: str) -> dict[str, str]:
    """The facets usage is counted by (project, model, experiment, variable) of an id;
    ``unknown`` for those an id does not name."""
    facets = _facets(dataset_id)
    return {name: _label(facets.get(name, "")) for name in USAGE_FACETS}


def _download(environ: dict) -> tuple[str, str] | None:
    """The archive root and path of a GET of ``/data/<root>/<path>`` (None otherwise)."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    # WSGI gives the decoded path as latin-1 characters of its UTF-8 bytes (PEP 3333)
    path = environ.get("PATH_INFO", "").encode("latin-1", "replace").decode("utf-8", "replace")
    _, _, rest = path.lstrip("/").partition("/")
    root, _, relpath = rest.partition("/")
    return (root, relpath) if root and relpath else None


class Metrics:
    """WSGI middleware recording requests, answering ``/metrics`` itself.

    Parameters
    ----------
    app
        The application wrapped.
    settings
        The service's settings (var dir for the dashboard's series).
    jobs
        The job store (jobs by state, queue length).
    """

    def __init__(self, app, settings: Settings, jobs: JobStore):
        self.app = app
        self.log = RequestLog.from_settings(settings)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self.jobs = JobsCollector(jobs)
        if not self.multiprocess:
            self.registry.register(self.jobs)
        self.requests = Counter(
            "cp4cds_wps_requests",
            "HTTP requests by endpoint, WPS operation and status code.",
            ["endpoint", "operation", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "cp4cds_wps_request_duration_seconds",
            "Time until the application returned its response.",
            ["endpoint", "operation", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.bytes_served = Counter(
            "cp4cds_wps_bytes_served",
            "Bytes of archive files (data) and outputs served (Content-Length).",
            ["endpoint"],
            registry=self.registry,
        )
        self.variable_requests = Counter(
            "cp4cds_wps_variable_requests",
            "Datasets named in Execute requests' collection input, by variable.",
            ["variable"],
            registry=self.registry,
        )
        self._variables: set[str] = set()
        self.inventory = Inventory.from_settings(settings)

    def __call__(self, environ, start_response):
        began = time.perf_counter()
        found = classify(environ)
        download = _download(environ) if found.endpoint == "data" else None
        answer: dict[str, object] = {}

        def recording_start_response(status, headers, exc_info=None):
            answer["status"] = status.split(" ", 1)[0]
            answer["length"] = next(
                (value for name, value in headers if name.lower() == "content-length"), None
            )
            return start_response(status, headers, exc_info)

        try:
            if found.endpoint == "metrics":
                result = self.scrape(environ, recording_start_response)
            else:
                result = self.app(environ, recording_start_response)
        except Exception:
            self._record(found, {"status": "500"}, time.perf_counter() - began)
            raise
        if "status" in answer:
            self._record(found, answer, time.perf_counter() - began, download)
            return result
        return self._record_after(result, found, answer, began, download)

    def _record_after(self, result, found, answer, began, download):
        """Iterate a response whose application starts it lazily; record at its end."""
        try:
            yield from result
        finally:
            if hasattr(result, "close"):
                result.close()
            self._record(found, answer, time.perf_counter() - began, download)

    def _record(
        self,
        found: Classified,
        answer: dict,
        seconds: float,
        download: tuple[str, str] | None = None,
    ):
        endpoint, operation, ids, process = found
        status = str(answer.get("status", "500"))
        self.requests.labels(endpoint, operation, status).inc()
        self.durations.labels(endpoint, operation, status).observe(seconds)
        if endpoint in FILE_ENDPOINTS and status in ("200", "206") and answer.get("length"):
            self.bytes_served.labels(endpoint).inc(int(answer["length"]))
        if status.startswith("2"):
            for variable in variables(ids):
                if variable not in self._variables and len(self._variables) >= MAX_VARIABLES:
                    variable = "other"
                self._variables.add(variable)
                self.variable_requests.labels(variable).inc()
        try:
            self.log.record(endpoint, operation, seconds, status.startswith("5"))
            if status.startswith("2") and endpoint == "wps" and ids:
                self.log.record_usage("process", process, [usage_facets(i) for i in ids])
            if status == "200" and download is not None:
                dataset_id = self.inventory.dataset_of(*download)
                if dataset_id is not None:
                    self.log.record_usage("download", "", [usage_facets(dataset_id)])
        except Exception:  # noqa: BLE001 - the request must not fail with the dashboard
            LOGGER.exception("cannot record the request for the dashboard")

    def scrape(self, environ, start_response):
        """Answer ``/metrics`` in Prometheus's text format."""
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            registry.register(self.jobs)
        else:
            registry = self.registry
        body = generate_latest(registry)
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))]
        )
        return [body]
