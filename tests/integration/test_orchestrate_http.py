"""The ``orchestrate`` process over HTTP: workflows sent by birdy and built by rooki's
operators, run as one job, checked against numpy on the archive's files."""

from __future__ import annotations

import copy
import json
from xml.sax.saxutils import escape

import numpy as np
import pytest
import requests
import xarray as xr
from birdy import WPSClient
from owslib.wps import WebProcessingService

from ..tasks.test_workflow import CFTIME, MEMBERS, RLDS, SUBSET_AVERAGE, days, source
from .test_subset_clients import NS, download, exception_of, metalink_files

pytestmark = pytest.mark.realdata


def expected_time_mean(inventory) -> np.ndarray:
    """The time mean of 2016 to 2020 of RLDS, weighted by the length of each month."""
    src = source(inventory, RLDS).sel(time=slice("2016-01-01", "2020-12-31"))
    weights = days(src.time_bnds.values)
    return (src.rlds.values * weights[:, None, None]).sum(axis=0) / weights.sum()


def test_describe_orchestrate_with_owslib(wps_url):
    wps = WebProcessingService(wps_url, version="1.0.0")
    assert "orchestrate" in [p.identifier for p in wps.processes]
    process = wps.describeprocess("orchestrate")
    (workflow,) = process.dataInputs
    assert workflow.identifier == "workflow"
    assert workflow.dataType == "ComplexData"
    assert [f.mimeType for f in workflow.supportedValues] == ["application/json"]
    assert [o.identifier for o in process.processOutputs] == ["output", "prov", "prov_plot"]


@pytest.mark.parametrize("progress", [False, True], ids=["sync", "async"])
def test_birdy_runs_a_workflow_as_one_job(wps_url, inventory, tmp_path, progress):
    wps = WPSClient(wps_url, progress=progress)
    # a document with line breaks, as read from a file
    response = wps.orchestrate(workflow=json.dumps(SUBSET_AVERAGE, indent=2))
    assert response.isSucceded(), response.errors
    output, prov, plot = response.get()
    (entry,) = metalink_files(output)
    assert entry["name"] == "rlds_Amon_INM-CM5-0_ssp245_r1i1p1f1_gr1_201601-202101.nc"
    out = xr.open_dataset(download(entry["url"], tmp_path), decode_times=CFTIME)
    np.testing.assert_allclose(out.rlds.values, expected_time_mean(inventory), rtol=1e-6)
    activities = requests.get(prov, timeout=30).json()["activity"]
    assert {"cp4cds:step/subset", "cp4cds:step/average"} <= set(activities)
    assert requests.get(plot, timeout=30).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_rooki_operators_build_a_workflow_that_runs_unchanged(
    wps_url, inventory, tmp_path, monkeypatch
):
    monkeypatch.setenv("ROOK_URL", wps_url)
    monkeypatch.setenv("ROOK_MODE", "async")
    from rooki import operators as ops

    members = ops.Input("tasmax", MEMBERS)
    workflow = ops.AverageByTime(
        ops.Average(ops.Concat(members, time="1981/1982"), dims="realization"), freq="year"
    )
    result = workflow.orchestrate()
    assert result.ok, result.status
    (url,) = result.download_urls()
    assert "_s1980-3members_" in url
    out = xr.open_dataset(download(url, tmp_path), decode_times=CFTIME)
    data = [source(inventory, m).sel(time=slice("1981-01-01", "1982-12-31")) for m in MEMBERS]
    ensemble = np.mean([d.tasmax.values.astype(float) for d in data], axis=0)
    years = data[0].time.dt.year.values
    expected = [ensemble[years == y].mean(axis=0) for y in (1981, 1982)]
    np.testing.assert_allclose(out.tasmax.values, expected, rtol=1e-6)


def execute_xml(wps_url: str, workflow: str) -> requests.Response:
    """A WPS 1.0.0 XML Execute of ``orchestrate`` with the workflow as complex data."""
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="{NS["wps"]}" xmlns:ows="{NS["ows"]}">
  <ows:Identifier>orchestrate</ows:Identifier>
  <wps:DataInputs><wps:Input>
    <ows:Identifier>workflow</ows:Identifier>
    <wps:Data><wps:ComplexData mimeType="application/json">{escape(workflow)}</wps:ComplexData>
    </wps:Data>
  </wps:Input></wps:DataInputs>
</wps:Execute>"""
    return requests.post(wps_url, data=body.encode(), timeout=120)


def changed(step: str, **inputs) -> str:
    doc = copy.deepcopy(SUBSET_AVERAGE)
    doc["steps"][step]["in"].update(inputs)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("workflow", "text"),
    [
        ('{"inputs": {}', "workflow: is not valid JSON"),
        (
            json.dumps({**SUBSET_AVERAGE, "outputs": {}}),
            "workflow: 'outputs' must be a non-empty JSON object",
        ),
        (
            changed("average", collection="average/output"),
            "workflow: the steps 'average' -> 'average' form a cycle",
        ),
        (changed("subset", area="0,60,10,50"), "step 'subset' (subset): area: in '0,60,10,50'"),
        (
            changed("subset", time="1900/1910"),
            "step 'subset' (subset): time: 1900-01-01T00:00:00/1910-12-31T23:59:59 is outside",
        ),
        (
            json.dumps({**SUBSET_AVERAGE, "inputs": {"rlds": RLDS + "x"}}),
            f"workflow: input 'rlds': unknown dataset id '{RLDS}x'; did you mean: {RLDS}",
        ),
    ],
)
def test_bad_workflows_are_ogc_exceptions_before_a_job_starts(wps_url, workflow, text):
    response = execute_xml(wps_url, workflow)
    assert response.status_code == 400, response.text
    code, locator, message = exception_of(response)
    assert (code, locator) == ("InvalidParameterValue", "workflow")
    assert text in message


def test_an_error_while_running_fails_the_job_naming_the_step(wps_url, settings):
    before = set(settings.output_dir.rglob("*.nc"))
    response = execute_xml(wps_url, changed("average", dims="level"))
    assert response.status_code == 400  # a synchronous failure: an exception report
    code, locator, message = exception_of(response)
    assert (code, locator) == ("InvalidParameterValue", "workflow")
    assert "workflow: step 'average' (average): dims: dataset has no" in message
    assert set(settings.output_dir.rglob("*.nc")) == before
