"""Synchronous executions: in a fresh worker process each, a bounded number at once.

The web server answers requests on threads of a few processes. A synchronous Execute does
not compute there: its thread hands the request to a new process of the ``local`` backend
(a fresh process forked from a fork server that has never run a job, with the job memory
limit) and waits for its answer, so that

- data work never shares a process with other requests (netCDF and HDF5 are not
  thread-safe, and a process that has run dask's threads must not fork);
- at most ``[server] max_sync_executes`` run in the whole service (:func:`sync_slot`); one
  more is refused at once with ServerBusy, so that data requests can never take every
  thread and cheap requests (GetCapabilities, status, ``/api/constraints``) keep being
  answered;
- an execution running longer than ``[server] timeout`` is stopped, and one whose process
  dies ends, with an exception report saying so, instead of taking its web server process
  with it.

The worker side is :mod:`cp4cds_wps.jobs.sync_worker`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pickle
import shutil
import signal
import sys
import threading
import uuid as uuids
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cp4cds_wps.config import ENV_PREFIX, Settings
from cp4cds_wps.jobs.work_folders import owned_prefix

#: Whether this process is the worker of a synchronous execution (set by its main).
IN_WORKER = False
#: Where the web server's workers are started: one fork server per web server process.
_BACKEND = None
_BACKEND_LOCK = threading.Lock()
#: Modules the fork server of synchronous executions imports once.
PRELOAD = ("cp4cds_wps.processes",)


class SlotsTaken(Exception):
    """Every slot for synchronous executions is taken; the message says how many."""


@contextmanager
def sync_slot(folder: Path, count: int) -> Iterator[int]:
    """Hold one of ``count`` slots in ``folder`` while the block runs.

    A slot is an exclusive ``flock`` on one of ``count`` files: held through an open file,
    it is released when the block ends or its process dies, whatever the cause, and it
    excludes threads of one process from each other as well as other processes.

    Parameters
    ----------
    folder
        Where the slot files are (created when missing); the same for every process of
        the service.
    count
        Number of slots.

    Yields
    ------
    int
        The number of the slot held (0 .. count - 1).

    Raises
    ------
    SlotsTaken
        When all ``count`` slots are held by other executions.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        fd = os.open(folder / f"slot-{number}", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield number
        finally:
            os.close(fd)  # releases the lock
        return
    raise SlotsTaken(
        f"all {count} slots for synchronous executions are taken "
        f"([server] max_sync_executes = {count}); try again later, or execute "
        "asynchronously (storeExecuteResponse=true&status=true)"
    )


def _backend():
    global _BACKEND
    with _BACKEND_LOCK:
        if _BACKEND is None:
            from cp4cds_wps.jobs.backends.local import LocalBackend

            _BACKEND = LocalBackend(preload=PRELOAD)
        return _BACKEND


def run_in_worker(process, wps_request, wps_response, settings: Settings):
    """Run a synchronous execution of ``process`` in a new worker process; wait for it.

    Parameters
    ----------
    process
        PyWPS's copy of the process for this request (inputs parsed, working folder set).
    wps_request, wps_response
        The request and the response to fill.
    settings
        The service's settings: ``timeout`` (seconds the execution may take),
        ``jobs.memory_mb`` (its memory limit), ``work_dir`` (where it is handed over).

    Returns
    -------
    pywps.response.execute.ExecuteResponse
        ``wps_response``, with the worker's response document.

    Raises
    ------
    pywps.exceptions.NoApplicableCode
        Re-raised as the worker raised it, or saying that the execution overran the time
        limit (HTTP 400) or that its worker died (HTTP 500); no partial output is left.
    """
    from pywps.exceptions import NoApplicableCode
    from pywps.processing.job import Job

    key = f"{process.uuid}-{uuids.uuid4().hex[:8]}"
    name = f"{owned_prefix('sync_')}{key}"
    handover, answer = (settings.work_dir / f"{name}.{end}.json" for end in ("in", "out"))
    http_request = getattr(wps_request, "http_request", None)
    handover.write_text(
        json.dumps(
            {
                "job": Job(process, wps_request, wps_response).json,
                "accept": http_request.headers.get("Accept", "") if http_request else "",
                # inputs the server fetched by reference: errors about them do not quote them
                "fetched": getattr(wps_request, "fetched", None) or {},
                "answer": str(answer),
                # the worker runs it with the settings of the service that accepted it
                "settings": base64.b64encode(pickle.dumps(settings)).decode(),
            }
        )
    )
    backend = _backend()
    try:
        ref = backend.start(
            key,
            [sys.executable, "-m", "cp4cds_wps.jobs.sync_worker", str(handover)],
            env={k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)},
            wall_time=settings.timeout,
            memory_mb=settings.jobs.memory_mb,
            log_path=settings.var_dir / "log" / "sync-executes.log",
        )
        exitcode = backend.wait(ref, settings.timeout)
        if exitcode is None:
            backend.stop(ref)
            # the client can do something about it: HTTP 400 (OWSLib and birdy show its text)
            failure = NoApplicableCode(
                f"exceeded the time limit of {settings.timeout} s for synchronous executions; "
                "execute it asynchronously (storeExecuteResponse=true&status=true)",
                code=400,
            )
        elif answer.is_file():
            return _apply(json.loads(answer.read_text()), wps_response)
        else:
            failure = NoApplicableCode(
                f"the process computing the result ended unexpectedly ({_ended(exitcode)})",
                code=500,
            )
    finally:
        handover.unlink(missing_ok=True)
        answer.unlink(missing_ok=True)
    # what the worker had written is incomplete
    shutil.rmtree(settings.output_dir / str(process.uuid), ignore_errors=True)
    raise failure


def _ended(exitcode: int) -> str:
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _apply(answer: dict, wps_response):
    """Fill ``wps_response`` with the worker's answer (see ``sync_worker.answer``)."""
    from pywps import exceptions

    if "exception" in answer:
        raised = answer["exception"]
        cls = getattr(exceptions, raised["class"], exceptions.NoApplicableCode)
        raise cls(raised["description"], raised["locator"], raised["code"])
    wps_response.status = answer["status"]
    wps_response.message = answer["message"]
    wps_response.status_percentage = 100
    wps_response.doc = answer["doc"]
    wps_response.content_type = answer["content_type"]
    for identifier, raw in answer["raw"].items():
        data = base64.b64decode(raw["data"])
        wps_response.outputs[identifier].data = data.decode() if raw["text"] else data
    return wps_response
