"""Asynchronous jobs through the HTTP interface of a real service (started with the CLI):
workers killed, service restarted, 30 jobs at once, wall time, full queue, progress."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from owslib.wps import WebProcessingService

from cp4cds_wps.config import load_settings
from cp4cds_wps.jobs.store import JobStore

from ..conftest import copy_inventory
from ..jobs.conftest import QUICK, SLOW, STEPS
from .conftest import _free_port, cli

pytestmark = pytest.mark.realdata


@dataclass
class Service:
    """A running service of this test module, with its own settings."""

    env: dict[str, str]
    url: str
    store: JobStore

    @property
    def wps_url(self) -> str:
        return f"{self.url}/wps"

    def execute(self, data_inputs: str) -> requests.Response:
        """WPS 1.0 KVP Execute of ``subset``, asynchronous with status updates."""
        query = {
            "service": "WPS",
            "version": "1.0.0",
            "request": "Execute",
            "identifier": "subset",
            "DataInputs": data_inputs,
            "storeExecuteResponse": "true",
            "status": "true",
        }
        return requests.get(f"{self.wps_url}?{urllib.parse.urlencode(query)}", timeout=60)

    def submit(self, data_inputs: str) -> str:
        """Submit a job; return its status document URL."""
        body = self.execute(data_inputs).text
        location = re.search(r'statusLocation="([^"]+)"', body)
        assert location, body
        return location.group(1)

    def diagnosis(self) -> str:
        """What the service's jobs, logs and processes are doing: printed when a test fails,
        so that a stuck job can be understood from the CI log alone."""
        var_dir = Path(self.env["CP4CDS_WPS_PATHS__VAR_DIR"])
        lines = [f"jobs: {self.store.counts()}"]
        pids = _children_named(var_dir / "cp4cds-wps.pid", "dispatcher")
        for job in self.store.list(["running"]):
            lines.append(
                f"running {job.id}: {job.backend} {job.backend_ref} started {job.started} "
                f"heartbeat {job.heartbeat} {job.progress}% {job.message}"
            )
            lines += _tail(var_dir / "log" / "jobs" / f"{job.id}.log")
            if job.backend == "local" and job.backend_ref:
                pids.append(int(job.backend_ref))
        lines += _tail(var_dir / "log" / "service.log")
        for pid in pids:
            dump = subprocess.run(["py-spy", "dump", "--pid", str(pid)], capture_output=True,
                                  text=True, timeout=60)  # fmt: skip
            lines.append(f"py-spy dump {pid}:\n{dump.stdout}{dump.stderr}")
        return "\n".join(lines)

    def wait_active_jobs(self, timeout: float = 120) -> None:
        """Wait until no job is queued or running."""
        deadline = time.monotonic() + timeout
        while (counts := self.store.counts())["accepted"] + counts["running"]:
            assert time.monotonic() < deadline, counts
            time.sleep(0.2)


def _tail(path: Path, lines: int = 30) -> list[str]:
    try:
        return [f"{path.name}: {line}" for line in path.read_text().splitlines()[-lines:]]
    except OSError as err:
        return [f"{path.name}: {err}"]


def _children_named(pid_file: Path, word: str) -> list[int]:
    """Child processes of the pid in ``pid_file`` whose command line contains ``word``."""
    try:
        parent = pid_file.read_text().strip()
    except OSError:
        return []
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rpartition(")")[2].split()[1] == parent and word in (
                stat.with_name("cmdline").read_text()
            ):
                found.append(int(stat.parent.name))
        except OSError:
            continue
    return found


def job_id(status_url: str) -> str:
    return status_url.rsplit("/", 1)[-1].removesuffix(".xml")


def final_document(status_url: str, timeout: float = 120, *, headers: dict | None = None) -> str:
    """Poll a status document (sending ``headers``) until it reports success or failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = requests.get(status_url, headers=headers, timeout=30).text
        if "ProcessSucceeded" in document or "ProcessFailed" in document:
            return document
        time.sleep(0.2)
    raise AssertionError(f"{status_url} did not end within {timeout} s: {document}")


