"""Bad input over HTTP gets an OGC exception report naming the input, never an HTTP 500 or
silence: unknown and repeated inputs in every process of both WPS endpoints and encodings,
lists as repeated inputs through birdy and rooki, unknown outputs before any work, failures
of synchronous runs, and the requests that once were HTTP 500s."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr
from birdy import WPSClient
from owslib.util import ServiceException
from owslib.wps import WebProcessingService

from cp4cds_wps.inventory import Inventory
from cp4cds_wps.meta.processes import meta_processes
from cp4cds_wps.processes import processes

from .test_average_http import CFTIME, SEA_ICE, sea_ice_area_mean
from .test_subset_clients import download, metalink_files

pytestmark = pytest.mark.realdata

MAIN = [p.identifier for p in processes()]
META = [p.identifier for p in meta_processes(MAIN)]
TINY = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlus.gr.v20180803"
WPS1 = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
WPS2 = 'xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0"'


@pytest.fixture(scope="module")
def sea_ice_mean(settings, server) -> np.ndarray:
    """The area mean of the curvilinear SEA_ICE by numpy (the server has scanned the archive)."""
    return sea_ice_area_mean(Inventory.from_settings(settings))


def endpoint(server: str, identifier: str) -> str:
    return f"{server}/{'wps' if identifier in MAIN else 'meta-wps'}"


def kvp(url: str, identifier: str, data_inputs: str, **params) -> requests.Response:
    query = {"service": "WPS", "version": "1.0.0", "request": "Execute", "identifier": identifier}
    return requests.get(url, params={**query, "DataInputs": data_inputs, **params}, timeout=120)


def xml_inputs(inputs: list[tuple[str, str]]) -> str:
    return "".join(
        f"<wps:Input><ows:Identifier>{name}</ows:Identifier><wps:Data><wps:LiteralData>"
        f"{value}</wps:LiteralData></wps:Data></wps:Input>"
        for name, value in inputs
    )


def xml_execute(url: str, identifier: str, inputs: list[tuple[str, str]]) -> requests.Response:
    body = (
        f'<?xml version="1.0"?><wps:Execute service="WPS" version="1.0.0" {WPS1}>'
        f"<ows:Identifier>{identifier}</ows:Identifier><wps:DataInputs>{xml_inputs(inputs)}"
        "</wps:DataInputs></wps:Execute>"
    )
    return requests.post(url, data=body, timeout=120)


def exception_of(response: requests.Response) -> tuple[str, str | None, str]:
    """Code, locator and text of an OWS 1.1 or 2.0 exception report."""
    exception = ET.fromstring(response.content).find("{*}Exception")
    assert exception is not None, response.text
    return (
        exception.get("exceptionCode"),
        exception.get("locator"),
        exception.findtext("{*}ExceptionText", ""),
    )


def refused(response: requests.Response, code: str = "InvalidParameterValue") -> tuple[str, str]:
    assert response.status_code == 400, response.text
    got, locator, text = exception_of(response)
    assert got == code, response.text
    return locator, text


@pytest.mark.parametrize("identifier", MAIN + META)
@pytest.mark.parametrize("encoding", ["kvp", "xml"])
def test_an_unknown_input_is_refused_by_every_process(server, identifier, encoding):
    url = endpoint(server, identifier)
    if encoding == "kvp":
        response = kvp(url, identifier, "bogus=1")
    else:
        response = xml_execute(url, identifier, [("bogus", "1")])
    locator, text = refused(response)
    assert locator == "bogus"
    assert text.startswith(f"{identifier} has no input 'bogus'; its inputs are ")


def test_regrid_with_a_time_is_refused_at_once(wps_url, settings):
    """regrid has no time input: it once ran for minutes and wrote the whole century."""
    before = set(settings.output_dir.iterdir())
    started = time.monotonic()
    response = kvp(wps_url, "regrid", f"collection={SEA_ICE};time=2006/2008")
    assert time.monotonic() - started < 10
    assert refused(response) == (
        "time",
        "regrid has no input 'time'; its inputs are collection, method, grid, custom_grid",
    )
    assert set(settings.output_dir.iterdir()) == before


@pytest.mark.parametrize("identifier", MAIN + META)
def test_wps2_execute_as_kvp_is_refused_naming_the_version(server, identifier):
    # WPS 2.0 defines Execute in XML only (see tests/integration/test_wps2_http.py)
    query = {"service": "WPS", "version": "2.0.0", "request": "Execute", "identifier": identifier}
    response = requests.get(endpoint(server, identifier), params=query, timeout=60)
    locator, text = refused(response)
    assert locator == "version"
    assert text.startswith("WPS 2.0.0 Execute is an XML request (POST)")


@pytest.mark.parametrize("identifier", MAIN + META)
def test_wps2_execute_in_xml_refuses_unknown_inputs(server, identifier):
    body = (
        f'<?xml version="1.0"?><wps:Execute service="WPS" version="2.0.0" {WPS2} mode="sync" '
        f'response="document"><ows:Identifier>{identifier}</ows:Identifier>'
        '<wps:Input id="bogus"><wps:Data>1</wps:Data></wps:Input></wps:Execute>'
    )
    response = requests.post(endpoint(server, identifier), data=body, timeout=60)
    locator, text = refused(response)
    assert locator == "bogus"
    assert text.startswith(f"{identifier} has no input 'bogus'")
    assert ET.fromstring(response.content).tag == "{http://www.opengis.net/ows/2.0}ExceptionReport"


@pytest.mark.parametrize(
    ("identifier", "inputs", "name"),
    [
        ("subset", [("collection", TINY), ("time", "1850/1851"), ("time", "1852/1853")], "time"),
        ("average_time", [("collection", TINY), ("freq", "year"), ("freq", "month")], "freq"),
        ("regrid", [("collection", TINY), ("grid", "1deg"), ("grid", "2pt5deg")], "grid"),
        ("availability", [("rows", "model"), ("rows", "variable")], "rows"),
        ("estimate", [("process", "subset"), ("process", "average")], "process"),
    ],
)
@pytest.mark.parametrize("encoding", ["kvp", "xml"])
def test_a_repeated_single_valued_input_is_refused(server, identifier, inputs, name, encoding):
    url = endpoint(server, identifier)
    if encoding == "kvp":
        response = kvp(url, identifier, ";".join(f"{k}={v}" for k, v in inputs))
    else:
        response = xml_execute(url, identifier, inputs)
    assert refused(response) == (name, f"{name} is given 2 times; it takes one value")


def test_birdy_sends_lists_as_repeated_inputs_which_are_taken_as_comma_lists(
    wps_url, sea_ice_mean, tmp_path
):
    """average(dims=[...]) kept only one of the dims: on a curvilinear grid that failed."""
    response = WPSClient(wps_url).average(collection=SEA_ICE, dims=["latitude", "longitude"])
    assert response.isSucceded(), response.errors
    (linked,) = metalink_files(response.get()[0])
    out = xr.open_dataset(download(linked["url"], tmp_path), decode_times=CFTIME)
    np.testing.assert_allclose(out.siconc.values, sea_ice_mean, rtol=1e-5)
    with pytest.raises(ServiceException) as refusal:
        WPSClient(wps_url).subset(collection=TINY, time=["1850/1851", "1852/1853"])
    assert 'locator="time"' in str(refusal.value)
    assert "time is given 2 times; it takes one value" in str(refusal.value)


def test_rooki_sends_lists_as_repeated_inputs_too(wps_url, sea_ice_mean, tmp_path, monkeypatch):
    monkeypatch.setenv("ROOK_URL", wps_url)
    from rooki import Rooki

    result = Rooki(url=wps_url, mode="sync").average(
        collection=SEA_ICE, dims=["latitude", "longitude"]
    )
    assert result.ok, result.status
    (url,) = result.download_urls()
    out = xr.open_dataset(download(url, tmp_path), decode_times=CFTIME)
    np.testing.assert_allclose(out.siconc.values, sea_ice_mean, rtol=1e-5)


def test_repeated_collections_are_several_datasets(wps_url):
    other = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.SImon.siconc.gn.latest"
    response = WPSClient(wps_url).subset(collection=[TINY, other], time="1850/1850")
    assert response.isSucceded(), response.errors
    names = [f["name"] for f in metalink_files(response.get()[0])]
    assert len(names) == 2
    assert any(n.startswith("rlus_") for n in names) and any(n.startswith("siconc_") for n in names)


NO_SUCH_OUTPUT = "regrid has no output 'nope'; its outputs are output, prov, prov_plot"


@pytest.mark.parametrize(
    ("params", "locator", "text"),
    [
        ({"RawDataOutput": "nope"}, "RawDataOutput", NO_SUCH_OUTPUT),
        ({"RawDataOutput": "output;prov"}, "RawDataOutput", "names 2 outputs; it returns one"),
        (
            {"ResponseDocument": "output=@asReference=true;nope=@asReference=true"},
            "ResponseDocument",
            NO_SUCH_OUTPUT,
        ),
    ],
)
def test_unknown_outputs_are_refused_before_the_job_runs(wps_url, settings, params, locator, text):
    before = set(settings.output_dir.iterdir())
    started = time.monotonic()
    response = kvp(wps_url, "regrid", f"collection={SEA_ICE};grid=0pt25deg", **params)
    assert time.monotonic() - started < 10
    found, message = refused(response)
    assert found == locator and text in message
    assert set(settings.output_dir.iterdir()) == before  # nothing ran


def test_a_known_raw_output_is_returned(wps_url):
    response = kvp(wps_url, "subset", f"collection={TINY}", RawDataOutput="output")
    assert response.status_code == 200, response.text
    assert ET.fromstring(response.content).tag == "{urn:ietf:params:xml:ns:metalink}metalink"


def test_owslib_raises_with_the_reason_of_a_synchronous_failure(wps_url):
    cordex = "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl"
    wps = WebProcessingService(wps_url, skip_caps=True)
    with pytest.raises(ServiceException) as refusal:
        wps.execute("average", inputs=[("collection", cordex), ("dims", "level")], mode="sync")
    assert 'exceptionCode="InvalidParameterValue" locator="dims"' in str(refusal.value)
    assert "dims: dataset has no level axis" in str(refusal.value)


def get(server: str, path: str, **params) -> requests.Response:
    return requests.get(f"{server}{path}", params=params, timeout=60)


def test_truncated_xml_is_an_exception_report(server):
    for path in ("/wps", "/meta-wps"):
        response = requests.post(f"{server}{path}", data='<?xml version="1.0"?><wps:Execu')
        locator, text = refused(response, "NoApplicableCode")
        assert text.startswith("the request body is not well-formed XML")


@pytest.mark.parametrize("operation", ["GetStatus", "GetResult", "Dismiss"])
def test_a_control_character_in_a_job_id_is_an_exception_report(server, operation):
    query = f"service=WPS&version=2.0.0&request={operation}&jobId=%00"
    response = requests.get(f"{server}/wps?{query}", timeout=30)
    assert response.status_code == 400
    assert ET.fromstring(response.content).tag == "{http://www.opengis.net/ows/2.0}ExceptionReport"
    body = (
        f'<wps:{operation} service="WPS" version="2.0.0" {WPS2}><wps:JobID>&#1;</wps:JobID>'
        f"</wps:{operation}>"
    )
    refused(requests.post(f"{server}/wps", data=body, timeout=30), "NoApplicableCode")


def test_deeply_nested_json_is_an_exception_naming_the_input(server, wps_url):
    deep = "[" * 50000
    response = requests.post(f"{server}/api/constraints", data=deep, timeout=30)
    assert response.status_code == 400
    assert response.json()["locator"] == "body"
    assert "deeper than 64 levels" in response.json()["reason"]
    response = xml_execute(wps_url, "orchestrate", [("workflow", deep)])
    locator, text = refused(response)
    assert (locator, text) == (
        "workflow",
        "workflow: nests lists and objects deeper than 64 levels, the most accepted",
    )
    inputs = json.dumps({"dims": json.loads("[" * 70 + "]" * 70)})
    response = kvp(f"{server}/meta-wps", "estimate", f"process=average;inputs={inputs}")
    assert refused(response)[0] == "inputs"


def test_describe_process_with_an_entity_or_empty_identifier_is_an_exception(server):
    for identifier in ("&e;", ""):
        doctype = '<!DOCTYPE d [<!ENTITY e "subset">]>' if identifier else ""
        body = (
            f'<?xml version="1.0"?>{doctype}<wps:DescribeProcess service="WPS" '
            f'version="1.0.0" {WPS1}><ows:Identifier>{identifier}</ows:Identifier>'
            "</wps:DescribeProcess>"
        )
        response = requests.post(f"{server}/wps", data=body, timeout=30)
        assert response.status_code == 400, response.text
        code, locator, text = exception_of(response)
        if identifier:
            assert "document type declaration" in text
        else:
            assert (code, locator) == ("MissingParameterValue", "identifier")


def test_a_shape_with_nan_strings_is_an_exception_naming_the_shape(wps_url):
    shape = json.dumps(
        {"type": "Polygon", "coordinates": [[["NaN", "NaN"], ["NaN", 1], [1, 1], ["NaN", "NaN"]]]}
    )
    response = xml_execute(wps_url, "average_shape", [("collection", TINY), ("shape", shape)])
    locator, text = refused(response)
    assert locator == "shape"
    assert "a coordinate that is no number: 'NaN'" in text


def test_no_work_folder_is_left_by_refused_requests(wps_url, settings):
    work = Path(settings.work_dir)
    before = set(work.iterdir())
    for inputs in ("bogus=1", f"collection={TINY};time=a/b", f"collection={TINY};time=1;time=2"):
        assert kvp(wps_url, "subset", inputs).status_code == 400
    assert set(work.iterdir()) == before


@pytest.mark.parametrize(
    ("data_inputs", "name"),
    [
        (f"process=regrid;collection={TINY};time=1850/1851", "time"),
        (f'process=subset;collection={TINY};inputs={{"bogus": "1"}}', "bogus"),
    ],
)
def test_estimate_refuses_inputs_the_main_process_does_not_have(server, data_inputs, name):
    locator, text = refused(kvp(f"{server}/meta-wps", "estimate", data_inputs))
    assert locator == name
    assert f"has no input '{name}'; its inputs are collection, " in text
