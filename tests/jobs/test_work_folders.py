"""PyWPS's working folders: removed when a request ends, or swept when its process died."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from cp4cds_wps.jobs.work_folders import make_work_folder, owned_prefix, sweep

from .conftest import QUICK, execute


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sweep_removes_what_dead_processes_of_this_host_left(tmp_path):
    host = socket.gethostname().replace("_", "-")
    dead = dead_pid()
    mine = make_work_folder(tmp_path)
    assert os.path.basename(mine).startswith(f"pywps_process_{host}_{os.getpid()}_")
    left = {
        "folder": tmp_path / f"pywps_process_{host}_{dead}_abc",
        "queued job": tmp_path / f"pywps_process_{host}_{dead}_def",
        "other host": tmp_path / f"pywps_process_elsewhere_{dead}_ghi",
        "old name": tmp_path / "pywps_process_k2j3h4",
    }
    for folder in left.values():
        folder.mkdir()
    handover = tmp_path / f"sync_{host}_{dead}_1234.in.json"
    handover.write_text("{}")
    (tmp_path / f"{owned_prefix('sync_')}5678.in.json").write_text("{}")

    removed = sweep(tmp_path, keep=[str(left["queued job"])])

    assert sorted(removed) == sorted([left["folder"], handover])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [os.path.basename(mine), f"{owned_prefix('sync_')}5678.in.json"]
        + [left[k].name for k in ("queued job", "other host", "old name")]
    )


def test_requests_leave_no_working_folder(wps, service_settings):
    responses = [
        execute(wps, QUICK.replace("1900-01-01", "1900-13-45")),
        execute(wps, QUICK.replace("HadGEM2-ES", "HadGEM2-XX")),
        execute(wps, "time=1900/1901"),
        execute(wps, QUICK, "average"),
        execute(wps, QUICK, storeExecuteResponse="true", status="false"),  # runs
    ]
    assert [response.status_code for response in responses] == [400, 400, 400, 400, 200]
    assert list(service_settings.work_dir.iterdir()) == []


def test_queued_jobs_keep_their_working_folder(wps, service_settings):
    assert execute(wps, QUICK, storeExecuteResponse="true", status="true").status_code == 200
    assert len(list(service_settings.work_dir.iterdir())) == 1  # the job's worker needs it
