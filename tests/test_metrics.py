"""Metrics middleware, the dashboard's request log and page (in-process; HTTP in
tests/integration/test_operations_http.py)."""

from __future__ import annotations

import dataclasses
import io
import re
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from cp4cds_wps.dashboard import render
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.jobs.store import JobStore
from cp4cds_wps.metrics import Metrics, classify, variables
from cp4cds_wps.request_log import Heartbeat, RequestLog

CMIP6_ID = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
CMIP5_ID = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"

EXECUTE_10 = f"""<wps:Execute service="WPS" version="1.0.0"
    xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1">
  <ows:Identifier>subset</ows:Identifier>
  <wps:DataInputs><wps:Input><ows:Identifier>collection</ows:Identifier>
    <wps:Data><wps:LiteralData>{CMIP6_ID},{CMIP5_ID}</wps:LiteralData></wps:Data>
  </wps:Input><wps:Input><ows:Identifier>time</ows:Identifier>
    <wps:Data><wps:LiteralData>2000/2001</wps:LiteralData></wps:Data></wps:Input>
  </wps:DataInputs></wps:Execute>"""

EXECUTE_20 = f"""<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" service="WPS"
    version="2.0.0" mode="async" response="document">
  <ows:Identifier xmlns:ows="http://www.opengis.net/ows/2.0">average</ows:Identifier>
  <wps:Input id="collection"><wps:Data>{CMIP5_ID}</wps:Data></wps:Input>
</wps:Execute>"""


def _environ(path: str, query: str = "", body: bytes = b"") -> dict:
    return {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": "POST" if body else "GET",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.input": io.BytesIO(body),
    }


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/wps", "service=WPS&request=GetCapabilities", ("wps", "GetCapabilities", [])),
        ("/wps", "SERVICE=WPS&REQUEST=describeprocess&identifier=subset",
         ("wps", "DescribeProcess", [])),
        ("/wps", "service=WPS&request=Execute&identifier=subset"
         f"&DataInputs=collection={CMIP6_ID};time=2000/2001",
         ("wps", "Execute", [CMIP6_ID])),
        ("/wps", "service=WPS&version=2.0.0&request=GetStatus&jobId=x",
         ("wps", "GetStatus", [])),
        ("/wps", "request=Nonsense", ("wps", "unknown", [])),
        ("/meta-wps", "service=WPS&request=GetResult&jobId=x", ("meta-wps", "GetResult", [])),
        ("/outputs/a/b.nc", "", ("outputs", "outputs", [])),
        ("/outputs/0b5e-11f0.xml", "", ("outputs", "GetStatus", [])),
        ("/data/cmip5/x.nc", "", ("data", "data", [])),
        ("/health", "", ("health", "health", [])),
        ("/", "", ("index", "index", [])),
        ("/elsewhere", "", ("other", "other", [])),
    ],
)  # fmt: skip
def test_requests_are_classified_from_kvp(path, query, expected):
    found = classify(_environ(path, query))
    assert found[:3] == expected
    assert found.process == ("subset" if expected[1] == "Execute" else "")


@pytest.mark.parametrize(
    ("body", "process", "ids"),
    [(EXECUTE_10, "subset", [CMIP6_ID, CMIP5_ID]), (EXECUTE_20, "average", [CMIP5_ID])],
)
def test_xml_requests_are_classified_and_their_body_kept(body, process, ids):
    environ = _environ("/wps", body=body.encode())
    assert classify(environ) == ("wps", "Execute", ids, process)
    assert environ["wsgi.input"].read() == body.encode()


def test_variables_come_from_the_ids():
    assert variables([CMIP6_ID, f" {CMIP5_ID} ", "no.such.id", "CMIP6.x"]) == [
        "rlds",
        "tas",
        "unknown",
        "unknown",
    ]


