"""OGC API - Processes over HTTP with OWSLib's client: list, describe, execute sync and async
(the async job seen through WPS 2.0 GetStatus), results the same netCDF values as the WPS's."""

from __future__ import annotations

import time

import pytest
import requests
import xarray as xr
from owslib.ogcapi.processes import Processes

from .test_subset_clients import (
    AREA,
    CMIP5_TAS,
    TIME,
    assert_same_values,
    download,
    expected_tas,
    metalink_files,
)

pytestmark = pytest.mark.realdata

INPUTS = {"collection": CMIP5_TAS, "time": TIME, "area": AREA}


@pytest.fixture(scope="module")
def api(server) -> Processes:
    return Processes(f"{server}/ogcapi")


def test_owslib_lists_and_describes(api):
    assert "subset" in [p["id"] for p in api.processes()]
    assert "collection" in api.process("subset")["inputs"]


def test_sync_execute_gives_the_subset(api, archive_dir, tmp_path):
    results = api.execute("subset", inputs=INPUTS, async_=False)
    (entry,) = metalink_files(results["output"]["href"])
    with xr.open_dataset(download(entry["url"], tmp_path), use_cftime=True) as ds:
        assert_same_values(ds, expected_tas(archive_dir))


def test_async_job_is_a_wps_job_with_the_same_result(api, server, archive_dir, tmp_path):
    info = api.execute("subset", inputs=INPUTS, async_=True)
    job = info["jobID"]
    wps = requests.get(
        f"{server}/wps",
        params={"service": "WPS", "version": "2.0.0", "request": "GetStatus", "jobId": job},
        timeout=30,
    )
    assert f"<wps:JobID>{job}</wps:JobID>" in wps.text
    for _ in range(240):
        status = requests.get(f"{server}/ogcapi/jobs/{job}", timeout=30).json()
        if status["status"] not in ("accepted", "running"):
            break
        time.sleep(0.5)
    assert status["status"] == "successful", status
    results = requests.get(f"{server}/ogcapi/jobs/{job}/results", timeout=30).json()
    (entry,) = metalink_files(results["output"]["href"])
    with xr.open_dataset(download(entry["url"], tmp_path), use_cftime=True) as ds:
        assert_same_values(ds, expected_tas(archive_dir))
    listed = requests.get(f"{server}/ogcapi/jobs", params={"status": "successful"}, timeout=30)
    assert job in [j["jobID"] for j in listed.json()["jobs"]]


def test_dismiss_over_http(api, server):
    job = api.execute("subset", inputs=INPUTS, async_=True)["jobID"]
    dismissed = requests.delete(f"{server}/ogcapi/jobs/{job}", timeout=30)
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] in ("dismissed", "successful")
