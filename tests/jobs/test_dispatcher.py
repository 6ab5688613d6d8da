"""The dispatcher with the real local backend and real PyWPS jobs: start, recover, limit,
dismiss, clean up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from cp4cds_wps.jobs.backends.local import LocalBackend
from cp4cds_wps.jobs.dispatcher import Dispatcher
from cp4cds_wps.jobs.pywps_job import job_log
from cp4cds_wps.jobs.store import JobStore, utcnow

from .conftest import QUICK, SLOW, status_document, submit

pytestmark = pytest.mark.realdata

PRELOAD = ("cp4cds_wps.processes",)


@pytest.fixture
def dispatcher(service_env, service_settings, wps) -> Dispatcher:
    return Dispatcher(service_settings, env=service_env, preload=PRELOAD)


def run_until(dispatcher: Dispatcher, done, timeout: float = 60) -> None:
    """Run dispatcher rounds until ``done()`` is true."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        dispatcher.tick()
        time.sleep(0.1)


def final(store: JobStore, *job_ids: str):
    return lambda: all(store.get(job_id).final for job_id in job_ids)


def test_runs_waiting_jobs_within_max_running(dispatcher, wps, service_settings):
    store = dispatcher.store
    jobs = [submit(wps, QUICK) for _ in range(3)]
    dispatcher.tick()
    assert store.counts()["running"] == 2  # max_running default
    assert store.get(jobs[2]).state == "accepted"
    run_until(dispatcher, final(store, *jobs))
    for job_id in jobs:
        job = store.get(job_id)
        assert (job.state, job.progress, job.attempts) == ("succeeded", 100, 1)
        assert sorted(job.outputs) == ["output", "prov", "prov_plot"]
        assert job.outputs["output"].startswith(f"{service_settings.output_url}/{job_id}/")
        assert "ProcessSucceeded" in status_document(service_settings, job_id)
    # one job never ran beside more than one other
    spans = [(store.get(j).started, store.get(j).finished) for j in jobs]
    for start, _ in spans:
        assert sum(s <= start < f for s, f in spans) <= 2


def wait_running(store: JobStore, job_id: str, dispatcher: Dispatcher):
    """Dispatch until the job's worker reports (has a heartbeat)."""
    run_until(dispatcher, lambda: store.get(job_id).heartbeat is not None)
    return store.get(job_id)


def test_dead_worker_fails_the_job(dispatcher, wps, service_settings):
    store = dispatcher.store
    job_id = submit(wps, SLOW)
    job = wait_running(store, job_id, dispatcher)
    os.kill(int(job.backend_ref), signal.SIGKILL)
    run_until(dispatcher, final(store, job_id), timeout=10)
    job = store.get(job_id)
    assert job.state == "failed"
    assert job.message == (
        f"worker died: local worker {job.backend_ref} ended without reporting a result"
    )
    document = status_document(service_settings, job_id)
    assert "ProcessFailed" in document and "worker died" in document
    assert not (service_settings.output_dir / job_id).exists()


@pytest.mark.jobs_settings(heartbeat_timeout=1)
def test_silent_worker_is_stopped_and_failed(dispatcher, wps, service_settings):
    store = dispatcher.store
    job_id = submit(wps, QUICK)
    store.claim_next("local")
    # a live process that never reports, as a hung worker
    ref = dispatcher.backend.start(
        job_id,
        ["sleep", "60"],
        env={},
        wall_time=60,
        memory_mb=100,
        log_path=job_log(service_settings, job_id),
    )
    store.set_started(job_id, ref)
    time.sleep(1.2)
    dispatcher.tick()
    job = store.get(job_id)
    assert job.state == "failed"
    assert job.message.startswith(f"worker died: no heartbeat from local worker {ref} for ")
    assert dispatcher.backend.state(ref) == "gone"
    assert "worker died: no heartbeat" in status_document(service_settings, job_id)


@pytest.mark.jobs_settings(heartbeat_timeout=1)
def test_job_claimed_but_never_started_runs_again_once(dispatcher, wps):
    store = dispatcher.store
    job_id = submit(wps, QUICK)
    store.claim_next("local")  # as a dispatcher that stopped before starting the worker
    dispatcher.tick()
    assert store.get(job_id).attempts == 1  # within the heartbeat timeout: left alone
    time.sleep(1.2)
    run_until(dispatcher, final(store, job_id))
    job = store.get(job_id)
    assert (job.state, job.attempts) == ("succeeded", 2)


def test_worker_that_never_begins_is_retried_once_then_failed(
    service_env, service_settings, wps, tmp_path
):
    # workers told to use another database find no job and end before beginning it
    env = {**service_env, "CP4CDS_WPS_JOBS__DATABASE": f"sqlite:///{tmp_path / 'other.sqlite'}"}
    dispatcher = Dispatcher(service_settings, env=env, preload=PRELOAD)
    store = dispatcher.store
    job_id = submit(wps, QUICK)
    run_until(dispatcher, final(store, job_id))
    job = store.get(job_id)
    assert (job.state, job.attempts) == ("failed", 2)
    assert job.message == (
        f"worker died before starting: local worker {job.backend_ref} ended before it began "
        "the job (2 attempts)"
    )
    assert "worker died before starting" in status_document(service_settings, job_id)


@pytest.mark.jobs_settings(wall_time=1)
def test_wall_time(dispatcher, wps, service_settings):
    store = dispatcher.store
    job_id = submit(wps, SLOW)
    run_until(dispatcher, final(store, job_id))
    job = store.get(job_id)
    assert (job.state, job.message) == ("failed", "exceeded the wall time of 1 s")
    assert dispatcher.backend.state(job.backend_ref) == "gone"
    assert "exceeded the wall time of 1 s" in status_document(service_settings, job_id)


