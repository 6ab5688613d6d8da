"""The worker: runs one stored job in this process (``python -m cp4cds_wps.jobs.worker ID``).

It rebuilds PyWPS's job from the store, runs it (PyWPS writes the WPS 1.0 status documents
and outputs as usual), reports progress and a heartbeat to the store while it runs, and
records the result.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lxml import etree

from cp4cds_wps.config import Settings, get_settings
from cp4cds_wps.errors import NoSpaceLeft
from cp4cds_wps.jobs.pywps_job import fail_status_document, load_pywps_config, rebuild_job
from cp4cds_wps.jobs.store import JobStore, NoSuchJob
from cp4cds_wps.output.space import out_of_space

WPS_NS = "http://www.opengis.net/wps/1.0.0"
OWS_NS = "http://www.opengis.net/ows/1.1"


def memory_message(memory_mb: int) -> str:
    """Failure message of a job that ran out of its memory limit."""
    return f"exceeded the memory limit of {memory_mb} MiB"


def own_ref() -> str:
    """This worker's backend reference: the Slurm job id under Slurm, else the pid."""
    return os.environ.get("SLURM_JOB_ID") or str(os.getpid())


@contextmanager
def heartbeats(store: JobStore, job_id: str, interval: float) -> Iterator[None]:
    """Send a heartbeat for the job every ``interval`` seconds while the block runs."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(interval):
            try:
                store.heartbeat(job_id)
            except Exception as err:  # a missed beat is not fatal; the next one may work
                logging.getLogger(__name__).warning("heartbeat failed: %s", err)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def output_urls(status_document: str | bytes | None) -> dict[str, str]:
    """Output identifier -> URL of the references in a WPS 1.0 status document."""
    if not status_document:
        return {}
    if isinstance(status_document, str):
        status_document = status_document.encode()
    try:
        root = etree.fromstring(status_document)
    except etree.XMLSyntaxError:
        return {}
    urls = {}
    for output in root.iter(f"{{{WPS_NS}}}Output"):
        ref = output.find(f"{{{WPS_NS}}}Reference")
        if ref is not None:
            urls[output.findtext(f"{{{OWS_NS}}}Identifier")] = ref.get("href")
    return urls


def own_pywps_lock() -> None:
    """Give this process its own lock around PyWPS's database setup.

    ``pywps.dblog`` guards the creation of its database engine with a ``multiprocessing``
    lock made when it is imported. Workers forked from the local backend's fork server
    share that one semaphore, so a worker killed while holding it (kill -9, wall time,
    dismissal) left every later worker waiting for it for good. Engines are never shared
    between processes, so a lock of this process is all PyWPS needs.
    """
    from pywps import dblog

    dblog.lock = threading.Lock()


def guard_memory(handler: Callable, memory_mb: int) -> Callable:
    """``handler``, with a MemoryError turned into a readable process failure."""
    from pywps.app.exceptions import ProcessError

    def guarded(request, response):
        try:
            return handler(request, response)
        except MemoryError as err:
            raise ProcessError(memory_message(memory_mb)) from err

    return guarded


def _report_progress(response, store: JobStore, job_id: str) -> None:
    """Copy every status update of the running job into the store."""
    from pywps.response.status import WPS_STATUS

    update = response._update_status

    def update_and_store(status, message, status_percentage, clean=True):
        update(status, message, status_percentage, clean)
        if status == WPS_STATUS.STARTED:
            store.set_progress(job_id, int(status_percentage or 0), str(message))

    response._update_status = update_and_store


def run(store: JobStore, job_id: str, payload: str, settings: Settings) -> tuple[str, str, dict]:
    """Run the job with the service's ``settings``; return its final state, message and
    output URLs."""
    from pywps.response.status import WPS_STATUS

    job = rebuild_job(payload, settings)
    job.process.handler = guard_memory(job.process.handler, settings.jobs.memory_mb)
    _report_progress(job.wps_response, store, job_id)
    job.run()
    response = job.wps_response
    if response.status == WPS_STATUS.SUCCEEDED:
        return "succeeded", str(response.message), output_urls(response.doc)
    return "failed", str(response.message), {}


def _run_reporting_failures(
    store: JobStore, job_id: str, payload: str, settings: Settings
) -> tuple[str, str, dict]:
    """:func:`run`; a failure outside PyWPS's handling also ends the status document."""
    try:
        load_pywps_config(settings)
        return run(store, job_id, payload, settings)
    except MemoryError:
        message = memory_message(settings.jobs.memory_mb)
    except Exception as err:
        logging.exception("job %s failed outside its process", job_id)
        # e.g. PyWPS could not write the status document into a full output folder
        full = out_of_space(err, settings.output_dir)
        message = str(NoSpaceLeft()) if full else f"worker error: {err}"
    try:
        fail_status_document(payload, message)
    except Exception:
        logging.exception("could not rewrite the status document of job %s", job_id)
    return "failed", message, {}


def main(job_id: str) -> int:
    """Run job ``job_id`` of the configured service.

    Returns
    -------
    int
        0 when the job succeeded, 1 when it failed, 2 when it was not there to run.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    own_pywps_lock()
    settings = get_settings()
    store = JobStore.from_settings(settings)
    try:
        job = store.get(job_id)
    except NoSuchJob as err:
        print(f"cp4cds-wps worker: {err}", file=sys.stderr)
        return 2
    if job.state != "running":
        print(f"cp4cds-wps worker: job {job_id} is {job.state}, not running", file=sys.stderr)
        return 2
    if job.backend_ref is None:
        store.set_started(job_id, own_ref())
    store.heartbeat(job_id)
    interval = max(0.5, min(10.0, settings.jobs.heartbeat_timeout / 4))
    with heartbeats(store, job_id, interval):
        state, message, outputs = _run_reporting_failures(store, job_id, job.payload, settings)
        store.finish(job_id, state, message, outputs)
    return 0 if state == "succeeded" else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m cp4cds_wps.jobs.worker JOB_ID")
    sys.exit(main(sys.argv[1]))