@contextmanager
def service(
    settings_env,
    var_dir: Path,
    server: dict | None = None,
    env: dict | None = None,
    inventory: Path | None = None,
    **jobs,
) -> Iterator[Service]:
    """A service with its own var dir, [server] and [jobs] settings (and more ``env``),
    starting from a copy of the scanned ``inventory`` of its archive if given, stopped at the
    end (after its jobs ended, so that no worker outlives the test)."""
    if inventory is not None:
        copy_inventory(inventory, var_dir)
    env = {
        **os.environ,
        **settings_env,
        **(env or {}),
        "CP4CDS_WPS_PATHS__VAR_DIR": str(var_dir),
        "CP4CDS_WPS_SERVER__BIND": "127.0.0.1",
        "CP4CDS_WPS_SERVER__PORT": str(_free_port()),
        **{
            f"CP4CDS_WPS_SERVER__{key.upper()}": str(value) for key, value in (server or {}).items()
        },
        **{f"CP4CDS_WPS_JOBS__{key.upper()}": str(value) for key, value in jobs.items()},
    }
    started = cli(env, "start", "--daemon")
    assert started.returncode == 0, started.stdout + started.stderr
    running = Service(
        env=env,
        url=f"http://127.0.0.1:{env['CP4CDS_WPS_SERVER__PORT']}",
        store=JobStore.from_settings(load_settings(env=env)),
    )
    try:
        yield running
        running.wait_active_jobs()
    except BaseException:
        print(running.diagnosis())
        raise
    finally:
        stopped = cli(env, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def busy(settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """Two jobs at a time, room for 150 waiting."""
    with service(settings_env, tmp_path_factory.mktemp("busy"), inventory=inventory_db,
                 max_running=2, max_queued=150) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def limited(settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """One job at a time, two waiting, two seconds each."""
    with service(settings_env, tmp_path_factory.mktemp("limited"), inventory=inventory_db,
                 max_running=1, max_queued=2, wall_time=2) as running:  # fmt: skip
        yield running


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_killed_worker_fails_its_job(busy):
    status_url = busy.submit(SLOW)
    deadline = time.monotonic() + 60
    while (job := busy.store.get(job_id(status_url))).heartbeat is None:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    pid = int(job.backend_ref)
    os.kill(pid, signal.SIGKILL)
    document = final_document(status_url)
    assert "ProcessFailed" in document
    assert f"worker died: local worker {pid} ended without reporting a result" in document
    job = busy.store.get(job.id)
    assert (job.state, job.message.startswith("worker died")) == ("failed", True)
    assert not _alive(pid)
    assert busy.store.counts()["running"] == 0


#: Jobs submitted at once by eight client threads: enough that many wait while two run, and
#: that submissions race each other and the dispatcher (``python -m benchmarks.load`` runs
#: 200; here each job costs the suite about a second).
AT_ONCE = 30


def test_many_jobs_at_once_run_two_at_a_time(busy):
    most_running = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal most_running
        while not done.is_set():
            most_running = max(most_running, busy.store.counts()["running"])
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            status_urls = list(pool.map(lambda _: busy.submit(QUICK), range(AT_ONCE)))
        documents = [final_document(url) for url in status_urls]
    finally:
        done.set()
        sampler.join()
    assert sum("ProcessSucceeded" in document for document in documents) == AT_ONCE
    jobs = [busy.store.get(job_id(url)) for url in status_urls]
    assert {job.state for job in jobs} == {"succeeded"}
    assert most_running == 2
    for job in jobs:  # never more than two at once, also between samples
        assert sum(o.started <= job.started < o.finished for o in jobs) <= 2


def test_status_documents_show_progress(busy):
    wps = WebProcessingService(busy.wps_url)
    inputs = [tuple(item.split("=", 1)) for item in STEPS.split(";")]
    execution = wps.execute("subset", inputs, output=[("output", True)], mode="async")
    assert execution.statusLocation
    seen = set()
    while not execution.isComplete():
        if execution.status == "ProcessStarted":
            seen.add(int(execution.percentCompleted))
        execution.checkStatus(sleepSecs=0.1)
    assert execution.isSucceded(), execution.errors
    assert any(0 < percent < 100 for percent in seen), seen


def test_wall_time_exceeded(limited):
    status_url = limited.submit(SLOW)
    document = final_document(status_url)
    assert "ProcessFailed" in document
    assert "exceeded the wall time of 2 s" in document
    job = limited.store.get(job_id(status_url))
    assert (job.state, job.message) == ("failed", "exceeded the wall time of 2 s")


def test_full_queue_is_server_busy(limited):
    # one job runs and two wait at most: the fourth submission at the latest is refused
    for _ in range(4):
        response = limited.execute(SLOW)
        if "ExceptionReport" in response.text:
            break
    assert 'exceptionCode="ServerBusy"' in response.text
    assert "the queue is full: 2 jobs are waiting (max_queued=2); try again later" in (
        response.text
    )


#: Jobs waiting when the service restarts: a handful shows none is lost (each is a row of
#: the job store that the new dispatcher must find; more of them check nothing else, and
#: ``python -m benchmarks.load`` runs 200 jobs at once).
RESTART_QUEUED = 5


def restart_loses_no_job(
    settings_env, var_dir: Path, inventory: Path, queued: int = RESTART_QUEUED, **jobs
) -> None:
    """Stop the service with one job running and ``queued`` waiting, start it again (two
    jobs at a time): every job ends, the waiting ones successfully."""
    with service(settings_env, var_dir, inventory=inventory, max_running=1, max_queued=queued,
                 **jobs) as running:  # fmt: skip
        first = running.submit(SLOW)
        deadline = time.monotonic() + 120
        while running.store.get(job_id(first)).heartbeat is None:
            assert time.monotonic() < deadline, running.store.get(job_id(first))
            time.sleep(0.1)
        waiting = [running.submit(QUICK) for _ in range(queued)]
        counts = running.store.counts()
        assert (counts["running"], counts["accepted"]) == (1, queued)

        stopped = cli(running.env, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert running.store.counts()["accepted"] == queued
        running.env["CP4CDS_WPS_JOBS__MAX_RUNNING"] = "2"  # the queue empties faster
        started = cli(running.env, "start", "--daemon")
        assert started.returncode == 0, started.stdout + started.stderr

        for status_url in waiting:
            assert "ProcessSucceeded" in final_document(status_url, timeout=300)
        document = final_document(first)
        job = running.store.get(job_id(first))
        if job.state == "failed":  # its worker outlived the restart, or it said why not
            assert "worker died" in job.message and job.message in document
        else:
            assert job.state == "succeeded" and "ProcessSucceeded" in document


def test_restart_loses_no_job(settings_env, tmp_path, inventory_db):
    restart_loses_no_job(settings_env, tmp_path / "var", inventory_db)