class QueueingBackend(LocalBackend):
    """The local backend, with jobs held in a queue (as Slurm's) until ``release``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.queued = True

    def state(self, ref: str):
        return "pending" if self.queued else super().state(ref)


@pytest.mark.jobs_settings(heartbeat_timeout=1, wall_time=1)
def test_limits_count_from_when_a_queued_job_runs(service_env, service_settings, wps):
    backend = QueueingBackend(preload=PRELOAD)
    dispatcher = Dispatcher(service_settings, backend=backend, env=service_env)
    job_id = submit(wps, SLOW)
    dispatcher.tick()
    time.sleep(1.5)  # longer than both limits, but waiting in the backend's queue
    dispatcher.tick()
    assert dispatcher.store.get(job_id).state == "running"
    backend.queued = False
    dispatcher.tick()
    assert dispatcher.store.get(job_id).state == "running"
    run_until(dispatcher, final(dispatcher.store, job_id))
    assert dispatcher.store.get(job_id).message == "exceeded the wall time of 1 s"


def test_dismiss_stops_the_worker_and_removes_files(dispatcher, wps, service_settings):
    store = dispatcher.store
    job_id = submit(wps, SLOW)
    job = wait_running(store, job_id, dispatcher)
    workdir = json.loads(job.payload)["process"]["workdir"]
    assert os.path.isdir(workdir)
    store.request_dismiss(job_id)
    dispatcher.tick()
    job = store.get(job_id)
    assert (job.state, job.message) == ("dismissed", "dismissed on request")
    assert dispatcher.backend.state(job.backend_ref) == "gone"
    assert not os.path.exists(workdir)
    assert not (service_settings.output_dir / job_id).exists()
    assert "dismissed on request" in status_document(service_settings, job_id)


def test_dismissed_waiting_job_gets_a_final_status_document(dispatcher, wps, service_settings):
    store = dispatcher.store
    job_id = submit(wps, QUICK)
    workdir = json.loads(store.get(job_id).payload)["process"]["workdir"]
    assert "ProcessAccepted" in status_document(service_settings, job_id)
    assert store.request_dismiss(job_id).state == "dismissed"
    dispatcher.tick()
    document = status_document(service_settings, job_id)
    assert "ProcessFailed" in document and "dismissed before it started" in document
    assert not os.path.exists(workdir)
    assert store.get(job_id).state == "dismissed"


def test_status_document_a_worker_could_not_end_is_ended_once_it_can(
    dispatcher, wps, service_settings, monkeypatch
):
    """A worker whose output folder was full could not write its job's final status
    document: the dispatcher writes it, trying each round until it can."""
    from cp4cds_wps.jobs import dispatcher as module

    store = dispatcher.store
    job_id = submit(wps, QUICK)
    store.claim_next("local")
    store.finish(job_id, "failed", "no space left on the device of the output folder")
    writes = []

    def no_space_yet(payload, message):
        writes.append(message)
        if len(writes) == 1:
            raise OSError(28, "No space left on device")
        real_fail(payload, message)

    real_fail = module.fail_status_document
    monkeypatch.setattr(module, "fail_status_document", no_space_yet)
    dispatcher.tick()
    assert "ProcessAccepted" in status_document(service_settings, job_id)
    dispatcher.tick()
    document = status_document(service_settings, job_id)
    assert "ProcessFailed" in document and "no space left on the device" in document
    dispatcher.tick()
    assert len(writes) == 2  # once written, left alone


@pytest.mark.jobs_settings(retention_days=3)
def test_cleanup_removes_jobs_after_the_retention(dispatcher, wps, service_settings):
    store = dispatcher.store
    old = submit(wps, QUICK)
    run_until(dispatcher, final(store, old))
    files = [
        service_settings.output_dir / old,
        service_settings.output_dir / f"{old}.xml",
        job_log(service_settings, old),
    ]
    assert all(path.exists() for path in files)
    dismissed = submit(wps, QUICK)
    store.request_dismiss(dismissed)  # ends after the first
    assert dispatcher.cleanup(utcnow() + timedelta(days=2, hours=23)) == []
    assert dispatcher.cleanup(utcnow() + timedelta(days=3, seconds=5)) == [old, dismissed]
    assert store.list() == []
    assert not any(path.exists() for path in files)


@pytest.mark.jobs_settings(retention_days=3)
def test_cleanup_removes_old_outputs_of_synchronous_requests(dispatcher, service_settings):
    synchronous = service_settings.output_dir / "0f1e2d3c-sync"
    synchronous.mkdir(parents=True)
    (synchronous / "result.json").write_text("{}")
    dispatcher.cleanup(utcnow() + timedelta(days=2))
    assert synchronous.exists()
    dispatcher.cleanup(utcnow() + timedelta(days=3, seconds=5))
    assert not synchronous.exists()


def test_cleanup_sweeps_what_dead_web_server_processes_left(dispatcher, wps, service_settings):
    queued = submit(wps, QUICK)  # its working folder stays until it runs
    queued_folder = json.loads(dispatcher.store.get(queued).payload)["process"]["workdir"]
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname().replace("_", "-")
    orphan = service_settings.work_dir / f"pywps_process_{host}_{child.pid}_x1y2"
    orphan.mkdir()
    dispatcher.cleanup()
    assert not orphan.exists()
    assert os.path.isdir(queued_folder)
