"""A request is parsed and planned once, when it is accepted: the limit check, the worker
that runs it and its provenance use that plan (sync and async Executes)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cp4cds_wps.jobs import synchronous
from cp4cds_wps.jobs.store import JobStore
from cp4cds_wps.operations.registry import OPERATIONS

from .conftest import QUICK, execute, submit

pytestmark = pytest.mark.realdata

#: Python counting the calls of the ``subset`` operation's plan in the process it runs in.
COUNTING = """
import sys
from pathlib import Path
from cp4cds_wps.operations.registry import OPERATIONS
calls, op = [], OPERATIONS["subset"]
plan = op.plan
object.__setattr__(op, "plan", lambda *args: (calls.append(args), plan(*args))[1])
"""


@pytest.fixture
def plan_calls() -> Iterator[list]:
    """The calls of the ``subset`` operation's plan in this process."""
    calls, op = [], OPERATIONS["subset"]
    plan = op.plan
    object.__setattr__(op, "plan", lambda *args: (calls.append(args), plan(*args))[1])
    yield calls
    object.__setattr__(op, "plan", plan)


class CountingBackend:
    """The backend of synchronous executions, counting the plan calls of their workers
    (written to ``counts``, one line per worker)."""

    def __init__(self, backend, counts: Path):
        self.backend, self.counts = backend, counts

    def start(self, key: str, command: list[str], **options):
        code = COUNTING + (
            "from cp4cds_wps.jobs import sync_worker\n"
            f"code = sync_worker.main(Path({command[-1]!r}))\n"
            f"with open({str(self.counts)!r}, 'a') as fh: fh.write(f'{{len(calls)}}\\n')\n"
            "sys.exit(code)\n"
        )
        return self.backend.start(key, [sys.executable, "-c", code], **options)

    def wait(self, ref, timeout):
        return self.backend.wait(ref, timeout)

    def stop(self, ref):
        return self.backend.stop(ref)


def test_a_synchronous_execute_is_planned_once(wps, plan_calls, tmp_path, monkeypatch):
    counts = tmp_path / "worker-plans.txt"
    backend = CountingBackend(synchronous._backend(), counts)
    monkeypatch.setattr(synchronous, "_backend", lambda: backend)
    response = execute(wps, QUICK)
    assert "ProcessSucceeded" in response.get_data(as_text=True)
    assert len(plan_calls) == 1  # when accepted (the limit check)
    assert counts.read_text() == "0\n"  # its worker ran that plan


def test_an_asynchronous_execute_is_planned_once(wps, plan_calls, service_settings):
    store = JobStore.from_settings(service_settings)
    job_id = submit(wps, QUICK)
    assert len(plan_calls) == 1
    store.claim_next("local")
    code = COUNTING + (
        f"from cp4cds_wps.jobs import worker\ncode = worker.main({job_id!r})\n"
        "print(len(calls))\nsys.exit(code)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[-1] == "0"
    job = store.get(job_id)
    assert job.state == "succeeded"
    prov = job.outputs["prov"].removeprefix(f"{service_settings.output_url}/")
    # the provenance is that of the request as accepted
    assert "1900-01-01" in (service_settings.output_dir / prov).read_text()
