"""The meta-WPS and ``/api/constraints`` over HTTP: birdy, OWSLib and plain requests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
import requests
from birdy import WPSClient
from owslib.util import ServiceException
from owslib.wps import WebProcessingService

from cp4cds_wps.inventory import Inventory

pytestmark = pytest.mark.realdata

HADGEM_TAS = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
CORDEX_PSL = (
    "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212"
)
METALINK = {"ml": "urn:ietf:params:xml:ns:metalink"}


@pytest.fixture(scope="module")
def meta_url(server) -> str:
    return f"{server}/meta-wps"


@pytest.fixture(scope="module")
def meta(meta_url) -> WPSClient:
    return WPSClient(meta_url, progress=False)


@pytest.fixture(scope="module")
def records(settings, server):
    return Inventory.from_settings(settings).list()


def brute(records, selection: dict[str, str], name: str) -> dict[str, int]:
    counts = Counter(
        d.facets[name]
        for d in records
        if name in d.facets and all(d.facets.get(k) == v for k, v in selection.items())
    )
    return dict(sorted(counts.items()))


def test_a_selection_step_by_step_with_birdy(meta, records):
    """project, then experiment, then model, then variable: each step offers exactly the
    values the archive's records have under the choices made so far."""
    chosen: dict[str, str] = {}
    for name, pick in (
        ("project", "cmip6"),
        ("experiment", "historical"),
        ("model", "MPI-ESM1-2-HR"),
        ("variable", "tasmin"),
    ):
        found = meta.resolve(**chosen).get(asobj=True).constraints
        assert found["facets"][name] == brute(records, chosen, name)
        assert found["invalid"] == []
        chosen[name] = pick
    found = meta.resolve(**chosen, time="2012/2013", area="0,-90,100,0").get(asobj=True)
    dataset = found.constraints["dataset"]
    assert dataset["id"] == (
        "CMIP6.CMIP.MPI-M.MPI-ESM1-2-HR.historical.r1i1p1f1.Amon.tasmin.gn.v20190710"
    )
    assert dataset["time"]["calendar"] == "proleptic_gregorian"
    assert dataset["grid"]["type"] == "regular"
    assert found.constraints["checks"]["time"] == {"valid": True, "files": 1}
    assert found.constraints["checks"]["area"]["valid"] is True


def test_invalid_combinations_are_reported_with_the_reason(meta):
    found = meta.resolve(project="cmip6", experiment="ssp119", model="CanESM5")
    constraints = found.get(asobj=True).constraints
    assert constraints["matches"] == 0
    by_facet = {p["facet"]: p for p in constraints["invalid"]}
    assert by_facet["model"]["reason"].startswith(
        "no dataset has model 'CanESM5' together with project cmip6 and experiment ssp119"
    )
    assert by_facet["model"]["valid"] == ["IPSL-CM6A-LR", "MIROC6"]


def test_owslib_with_repeated_values_and_inline_json(meta_url, records):
    wps = WebProcessingService(meta_url)
    assert {p.identifier for p in wps.processes} == {"resolve", "estimate", "availability"}
    execution = wps.execute(
        "resolve",
        inputs=[("project", "cmip6"), ("model", "MIROC6"), ("model", "CanESM5")],
        output=[("constraints", False)],
    )
    assert execution.isSucceded()
    constraints = json.loads(execution.processOutputs[0].data[0])
    expected = Counter(
        d.facets["experiment"] for d in records if d.facets.get("model") in ("MIROC6", "CanESM5")
    )
    assert constraints["facets"]["experiment"] == dict(sorted(expected.items()))


def _metalink_sizes(url: str) -> list[int]:
    document = ET.fromstring(requests.get(url, timeout=30).content)
    return [
        int(f.findtext("ml:size", namespaces=METALINK))
        for f in document.findall("ml:file", METALINK)
    ]


@pytest.mark.parametrize(
    "inputs",
    [
        {"collection": HADGEM_TAS, "time": "1900-01-01/1920-12-30", "area": "100,-10,200,60"},
        {"collection": CORDEX_PSL, "time": "2010/2030", "area": "0,40,20,60"},
    ],
)
def test_estimate_matches_a_real_subset(meta, wps_url, inputs):
    estimate = meta.estimate(process="subset", **inputs).get(asobj=True).estimate
    main = WPSClient(wps_url, progress=False)
    sizes = _metalink_sizes(main.subset(**inputs).get()[0])
    assert estimate["within_limits"] is True and estimate["outputs"] == len(sizes)
    assert estimate["write_bytes"] == pytest.approx(sum(sizes), rel=0.10)


def test_estimate_refuses_bad_inputs_as_the_main_wps(meta_url):
    wps = WebProcessingService(meta_url)
    with pytest.raises(ServiceException) as err:
        wps.execute("estimate", inputs=[("process", "subset"), ("collection", "CMIP6.x")])
    assert 'locator="collection"' in str(err.value)
    assert "unknown dataset id" in str(err.value)


def test_availability_as_json_csv_and_png(meta):
    result = meta.availability(rows="model", columns="variable", experiment="historical")
    matrix = result.get(asobj=True).matrix
    assert matrix["rows"] == "model" and "MIROC6" in matrix["row_values"]
    csv_url, png_url = result.get()[1:]
    lines = requests.get(csv_url, timeout=30).text.splitlines()
    assert lines[0].split(",")[1:] == matrix["column_values"]
    assert len(lines) == len(matrix["row_values"]) + 1
    png = requests.get(png_url, timeout=30)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_constraints_api_answers_as_resolve(server, meta):
    params = {"project": "cmip6", "experiment": "historical", "variable": "siconc"}
    got = requests.get(f"{server}/api/constraints", params=params, timeout=30)
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/json"
    posted = requests.post(f"{server}/api/constraints", json=params, timeout=30)
    via_wps = meta.resolve(**params).get(asobj=True).constraints
    assert got.json() == posted.json() == via_wps
    assert got.json()["matches"] == 9
    bad = requests.get(f"{server}/api/constraints", params={"collection": "x"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["locator"] == "collection"
