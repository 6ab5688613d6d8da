"""The OGC API - Processes application in process: documents checked against the schemas
of the standard (tests/ogcapi/schemas), the OpenAPI document against a real validator,
refusals with the WPS's texts, jobs listed and dismissed in the job store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree
from openapi_spec_validator import validate
from referencing import Registry, Resource
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Response

from cp4cds_wps.app import create_app
from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.ogcapi.landing import CONFORMANCE
from cp4cds_wps.operations.registry import OPERATIONS
from cp4cds_wps.routing import Routed

from ..conftest import copy_inventory

pytestmark = pytest.mark.realdata

SCHEMAS = Path(__file__).parent / "schemas"
_RESOURCES = {
    path.name: Resource.from_contents(json.loads(path.read_text()))
    for path in SCHEMAS.glob("*.json")
}
REGISTRY = Registry().with_resources(
    [(r.contents["$id"], r) for r in _RESOURCES.values()]
    + [(name, r) for name, r in _RESOURCES.items()]
)
TAS = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"


def check(document, name: str) -> None:
    """Validate ``document`` against the standard's schema ``name``."""
    schema = _RESOURCES[f"{name}.json"].contents
    Draft202012Validator(schema, registry=REGISTRY, format_checker=FormatChecker()).validate(
        document
    )


@pytest.fixture(scope="module")
def client(settings_env, inventory_db, tmp_path_factory):
    """The app on a var dir of its own (no dispatcher runs its jobs: they stay accepted)."""
    env = {**settings_env, "CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path_factory.mktemp("ogcapi"))}
    settings = load_settings(env=env)
    copy_inventory(inventory_db, settings.var_dir)
    Inventory.from_settings(settings).ensure_scanned()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)  # the processes read the settings of the environment
        yield Client(create_app(settings))


def test_landing_page_and_conformance(client):
    landing = client.get("/ogcapi/")
    assert landing.status_code == 200
    check(landing.json, "landingPage")
    rels = {link["rel"] for link in landing.json["links"]}
    assert {"service-desc", "http://www.opengis.net/def/rel/ogc/1.0/conformance"} <= rels
    conformance = client.get("/ogcapi/conformance").json
    check(conformance, "confClasses")
    names = {c.rsplit("/", 1)[-1] for c in conformance["conformsTo"]}
    assert names == {"core", "json", "html", "oas30", "ogc-process-description", "job-list",
                     "dismiss"}  # fmt: skip
    assert tuple(conformance["conformsTo"]) == CONFORMANCE


def test_processes_are_the_registrys_with_their_inputs(client):
    listed = client.get("/ogcapi/processes").json
    check(listed, "processList")
    assert [p["id"] for p in listed["processes"]] == list(OPERATIONS)
    subset = client.get("/ogcapi/processes/subset").json
    check(subset, "process")
    assert list(subset["inputs"]) == list(OPERATIONS["subset"].input_names)
    assert subset["inputs"]["collection"]["minOccurs"] == 1
    assert subset["inputs"]["original_files"]["schema"] == {"type": "boolean", "default": False}
    assert set(subset["outputs"]) == {"output", "prov", "prov_plot"}


def test_openapi_document_is_valid_and_names_each_process(client):
    response = client.get("/ogcapi/api")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.oai.openapi+json"
    validate(response.json)
    for name, operation in OPERATIONS.items():
        body = response.json["paths"][f"/processes/{name}/execution"]["post"]["requestBody"]
        inputs = body["content"]["application/json"]["schema"]["properties"]["inputs"]
        assert list(inputs["properties"]) == list(operation.input_names)


