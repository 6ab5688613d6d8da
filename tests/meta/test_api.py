"""``/api/constraints`` in the WSGI app: the same answers as ``resolve``, GET and POST."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from cp4cds_wps.app import create_app
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import parse_selection
from cp4cds_wps.processes import processes

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def client(settings, inventory):
    return Client(create_app(settings))


def test_get_and_post_answer_as_resolve(client, inventory, settings):
    query = "project=cmip6&experiment=historical&model=MIROC6&model=CanESM5"
    got = client.get(f"/api/constraints?{query}")
    assert got.status_code == 200 and got.mimetype == "application/json"
    posted = client.post(
        "/api/constraints",
        json={"project": "cmip6", "experiment": "historical", "model": ["MIROC6", "CanESM5"]},
    )
    selection = parse_selection(
        {"project": "cmip6", "experiment": "historical", "model": "MIROC6,CanESM5"}
    )
    names = [p.identifier for p in processes()]
    expected = resolve(inventory, selection, settings, names)
    assert got.json == posted.json == expected
    assert got.json["matches"] == 2


def test_malformed_requests_are_400_with_the_input(client):
    response = client.get("/api/constraints?collection=nothing")
    assert response.status_code == 400
    assert response.json["locator"] == "collection"
    assert "does not start with a known project" in response.json["reason"]
    response = client.post("/api/constraints", json=["cmip6"])
    assert response.status_code == 400 and response.json["locator"] == "body"
    assert client.delete("/api/constraints").status_code == 405
    assert client.get("/api/nothing").status_code == 404


def test_meta_wps_capabilities_name_the_meta_wps(client, settings):
    meta = client.get("/meta-wps?service=WPS&request=GetCapabilities&version=1.0.0")
    body = meta.get_data(as_text=True)
    assert meta.status_code == 200
    assert "<ows:Title>cp4cds-wps meta-WPS</ows:Title>" in body
    assert f'xlink:href="{settings.url}/meta-wps"' in body
    for name in ("resolve", "estimate", "availability"):
        assert f"<ows:Identifier>{name}</ows:Identifier>" in body
    main = client.get("/wps?service=WPS&request=GetCapabilities&version=1.0.0")
    assert f'xlink:href="{settings.url}/wps"' in main.get_data(as_text=True)
    assert "meta-WPS" not in main.get_data(as_text=True)


def test_bad_estimate_inputs_are_ogc_exceptions(client):
    response = client.get(
        "/meta-wps?service=WPS&request=Execute&version=1.0.0&identifier=estimate"
        "&DataInputs=process=subset;collection=CMIP6.nothing.x"
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'exceptionCode="InvalidParameterValue"' in body and 'locator="collection"' in body
    unknown = client.get(
        "/meta-wps?service=WPS&request=Execute&version=1.0.0&identifier=estimate"
        "&DataInputs=process=subsett;collection=x"
    )
    assert unknown.status_code == 400 and 'locator="process"' in unknown.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 50000, "nests lists and objects deeper than 64 levels"),  # was RecursionError
        ('{"project": ' * 70 + '"cmip6"' + "}" * 70, "deeper than 64"),
        ("{project: cmip6}", "is not valid JSON: Expecting property name enclosed in double"),
    ],
)
def test_a_body_that_is_no_usable_json_is_400_naming_the_body(client, body, reason):
    response = client.post("/api/constraints", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["locator"] == "body"
    assert reason in response.json["reason"]


def test_a_body_over_the_size_limit_is_413(client):
    response = client.post("/api/constraints", data=b" " * (21 << 20))
    assert response.status_code == 413
