"""Capacity through HTTP: cheap requests stay fast while synchronous Executes run, one
synchronous Execute more than ``[server] max_sync_executes`` is ServerBusy, and no request
leaves its working folder behind, whichever way it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import xarray as xr

from ..jobs.conftest import QUICK, SLOW, execute_query
from .test_jobs_http import Service, final_document, job_id, service

pytestmark = pytest.mark.realdata

#: Seconds within which a cheap request must be answered while data requests run.
CHEAP_BOUND = 3.0


@pytest.fixture(scope="module")
def one_process(settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """One web server process (its threads serve everything), two synchronous slots."""
    with service(settings_env, tmp_path_factory.mktemp("capacity"), inventory=inventory_db,
                 server={"workers": 1, "max_sync_executes": 2}) as running:  # fmt: skip
        yield running


def execute(running: Service, data_inputs: str, identifier: str = "subset", **options):
    """WPS 1.0 KVP Execute, synchronous unless ``options`` say otherwise."""
    query = execute_query(data_inputs, identifier, **options)
    return requests.get(f"{running.wps_url}?{query}", timeout=600)


def timed_get(url: str) -> tuple[float, requests.Response]:
    start = time.monotonic()
    response = requests.get(url, timeout=60)
    return time.monotonic() - start, response


def output_datasets(document: str) -> list[xr.Dataset]:
    """The netCDF files listed by the Metalink output of an execute response."""
    metalink = requests.get(_reference(document, "output"), timeout=60).text
    urls = [
        part.split("</metaurl>")[0].rsplit(">", 1)[-1] for part in metalink.split("<metaurl")[1:]
    ]
    return [xr.open_dataset(requests.get(url, timeout=60).content) for url in urls]


def _reference(document: str, output: str) -> str:
    head, _, tail = document.partition(f"<ows:Identifier>{output}</ows:Identifier>")
    return tail.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


def work_folders(running: Service) -> list[Path]:
    return sorted((Path(running.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "work").glob("pywps_*"))


def test_cheap_requests_are_answered_while_sync_executes_run(one_process):
    outputs = Path(one_process.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "outputs"
    before = set(outputs.iterdir())
    cheap = [
        f"{one_process.wps_url}?service=WPS&request=GetCapabilities",
        f"{one_process.wps_url}?service=WPS&version=1.0.0&request=DescribeProcess&identifier=all",
        f"{one_process.url}/api/constraints?project=cmip6&experiment=historical",
        f"{one_process.url}/health",
    ]
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(execute, one_process, SLOW) for _ in range(2)]
        deadline = time.monotonic() + 60
        # both are computing once both have an output folder
        while len([p for p in set(outputs.iterdir()) - before if p.is_dir()]) < 2:
            assert time.monotonic() < deadline and not any(run.done() for run in runs), (
                "the two synchronous executions did not run at once"
            )
            time.sleep(0.1)

        took = {url: [] for url in cheap}
        for _ in range(3):
            for url in cheap:
                seconds, response = timed_get(url)
                assert response.status_code == 200, response.text
                took[url].append(seconds)
        start = time.monotonic()
        busy = execute(one_process, QUICK)
        busy_seconds = time.monotonic() - start
        still_running = not any(run.done() for run in runs)
        documents = [run.result().text for run in runs]

    assert still_running, "the data requests ended before the cheap ones were measured"
    assert max(max(seconds) for seconds in took.values()) < CHEAP_BOUND, took
    assert 'exceptionCode="ServerBusy"' in busy.text, busy.text
    assert "all 2 slots for synchronous executions are taken" in busy.text
    assert busy_seconds < CHEAP_BOUND
    for document in documents:
        assert "ProcessSucceeded" in document, document
    # two executions at once in one process computed the same as each other
    first, second = (output_datasets(document) for document in documents)
    assert len(first) == len(second) == 2
    for a, b in zip(first, second, strict=True):
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    # and the slots are free again; nothing is left in the work folder
    assert "ProcessSucceeded" in execute(one_process, QUICK).text
    assert work_folders(one_process) == []


def test_no_request_leaves_its_working_folder(one_process):
    bad_time = QUICK.replace("time=1900-01-01/1900-12-30", "time=1900-13-45/1901")
    unknown = QUICK.replace("HadGEM2-ES", "HadGEM2-XX")
    async_ = {"storeExecuteResponse": "true", "status": "true"}
    answers = [
        execute(one_process, QUICK),  # succeeds
        execute(one_process, bad_time),  # refused: InvalidParameterValue
        execute(one_process, unknown),  # refused: unknown dataset
        execute(one_process, "time=1900/1901"),  # refused by PyWPS: no collection
        execute(one_process, QUICK, identifier="average", dims="time"),  # wrong input form
        execute(one_process, QUICK, **async_),  # queued, succeeds
        execute(one_process, SLOW, **async_),  # queued, dismissed
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [200, 400, 400, 400, 400], [a.text for a in answers]
    succeeded, dismissed = (
        answer.text.split('statusLocation="', 1)[1].split('"', 1)[0] for answer in answers[5:]
    )
    dismissal = requests.get(one_process.wps_url, timeout=60, params={
        "service": "WPS", "version": "2.0.0", "request": "Dismiss", "jobId": job_id(dismissed)
    })  # fmt: skip
    assert "Dismissed" in dismissal.text, dismissal.text
    assert "ProcessSucceeded" in final_document(succeeded)
    assert "ProcessFailed" in final_document(dismissed)
    one_process.wait_active_jobs()
    assert work_folders(one_process) == []