def test_html_on_request(client):
    response = client.get("/ogcapi/processes?f=html")
    assert response.mimetype == "text/html"
    assert 'href="http://127.0.0.1' in response.get_data(as_text=True)
    browser = client.get("/ogcapi/conformance", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.mimetype == "text/html"
    assert "ogc-process-description" in browser.get_data(as_text=True)


def wps_text(client, query: str) -> str:
    """The exception text the WPS gives for a KVP Execute of subset with ``query``."""
    body = client.get(
        f"/wps?service=WPS&version=1.0.0&request=Execute&identifier=subset&DataInputs={query}"
    ).get_data()
    return etree.fromstring(body).findtext(".//{*}ExceptionText").strip()


@pytest.mark.parametrize(
    ("inputs", "query"),
    [
        ({"collection": TAS, "bogus": "1"}, f"collection={TAS};bogus=1"),
        ({"collection": TAS, "area": "0,60,10,50"}, f"collection={TAS};area=0,60,10,50"),
        ({"time": "1900-01-01/1900-12-30"}, "time=1900-01-01/1900-12-30"),
        ({"collection": TAS + "x"}, f"collection={TAS}x"),
    ],
)
def test_bad_input_is_a_problem_with_the_wps_text(client, inputs, query):
    response = client.post("/ogcapi/processes/subset/execution", json={"inputs": inputs})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    check(response.json, "exception")
    assert response.json["detail"] == wps_text(client, query)


def test_unknown_process_and_job_are_404(client):
    for path in ("/ogcapi/processes/nope", "/ogcapi/jobs/nope", "/ogcapi/jobs/nope/results"):
        response = client.get(path)
        assert response.status_code == 404, path
        check(response.json, "exception")
    assert "unknown process 'nope'" in client.get("/ogcapi/processes/nope").json["detail"]


def submit(client) -> str:
    response = client.post(
        "/ogcapi/processes/subset/execution",
        json={"inputs": {"collection": TAS, "time": "1900-01-01/1900-12-30"}},
        headers={"Prefer": "respond-async"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    check(response.json, "statusInfo")
    assert response.headers["Location"].endswith(f"/ogcapi/jobs/{response.json['jobID']}")
    return response.json["jobID"]


def test_async_jobs_are_listed_filtered_paged_and_dismissed(client):
    first, second = submit(client), submit(client)
    listed = client.get("/ogcapi/jobs?processID=subset&status=accepted&limit=1").json
    check(listed, "jobList")
    assert [job["jobID"] for job in listed["jobs"]] == [second]  # newest first
    following = next(link["href"] for link in listed["links"] if link["rel"] == "next")
    assert "status=accepted" in following
    page = client.get(following.split("127.0.0.1:5000", 1)[-1]).json
    assert first in [job["jobID"] for job in page["jobs"]]
    # the WPS 2.0 GetStatus sees the same job
    status = client.get(f"/wps?service=WPS&version=2.0.0&request=GetStatus&jobId={first}")
    assert b"<wps:Status>Accepted</wps:Status>" in status.get_data()
    not_ready = client.get(f"/ogcapi/jobs/{first}/results")
    assert not_ready.status_code == 404
    assert not_ready.json["type"].endswith("result-not-ready")
    dismissed = client.delete(f"/ogcapi/jobs/{first}")
    assert dismissed.status_code == 200
    check(dismissed.json, "statusInfo")
    assert dismissed.json["status"] == "dismissed"
    assert client.get("/ogcapi/jobs?status=dismissed").json["jobs"][0]["jobID"] == first
    client.delete(f"/ogcapi/jobs/{second}")
    bad = client.get("/ogcapi/jobs?status=done")
    assert bad.status_code == 400
    assert "status: unknown status done" in bad.json["detail"]


class Extra(Routed):
    urls = Map([Rule("/processes/<process_id>/costing", endpoint="costing")])

    def costing(self, request, process_id):
        return Response(json.dumps({"process": process_id}), mimetype="application/json")


def test_extra_routes_answer_what_the_api_does_not(settings):
    from cp4cds_wps.ogcapi import OgcApi

    api = Client(OgcApi(settings, [], lambda environ, start: [], extra=[Extra()]))
    assert api.get("/processes/subset/costing").json == {"process": "subset"}
    assert api.get("/processes/subset/other").status_code == 404