def _metrics(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_middleware_counts_requests_bytes_variables_and_jobs(tmp_path, settings):
    def app(environ, start_response):
        status = "404 NOT FOUND" if environ["PATH_INFO"].endswith("missing") else "200 OK"
        start_response(status, [("Content-Length", "5")])
        return [b"hello"]

    settings = dataclasses.replace(settings, var_dir=tmp_path)
    jobs = JobStore(f"sqlite:///{tmp_path}/jobs.sqlite")
    jobs.submit("j1", "subset", "{}", status_url="", max_queued=5)
    client = Client(Metrics(app, settings, jobs))
    client.get("/outputs/a.nc")
    client.get("/data/missing")
    client.post("/wps", data=EXECUTE_10, content_type="text/xml")
    client.get("/wps", query_string={"service": "WPS", "request": "GetCapabilities"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = _metrics(response.get_data(as_text=True))

    def requests(endpoint, operation, status):
        labels = (("endpoint", endpoint), ("operation", operation), ("status", status))
        return found[("cp4cds_wps_requests_total", labels)]

    assert requests("outputs", "outputs", "200") == 1
    assert requests("data", "data", "404") == 1
    assert requests("wps", "Execute", "200") == 1
    assert requests("wps", "GetCapabilities", "200") == 1
    key = (("endpoint", "wps"), ("le", "+Inf"), ("operation", "Execute"), ("status", "200"))
    assert found[("cp4cds_wps_request_duration_seconds_bucket", key)] == 1
    assert found[("cp4cds_wps_bytes_served_total", (("endpoint", "outputs"),))] == 5
    assert ("cp4cds_wps_bytes_served_total", (("endpoint", "data"),)) not in found
    for variable in ("rlds", "tas"):
        key = ("cp4cds_wps_variable_requests_total", (("variable", variable),))
        assert found[key] == 1
    assert found[("cp4cds_wps_jobs", (("state", "accepted"),))] == 1
    assert found[("cp4cds_wps_jobs", (("state", "running"),))] == 0
    assert found[("cp4cds_wps_queue_length", ())] == 1
    operations = {(o.endpoint, o.operation): o.requests for o in RequestLog(
        tmp_path / "requests.sqlite").operations(0)}  # fmt: skip
    assert operations[("wps", "Execute")] == 1
    assert operations[("data", "data")] == 1


def test_a_lazy_application_is_recorded_when_its_response_ends(tmp_path, settings):
    def lazy(environ, start_response):
        start_response("201 CREATED", [])
        yield b"x"

    settings = dataclasses.replace(settings, var_dir=tmp_path)
    client = Client(Metrics(lazy, settings, JobStore(f"sqlite:///{tmp_path}/jobs.sqlite")))
    assert client.get("/api/x").status_code == 201
    found = _metrics(client.get("/metrics").get_data(as_text=True))
    labels = (("endpoint", "api"), ("operation", "api"), ("status", "201"))
    assert found[("cp4cds_wps_requests_total", labels)] == 1


T0 = 1_800_000_000 // 3600 * 3600  # a whole hour


def test_request_log_buckets_operations_and_availability(tmp_path):
    log = RequestLog(tmp_path / "requests.sqlite")
    log.record("wps", "Execute", 2.0, False, now=T0 + 10)
    log.record("wps", "Execute", 4.0, True, now=T0 + 20)
    log.record("wps", "GetCapabilities", 0.5, False, now=T0 + 130)
    log.record("health", "health", 0.1, False, now=T0 + 130)  # not plotted
    buckets = log.buckets(T0, T0 + 300, 60)
    assert [b.start for b in buckets] == [T0 + 60 * i for i in range(5)]
    assert [b.requests for b in buckets] == [2, 0, 1, 0, 0]
    assert [b.errors for b in buckets] == [1, 0, 0, 0, 0]
    assert [b.mean_seconds for b in buckets] == [3.0, None, 0.5, None, None]
    assert [(o.operation, o.requests, o.mean_seconds, o.max_seconds) for o in
            log.operations(T0)] == [("Execute", 2, 3.0, 4.0), ("health", 1, 0.1, 0.1),
                                    ("GetCapabilities", 1, 0.5, 0.5)]  # fmt: skip
    assert log.availability(T0, T0 + 600) is None
    for minute in range(10):
        log.heartbeat(minute != 3, now=T0 + minute * 60 + 5)
    log.heartbeat(True, now=T0 + 3 * 60 + 35)  # a failed check in a minute counts
    assert log.availability(T0 - 3600, T0 + 599) == pytest.approx(0.9)


def test_dashboard_page_shows_uptime_totals_and_plots(tmp_path):
    log = RequestLog(tmp_path / "requests.sqlite")
    log.started(now=T0 - 2 * 3600)
    for minute in range(30):
        log.heartbeat(True, now=T0 + minute * 60)
        log.record("wps", "Execute", 0.1 * (minute % 7 + 1), False, now=T0 + minute * 60)
    page = render(log, "hour", now=T0 + 30 * 60)
    assert "2 h 30 min" in page  # uptime
    assert "100.00%" in page  # availability
    assert ">30<" in page  # requests
    assert page.count("<svg") == 2
    assert len(re.findall(r"<rect ", page)) == 30
    assert len(re.findall(r"<circle ", page)) == 30
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_heartbeats_start_when_the_service_first_answers(tmp_path):
    log = RequestLog(tmp_path / "requests.sqlite")
    answers = iter([False, False, True, False])
    beat = Heartbeat(log, lambda: next(answers), interval=0, grace=60, poll=0)
    beat.tick()
    beat.tick()  # booting: not recorded
    assert log.availability(0, time.time()) is None
    beat.tick()
    assert log.availability(0, time.time() + 60) == 1.0
    beat.tick()  # down: its minute counts as down (0.5 when the ticks straddle two minutes)
    assert log.availability(0, time.time() + 60) <= 0.5


def test_requests_are_written_once_a_second_per_process(tmp_path, monkeypatch):
    """Writing each request took a write lock shared by all server processes."""
    from cp4cds_wps import request_log

    monkeypatch.setattr(request_log, "FLUSH_SECONDS", 0.2)
    log = RequestLog(tmp_path / "requests.sqlite")
    for _ in range(50):
        log.record("wps", "GetCapabilities", 0.01, False, now=T0)
    other = RequestLog(tmp_path / "requests.sqlite")  # as another server process reads it
    with other._connect() as conn:
        assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 0
    time.sleep(1)
    with other._connect() as conn:
        assert conn.execute("SELECT requests FROM requests").fetchall() == [(50,)]
    log.record("wps", "GetCapabilities", 0.01, False, now=T0)
    assert [o.requests for o in log.operations(T0)] == [51]  # readers write what is pending


def test_usage_counts_accepted_executes_and_whole_downloads(tmp_path, settings):
    """Datasets of accepted Executes of the WPS count by process, downloads of original files
    by their dataset; refused requests, meta-WPS questions and range requests do not."""
    inventory = Inventory.from_settings(settings)
    inventory.ensure_scanned()
    record = inventory.get(CMIP5_ID).files[0]

    def app(environ, start_response):
        status = {"refuse": "400 BAD REQUEST", "part": "206 PARTIAL CONTENT"}.get(
            environ.get("HTTP_X_TEST", ""), "200 OK"
        )
        start_response(status, [("Content-Length", "1")])
        return [b"x"]

    settings = dataclasses.replace(settings, var_dir=tmp_path)
    client = Client(Metrics(app, settings, JobStore(f"sqlite:///{tmp_path}/jobs.sqlite")))
    kvp = {"service": "WPS", "request": "Execute", "identifier": "average",
           "DataInputs": f"collection={CMIP6_ID},{CMIP5_ID};dims=time"}  # fmt: skip
    client.get("/wps", query_string=kvp)
    client.post("/wps", data=EXECUTE_10, content_type="text/xml")
    client.get("/wps", query_string={**kvp, "identifier": "subset"}, headers={"X-Test": "refuse"})
    client.get("/meta-wps", query_string={**kvp, "identifier": "estimate"})
    client.get(f"/data/{record.root}/{record.relpath}")
    client.get(f"/data/{record.root}/{record.relpath}", headers={"X-Test": "part"})
    client.head(f"/data/{record.root}/{record.relpath}")
    client.get(f"/data/{record.root}/not/recorded.nc")
    rows = RequestLog(tmp_path / "requests.sqlite").usage(0)
    found = sorted((r.source, r.process, r.model, r.experiment, r.variable, r.requests)
                   for r in rows)  # fmt: skip
    assert found == [
        ("download", "", "HadGEM2-ES", "historical", "tas", 1),
        ("process", "average", "HadGEM2-ES", "historical", "tas", 1),
        ("process", "average", "IPSL-CM6A-LR", "historical", "rlds", 1),
        ("process", "subset", "HadGEM2-ES", "historical", "tas", 1),
        ("process", "subset", "IPSL-CM6A-LR", "historical", "rlds", 1),
    ]
    assert {r.project for r in rows} == {"cmip5", "cmip6"}
    assert {r.day for r in rows} == {int(time.time() // 86400)}


def test_usage_counts_are_written_with_the_requests(tmp_path, monkeypatch):
    """Counting each Execute's datasets wrote to the shared file on the request's thread."""
    from cp4cds_wps import request_log

    monkeypatch.setattr(request_log, "FLUSH_SECONDS", 0.2)
    log = RequestLog(tmp_path / "requests.sqlite")
    tas = {"project": "cmip5", "model": "HadGEM2-ES", "experiment": "historical", "variable": "tas"}
    for _ in range(20):
        log.record_usage("process", "subset", [tas, {**tas, "variable": "pr"}], now=T0)
        log.record("wps", "Execute", 0.1, False, now=T0)
    other = RequestLog(tmp_path / "requests.sqlite")  # as another server process reads it
    with other._connect() as conn:
        assert conn.execute("SELECT count(*) FROM usage").fetchone()[0] == 0
    time.sleep(1)
    with other._connect() as conn:
        counts = conn.execute("SELECT variable, requests FROM usage ORDER BY variable")
        assert counts.fetchall() == [("pr", 20), ("tas", 20)]
    log.record_usage("download", "", [tas], now=T0)
    rows = log.usage(T0, T0)  # readers write what is pending
    assert sorted((r.source, r.variable, r.requests) for r in rows) == [
        ("download", "tas", 1), ("process", "pr", 20), ("process", "tas", 20)
    ]  # fmt: skip
