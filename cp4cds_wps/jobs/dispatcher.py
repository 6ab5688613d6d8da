"""The dispatcher: starts queued jobs on the backend, recovers dead ones, enforces limits.

One round (:meth:`Dispatcher.tick`) looks at every running job (worker gone or silent ->
failed "worker died"; never started -> queued again once; over its wall time -> stopped and
failed; dismissal requested -> stopped and dismissed), starts waiting jobs while fewer than
``max_running`` run, ends the status documents of jobs that ended without a worker to write
them (dismissed before they started; failed on a full output folder), and now and then
removes jobs older than ``retention_days``. Everything
it decides is read from and written to the job store, so a restarted dispatcher carries on.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cp4cds_wps.config import ENV_PREFIX, Settings
from cp4cds_wps.jobs.backends import Backend, backend_from_settings
from cp4cds_wps.jobs.pywps_job import (
    fail_status_document,
    job_log,
    job_workdir,
    load_pywps_config,
    remove_job_files,
)
from cp4cds_wps.jobs.store import JobRecord, JobStore, NoSuchJob, utcnow
from cp4cds_wps.jobs.work_folders import sweep

LOG = logging.getLogger(__name__)

#: Times a job is started before a worker that never begins it counts as a failure.
MAX_ATTEMPTS = 2
#: Seconds between two removals of expired jobs.
CLEANUP_INTERVAL = 60.0
#: What a final WPS 1.0 status document holds.
FINAL_STATUS = re.compile(r"<wps:Process(Succeeded|Failed)\b")


def worker_command(job_id: str) -> list[str]:
    """The command that runs job ``job_id``."""
    return [sys.executable, "-m", "cp4cds_wps.jobs.worker", job_id]


class Dispatcher:
    """Starts, watches and ends the jobs of one service.

    Parameters
    ----------
    settings
        The service's settings.
    backend
        Where workers run; default: the one named in the settings.
    env
        Environment given to workers so that they load the same settings; default: the
        ``CP4CDS_WPS_*`` variables of this process.
    preload
        Modules the local backend imports once for all workers.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend | None = None,
        env: Mapping[str, str] | None = None,
        preload: Sequence[str] = (),
    ):
        self.settings = settings
        self.limits = settings.jobs
        self.store = JobStore.from_settings(settings)
        self.backend = backend or backend_from_settings(settings, preload=preload)
        if env is None:
            env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
        self.env = dict(env)
        self._stop = threading.Event()
        self._next_cleanup = 0.0
        # ended jobs whose status documents are to be checked, and since when to look
        self._unended: dict[str, JobRecord] = {}
        self._ended_since: datetime | None = None
        # when jobs seen waiting in the backend's queue (None) began to run (wall time and
        # heartbeat count from there; other jobs count from when they were started)
        self._since: dict[str, datetime | None] = {}
        load_pywps_config(settings)

    def run_forever(self, poll: float = 0.2) -> None:
        """Run rounds every ``poll`` seconds until SIGTERM or SIGINT (or :meth:`stop`)."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stop.set())
        LOG.info("dispatcher started: backend %s", self.backend.name)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the service
                LOG.exception("dispatcher round failed")
            self._stop.wait(poll)
        LOG.info("dispatcher stopped")

    def stop(self) -> None:
        """Make :meth:`run_forever` return after the current round."""
        self._stop.set()

    def tick(self) -> None:
        """One round: watch running jobs, start waiting ones, remove expired ones."""
        for job in self.store.list(["running"]):
            self._watch(job)
        self._end_status_documents()
        self._start_waiting()
        now = utcnow()
        if now.timestamp() >= self._next_cleanup:
            self.cleanup(now)
            self._next_cleanup = now.timestamp() + CLEANUP_INTERVAL

    def cleanup(self, now: datetime | None = None) -> list[str]:
        """Remove jobs (records, outputs, status documents, logs) older than the retention,
        the outputs of synchronous requests as old, and what web server processes that
        died left in the work folder (see :func:`cp4cds_wps.jobs.work_folders.sweep`).

        Returns
        -------
        list of str
            Ids of the removed jobs.
        """
        now = now or utcnow()
        cutoff = now - timedelta(days=self.limits.retention_days)
        removed = []
        for job in self.store.expired(cutoff):
            remove_job_files(self.settings, job.id, job.payload, everything=True)
            self.store.delete(job.id)
            removed.append(job.id)
        self._remove_old_outputs(cutoff)
        active = self.store.list(["accepted", "running"])
        sweep(self.settings.work_dir, keep=[job_workdir(job.payload) or "" for job in active])
        return removed

    def _remove_old_outputs(self, cutoff: datetime) -> None:
        """Remove outputs of synchronous requests (main WPS and meta-WPS, which have no job
        record) last changed before ``cutoff``; folders of jobs still recorded stay."""
        if not self.settings.output_dir.is_dir():
            return
        for path in self.settings.output_dir.iterdir():
            if path.is_dir() and path.stat().st_mtime < cutoff.timestamp():
                try:
                    self.store.get(path.name)
                except NoSuchJob:
                    shutil.rmtree(path, ignore_errors=True)

    def _watch(self, job: JobRecord) -> None:
        now = utcnow()
        if job.backend_ref is None:
            # claimed, but the dispatcher that claimed it stopped before starting it
            if now - job.started > timedelta(seconds=self.limits.heartbeat_timeout):
                self._never_started(job, "its worker was never started")
            return
        state = self.backend.state(job.backend_ref)
        job = self.store.get(job.id)  # the worker may have reported meanwhile
        if job.final:
            self._since.pop(job.id, None)
            return
        where = f"{self.backend.name} worker {job.backend_ref}"
        if job.dismiss_requested:
            self._end(job, "dismissed", "dismissed on request")
        elif state == "gone" and job.heartbeat is None:
            self._never_started(job, f"{where} ended before it began the job")
        elif state == "gone":
            self._end(job, "failed", f"worker died: {where} ended without reporting a result")
        elif state == "pending":
            self._since[job.id] = None
        else:
            since = self._since.get(job.id, job.started)
            if since is None:  # left the backend's queue since the last round
                since = self._since[job.id] = now
            silent = now - (job.heartbeat or since)
            if silent > timedelta(seconds=self.limits.heartbeat_timeout):
                seconds = int(silent.total_seconds())
                self._end(job, "failed", f"worker died: no heartbeat from {where} for {seconds} s")
            elif now - since > timedelta(seconds=self.limits.wall_time):
                self._end(job, "failed", f"exceeded the wall time of {self.limits.wall_time} s")

    def _end_status_documents(self) -> None:
        """End the status documents (and remove the files) of jobs that ended without a
        worker to write them: dismissed before they started, or failed where their worker
        could not (the output folder was full). Tried again each round until written."""
        now = utcnow()
        ended = self.store.list(["failed", "dismissed"], finished_after=self._ended_since)
        self._ended_since = now - timedelta(seconds=5)  # a margin for clocks of other hosts
        self._unended.update({job.id: job for job in ended})
        for job in list(self._unended.values()):
            status = self.settings.output_dir / f"{job.id}.xml"
            try:
                if status.is_file() and not FINAL_STATUS.search(status.read_text()):
                    fail_status_document(job.payload, job.message)
                    remove_job_files(self.settings, job.id, job.payload, everything=False)
            except Exception as err:  # e.g. still no space: next round
                LOG.warning("status document of job %s not ended yet: %s", job.id, err)
                continue
            del self._unended[job.id]

    def _never_started(self, job: JobRecord, reason: str) -> None:
        if job.attempts < MAX_ATTEMPTS:
            LOG.warning("job %s queued again: %s", job.id, reason)
            self.store.requeue(job.id, f"queued again: {reason}")
        else:
            self._end(job, "failed", f"worker died before starting: {reason} "
                      f"({job.attempts} attempts)")  # fmt: skip

    def _end(self, job: JobRecord, state: str, message: str) -> None:
        """End a job abnormally: stop its worker, record it, fail its status document."""
        self._since.pop(job.id, None)
        if job.backend_ref is not None:
            self.backend.stop(job.backend_ref)
        if not self.store.finish(job.id, state, message):
            return  # the worker, or another dispatcher, ended it first
        LOG.warning("job %s %s: %s", job.id, state, message)
        try:
            fail_status_document(job.payload, message)
        except Exception:
            LOG.exception("could not rewrite the status document of job %s", job.id)
        remove_job_files(self.settings, job.id, job.payload, everything=False)

    def _start_waiting(self) -> None:
        running = self.store.counts()["running"]
        while running < self.limits.max_running:
            job = self.store.claim_next(self.backend.name)
            if job is None:
                return
            running += 1
            try:
                ref = self.backend.start(
                    job.id,
                    worker_command(job.id),
                    env=self.env,
                    wall_time=self.limits.wall_time,
                    memory_mb=self.limits.memory_mb,
                    log_path=job_log(self.settings, job.id),
                )
            except Exception as err:
                LOG.exception("could not start job %s", job.id)
                self._end(job, "failed", f"could not start a worker: {err}")
                continue
            self.store.set_started(job.id, ref)


def main(settings: Settings, preload: Sequence[str] = ()) -> None:
    """Run a dispatcher for ``settings`` until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Dispatcher(settings, preload=preload).run_forever()
