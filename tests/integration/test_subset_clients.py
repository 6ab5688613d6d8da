"""The subset process over HTTP through real clients: birdy, OWSLib, rooki, KVP and XML."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr
from birdy import WPSClient
from owslib.util import ServiceException
from owslib.wps import WebProcessingService

from .wps_client import execute_kvp

pytestmark = pytest.mark.realdata

CMIP5_TAS = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
CMIP5_TAS_DIR = (
    "badc/cmip5/data/cmip5/output1/MOHC/HadGEM2-ES/historical/mon/atmos/Amon/r1i1p1/latest/tas"
)
CMIP6_RLDS = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
TIME = "1900-01-01/1920-12-30"
AREA = "100,-10,200,60"

NS = {
    "wps": "http://www.opengis.net/wps/1.0.0",
    "ows": "http://www.opengis.net/ows/1.1",
    "ml": "urn:ietf:params:xml:ns:metalink",
    "xlink": "http://www.w3.org/1999/xlink",
}


def expected_tas(archive_dir: Path) -> xr.DataArray:
    """The subset computed independently with plain xarray on the archive files."""
    files = sorted((archive_dir / CMIP5_TAS_DIR).glob("*.nc"))
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    ds = xr.open_mfdataset(
        files,
        decode_times=coder,
        combine="by_coords",
        data_vars="minimal",
        coords="minimal",
        compat="override",
    )
    tas = ds.tas.sel(time=slice("1900-01-01", "1920-12-30"))
    return tas.where((tas.lon >= 100) & (tas.lon <= 200), drop=True).where(
        (tas.lat >= -10) & (tas.lat <= 60), drop=True
    )


def assert_same_values(result: xr.Dataset, expected: xr.DataArray) -> None:
    assert result.tas.shape == expected.shape
    np.testing.assert_allclose(result.tas.values, expected.values)
    assert [str(t) for t in result.time.values] == [str(t) for t in expected.time.values]
    assert result.time.dt.calendar == "360_day"


def metalink_files(url: str) -> list[dict]:
    doc = ET.fromstring(requests.get(url, timeout=30).content)
    return [
        {
            "name": f.get("name"),
            "size": int(f.findtext("ml:size", namespaces=NS)),
            "md5": f.findtext("ml:hash[@type='md5']", namespaces=NS),
            "url": f.findtext("ml:url", namespaces=NS),
        }
        for f in doc.findall("ml:file", NS)
    ]


def download(url: str, tmp_path: Path) -> Path:
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, url
    path = tmp_path / url.rsplit("/", 1)[-1]
    path.write_bytes(response.content)
    return path


def test_capabilities_and_describe_with_owslib(wps_url):
    wps = WebProcessingService(wps_url, version="1.0.0")
    assert "subset" in [p.identifier for p in wps.processes]
    process = wps.describeprocess("subset")
    assert [i.identifier for i in process.dataInputs] == [
        "collection", "time", "time_components", "area", "level", "original_files",
    ]  # fmt: skip
    assert [o.identifier for o in process.processOutputs] == ["output", "prov", "prov_plot"]


@pytest.mark.parametrize("progress", [False, True], ids=["sync", "async"])
def test_birdy_subset_gives_xarray_with_the_right_values(wps_url, archive_dir, progress):
    wps = WPSClient(wps_url, progress=progress)
    response = wps.subset(collection=CMIP5_TAS, time=TIME, area=AREA)
    assert response.isSucceded(), response.errors
    output, prov, _plot = response.get(asobj=True)
    datasets = output if isinstance(output, list) else [output]
    assert len(datasets) == 1
    assert_same_values(datasets[0], expected_tas(archive_dir))
    assert CMIP5_TAS in str(prov)
    assert "cp4cds-wps subset" in datasets[0].attrs["history"]


def test_owslib_xml_post_async(wps_url, archive_dir, tmp_path):
    wps = WebProcessingService(wps_url, version="1.0.0")
    execution = wps.execute(
        "subset",
        inputs=[("collection", CMIP5_TAS), ("time", TIME), ("area", AREA)],
        output=[("output", True), ("prov", True), ("prov_plot", True)],
        mode="async",
    )
    execution.checkStatus(sleepSecs=1)
    while not execution.isComplete():
        execution.checkStatus(sleepSecs=1)
    assert execution.isSucceded(), [e.text for e in execution.errors]
    files = metalink_files(execution.processOutputs[0].reference)
    assert len(files) == 1
    path = download(files[0]["url"], tmp_path)
    assert path.stat().st_size == files[0]["size"]
    assert hashlib.md5(path.read_bytes()).hexdigest() == files[0]["md5"]
    assert_same_values(xr.open_dataset(path, use_cftime=True), expected_tas(archive_dir))


def test_kvp_get_sync_execute(wps_url, archive_dir, tmp_path):
    response = execute_kvp(
        wps_url,
        "subset",
        {"collection": CMIP5_TAS, "time": TIME, "area": AREA},
        ResponseDocument="output=@asReference=true",
    )
    assert response.status_code == 200
    doc = ET.fromstring(response.content)
    assert doc.find(".//wps:ProcessSucceeded", NS) is not None, response.text
    reference = doc.find(".//wps:Output/wps:Reference", NS).get("href")
    files = metalink_files(reference)
    path = download(files[0]["url"], tmp_path)
    assert_same_values(xr.open_dataset(path, use_cftime=True), expected_tas(archive_dir))


def test_original_files_are_served_without_copying(wps_url, archive_dir, tmp_path):
    wps = WPSClient(wps_url)
    response = wps.subset(collection=CMIP5_TAS, time="1900-01-01/1940-12-30", original_files=True)
    assert response.isSucceded(), response.errors
    files = metalink_files(response.get()[0])
    names = [f["name"] for f in files]
    assert names == [
        "tas_Amon_HadGEM2-ES_historical_r1i1p1_188412-190911.nc",
        "tas_Amon_HadGEM2-ES_historical_r1i1p1_190912-193411.nc",
        "tas_Amon_HadGEM2-ES_historical_r1i1p1_193412-195911.nc",
    ]
    for f in files:
        assert "/data/" in f["url"]
        source = archive_dir / CMIP5_TAS_DIR / f["name"]
        assert f["md5"] == (source.with_suffix(".nc.md5").read_text().split()[0])
        assert download(f["url"], tmp_path).read_bytes() == source.read_bytes()


def test_rooki_works_unchanged(wps_url, monkeypatch):
    monkeypatch.setenv("ROOK_URL", wps_url)
    from rooki import Rooki

    result = Rooki(url=wps_url, mode="sync").subset(collection=CMIP5_TAS, time=TIME)
    assert result.ok, result.status
    assert result.num_files == 1
    assert result.download_urls()[0].endswith("_190001-192012.nc")


def exception_of(response: requests.Response) -> tuple[str, str, str]:
    doc = ET.fromstring(response.content)
    exc = doc.find(".//ows:Exception", NS)
    assert exc is not None, response.text
    return exc.get("exceptionCode"), exc.get("locator"), exc.findtext("ows:ExceptionText", "", NS)


@pytest.mark.parametrize(
    ("inputs", "locator", "text"),
    [
        ({"collection": CMIP5_TAS + "x"}, "collection", f"did you mean: {CMIP5_TAS}"),
        ({"collection": CMIP5_TAS, "time": "1900-13-01/1901-01-01"}, "time", "1900-13-01"),
        ({"collection": CMIP5_TAS, "time": "1950/1900"}, "time", "after"),
        ({"collection": CMIP5_TAS, "area": "0,60,10,50"}, "area", "south"),
        ({"collection": CMIP5_TAS, "area": "0,1,2"}, "area", "4"),
        ({"collection": CMIP5_TAS, "level": "a/b"}, "level", "a/b"),
        ({"collection": CMIP5_TAS, "time": "2100/2101"}, "time", "1859-12-16"),
        (
            {"collection": CMIP5_TAS, "original_files": "true", "area": AREA},
            "original_files",
            "processing",
        ),
    ],
)
def test_bad_input_is_an_ogc_exception_naming_the_input(wps_url, inputs, locator, text):
    response = execute_kvp(wps_url, "subset", inputs)
    assert response.status_code == 400
    code, where, message = exception_of(response)
    assert code == "InvalidParameterValue"
    assert where == locator
    assert text in message


def test_an_area_without_grid_cells_is_refused_before_a_job_and_writes_no_file(wps_url, settings):
    before = set(settings.output_dir.rglob("*.nc"))
    wps = WPSClient(wps_url)
    # the archive holds the dataset, but no grid cell of this small test grid lies in the area
    with pytest.raises(ServiceException) as refused:
        wps.subset(collection=CMIP5_TAS, time=TIME, area="10,10,20,20")
    assert 'exceptionCode="InvalidParameterValue" locator="area"' in str(refused.value)
    assert "area 10,10,20,20 contains no grid cell centre" in str(refused.value)
    assert set(settings.output_dir.rglob("*.nc")) == before


def test_level_on_a_dataset_without_levels_is_refused(wps_url):
    wps = WPSClient(wps_url)
    with pytest.raises(ServiceException) as refused:
        wps.subset(collection=CMIP5_TAS, time=TIME, level="1000/500")
    assert 'locator="level"' in str(refused.value)
    assert "level: dataset has no vertical (level) axis" in str(refused.value)
