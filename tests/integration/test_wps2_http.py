"""WPS 2.0.0 GetStatus, GetResult and Dismiss over HTTP for jobs submitted with WPS 1.0.0."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
import requests
from owslib.wps import WebProcessingService

from cp4cds_wps.jobs.backends import backend_from_settings
from cp4cds_wps.jobs.store import JobStore

pytestmark = pytest.mark.realdata

CMIP5_TAS = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
# 16 files of daily data: a job that runs for a while
EC_EARTH_TAS = "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231"

NS = {
    "wps": "http://www.opengis.net/wps/2.0",
    "wps1": "http://www.opengis.net/wps/1.0.0",
    "ows": "http://www.opengis.net/ows/2.0",
    "ows1": "http://www.opengis.net/ows/1.1",
    "ml": "urn:ietf:params:xml:ns:metalink",
    "xlink": "http://www.w3.org/1999/xlink",
}
FINAL = {"Succeeded", "Failed", "Dismissed"}


def submit(wps_url: str, collection: str, **inputs: str) -> tuple[str, str]:
    """Submit an async WPS 1.0.0 Execute of ``subset``; return job id and status URL."""
    wps = WebProcessingService(wps_url, version="1.0.0", skip_caps=True)
    execution = wps.execute(
        "subset",
        inputs=[("collection", collection), *inputs.items()],
        output=[("output", True)],
        mode="async",
    )
    assert execution.statusLocation, [e.text for e in execution.errors]
    return execution.statusLocation.rsplit("/", 1)[-1].removesuffix(
        ".xml"
    ), execution.statusLocation


def ask(wps_url: str, operation: str, job_id: str, encoding: str) -> requests.Response:
    """One WPS 2.0.0 job operation in KVP or XML encoding."""
    if encoding == "kvp":
        query = {"service": "WPS", "version": "2.0.0", "request": operation, "jobId": job_id}
        return requests.get(wps_url, params=query, timeout=30)
    body = (
        f'<wps:{operation} service="WPS" version="2.0.0" xmlns:wps="{NS["wps"]}">'
        f"<wps:JobID>{job_id}</wps:JobID></wps:{operation}>"
    )
    return requests.post(wps_url, data=body, headers={"Content-Type": "text/xml"}, timeout=30)


def status(response: requests.Response) -> tuple[str, int]:
    """Status and percentage of a ``wps:StatusInfo`` response."""
    assert response.status_code == 200, response.text
    doc = ET.fromstring(response.content)
    assert doc.tag == f"{{{NS['wps']}}}StatusInfo", response.text
    return doc.findtext("wps:Status", None, NS), int(doc.findtext("wps:PercentCompleted", 0, NS))


def exception_of(response: requests.Response) -> tuple[int, str, str]:
    exc = ET.fromstring(response.content).find("ows:Exception", NS)
    assert exc is not None, response.text
    return response.status_code, exc.get("exceptionCode"), exc.findtext("ows:ExceptionText", "", NS)


def wait_for(wps_url: str, job_id: str, wanted: set[str], timeout: float = 180) -> list[tuple]:
    """Poll GetStatus (KVP and XML in turn) until the job's status is in ``wanted``."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(status(ask(wps_url, "GetStatus", job_id, ("kvp", "xml")[len(seen) % 2])))
        if seen[-1][0] in wanted:
            return seen
        time.sleep(0.1 if "Running" in wanted else 0.5)
    pytest.fail(f"job {job_id} did not reach {wanted} in {timeout} s: {seen[-3:]}")


def test_poll_with_wps2_until_succeeded_and_fetch_the_metalink(wps_url):
    job_id, _ = submit(wps_url, CMIP5_TAS, time="1900-01-01/1920-12-30")
    seen = wait_for(wps_url, job_id, FINAL)
    assert seen[-1] == ("Succeeded", 100)
    assert {s for s, _ in seen} <= {"Accepted", "Running", "Succeeded"}
    percents = [p for _, p in seen]
    assert percents == sorted(percents)

    results = [ask(wps_url, "GetResult", job_id, encoding) for encoding in ("kvp", "xml")]
    assert [r.status_code for r in results] == [200, 200], results[0].text
    assert results[0].content == results[1].content
    doc = ET.fromstring(results[0].content)
    assert doc.findtext("wps:JobID", None, NS) == job_id
    reference = doc.find("wps:Output[@id='output']/wps:Reference", NS)
    metalink = ET.fromstring(
        requests.get(reference.get(f"{{{NS['xlink']}}}href"), timeout=30).content
    )
    files = metalink.findall("ml:file", NS)
    assert [f.get("name").split("_")[-1] for f in files] == ["190001-192012.nc"]
    data = requests.get(files[0].findtext("ml:url", None, NS), timeout=60)
    assert data.status_code == 200
    assert len(data.content) == int(files[0].findtext("ml:size", None, NS))


def test_dismiss_a_queued_job(wps_url, settings):
    # one more job than may run at once: the last one waits in the queue
    jobs = [submit(wps_url, CMIP5_TAS)[0] for _ in range(settings.jobs.max_running + 1)]
    queued = jobs[-1]
    assert status(ask(wps_url, "Dismiss", queued, "xml"))[0] == "Dismissed"
    for job_id in jobs[:-1]:
        assert wait_for(wps_url, job_id, FINAL)[-1][0] == "Succeeded"
    assert status(ask(wps_url, "GetStatus", queued, "kvp"))[0] == "Dismissed"
    assert JobStore.from_settings(settings).get(queued).state == "dismissed"
    code, exception, _ = exception_of(ask(wps_url, "GetResult", queued, "kvp"))
    assert (code, exception) == (404, "NoSuchJob")


