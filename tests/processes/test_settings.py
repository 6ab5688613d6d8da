"""Processes run with the settings of the app they are built for (``create_app(settings)``),
not those of the environment: another archive, another output folder."""

from __future__ import annotations

import urllib.parse

import pytest
from werkzeug.test import Client

from cp4cds_wps.app import create_app
from cp4cds_wps.config import get_settings, load_settings
from cp4cds_wps.inventory import Inventory
from tests.synthetic import dcpp_file

pytestmark = pytest.mark.realdata

#: The dataset of :func:`tests.synthetic.dcpp_file`, the only one of the site's archive.
DATASET = "CMIP6.DCPP.INST.MODEL.dcppA-hindcast.s1980-r1i1p1f1.day.tasmax.gn.v20220126"


@pytest.fixture
def environment(archive_dir, tmp_path, monkeypatch):
    """The environment's settings: the test archive, a var folder of their own."""
    monkeypatch.setenv("CP4CDS_WPS_ARCHIVE__BASE_DIR", str(archive_dir))
    monkeypatch.setenv("CP4CDS_WPS_PATHS__VAR_DIR", str(tmp_path / "env-var"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def site(tmp_path, environment):
    """Other settings: an archive of one synthetic CMIP6 dataset, other folders."""
    settings = load_settings(
        env={
            "CP4CDS_WPS_ARCHIVE__BASE_DIR": str(tmp_path / "site"),
            "CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path / "site-var"),
            "CP4CDS_WPS_SERVER__URL": "http://site.example:5999",
        }
    )
    dcpp_file(settings.root("cmip6").path)
    Inventory.from_settings(settings).ensure_scanned()
    return settings


def execute(client: Client, data_inputs: str) -> str:
    query = urllib.parse.urlencode(
        {
            "service": "WPS",
            "version": "1.0.0",
            "request": "Execute",
            "identifier": "subset",
            "DataInputs": data_inputs,
        }
    )
    return client.get(f"/wps?{query}").get_data(as_text=True)


def test_an_app_serves_the_archive_of_its_settings_and_writes_into_their_outputs(site, environment):
    body = execute(Client(create_app(site)), f"collection={DATASET};time=1980-11-01/1980-11-30")
    assert "ProcessSucceeded" in body, body
    assert f"{site.output_url}/" in body
    written = sorted(site.output_dir.glob("*/*.nc"))
    assert [p.name for p in written] == [
        "tasmax_day_MODEL_dcppA-hindcast_s1980-r1i1p1f1_gn_19801101-19801130.nc"
    ]
    assert not environment.output_dir.exists() or not any(environment.output_dir.iterdir())


def test_an_app_of_the_environment_does_not_see_that_archive(site, environment):
    Inventory.from_settings(environment).ensure_scanned()
    body = execute(Client(create_app(environment)), f"collection={DATASET}")
    assert "ExceptionReport" in body and DATASET in body, body
    assert not any(site.output_dir.glob("*/*.nc"))


def test_the_meta_wps_answers_about_the_archive_of_its_settings(site):
    query = urllib.parse.urlencode(
        {
            "service": "WPS",
            "version": "1.0.0",
            "request": "Execute",
            "identifier": "estimate",
            "DataInputs": f"process=subset;collection={DATASET}",
            "RawDataOutput": "estimate",
        }
    )
    response = Client(create_app(site)).get(f"/meta-wps?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [d["id"] for d in response.json["datasets"]] == [DATASET]
