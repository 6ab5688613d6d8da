"""PyWPS's side of a stored job: rebuild it from its JSON, end its status document, files.

A job's payload is PyWPS's own ``Job.json`` (the process and the request); rebuilding it
gives the objects that write the WPS 1.0 status document at ``<outputurl>/<uuid>.xml``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cp4cds_wps.config import Settings
from cp4cds_wps.jobs.store import JobStore, request_log_engine
from cp4cds_wps.pywps_templates import share_templates


def pywps_config_file(settings: Settings) -> Path:
    """PyWPS's configuration file, written by ``cp4cds_wps.app.prepare``."""
    return settings.var_dir / "pywps.cfg"


def load_pywps_config(settings: Settings) -> None:
    """Load PyWPS's configuration of this service into this process.

    PyWPS then keeps its request log through the job store's engine (see
    :func:`share_request_log`) and compiles its response templates once
    (:func:`cp4cds_wps.pywps_templates.share_templates`).

    Raises
    ------
    FileNotFoundError
        When the service was never prepared (``cp4cds-wps start`` writes the file).
    """
    from pywps import configuration

    path = pywps_config_file(settings)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: start the service once to write it")
    configuration.load_configuration([str(path)])
    JobStore.from_settings(settings)  # its tables; its connections stay open in this process
    share_request_log(settings)
    share_templates()


def share_request_log(settings: Settings) -> None:
    """Make PyWPS keep its request log (in the job database) through our engine for it,
    :func:`cp4cds_wps.jobs.store.request_log_engine`, and create its tables when missing.

    PyWPS's own engine commits with a full sync and gives up on a lock after 5 s: some
    30 ms of each job submission, and an HTTP 500 while another process holds the database.
    """
    from pywps import configuration, dblog
    from sqlalchemy.orm import sessionmaker

    engine = request_log_engine(settings.jobs.database)
    dblog.ProcessInstance.metadata.create_all(engine)
    dblog._SESSION_MAKER = sessionmaker(bind=engine)
    dblog._SESSION_MAKER_DATABASE = configuration.get_config_value("logging", "database")


#: Modules of process classes that jobs queued by earlier versions name, and where the
#: classes are now (made from the operation registry, see :mod:`cp4cds_wps.processes`).
MOVED_PROCESSES = {
    f"cp4cds_wps.processes.{name}": "cp4cds_wps.processes"
    for name in ("subset", "average", "average_time", "average_shape", "regrid", "concat")
}


def rebuild_job(payload: str, settings: Settings | None = None):
    """The ``pywps.processing.job.Job`` stored as ``payload``, its process set up to run
    with ``settings`` (the service's)."""
    from pywps.processing.job import Job

    value = json.loads(payload)
    value["process"]["class"] = process_class_path(value["process"]["class"])
    job = Job.from_json(value)
    restore = getattr(job.process, "restore", None)
    if restore is not None:  # what the process made when the request was accepted
        restore(value["process"], settings)
    return job


def process_class_path(path: str) -> str:
    """Where the process class a job names (``module:Class``) is now."""
    module, name = path.split(":")
    return f"{MOVED_PROCESSES.get(module, module)}:{name}"


def fail_status_document(payload: str, message: str) -> None:
    """Rewrite the job's WPS 1.0 status document as failed with ``message``.

    Also removes PyWPS's working folder of the job.
    """
    from pywps.response.status import WPS_STATUS

    rebuild_job(payload).wps_response._update_status(WPS_STATUS.FAILED, message, 100)


def job_workdir(payload: str) -> str | None:
    """PyWPS's working folder of the job stored as ``payload``."""
    return json.loads(payload).get("process", {}).get("workdir")


def remove_job_files(settings: Settings, job_id: str, payload: str, *, everything: bool) -> None:
    """Remove a job's outputs and working folder; with ``everything`` also its status
    document and log."""
    shutil.rmtree(settings.output_dir / job_id, ignore_errors=True)
    workdir = job_workdir(payload)
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    if everything:
        (settings.output_dir / f"{job_id}.xml").unlink(missing_ok=True)
        job_log(settings, job_id).unlink(missing_ok=True)


def job_log(settings: Settings, job_id: str) -> Path:
    """Where the worker of job ``job_id`` writes its output."""
    return settings.var_dir / "log" / "jobs" / f"{job_id}.log"
