"""The dask backend against real ``distributed.LocalCluster`` schedulers and workers."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from distributed import LocalCluster

from cp4cds_wps.config import ConfigError, load_settings
from cp4cds_wps.jobs.backends.dask import DaskBackend

MARK = "a b,c'd\"e$HOME"


def make_backend(tmp_path: Path, address: str) -> DaskBackend:
    env = {"CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path), "CP4CDS_WPS_JOBS__DASK_SCHEDULER": address}
    return DaskBackend(load_settings(env=env))


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster


@pytest.fixture
def dask(cluster, tmp_path):
    backend = make_backend(tmp_path, cluster.scheduler_address)
    yield backend
    backend.close()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def sleeper(pid_file: Path) -> list[str]:
    """A command that writes its process id to ``pid_file``, then sleeps for a minute."""
    return python(
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_task_runs_command_with_env_and_appends_to_log(dask, tmp_path):
    out = tmp_path / "out.txt"
    log = tmp_path / "logs" / "job.log"
    code = (
        "import os, sys; print('to stdout'); print('to stderr', file=sys.stderr); "
        f"open({str(out)!r}, 'w').write(os.environ['CP4CDS_WPS_TEST_MARK'])"
    )
    env = {"CP4CDS_WPS_TEST_MARK": MARK}
    for _ in range(2):
        ref = dask.start("j1", python(code), env=env, wall_time=60, memory_mb=1024, log_path=log)
        wait_for(lambda ref=ref: dask.state(ref) == "gone")
    assert out.read_text() == MARK
    assert log.read_text().count("to stdout") == 2
    assert log.read_text().count("to stderr") == 2


def test_jobs_run_side_by_side_and_are_stopped_from_any_client(dask, tmp_path):
    pid_files = [tmp_path / f"pid{i}" for i in range(2)]
    refs = [
        dask.start(
            f"j{i}",
            sleeper(p),
            env={},
            wall_time=60,
            memory_mb=500,
            log_path=tmp_path / f"j{i}.log",
        )
        for i, p in enumerate(pid_files)
    ]
    wait_for(lambda: all(p.exists() and p.read_text() for p in pid_files))
    pids = [int(p.read_text()) for p in pid_files]
    assert [dask.state(ref) for ref in refs] == ["running", "running"]
    dask.stop(refs[0])
    wait_for(lambda: not alive(pids[0]), timeout=10)
    wait_for(lambda: dask.state(refs[0]) == "gone", timeout=10)
    assert alive(pids[1])
    # a restarted dispatcher (new connection) still sees and stops the other job
    dask.close()
    again = make_backend(tmp_path, dask.address)
    assert again.state(refs[1]) == "running"
    again.stop(refs[1])
    wait_for(lambda: not alive(pids[1]), timeout=10)
    wait_for(lambda: again.state(refs[1]) == "gone", timeout=10)
    again.stop(refs[1])
    again.close()


def test_memory_beyond_the_limit_fails_in_the_job(dask, tmp_path):
    log = tmp_path / "j4.log"
    ref = dask.start(
        "j4", python("bytearray(600 * 2**20)"), env={}, wall_time=60, memory_mb=300, log_path=log
    )
    wait_for(lambda: dask.state(ref) == "gone")
    assert "MemoryError" in log.read_text()


def test_task_waits_without_workers_and_is_stopped_before_it_starts(tmp_path):
    out = tmp_path / "out.txt"
    with LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as empty:
        dask = make_backend(tmp_path, empty.scheduler_address)
        ref = dask.start(
            "j5",
            python(f"open({str(out)!r}, 'w').write('ran')"),
            env={},
            wall_time=60,
            memory_mb=500,
            log_path=tmp_path / "j5.log",
        )
        assert dask.state(ref) == "pending"
        dask.stop(ref)
        wait_for(lambda: dask.state(ref) == "gone", timeout=10)
        empty.scale(1)
        empty.wait_for_workers(1, timeout=30)
        time.sleep(1)
        dask.close()
    assert not out.exists()


def test_unknown_task_is_gone_and_stopping_it_is_harmless(dask):
    assert dask.state("cp4cds-job-unknown") == "gone"
    dask.stop("cp4cds-job-unknown")
    assert dask.state("cp4cds-job-unknown") == "gone"


def test_scheduler_address_is_required(tmp_path):
    with pytest.raises(ConfigError, match="dask_scheduler"):
        make_backend(tmp_path, "")
