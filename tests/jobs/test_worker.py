"""The worker: runs a stored PyWPS job, reports progress and heartbeat, records the result."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cp4cds_wps.jobs import worker
from cp4cds_wps.jobs.store import JobStore

from .conftest import QUICK, STEPS, status_document, submit

pytestmark = pytest.mark.realdata


@pytest.fixture
def store(service_settings, wps) -> JobStore:
    return JobStore.from_settings(service_settings)


def start_worker(job_id: str) -> subprocess.Popen:
    """The worker command, as a backend runs it (the service's settings are in os.environ;
    data is read in another process, as netCDF/HDF5 must not be used by this one's threads)."""
    return subprocess.Popen([sys.executable, "-m", "cp4cds_wps.jobs.worker", job_id])


def test_runs_a_claimed_job_and_records_its_outputs(store, wps, service_settings):
    job_id = submit(wps, QUICK)
    store.claim_next("local")
    process = start_worker(job_id)
    assert process.wait(timeout=60) == 0
    job = store.get(job_id)
    assert (job.state, job.progress, job.message) == (
        "succeeded", 100, "PyWPS Process Subset finished"
    )  # fmt: skip
    assert job.backend_ref == str(process.pid)  # nobody had set it: the worker's own
    assert job.heartbeat is not None and job.finished >= job.heartbeat
    assert sorted(job.outputs) == ["output", "prov", "prov_plot"]
    for url in job.outputs.values():
        relpath = url.removeprefix(f"{service_settings.output_url}/")
        assert (service_settings.output_dir / relpath).is_file()
    document = status_document(service_settings, job_id)
    assert "ProcessSucceeded" in document
    assert all(url in document for url in job.outputs.values())


def test_reports_progress_to_the_store(store, wps):
    job_id = submit(wps, STEPS)
    store.claim_next("local")
    seen: set[int] = set()
    process = start_worker(job_id)
    while process.poll() is None:
        seen.add(store.get(job_id).progress)
        time.sleep(0.05)
    assert store.get(job_id).state == "succeeded"
    assert any(0 < percent < 100 for percent in seen), seen


def test_a_worker_killed_in_pywps_database_setup_blocks_no_later_worker(store, wps):
    # PyWPS guards its database setup with a multiprocessing lock that all workers forked
    # from the local backend's fork server shared: one killed while holding it hung the rest
    job_id = submit(wps, QUICK)
    store.claim_next("local")
    code = (
        "import os, sys, pywps.dblog\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    pywps.dblog.lock.acquire()\n"
        "    os._exit(0)  # ends holding it, as a worker killed there\n"
        "os.waitpid(pid, 0)\n"
        "from cp4cds_wps.jobs import worker\n"
        f"sys.exit(worker.main({job_id!r}))\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert store.get(job_id).state == "succeeded"


def test_memory_error_fails_with_the_limit(store, wps, service_settings, monkeypatch):
    from cp4cds_wps.operations import subset

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(subset, "run_steps", out_of_memory)
    job_id = submit(wps, QUICK)
    store.claim_next("local")
    assert worker.main(job_id) == 1
    job = store.get(job_id)
    limit = service_settings.jobs.memory_mb
    assert (job.state, job.message) == (
        "failed", f"Process error: exceeded the memory limit of {limit} MiB"
    )  # fmt: skip
    assert f"exceeded the memory limit of {limit} MiB" in status_document(service_settings, job_id)


def test_a_job_that_is_not_running_is_left_alone(store, wps, capsys):
    job_id = submit(wps, QUICK)
    assert worker.main(job_id) == 2
    assert f"job {job_id} is accepted, not running" in capsys.readouterr().err
    assert store.get(job_id).state == "accepted"
