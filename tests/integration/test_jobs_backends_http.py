"""The job scenarios of test_jobs_http on the remote backends: a real one-node Slurm cluster
and a real dask.distributed scheduler with a worker, through the HTTP interface.

Only the scenarios where a remote backend behaves differently run here: how jobs wait and
run two at a time, a worker killed, the wall time, and a new dispatcher finding the jobs
running on the cluster after a restart (the dispatcher killed by -9 comes back the same way
on every backend: tests/integration/test_faults_http.py runs it on the local one)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ..jobs.conftest import QUICK, SLOW
from .conftest import _free_port
from .test_jobs_http import Service, final_document, job_id, restart_loses_no_job, service

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """Address of a dask scheduler with one worker of two threads, on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "2", "--host",
         "127.0.0.1", "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def backend_settings(request, backend: str) -> dict[str, object]:
    """[jobs] settings selecting ``backend``; skips Slurm where no cluster was set up."""
    if backend == "slurm":
        if not os.environ.get("CP4CDS_WPS_TEST_SLURM") or not shutil.which("sbatch"):
            pytest.skip(
                "needs a Slurm cluster: run .ci/setup-slurm.sh, set CP4CDS_WPS_TEST_SLURM=1"
            )
        return {"backend": "slurm"}
    return {"backend": "dask", "dask_scheduler": request.getfixturevalue("dask_scheduler")}


@pytest.fixture(scope="module", params=["slurm", "dask"])
def remote(request, settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """A service whose jobs run on Slurm or on Dask, two at a time."""
    settings = backend_settings(request, request.param)
    var_dir = tmp_path_factory.mktemp(request.param)
    with service(settings_env, var_dir, inventory=inventory_db, max_running=2, max_queued=50,
                 **settings) as running:  # fmt: skip
        yield running


@pytest.fixture(params=["slurm", "dask"])
def backend(request) -> dict[str, object]:
    """[jobs] settings of a remote backend, for tests that start services of their own."""
    return backend_settings(request, request.param)


def worker_pids(job: str) -> list[int]:
    """Processes of this machine running the worker of ``job``, whatever started them."""
    found = subprocess.run(
        ["pgrep", "-f", f"cp4cds_wps.jobs.worker {job}"], capture_output=True, text=True
    )
    return [int(pid) for pid in found.stdout.split()]


#: Jobs submitted to a remote backend two at a time: three rounds of two (every job there is
#: a fresh interpreter, some 2.5 s of CPU).
REMOTE_JOBS = 6


def test_jobs_run_two_at_a_time_and_all_succeed(remote):
    status_urls = [remote.submit(QUICK) for _ in range(REMOTE_JOBS)]
    documents = [final_document(url, timeout=300) for url in status_urls]
    assert sum("ProcessSucceeded" in document for document in documents) == REMOTE_JOBS
    jobs = [remote.store.get(job_id(url)) for url in status_urls]
    assert {job.state for job in jobs} == {"succeeded"}
    assert {job.backend for job in jobs} == {remote.env["CP4CDS_WPS_JOBS__BACKEND"]}
    for job in jobs:
        assert sum(o.started <= job.started < o.finished for o in jobs) <= 2


def test_killed_worker_fails_its_job(remote):
    status_url = remote.submit(SLOW)
    deadline = time.monotonic() + 120
    # once the worker reported in (a job killed before that is re-queued once, by design)
    while remote.store.get(job_id(status_url)).heartbeat is None or not (
        pids := worker_pids(job_id(status_url))
    ):
        assert time.monotonic() < deadline, remote.store.get(job_id(status_url))
        time.sleep(0.1)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    document = final_document(status_url, timeout=180)
    assert "ProcessFailed" in document and "worker died" in document
    assert remote.store.get(job_id(status_url)).state == "failed"


def test_restart_loses_no_job(settings_env, tmp_path, inventory_db, backend):
    restart_loses_no_job(settings_env, tmp_path / "var", inventory_db, **backend)


def test_wall_time_exceeded(settings_env, tmp_path, inventory_db, backend):
    with service(settings_env, tmp_path / "var", inventory=inventory_db, wall_time=2,
                 **backend) as running:  # fmt: skip
        status_url = running.submit(SLOW)
        document = final_document(status_url, timeout=180)
        assert "ProcessFailed" in document and "exceeded the wall time of 2 s" in document
        job = running.store.get(job_id(status_url))
        assert (job.state, job.message) == ("failed", "exceeded the wall time of 2 s")
        deadline = time.monotonic() + 60
        while worker_pids(job.id):  # the worker was stopped, not left running
            assert time.monotonic() < deadline, worker_pids(job.id)
            time.sleep(0.5)
