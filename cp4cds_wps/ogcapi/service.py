"""The OGC API - Processes application (mounted at ``/ogcapi``): the WPS's processes and
jobs as JSON over REST.

Processes are the WPS's (made from the registry); an execution is handed to the WPS
(:mod:`cp4cds_wps.ogcapi.execute`), so its job is queued in, and read from, the one job
store: a job submitted here is a WPS job and the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from cp4cds_wps import __version__
from cp4cds_wps.auth import AuthError, TokenVerifier
from cp4cds_wps.config import Settings
from cp4cds_wps.jobs.store import JobRecord, JobStore, NoSuchJob, NotOwner
from cp4cds_wps.ogcapi import execute, html, jobs
from cp4cds_wps.ogcapi.describe import description, summary
from cp4cds_wps.ogcapi.landing import conformance, landing_page
from cp4cds_wps.ogcapi.openapi import openapi
from cp4cds_wps.ogcapi.problems import NO_SUCH_JOB, Problem
from cp4cds_wps.routing import Routed

#: Media type of the OpenAPI document.
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"


class OgcApi(Routed):
    """OGC API - Processes 1.0 over the WPS's processes and job store.

    Parameters
    ----------
    settings
        The service's settings (its URL, the job store, authentication).
    processes
        The WPS processes (:func:`cp4cds_wps.processes.processes`).
    wps
        The WSGI application serving ``/wps`` (with its request guard and token check):
        executions are handed to it.
    verifier
        Checks bearer tokens when authentication is on (None when off).
    extra
        Applications answering further paths of the API: a request this application's
        rules do not match goes to the first of them whose rules match it.
    """

    def __init__(
        self,
        settings: Settings,
        processes: Sequence,
        wps: Callable,
        *,
        verifier: TokenVerifier | None = None,
        extra: Sequence[Routed] = (),
    ):
        self.settings = settings
        self.base = f"{settings.url}/ogcapi"
        self.processes = {process.identifier: process for process in processes}
        self.wps = wps
        self.verifier = verifier
        self.private = verifier is not None and settings.auth.private_results
        self.extra = tuple(extra)
        self.urls = Map(
            [
                Rule("/", endpoint="landing", methods=["GET"]),
                Rule("/conformance", endpoint="conformance", methods=["GET"]),
                Rule("/api", endpoint="api", methods=["GET"]),
                Rule("/processes", endpoint="process_list", methods=["GET"]),
                Rule("/processes/<process_id>", endpoint="process", methods=["GET"]),
                Rule("/processes/<process_id>/execution", endpoint="execution",
                     methods=["POST"]),
                Rule("/jobs", endpoint="job_list", methods=["GET"]),
                Rule("/jobs/<job_id>", endpoint="job", methods=["GET"]),
                Rule("/jobs/<job_id>", endpoint="dismiss", methods=["DELETE"]),
                Rule("/jobs/<job_id>/results", endpoint="results", methods=["GET"]),
            ],
            strict_slashes=False,
        )  # fmt: skip

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            try:
                endpoint, args = self.urls.bind_to_environ(environ).match()
            except (NotFound, MethodNotAllowed):
                for app in self.extra:
                    if _matches(app, environ):
                        return app(environ, start_response)
                raise
            response = getattr(self, endpoint)(request, **args)
        except Problem as err:
            response = err.get_response()
        except HTTPException as err:
            response = Problem(err.code or 500, err.description or err.name).get_response()
        return response(environ, start_response)

    @cached_property
    def store(self) -> JobStore:
        """The job store, opened on first use (in each server process, after forking)."""
        return JobStore.from_settings(self.settings)

    # -- documents --------------------------------------------------------------------------

    def _answer(self, request: Request, document: Any, title: str, status: int = 200):
        if html.wants_html(request):
            return Response(html.render(document, title), status=status, mimetype="text/html")
        return Response(json.dumps(document, indent=2), status=status, mimetype="application/json")

    def landing(self, request: Request) -> Response:
        """The landing page."""
        return self._answer(request, landing_page(self.base, __version__), "cp4cds-wps")

    def conformance(self, request: Request) -> Response:
        """The conformance classes."""
        return self._answer(request, conformance(), "Conformance")

    def api(self, request: Request) -> Response:
        """The OpenAPI 3.0 document of the API."""
        document = openapi(self.base, list(self.processes.values()), __version__)
        if html.wants_html(request):
            return self._answer(request, document, "API definition")
        return Response(json.dumps(document, indent=2), mimetype=OPENAPI_TYPE)

    def process_list(self, request: Request) -> Response:
        """The processes, with links to their descriptions."""
        document = {
            "processes": [summary(p, self.base) for p in self.processes.values()],
            "links": [
                {"href": f"{self.base}/processes", "rel": "self", "type": "application/json",
                 "title": "this document"},
                {"href": f"{self.base}/processes?f=html", "rel": "alternate",
                 "type": "text/html", "title": "this document as HTML"},
            ],
        }  # fmt: skip
        return self._answer(request, document, "Processes")

    def _process(self, process_id: str):
        if process_id not in self.processes:
            raise Problem(
                404,
                f"unknown process {process_id!r}; this service offers {', '.join(self.processes)}",
            )
        return self.processes[process_id]

    def process(self, request: Request, process_id: str) -> Response:
        """The description of a process."""
        process = self._process(process_id)
        return self._answer(request, description(process, self.base), process.title)

    # -- execution --------------------------------------------------------------------------

    def execution(self, request: Request, process_id: str) -> Response:
        """Execute a process: synchronously (the results), or with ``Prefer: respond-async``
        as a job (201, ``Location`` its status)."""
        process = self._process(process_id)
        body = execute.request_body(request.get_data())
        wanted = _wanted_outputs(body.get("outputs"), [o.identifier for o in process.outputs])
        response_form = body.get("response", "document")
        if response_form not in ("document", "raw"):
            raise Problem(400, f"response: {response_form!r} is neither 'document' nor 'raw'")
        asynchronous = "respond-async" in request.headers.get("Prefer", "")
        xml = execute.wps_execute(process.operation, body.get("inputs", {}),
                                  asynchronous=asynchronous)  # fmt: skip
        submitted = execute.submit(self.wps, request.environ, xml, wps_url=self.settings.wps_url)
        if asynchronous:
            record = self.store.get(submitted.job_id)
            response = self._answer(request, jobs.status_info(record, self.base), "Job", 201)
            response.headers["Location"] = f"{self.base}/jobs/{record.id}"
            response.headers["Preference-Applied"] = "respond-async"
            return response
        outputs = {
            name: {"href": url, "type": jobs.OUTPUT_TYPES.get(name, "application/octet-stream")}
            for name, url in submitted.outputs.items()
            if wanted is None or name in wanted
        }
        if response_form == "raw":
            response = Response(status=204)
            for name, output in outputs.items():
                response.headers.add("Link", f'<{output["href"]}>; rel="{name}"')
            return response
        return self._answer(request, outputs, "Results")

    # -- jobs -------------------------------------------------------------------------------

    def _owner(self, request: Request) -> str | None:
        """The caller, when authentication is on (None when off)."""
        if self.verifier is None:
            return None
        try:
            return self.verifier.owner(request.environ)
        except AuthError as err:
            raise Problem(err.status, f"Access denied: {err}") from err

    def _job(self, request: Request, job_id: str) -> JobRecord:
        owner = self._owner(request) if self.private else None
        try:
            record = self.store.get(job_id)
        except NoSuchJob as err:
            raise Problem(404, f"there is no job {job_id}", NO_SUCH_JOB) from err
        if self.private and record.owner is not None and owner != record.owner:
            raise Problem(403, "only the job's owner can read its status and result")
        return record

    def job_list(self, request: Request) -> Response:
        """The jobs (the caller's when authentication is on), newest first, a page at a time."""
        filters = jobs.parse_filters(request.args, list(jobs.STATES))
        owner = self._owner(request)
        records = self.store.list()
        if self.verifier is not None:
            records = [r for r in records if r.owner == owner]
        found = jobs.selected(records, filters)
        start, limit = filters["offset"], filters["limit"]
        page = found[start : start + limit]
        document = {
            "jobs": [jobs.status_info(r, self.base) for r in page],
            "links": _page_links(f"{self.base}/jobs", request.args, start, limit, len(found)),
        }
        return self._answer(request, document, "Jobs")

    def job(self, request: Request, job_id: str) -> Response:
        """The status of a job."""
        return self._answer(request, jobs.status_info(self._job(request, job_id), self.base), "Job")

    def results(self, request: Request, job_id: str) -> Response:
        """The results of a job that succeeded."""
        return self._answer(request, jobs.results(self._job(request, job_id)), "Results")

    def dismiss(self, request: Request, job_id: str) -> Response:
        """Dismiss a job: a waiting one at once, a running one's worker is stopped by the
        dispatcher; answers its status."""
        owner = self._owner(request)
        try:
            record = self.store.request_dismiss(job_id, owner)
        except NoSuchJob as err:
            raise Problem(404, f"there is no job {job_id}", NO_SUCH_JOB) from err
        except NotOwner as err:
            raise Problem(403, "only the job's owner can dismiss it") from err
        return self._answer(request, jobs.status_info(record, self.base), "Job")


def _matches(app: Routed, environ) -> bool:
    try:
        app.urls.bind_to_environ(environ).match()
    except HTTPException:
        return False
    return True


def _wanted_outputs(outputs: Any, offered: list[str]) -> set[str] | None:
    """The outputs an execute request asks for (None: all)."""
    if outputs is None:
        return None
    names = (
        outputs
        if isinstance(outputs, list)
        else list(outputs)
        if isinstance(outputs, dict)
        else None
    )
    if names is None:
        raise Problem(400, "'outputs' must be a JSON object of outputs by identifier")
    unknown = [name for name in names if name not in offered]
    if unknown:
        raise Problem(
            400, f"outputs: unknown output {', '.join(map(repr, unknown))}; "
            f"the process offers {', '.join(offered)}"
        )  # fmt: skip
    return set(names)


def _page_links(url: str, args, start: int, limit: int, total: int) -> list[dict[str, str]]:
    """``self`` and, when more jobs follow or precede, ``next`` and ``prev`` links."""

    def link(rel: str, offset: int) -> dict[str, str]:
        pairs = [(k, v) for k, v in args.items(multi=True) if k not in ("offset", "limit")]
        pairs += [("limit", str(limit)), ("offset", str(offset))]
        return {"href": f"{url}?{urlencode(pairs)}", "rel": rel, "type": "application/json"}

    links = [link("self", start)]
    if start + limit < total:
        links.append(link("next", start + limit))
    if start > 0:
        links.append(link("prev", max(0, start - limit)))
    return links