def test_dismiss_a_running_job_stops_its_worker(wps_url, settings):
    job_id, status_url = submit(wps_url, EC_EARTH_TAS)
    wait_for(wps_url, job_id, {"Running"} | FINAL, timeout=60)
    assert status(ask(wps_url, "Dismiss", job_id, "kvp"))[0] == "Dismissed"

    store = JobStore.from_settings(settings)
    deadline = time.monotonic() + 60
    while store.get(job_id).state != "dismissed":
        assert time.monotonic() < deadline, f"still {store.get(job_id).state}"
        time.sleep(0.5)
    record = store.get(job_id)
    assert backend_from_settings(settings).state(record.backend_ref) == "gone"
    assert status(ask(wps_url, "GetStatus", job_id, "xml"))[0] == "Dismissed"

    # WPS 1.0.0 clients polling the status document learn it too
    doc = ET.fromstring(requests.get(status_url, timeout=30).content)
    failed = doc.find(".//wps1:ProcessFailed", NS)
    assert failed is not None, ET.tostring(doc)
    assert "dismissed" in " ".join(failed.itertext()).lower()
    assert not list((settings.output_dir / job_id).glob("*.nc"))


@pytest.mark.parametrize("encoding", ["kvp", "xml"])
@pytest.mark.parametrize("operation", ["GetStatus", "GetResult", "Dismiss"])
def test_unknown_job_is_no_such_job(wps_url, operation, encoding):
    code, exception, text = exception_of(ask(wps_url, operation, "no-such-job", encoding))
    assert (code, exception) == (404, "NoSuchJob")
    assert "no-such-job" in text


# -- WPS 2.0 Execute -------------------------------------------------------------------------


def execute2(
    url: str,
    identifier: str,
    inputs: list[tuple[str, str]],
    *,
    mode: str = "sync",
    response: str = "document",
    outputs: tuple[str, ...] = ("output",),
) -> requests.Response:
    """A WPS 2.0.0 Execute request in XML, as the standard encodes it."""
    given = "".join(f'<wps:Input id="{k}"><wps:Data>{v}</wps:Data></wps:Input>' for k, v in inputs)
    wanted = "".join(f'<wps:Output id="{o}" transmission="reference"/>' for o in outputs)
    body = (
        f'<?xml version="1.0"?><wps:Execute service="WPS" version="2.0.0" mode="{mode}" '
        f'response="{response}" xmlns:wps="{NS["wps"]}" xmlns:ows="{NS["ows"]}">'
        f"<ows:Identifier>{identifier}</ows:Identifier>{given}{wanted}</wps:Execute>"
    )
    return requests.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=300)


def metalink_files(url: str) -> list[str]:
    """The names of the files a metalink at ``url`` lists."""
    metalink = ET.fromstring(requests.get(url, timeout=30).content)
    return [f.get("name") for f in metalink.findall("ml:file", NS)]


def test_wps2_sync_execute_takes_its_inputs_and_answers_a_result(wps_url):
    answer = execute2(
        wps_url, "subset", [("collection", CMIP5_TAS), ("time", "1900-01-01/1901-12-30")]
    )
    assert answer.status_code == 200, answer.text
    doc = ET.fromstring(answer.content)
    assert doc.tag == f"{{{NS['wps']}}}Result"
    reference = doc.find("wps:Output[@id='output']/wps:Reference", NS)
    # the time input was taken: only the two years asked for
    names = metalink_files(reference.get(f"{{{NS['xlink']}}}href"))
    assert [n.split("_")[-1] for n in names] == ["190001-190112.nc"]


def test_wps2_async_execute_is_a_job_polled_to_its_result(wps_url):
    answer = execute2(
        wps_url,
        "subset",
        [("collection", CMIP5_TAS), ("time", "1910-01-01/1910-12-30")],
        mode="async",
    )
    state, _ = status(answer)
    assert state in {"Accepted", "Running", "Succeeded"}
    job_id = ET.fromstring(answer.content).findtext("wps:JobID", None, NS)
    assert wait_for(wps_url, job_id, FINAL)[-1] == ("Succeeded", 100)
    result = ET.fromstring(ask(wps_url, "GetResult", job_id, "xml").content)
    reference = result.find("wps:Output[@id='output']/wps:Reference", NS)
    names = metalink_files(reference.get(f"{{{NS['xlink']}}}href"))
    assert [n.split("_")[-1] for n in names] == ["191001-191012.nc"]


def test_wps2_raw_execute_answers_the_output_itself(wps_url):
    answer = execute2(
        wps_url,
        "subset",
        [("collection", CMIP5_TAS), ("time", "1900-01-01/1900-12-30")],
        response="raw",
    )
    assert answer.status_code == 200, answer.text
    assert ET.fromstring(answer.content).tag == f"{{{NS['ml']}}}metalink"


def test_wps2_execute_refusals_are_ows2_reports_naming_the_input(wps_url):
    answer = execute2(wps_url, "subset", [("collection", CMIP5_TAS), ("bogus", "1")])
    assert exception_of(answer)[:2] == (400, "InvalidParameterValue")
    exception = ET.fromstring(answer.content).find("ows:Exception", NS)
    assert exception.get("locator") == "bogus"
    answer = execute2(wps_url, "subset", [("collection", CMIP5_TAS)], mode="later")
    assert exception_of(answer) == (
        400,
        "InvalidParameterValue",
        "mode must be one of sync, async, auto, not 'later'",
    )


def test_wps2_execute_of_a_meta_process(server):
    answer = execute2(f"{server}/meta-wps", "resolve", [("project", "cmip5")], outputs=())
    assert answer.status_code == 200, answer.text
    doc = ET.fromstring(answer.content)
    assert doc.tag == f"{{{NS['wps']}}}Result"
    assert doc.findall("wps:Output", NS)
