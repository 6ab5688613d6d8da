"""The slurm backend against a real Slurm cluster (``.ci/setup-slurm.sh`` starts one)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cp4cds_wps.config import load_settings
from cp4cds_wps.jobs.backends.slurm import SlurmBackend, SlurmError

pytestmark = pytest.mark.skipif(
    not os.environ.get("CP4CDS_WPS_TEST_SLURM"),
    reason="set CP4CDS_WPS_TEST_SLURM=1 with a running Slurm cluster (.ci/setup-slurm.sh)",
)

MARK = "a b,c'd\"e$HOME"


def backend(tmp_path: Path, options: str = "") -> SlurmBackend:
    env = {"CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path), "CP4CDS_WPS_JOBS__SLURM_OPTIONS": options}
    return SlurmBackend(load_settings(env=env))


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def scontrol(ref: str) -> str:
    return subprocess.run(
        ["scontrol", "show", "job", ref], capture_output=True, text=True, check=True
    ).stdout


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


def test_job_runs_command_with_env_and_appends_to_log(tmp_path):
    slurm = backend(tmp_path)
    out = tmp_path / "out.txt"
    log = tmp_path / "logs 100%" / "job.log"
    code = (
        "import os, sys; print('to stdout'); print('to stderr', file=sys.stderr); "
        f"open({str(out)!r}, 'w').write(os.environ['CP4CDS_WPS_TEST_MARK'])"
    )
    env = {"CP4CDS_WPS_TEST_MARK": MARK}
    ref = slurm.start("j1", python(code), env=env, wall_time=60, memory_mb=1024, log_path=log)
    assert ref.isdigit()
    wait_for(lambda: slurm.state(ref) == "gone")
    assert out.read_text() == MARK
    ref = slurm.start("j1", python(code), env=env, wall_time=60, memory_mb=1024, log_path=log)
    wait_for(lambda: slurm.state(ref) == "gone")
    assert log.read_text().count("to stdout") == 2
    assert log.read_text().count("to stderr") == 2


def test_held_job_is_pending_with_limits_and_options_then_stopped(tmp_path):
    slurm = backend(tmp_path, options="--hold --comment=cp4cds-test")
    ref = slurm.start(
        "j2", ["true"], env={}, wall_time=61, memory_mb=300, log_path=tmp_path / "j2.log"
    )
    assert slurm.state(ref) == "pending"
    details = scontrol(ref)
    assert "JobName=cp4cds-j2" in details
    assert "TimeLimit=00:03:00" in details  # 61 s rounded up to 2 min, plus 1 min
    assert "MinMemoryNode=300M" in details
    assert "Comment=cp4cds-test" in details
    slurm.stop(ref)
    wait_for(lambda: slurm.state(ref) == "gone")
    slurm.stop(ref)


def test_running_job_is_stopped(tmp_path):
    slurm = backend(tmp_path)
    pid_file = tmp_path / "pid"
    ref = slurm.start(
        "j3", sleeper(pid_file), env={}, wall_time=60, memory_mb=500, log_path=tmp_path / "j3.log"
    )
    wait_for(lambda: pid_file.exists() and pid_file.read_text())
    pid = int(pid_file.read_text())
    assert slurm.state(ref) == "running"
    slurm.stop(ref)
    wait_for(lambda: not alive(pid), timeout=15)
    wait_for(lambda: slurm.state(ref) == "gone")
    slurm.stop(ref)


def test_memory_beyond_the_limit_fails_in_the_job(tmp_path):
    slurm = backend(tmp_path)
    log = tmp_path / "j4.log"
    code = "bytearray(600 * 2**20)"
    ref = slurm.start("j4", python(code), env={}, wall_time=60, memory_mb=300, log_path=log)
    wait_for(lambda: slurm.state(ref) == "gone")
    assert "MemoryError" in log.read_text()


def test_more_memory_than_the_cluster_has_is_refused(tmp_path):
    slurm = backend(tmp_path)
    with pytest.raises(SlurmError, match="sbatch failed.*(node configuration|Memory spec)"):
        slurm.start(
            "j5", ["true"], env={}, wall_time=60, memory_mb=10**8, log_path=tmp_path / "j5.log"
        )


def test_unknown_job_is_gone_and_stopping_it_is_harmless(tmp_path):
    slurm = backend(tmp_path)
    assert slurm.state("99999999") == "gone"
    slurm.stop("99999999")
