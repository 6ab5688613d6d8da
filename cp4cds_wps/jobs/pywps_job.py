"""PyWPS's side of a stored job: rebuild it from its JSON, end its status document, files.

A job's payload is PyWPS's own ``Job.json`` (the process and the request); rebuilding it
gives the objects that write the WPS 1.0 status document at ``<outputurl>/<uuid>.xml``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cp4cds_wps.config import Settings


def pywps_config_file(settings: Settings) -> Path:
    """PyWPS's configuration file, written by ``cp4cds_wps.app.prepare``."""
    return settings.var_dir / "pywps.cfg"


def load_pywps_config(settings: Settings) -> None:
    """Load PyWPS's configuration of this service into this process.

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


def rebuild_job(payload: str):
    """The ``pywps.processing.job.Job`` stored as ``payload``."""
    from pywps.processing.job import Job

    return Job.from_json(json.loads(payload))


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
