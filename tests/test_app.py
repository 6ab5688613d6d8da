"""The WSGI app's own routes: health, archive files, outputs (no WPS request here)."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from cp4cds_wps.app import create_app
from cp4cds_wps.inventory import Inventory

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def client(settings):
    Inventory.from_settings(settings).ensure_scanned()
    return Client(create_app(settings))


def test_health_reports_each_check(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "checks": {"inventory": True, "outputs": True, "jobs_db": True},
    }


def test_recorded_archive_files_are_served(client, settings, archive_dir):
    dataset = Inventory.from_settings(settings).get(
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
    )
    f = dataset.files[0]
    response = client.get(f"/data/{f.root}/{f.relpath}")
    assert response.status_code == 200
    assert response.get_data() == f.path.read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/data/cmip5/../../../../../../etc/passwd",
        "/data/cmip5/output1/MOHC/nothing.nc",
        "/data/nosuchroot/x.nc",
        "/outputs/../../etc/passwd",
    ],
)
def test_nothing_else_is_served(client, path):
    assert client.get(path).status_code == 404


def test_wps_answers_getcapabilities(client):
    response = client.get("/wps?service=WPS&request=GetCapabilities&version=1.0.0")
    assert response.status_code == 200
    assert b"<ows:Identifier>subset</ows:Identifier>" in response.get_data()
