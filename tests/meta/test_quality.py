"""The meta-WPS on datasets with quirks and quality control: what it says equals what the main
WPS does (accept, refuse with the same reason), and it shows the QC status and findings."""

from __future__ import annotations

from dataclasses import replace

import pytest
from werkzeug.test import Client

from cp4cds_wps.config import Root
from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.meta.api import ConstraintsApi
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import parse_selection
from cp4cds_wps.operations.average import AverageRequest, plan_average
from cp4cds_wps.qc import run_qc
from tests.quirks import ID, write_member

QUIRKS, CONFLICT = ID.format(member="r1i1p1f1"), ID.format(member="r2i1p1f1")


@pytest.fixture(scope="module")
def site(tmp_path_factory, settings):
    """Settings of a service on a synthetic archive, quality-controlled, per serve policy."""
    top = tmp_path_factory.mktemp("site")
    write_member(top / "CMIP6", "r1i1p1f1", 0)
    write_member(top / "CMIP6", "r2i1p1f1", 1, conflict=True)
    qc = replace(settings.qc, checks=("coordinates",), cache=top / "qc-cache.sqlite")
    found = {}
    for serve in ("all", "passed"):
        site_settings = replace(
            settings,
            inventory_db=top / serve / "inventory.sqlite",
            roots=(Root("cmip6", top / "CMIP6", "cmip6"),),
            qc=replace(qc, serve=serve),
        )
        inventory = Inventory.from_settings(site_settings)
        inventory.scan()
        run_qc(inventory, site_settings.qc)
        found[serve] = (site_settings, inventory)
    return found


def _resolve(site, serve, **params):
    settings, inventory = site[serve]
    return resolve(inventory, parse_selection(params), settings, ("average", "subset"))


def _main_wps_reason(inventory, dataset_id):
    try:
        plan_average(AverageRequest((dataset_id,), ("time",)), inventory)
    except InvalidParameter as err:
        return err.reason
    return None


@pytest.mark.parametrize("serve", ["all", "passed"])
def test_repaired_datasets_resolve_and_estimate_as_the_main_wps_accepts_them(site, serve):
    answer = _resolve(site, serve, collection=QUIRKS, process="subset")
    assert answer["checks"]["collection"] == {"valid": True, "files": 3}
    assert answer["estimate"]["valid"] is True
    quality = answer["dataset"]["quality"]
    assert (quality["status"], quality["served"], quality["reason"]) == ("warnings", True, None)
    assert {f["check"] for f in quality["findings"]} == {"time"}
    assert _main_wps_reason(site[serve][1], QUIRKS) is None


@pytest.mark.parametrize("serve", ["all", "passed"])
def test_a_conflict_is_refused_by_both_with_the_same_reason(site, serve):
    settings, inventory = site[serve]
    reason = _main_wps_reason(inventory, CONFLICT)
    assert "tas differs at 2001-12-16T00:00:00" in reason
    answer = _resolve(site, serve, collection=CONFLICT, process="subset")
    assert answer["checks"]["collection"] == {"valid": False, "reason": f"collection: {reason}"}
    assert answer["estimate"] == {"valid": False, "reason": f"collection: {reason}"}
    quality = answer["dataset"]["quality"]
    assert quality["status"] == "failed"
    assert quality["served"] is (serve == "all")
    if serve == "passed":
        assert reason.startswith(f"{CONFLICT} failed quality control, and this service serves")


def test_the_constraints_api_shows_the_quality(site):
    settings, _ = site["passed"]
    client = Client(ConstraintsApi(settings, ("average",)))
    got = client.get(f"/constraints?collection={CONFLICT}").json
    assert got["dataset"]["quality"]["status"] == "failed"
    assert got["dataset"]["quality"]["served"] is False
    assert got["checks"]["collection"]["valid"] is False
