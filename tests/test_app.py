"""The WSGI app's own routes: health, archive files, outputs (no WPS request here)."""

from __future__ import annotations

import os

import pytest
import xarray as xr
from werkzeug.test import Client

from cp4cds_wps.app import create_app
from cp4cds_wps.config import load_settings
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


def test_an_archive_file_replaced_by_a_link_after_the_scan_is_not_served(tmp_path):
    archive = tmp_path / "archive"
    folder = archive / "badc/cmip6/data/CMIP6/CMIP/INST/MODEL/historical/r1i1p1f1/day/tas/gn/v1"
    folder.mkdir(parents=True)
    recorded = folder / "tas_day_MODEL_historical_r1i1p1f1_gn_20000101-20000102.nc"
    xr.Dataset(
        {"tas": ("time", [280.0, 281.0])},
        coords={"time": ("time", [0.5, 1.5], {"units": "days since 2000-01-01"})},
    ).to_netcdf(recorded)
    settings = load_settings(
        env={
            "CP4CDS_WPS_ARCHIVE__BASE_DIR": str(archive),
            "CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path),
        }
    )
    Inventory.from_settings(settings).scan()
    client = Client(create_app(settings))
    url = f"/data/cmip6/{recorded.relative_to(archive / 'badc/cmip6/data/CMIP6')}"
    assert client.get(url).status_code == 200
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"x" * recorded.stat().st_size)
    os.utime(secret, ns=(recorded.stat().st_mtime_ns,) * 2)
    recorded.unlink()
    recorded.symlink_to(secret)
    response = client.get(url)
    assert response.status_code == 404
    assert b"x" * 10 not in response.get_data()


def test_capabilities_name_the_configured_provider(tmp_path):
    """GetCapabilities (WPS 1.0.0 and 2.0.0) shows the [provider] settings, never PyWPS's
    placeholders."""
    from owslib.wps import WebProcessingService

    env = {
        "CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path / "var"),
        "CP4CDS_WPS_PROVIDER__NAME": "Example Climate Centre",
        "CP4CDS_WPS_PROVIDER__URL": "https://climate.example.org",
        "CP4CDS_WPS_PROVIDER__CONTACT_NAME": "Doe, Jane",
        "CP4CDS_WPS_PROVIDER__CONTACT_POSITION": "Data manager",
        "CP4CDS_WPS_PROVIDER__CONTACT_EMAIL": "help@example.org",
        "CP4CDS_WPS_PROVIDER__CONTACT_PHONE": "+49 40 000000",
        "CP4CDS_WPS_PROVIDER__ADDRESS": "Bundesstrasse 45a",
        "CP4CDS_WPS_PROVIDER__CITY": "Hamburg",
        "CP4CDS_WPS_PROVIDER__POSTAL_CODE": "20146",
        "CP4CDS_WPS_PROVIDER__COUNTRY": "Germany",
    }
    client = Client(create_app(load_settings(env=env)))
    body = client.get("/wps?service=WPS&request=GetCapabilities&version=1.0.0").get_data()
    wps = WebProcessingService("http://localhost/wps", skip_caps=True)
    wps.getcapabilities(xml=body)
    provider = wps.provider
    assert provider.name == "Example Climate Centre"
    assert provider.url == "https://climate.example.org"
    contact = provider.contact
    assert (contact.name, contact.position) == ("Doe, Jane", "Data manager")
    assert (contact.email, contact.phone) == ("help@example.org", "+49 40 000000")
    assert (contact.address, contact.city) == ("Bundesstrasse 45a", "Hamburg")
    assert (contact.postcode, contact.country) == ("20146", "Germany")
    for version in ("1.0.0", "2.0.0"):
        text = client.get(f"/wps?service=WPS&request=GetCapabilities&version={version}").text
        assert "Doe, Jane" in text, version
        for placeholder in ("Lastname, Firstname", "Position Title", "Mailing Address",
                            "+xx-xxx-xxx-xxxx", "Email Address", "Organization Name"):  # fmt: skip
            assert placeholder not in text, (version, placeholder)
