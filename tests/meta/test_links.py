"""Links from the main WPS's inputs to the meta-WPS, in DescribeProcess as OWSLib reads it."""

from __future__ import annotations

import urllib.parse

from owslib.wps import WebProcessingService
from pywps import LiteralInput, Process, Service
from werkzeug.test import Client

from cp4cds_wps.meta.links import ROLE, InputMetadata, meta_links

BASE = "https://wps.example.org/cp4cds"


def test_links_of_an_input():
    links = meta_links("collection", BASE)
    assert [link.role for link in links] == [
        f"{ROLE}resolve",
        f"{ROLE}availability",
        f"{ROLE}estimate",
    ]
    url = urllib.parse.urlsplit(links[0].href)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{BASE}/meta-wps"
    assert urllib.parse.parse_qs(url.query) == {
        "service": ["WPS"],
        "version": ["1.0.0"],
        "request": ["DescribeProcess"],
        "identifier": ["resolve"],
    }
    assert links[0].title.startswith("meta-WPS resolve: ")
    assert [link.role for link in meta_links("area", BASE)] == [f"{ROLE}resolve"]
    assert meta_links("original_files", BASE) == []


def _process() -> Process:
    inputs = [
        LiteralInput(name, name, data_type="string", metadata=meta_links(name, BASE))
        for name in ("collection", "time", "original_files")
    ]
    return Process(lambda request, response: response, "subset", "Subset", inputs=inputs)


def test_describe_process_gets_the_links_of_each_input():
    process = _process()
    client = Client(InputMetadata(Service([process]), [process]))
    response = client.get("/?service=WPS&request=DescribeProcess&version=1.0.0&identifier=subset")
    assert response.status_code == 200
    wps = WebProcessingService(BASE, skip_caps=True)
    described = wps.describeprocess("subset", xml=response.get_data())
    found = {i.identifier: i.metadata for i in described.dataInputs}
    assert [(m.title, m.url, m.role) for m in found["collection"]] == [
        (link.title, link.href, link.role) for link in meta_links("collection", BASE)
    ]
    assert len(found["time"]) == 1 and found["time"][0].role == f"{ROLE}resolve"
    assert found["original_files"] == []


def test_other_requests_pass_unchanged():
    process = _process()
    service = Service([process])
    plain, wrapped = Client(service), Client(InputMetadata(service, [process]))
    query = "/?service=WPS&request=GetCapabilities&version=1.0.0"
    assert wrapped.get(query).get_data() == plain.get(query).get_data()
