"""The catalogue's WSGI application on a synthetic archive: stable export URLs, and bad
requests answered with a clear 4xx, never a 500."""

from __future__ import annotations

import html
from urllib.parse import quote

import pystac.validation
import pytest
from werkzeug.test import Client

from cp4cds_wps.catalogue.web import Catalogue
from cp4cds_wps.processes import processes

from .conftest import ID


@pytest.fixture(scope="module")
def client(site_settings, site_inventory) -> Client:
    return Client(Catalogue(site_settings, processes()))


def test_a_stac_item_at_its_url_is_valid_and_names_its_files(client, site_inventory):
    dataset = site_inventory.get(ID.format(member="r1i1p1f1", variable="pr"))
    response = client.get(f"/stac/cmip6/{quote(dataset.id, safe='')}.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/geo+json"
    item = response.json
    pystac.validation.validate_dict(item)
    assert [a["href"] for a in item["assets"].values()] == [
        f"http://wps.example.org/data/cmip6/{quote(f.relpath)}" for f in dataset.files
    ]
    link = {link["rel"]: link["href"] for link in item["links"]}
    assert link["self"] == f"http://wps.example.org/catalogue/stac/cmip6/{dataset.id}.json"
    assert client.get(f"/stac/cmip5/{dataset.id}.json").status_code == 404


def test_the_intake_esm_csv_is_written_once_per_generation(client, site_settings):
    first = client.get("/intake-esm/cmip6.csv")
    assert first.status_code == 200 and first.text.count("\n") == 7  # header and 6 files
    cached = list((site_settings.var_dir / "catalogue").glob("g*/cmip6.csv"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    assert client.get("/intake-esm/cmip6.csv").text == first.text
    assert cached[0].stat().st_mtime_ns == mtime
    description = client.get("/intake-esm/cmip6.json").json
    assert description["catalog_file"] == "http://wps.example.org/catalogue/intake-esm/cmip6.csv"


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/?page=two", 400, "page must be a whole number"),
        ("/usage?days=x", 400, "days must be a whole number"),
        ("/availability?rows=nofacet", 400, "nofacet"),
        ("/intake-esm/cmip7.json", 404, "no project 'cmip7'"),
        ("/stac/cmip7/collection.json", 404, "no project 'cmip7'"),
        ("/dataset/CMIP6.CMIP.INST.MODEL.historical.r1i1p1f1.Amon.tass.gn.v20200101", 404,
         ID.format(member="r1i1p1f1", variable="tas")),
        ("/nothing-here", 404, "Not Found"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_clear_error(client, path, status, text):
    response = client.get(path)
    assert response.status_code == status
    assert text in html.unescape(response.text)
