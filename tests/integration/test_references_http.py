"""Inputs given by reference over HTTP: refused by default, before anything is fetched; with
``[references] allowed_prefixes``, fetched from there only, and what was fetched is never
shown in an answer nor left in the work folder."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
import requests
import xarray as xr

from ..processes.test_references import SECRET, SHAPE, Site
from .test_jobs_http import Service, service
from .test_shape_concat_http import CFTIME, REGULAR
from .test_subset_clients import NS, download, exception_of, metalink_files

pytestmark = pytest.mark.realdata

WPS1 = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
# the one grid cell of REGULAR at lat 60..61.5, lon -1..1
CELL = {"type": "Polygon", "coordinates": [[[-1, 60], [1, 60], [1, 61.5], [-1, 61.5], [-1, 60]]]}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


@pytest.fixture(scope="module")
def allowing(settings_env, tmp_path_factory, site, inventory_db) -> Iterator[Service]:
    """A service fetching references under the site's /shapes/."""
    env = {**settings_env, "CP4CDS_WPS_REFERENCES__ALLOWED_PREFIXES": f"{site.url}/shapes/"}
    with service(env, tmp_path_factory.mktemp("references"), inventory=inventory_db) as running:
        yield running


def kvp(wps_url: str, identifier: str, data_inputs: str) -> requests.Response:
    query = {"service": "WPS", "version": "1.0.0", "request": "Execute"}
    params = {**query, "identifier": identifier, "DataInputs": data_inputs}
    return requests.get(wps_url, params=params, timeout=120)


def xml_execute(wps_url: str, identifier: str, inputs: str) -> requests.Response:
    body = (
        f'<?xml version="1.0"?><wps:Execute service="WPS" version="1.0.0" {WPS1} {XLINK}>'
        f"<ows:Identifier>{identifier}</ows:Identifier><wps:DataInputs>{inputs}"
        "</wps:DataInputs></wps:Execute>"
    )
    return requests.post(wps_url, data=body, timeout=120)


def literal(name: str, value: str) -> str:
    return (
        f"<wps:Input><ows:Identifier>{name}</ows:Identifier><wps:Data><wps:LiteralData>"
        f"{escape(value)}</wps:LiteralData></wps:Data></wps:Input>"
    )


def reference(name: str, url: str, extra: str = "", body: str = "") -> str:
    return (
        f'<wps:Input><ows:Identifier>{name}</ows:Identifier><wps:Reference xlink:href="{url}" '
        f'mimeType="application/json" {extra}>{body}</wps:Reference></wps:Input>'
    )


def refused(response: requests.Response, locator: str) -> str:
    assert response.status_code == 400, response.text
    code, where, text = exception_of(response)
    assert (code, where) == ("InvalidParameterValue", locator)
    assert SECRET not in response.text
    return text


def files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_references_are_refused_by_default_and_nothing_is_fetched(wps_url, site, settings):
    hits = len(site.hits)
    url = f"{site.url}/shapes/box.json"
    text = refused(kvp(wps_url, "average_shape", f"collection={REGULAR};shape=@xlink:href={url}"),
                   "shape")  # fmt: skip
    assert text == (
        f"shape is given by reference ({url}): this service fetches no references; send the "
        "shape itself in the request"
    )
    shape = reference("shape", url)
    refused(xml_execute(wps_url, "average_shape", literal("collection", REGULAR) + shape), "shape")
    workflow = reference("workflow", f"{site.url}/shapes/probe.json")
    refused(xml_execute(wps_url, "orchestrate", workflow), "workflow")
    assert len(site.hits) == hits


def test_a_post_reference_is_refused_not_a_500(wps_url, allowing, site):
    hits = len(site.hits)
    body = f"<wps:Body>{escape(json.dumps(SHAPE))}</wps:Body>"
    post = reference("shape", f"{site.url}/shapes/box.json", 'method="POST"', body)
    for url in (wps_url, allowing.wps_url):
        response = xml_execute(url, "average_shape", literal("collection", REGULAR) + post)
        refused(response, "shape")
    without_body = reference("shape", f"{site.url}/shapes/box.json", 'method="POST"')
    refused(xml_execute(wps_url, "average_shape", without_body), "shape")  # was AttributeError
    assert len(site.hits) == hits


def test_a_literal_input_by_reference_is_refused(wps_url, site):
    response = kvp(wps_url, "subset", f"collection=@xlink:href={site.url}/shapes/box.json")
    assert refused(response, "collection") == (
        "collection is given by reference; only complex inputs can be"
    )


def mean_over_shape(response: requests.Response, folder: Path) -> xr.DataArray:
    """The ``rlds`` means of a succeeded synchronous ``average_shape``."""
    assert response.status_code == 200, response.text
    href = ET.fromstring(response.content).find(".//wps:Output/wps:Reference", NS).get("href")
    (linked,) = metalink_files(href)
    folder.mkdir()
    return xr.open_dataset(download(linked["url"], folder), decode_times=CFTIME).rlds.load()


def test_an_allowed_reference_is_fetched_and_used(allowing, site, tmp_path):
    site.pages["/shapes/cell.json"] = json.dumps(CELL).encode()
    url = f"{site.url}/shapes/cell.json"
    given = kvp(allowing.wps_url, "average_shape", f"collection={REGULAR};shape=@xlink:href={url}")
    inline = kvp(
        allowing.wps_url, "average_shape", f"collection={REGULAR};shape={json.dumps(CELL)}"
    )
    assert "/shapes/cell.json" in site.hits
    fetched = mean_over_shape(given, tmp_path / "given")
    np.testing.assert_array_equal(
        fetched.values, mean_over_shape(inline, tmp_path / "inline").values
    )
    assert fetched.shape == (fetched.sizes["time"], 1)


@pytest.mark.parametrize(
    ("process", "name", "path", "reason"),
    [
        ("orchestrate", "workflow", "/shapes/probe.json", "is no valid workflow"),
        ("average_shape", "shape", "/shapes/probe.json", "is no valid shape"),
        ("average_shape", "shape", "/elsewhere/probe.json", "only from URLs starting with"),
        ("average_shape", "shape", "/shapes/none.json", "it answers HTTP 404"),
    ],
)
def test_what_was_fetched_is_never_shown_nor_kept(allowing, site, process, name, path, reason):
    inputs = f"{name}=@xlink:href={site.url}{path}"
    if process == "average_shape":
        inputs = f"collection={REGULAR};{inputs}"
    text = refused(kvp(allowing.wps_url, process, inputs), name)
    assert reason in text
    for word in ("status", "checks"):
        assert word not in text
    work_dir = Path(allowing.env["CP4CDS_WPS_PATHS__VAR_DIR"])
    assert files_holding(work_dir, SECRET) == []
