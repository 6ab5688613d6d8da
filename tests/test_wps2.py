"""WPS 2.0.0 GetStatus, GetResult and Dismiss answered from a real job store, KVP and XML."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from pywps import Service
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from cp4cds_wps.jobs.store import JobStore
from cp4cds_wps.wps2 import OWNER_KEY, Wps2Jobs

NS = {
    "wps": "http://www.opengis.net/wps/2.0",
    "ows": "http://www.opengis.net/ows/2.0",
    "xlink": "http://www.w3.org/1999/xlink",
}
RETENTION = timedelta(days=7)
NEXT_POLL = 5
OUTPUTS = {
    "output": "http://localhost/outputs/abc/output.meta4",
    "prov": "http://localhost/outputs/abc/provenance.json",
}


@Request.application
def echo_app(request: Request) -> Response:
    """Stands for PyWPS: shows what reached it."""
    body = {"method": request.method, "query": request.query_string.decode()}
    body["data"] = request.get_data().decode()
    return Response(json.dumps(body), mimetype="application/json")


@pytest.fixture
def store(tmp_path):
    return JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")


@pytest.fixture
def opened():
    """How often the middleware opened the store."""
    return []


@pytest.fixture
def client(store, opened):
    def factory():
        opened.append(1)
        return store

    app = Wps2Jobs(echo_app, factory, next_poll=NEXT_POLL, retention=RETENTION)
    return Client(app)


@pytest.fixture(params=["kvp", "xml"])
def ask(request, client):
    """Send one job operation in the parametrized encoding, as ``owner`` when given."""

    def send(operation: str, job_id: str | None, owner: str | None = None):
        environ = {"cp4cds_wps.owner": owner}
        if request.param == "kvp":
            query = {"service": "WPS", "version": "2.0.0", "request": operation}
            if job_id is not None:
                query["jobId"] = job_id
            return client.get("/", query_string=query, environ_overrides=environ)
        job = f"<wps:JobID>{job_id}</wps:JobID>" if job_id is not None else ""
        body = (
            f'<wps:{operation} service="WPS" version="2.0.0" xmlns:wps="{NS["wps"]}">'
            f"{job}</wps:{operation}>"
        )
        return client.post("/", data=body, content_type="text/xml", environ_overrides=environ)

    send.encoding = request.param
    return send


def submit(store: JobStore, job_id: str, owner: str | None = None) -> None:
    store.submit(
        job_id,
        "subset",
        "{}",
        status_url=f"http://localhost/outputs/{job_id}.xml",
        owner=owner,
        max_queued=10,
    )


def start(store: JobStore, job_id: str, owner: str | None = None) -> None:
    submit(store, job_id, owner)
    assert store.claim_next("local").id == job_id
    store.set_started(job_id, "4242")


def succeed(store: JobStore, job_id: str) -> None:
    start(store, job_id)
    assert store.finish(job_id, "succeeded", "done", outputs=OUTPUTS)


def xml(response) -> etree._Element:
    assert response.mimetype == "text/xml"
    return etree.fromstring(response.get_data())


def status_of(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    doc = xml(response)
    assert doc.tag == f"{{{NS['wps']}}}StatusInfo"
    # children in the order of the StatusInfo schema
    order = ["JobID", "Status", "ExpirationDate", "EstimatedCompletion", "NextPoll"]
    order.append("PercentCompleted")
    names = [etree.QName(child).localname for child in doc]
    assert names == sorted(names, key=order.index)
    return {name: doc.findtext(f"wps:{name}", None, NS) for name in names}


def exception_of(response) -> tuple[int, str, str | None, str]:
    doc = xml(response)
    assert doc.tag == f"{{{NS['ows']}}}ExceptionReport"
    assert doc.get("version") == "2.0.0"
    exc = doc.find("ows:Exception", NS)
    text = exc.findtext("ows:ExceptionText", "", NS)
    return response.status_code, exc.get("exceptionCode"), exc.get("locator"), text


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_status_of_a_queued_job(store, ask):
    submit(store, "j1")
    before = datetime.now(UTC).replace(microsecond=0)
    status = status_of(ask("GetStatus", "j1"))
    assert status["JobID"] == "j1"
    assert status["Status"] == "Accepted"
    assert status["PercentCompleted"] == "0"
    assert "ExpirationDate" not in status
    assert before + timedelta(seconds=NEXT_POLL) <= when(status["NextPoll"])
    assert when(status["NextPoll"]) <= datetime.now(UTC) + timedelta(seconds=NEXT_POLL)


def test_status_of_a_running_job_shows_its_progress(store, ask):
    start(store, "j1")
    store.set_progress("j1", 40, "file 2 of 5")
    status = status_of(ask("GetStatus", "j1"))
    assert (status["Status"], status["PercentCompleted"]) == ("Running", "40")
    assert "NextPoll" in status


@pytest.mark.parametrize(
    ("state", "status", "percent"), [("succeeded", "Succeeded", "100"), ("failed", "Failed", "30")]
)
def test_status_of_a_finished_job_has_an_expiration_date(store, ask, state, status, percent):
    start(store, "j1")
    store.set_progress("j1", 30, "working")
    store.finish("j1", state, "done" if state == "succeeded" else "no data", outputs={})
    info = status_of(ask("GetStatus", "j1"))
    assert (info["Status"], info["PercentCompleted"]) == (status, percent)
    assert "NextPoll" not in info
    finished = store.get("j1").finished.replace(microsecond=0)
    assert when(info["ExpirationDate"]) == finished + RETENTION


def test_result_of_a_succeeded_job_references_every_output(store, ask):
    succeed(store, "j1")
    response = ask("GetResult", "j1")
    assert response.status_code == 200, response.get_data(as_text=True)
    doc = xml(response)
    assert doc.tag == f"{{{NS['wps']}}}Result"
    assert doc.findtext("wps:JobID", None, NS) == "j1"
    finished = store.get("j1").finished.replace(microsecond=0)
    assert when(doc.findtext("wps:ExpirationDate", None, NS)) == finished + RETENTION
    outputs = {
        out.get("id"): out.find("wps:Reference", NS).get(f"{{{NS['xlink']}}}href")
        for out in doc.findall("wps:Output", NS)
    }
    assert outputs == OUTPUTS


@pytest.mark.parametrize("started", [False, True], ids=["queued", "running"])
def test_result_of_an_unfinished_job_is_not_ready(store, ask, started):
    (start if started else submit)(store, "j1")
    code, exception, locator, text = exception_of(ask("GetResult", "j1"))
    assert (code, exception, locator) == (404, "ResultNotReady", "JobID")
    assert "not ready" in text


def test_result_of_a_failed_job_is_its_failure_message(store, ask):
    start(store, "j1")
    store.finish("j1", "failed", "exceeded the wall time of 60 s")
    code, exception, _, text = exception_of(ask("GetResult", "j1"))
    assert (code, exception, text) == (500, "NoApplicableCode", "exceeded the wall time of 60 s")


def test_dismiss_a_queued_job_dismisses_it_at_once(store, ask):
    submit(store, "j1")
    assert status_of(ask("Dismiss", "j1"))["Status"] == "Dismissed"
    assert store.get("j1").state == "dismissed"
    assert status_of(ask("GetStatus", "j1"))["Status"] == "Dismissed"
    code, exception, _, text = exception_of(ask("GetResult", "j1"))
    assert (code, exception) == (404, "NoSuchJob")
    assert "dismissed" in text


def test_dismiss_a_running_job_asks_the_dispatcher_to_stop_it(store, ask):
    start(store, "j1")
    info = status_of(ask("Dismiss", "j1"))
    assert info["Status"] == "Dismissed"
    assert "NextPoll" not in info
    record = store.get("j1")
    assert record.dismiss_requested
    assert status_of(ask("GetStatus", "j1"))["Status"] == "Dismissed"


def test_dismiss_of_a_finished_job_changes_nothing(store, ask):
    succeed(store, "j1")
    assert status_of(ask("Dismiss", "j1"))["Status"] == "Succeeded"
    assert store.get("j1").state == "succeeded"


@pytest.mark.parametrize("who", ["bob", None], ids=["other-user", "anonymous"])
def test_only_the_owner_can_dismiss_a_job(store, ask, who):
    start(store, "j1", owner="alice")
    code, exception, _, text = exception_of(ask("Dismiss", "j1", owner=who))
    assert (code, exception) == (403, "NoApplicableCode")
    assert text == "only the job's owner can dismiss it"
    assert not store.get("j1").dismiss_requested
    assert status_of(ask("Dismiss", "j1", owner="alice"))["Status"] == "Dismissed"


@pytest.mark.parametrize("operation", ["GetStatus", "GetResult", "Dismiss"])
def test_unknown_job_is_no_such_job(ask, operation):
    code, exception, locator, text = exception_of(ask(operation, "no-such-id"))
    assert (code, exception, locator) == (404, "NoSuchJob", "JobID")
    assert "no-such-id" in text


@pytest.mark.parametrize("operation", ["GetStatus", "GetResult", "Dismiss"])
def test_missing_job_id_is_missing_parameter_value(ask, operation):
    code, exception, locator, _ = exception_of(ask(operation, None))
    assert (code, exception) == (400, "MissingParameterValue")
    assert locator == ("jobId" if ask.encoding == "kvp" else "JobID")


@pytest.mark.parametrize(
    "job_id",
    ["a\x00b", "\x01", "a b", "x" * 65, "caf\u00e9"],
    ids=["nul", "soh", "space", "long", "e"],
)
@pytest.mark.parametrize("operation", ["GetStatus", "GetResult", "Dismiss"])
def test_a_job_id_that_cannot_be_one_is_invalid(store, client, operation, job_id):
    query = {"service": "WPS", "version": "2.0.0", "request": operation, "jobId": job_id}
    code, exception, locator, text = exception_of(client.get("/", query_string=query))
    assert (code, exception, locator) == (400, "InvalidParameterValue", "jobId")
    assert "is not a job id" in text


def test_a_control_character_reference_in_an_xml_job_id_is_invalid_xml(client):
    body = (
        f'<wps:GetStatus service="WPS" version="2.0.0" xmlns:wps="{NS["wps"]}">'
        "<wps:JobID>&#1;</wps:JobID></wps:GetStatus>"
    )
    code, exception, _, text = exception_of(client.post("/", data=body))
    assert (code, exception) == (400, "InvalidParameterValue")
    assert text.startswith("invalid XML")


def test_truncated_xml_is_passed_on(client, opened):
    body = '<?xml version="1.0"?><wps:Execu'
    assert client.post("/", data=body).json == {"method": "POST", "query": "", "data": body}
    assert opened == []


def test_kvp_parameter_names_are_case_insensitive(store, client):
    submit(store, "j1")
    response = client.get("/?SERVICE=WPS&Version=2.0.0&REQUEST=GetStatus&JOBID=j1")
    assert status_of(response)["Status"] == "Accepted"


@pytest.mark.parametrize(
    ("query", "exception", "locator"),
    [
        ("request=GetStatus&version=2.0.0", "MissingParameterValue", "service"),
        ("service=WMS&request=GetStatus&version=2.0.0", "InvalidParameterValue", "service"),
        ("service=WPS&request=GetStatus", "MissingParameterValue", "version"),
        ("service=WPS&request=GetResult&version=1.0.0", "InvalidParameterValue", "version"),
    ],
)
def test_service_and_version_are_checked(store, client, query, exception, locator):
    submit(store, "j1")
    assert exception_of(client.get(f"/?{query}&jobId=j1"))[:3] == (400, exception, locator)


def test_xml_request_of_another_version_is_refused(store, client):
    submit(store, "j1")
    body = f'<wps:GetStatus service="WPS" version="1.0.0" xmlns:wps="{NS["wps"]}"/>'
    assert exception_of(client.post("/", data=body))[:3] == (
        400,
        "InvalidParameterValue",
        "version",
    )


def test_other_requests_pass_through_unchanged(client, opened):
    query = "service=WPS&version=1.0.0&request=DescribeProcess&identifier=subset"
    assert client.get(f"/?{query}").json == {"method": "GET", "query": query, "data": ""}
    execute = (
        '<?xml version="1.0"?><wps:Execute service="WPS" version="1.0.0" '
        'xmlns:wps="http://www.opengis.net/wps/1.0.0">'
        + "<!-- padding -->" * 5000
        + "</wps:Execute>"
    )
    for body in (execute, "not xml at all", ""):
        response = client.post("/?x=1", data=body, content_type="text/xml")
        assert response.json == {"method": "POST", "query": "x=1", "data": body}
    assert opened == []  # the job store is not even opened for them


def test_the_store_is_opened_once(store, client, opened):
    submit(store, "j1")
    for _ in range(3):
        status_of(client.get("/?service=WPS&version=2.0.0&request=GetStatus&jobId=j1"))
    assert opened == [1]


def test_invalid_xml_of_a_job_request_is_an_exception(client):
    body = f'<wps:GetStatus service="WPS" version="2.0.0" xmlns:wps="{NS["wps"]}"><wps:JobID>'
    code, exception, _, _ = exception_of(client.post("/", data=body))
    assert (code, exception) == (400, "InvalidParameterValue")


@pytest.fixture
def pywps_client(store):
    return Client(Wps2Jobs(Service(processes=[]), lambda: store))


def test_pywps_wps2_capabilities_list_the_job_operations(pywps_client):
    response = pywps_client.get("/?service=WPS&request=GetCapabilities&acceptversions=2.0.0")
    doc = etree.fromstring(response.get_data())
    operations = doc.xpath("ows:OperationsMetadata/ows:Operation/@name", namespaces=NS)
    assert {"GetStatus", "GetResult", "Dismiss"} <= set(operations)


def test_pywps_still_reads_posted_xml(pywps_client):
    body = (
        '<wps:GetCapabilities service="WPS" xmlns:wps="http://www.opengis.net/wps/1.0.0" '
        'xmlns:ows="http://www.opengis.net/ows/1.1"><ows:AcceptVersions>'
        "<ows:Version>1.0.0</ows:Version></ows:AcceptVersions></wps:GetCapabilities>"
    )
    response = pywps_client.post("/", data=body, content_type="text/xml")
    assert response.status_code == 200
    assert re.search(rb'<wps:Capabilities [^>]*version="1.0.0"', response.get_data())


@pytest.mark.parametrize("operation", ["GetStatus", "GetResult"])
def test_with_private_results_only_the_owner_reads_a_job(store, operation):
    start(store, "j1", owner="alice")
    assert store.finish("j1", "succeeded", "done", outputs=OUTPUTS)
    submit(store, "j2")  # no owner (submitted while authentication was off): public
    client = Client(Wps2Jobs(echo_app, lambda: store, private=True))

    def ask(job_id: str, owner: str | None):
        query = {"service": "WPS", "version": "2.0.0", "request": operation, "jobId": job_id}
        return client.get("/", query_string=query, environ_overrides={OWNER_KEY: owner})

    for who in ("bob", None):
        code, exception, locator, text = exception_of(ask("j1", who))
        assert (code, exception, locator) == (403, "NoApplicableCode", "JobID")
        assert text == "only the job's owner can read its status and result"
    assert ask("j1", "alice").status_code == 200
    for who in ("bob", None):  # j2 is queued: its status, and that its result is not ready
        answer = ask("j2", who)
        if operation == "GetStatus":
            assert status_of(answer)["Status"] == "Accepted"
        else:
            assert exception_of(answer)[:2] == (404, "ResultNotReady")
