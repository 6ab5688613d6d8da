"""Synchronous executions: slots shared by threads and processes, a worker process each,
stopped at the time limit, and failing with the reason when their worker dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from cp4cds_wps.config import get_settings
from cp4cds_wps.jobs import synchronous
from cp4cds_wps.jobs.synchronous import SlotsTaken, sync_slot

from .conftest import QUICK, SLOW, execute


def test_slots_are_shared_by_threads_and_processes(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from cp4cds_wps.jobs.synchronous import sync_slot\n"
         f"with sync_slot(__import__('pathlib').Path({str(tmp_path)!r}), 3) as n:\n"
         "    print(n, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    held, got, release = [], threading.Event(), threading.Event()

    def hold() -> None:
        with sync_slot(tmp_path, 3) as number:
            held.append(number)
            got.set()
            release.wait(60)

    try:
        assert holder.stdout.readline().strip() == "0"
        with sync_slot(tmp_path, 3) as first:
            thread = threading.Thread(target=hold)
            thread.start()
            assert got.wait(10)
            assert (first, held) == (1, [2])  # another thread of this process holds the last
            with pytest.raises(SlotsTaken, match=r"all 3 slots .* max_sync_executes = 3"):
                _try_slot(tmp_path, 3)
            release.set()
            thread.join()
            assert _try_slot(tmp_path, 3) == 2  # free again
    finally:
        holder.kill()
        holder.wait()
    assert _try_slot(tmp_path, 3) == 0  # a dead process holds none


def _try_slot(folder, count) -> int:
    with sync_slot(folder, count) as number:
        return number


@pytest.fixture
def timeout_1s(service_env, monkeypatch):
    monkeypatch.setenv("CP4CDS_WPS_SERVER__TIMEOUT", "1")
    get_settings.cache_clear()


def test_runs_in_a_worker_process_and_answers(wps, service_settings):
    response = execute(wps, QUICK)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "ProcessSucceeded" in body, body
    assert "tas_Amon_HadGEM2-ES_historical_r1i1p1_190001-190012.nc" in (
        wps.get(
            body.split('href="')[1].split('"')[0].split("/outputs")[1].join(["/outputs", ""])
        ).get_data(as_text=True)
    )
    assert synchronous._BACKEND is not None and not synchronous._BACKEND._children
    assert list(service_settings.work_dir.iterdir()) == []


def test_stopped_at_the_time_limit(timeout_1s, wps):
    start = time.monotonic()
    response = execute(wps, SLOW)
    body = response.get_data(as_text=True)
    assert time.monotonic() - start < 30
    assert response.status_code == 400 and 'exceptionCode="NoApplicableCode"' in body
    assert "exceeded the time limit of 1 s for synchronous executions" in body
    assert list(get_settings().work_dir.iterdir()) == []


def test_a_dead_worker_is_a_failure_saying_so(wps, service_settings):
    answers = []
    thread = threading.Thread(target=lambda: answers.append(execute(wps, SLOW)))
    thread.start()
    deadline = time.monotonic() + 60
    while not list(service_settings.output_dir.glob("*/.*.part")):  # writing its output
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    os.kill(int(next(iter(synchronous._BACKEND._children))), signal.SIGKILL)
    thread.join(60)
    body = answers[0].get_data(as_text=True)
    assert answers[0].status_code == 500 and 'exceptionCode="NoApplicableCode"' in body
    assert "the process computing the result ended unexpectedly (killed by SIGKILL)" in body
    assert list(service_settings.work_dir.iterdir()) == []
    assert list(service_settings.output_dir.glob("*/*")) == []  # no partial output
