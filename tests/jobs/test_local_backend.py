"""The local backend: a worker process per job, in its own session, memory-limited, logged."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from cp4cds_wps.jobs.backends.local import LocalBackend


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend()


def wait_gone(backend: LocalBackend, ref: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while backend.state(ref) != "gone":
        assert time.monotonic() < deadline, f"worker {ref} still running"
        time.sleep(0.05)


def first_line(log: Path, timeout: float = 20) -> str:
    """The first line the worker wrote to its log, once it has."""
    deadline = time.monotonic() + timeout
    while not (log.exists() and log.read_text().strip()):
        assert time.monotonic() < deadline, f"nothing in {log}"
        time.sleep(0.05)
    return log.read_text().splitlines()[0]


def start(backend, tmp_path: Path, code: str, *, memory_mb: int = 4096, env=None) -> str:
    return backend.start(
        "job-1",
        [sys.executable, "-c", code],
        env=env or {},
        wall_time=60,
        memory_mb=memory_mb,
        log_path=tmp_path / "logs" / "job-1.log",
    )


def test_runs_the_command_in_its_own_session_with_env_and_log(backend, tmp_path):
    code = "import os; print('value', os.environ['CP4CDS_TEST_VALUE'], os.getsid(0) == os.getpid())"
    ref = start(backend, tmp_path, code, env={"CP4CDS_TEST_VALUE": "42"})
    assert int(ref) > 0
    wait_gone(backend, ref)
    assert (tmp_path / "logs" / "job-1.log").read_text().split() == ["value", "42", "True"]


def test_stop_kills_the_worker_and_its_children(backend, tmp_path):
    code = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(child.pid, flush=True); time.sleep(60)"
    )
    ref = start(backend, tmp_path, code)
    grandchild = int(first_line(tmp_path / "logs" / "job-1.log"))
    assert backend.state(ref) == "running"
    backend.stop(ref)
    wait_gone(backend, ref, timeout=5)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{grandchild}").exists() and "Z" not in _state(grandchild):
        assert time.monotonic() < deadline, "the worker's child survived"
        time.sleep(0.05)
    backend.stop(ref)  # idempotent


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return "X"


def test_a_restarted_dispatcher_sees_the_worker_by_pid(backend, tmp_path):
    code = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"
    ref = start(backend, tmp_path, code)
    first_line(tmp_path / "logs" / "job-1.log")  # the worker runs, in its own session
    fresh = LocalBackend()  # knows nothing of the worker but its pid
    assert fresh.state(ref) == "running"
    fresh.stop(ref)
    wait_gone(fresh, ref, timeout=5)
    wait_gone(backend, ref, timeout=5)
    assert fresh.state("999999999") == "gone"


def test_memory_limit_is_the_address_space(backend, tmp_path):
    code = "data = bytearray(600 * 2**20); print('allocated')"
    ref = start(backend, tmp_path, code, memory_mb=300)
    wait_gone(backend, ref)
    log = (tmp_path / "logs" / "job-1.log").read_text()
    assert "MemoryError" in log and "allocated" not in log
    ref = start(backend, tmp_path, code, memory_mb=2000)
    wait_gone(backend, ref)
    assert "allocated" in (tmp_path / "logs" / "job-1.log").read_text()


def test_workers_are_forked_from_a_single_threaded_server(backend, tmp_path):
    # a thread of the fork server holding a lock while it forks would hang the worker
    code = "import os; print(len(os.listdir(f'/proc/{os.getppid()}/task')))"
    ref = start(backend, tmp_path, code)
    wait_gone(backend, ref)
    assert (tmp_path / "logs" / "job-1.log").read_text().strip() == "1"


def test_python_module_commands_run_in_the_fork(backend, tmp_path):
    var_dir = tmp_path / "var"
    ref = backend.start(
        "job-2",
        [sys.executable, "-m", "cp4cds_wps.jobs.worker", "no-such-job"],
        env={"CP4CDS_WPS_PATHS__VAR_DIR": str(var_dir), "CP4CDS_WPS_JOBS__DATABASE": ""},
        wall_time=60,
        memory_mb=4096,
        log_path=tmp_path / "job-2.log",
    )
    wait_gone(backend, ref)
    assert "cp4cds-wps worker: no job no-such-job" in (tmp_path / "job-2.log").read_text()
    assert (var_dir / "jobs.sqlite").exists()  # the worker read the settings given in env
    assert os.environ.get("CP4CDS_WPS_PATHS__VAR_DIR") != str(var_dir)
