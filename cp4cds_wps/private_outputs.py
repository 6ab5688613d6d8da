"""``/outputs`` for their owners only: the status documents and output files of a job with an
owner are served to a request carrying that owner's bearer token, and to no one else.

Every file under ``/outputs`` belongs to one request: ``/outputs/<job>.xml`` is the WPS 1.0
status document of job ``<job>``, ``/outputs/<job>/...`` its outputs. The job store knows the
owner of asynchronous jobs and of synchronous executions made with a token
(:meth:`cp4cds_wps.jobs.store.JobStore.record_done`); files of requests without an owner
(made while authentication was off, meta-WPS answers) stay public.
"""

from __future__ import annotations

from collections.abc import Callable

from cp4cds_wps.auth import AuthError, TokenVerifier, refusal
from cp4cds_wps.jobs.store import JobStore, NoSuchJob
from cp4cds_wps.ows import OwsException, report_response

PREFIX = "/outputs/"


def job_of(path: str) -> str | None:
    """The job a path under ``/outputs/`` belongs to, or None for other paths."""
    if not path.startswith(PREFIX):
        return None
    first = path[len(PREFIX) :].split("/", 1)[0]
    return first.removesuffix(".xml") or None


class PrivateOutputs:
    """WSGI middleware in front of what serves ``/outputs``: a job's files for its owner only.

    Parameters
    ----------
    app
        The application serving ``/outputs`` (and everything else, passed through).
    store_factory
        Returns the job store (opened at the first request of each server process).
    verifier
        Checks the bearer tokens.
    """

    def __init__(
        self, app: Callable, store_factory: Callable[[], JobStore], verifier: TokenVerifier
    ):
        self.app = app
        self.store_factory = store_factory
        self.verifier = verifier
        self._store: JobStore | None = None

    def owner(self, job_id: str) -> str | None:
        """The owner of job ``job_id``, or None when it has none or is not recorded."""
        if self._store is None:
            self._store = self.store_factory()
        try:
            return self._store.get(job_id).owner
        except NoSuchJob:
            return None

    def __call__(self, environ, start_response):
        job_id = job_of(environ.get("PATH_INFO", ""))
        owner = self.owner(job_id) if job_id else None
        if owner is None:
            return self.app(environ, start_response)
        try:
            requester = self.verifier.owner(environ)
        except AuthError as err:
            response = refusal(err, environ, self.verifier.settings.required_scope)
            return response(environ, start_response)
        if requester != owner:
            error = OwsException(
                "NoApplicableCode", "only the job's owner can read its status and outputs", 403
            )
            response = report_response(error, "1.0.0")
            return response(environ, start_response)
        return self.app(environ, start_response)
