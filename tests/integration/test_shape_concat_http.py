"""The average_shape and concat processes over HTTP through birdy, OWSLib and KVP requests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import xarray as xr
from birdy import WPSClient
from owslib.util import ServiceException
from owslib.wps import WebProcessingService

from .wps_client import execute_kvp

pytestmark = pytest.mark.realdata

REGULAR = "CMIP6.ScenarioMIP.INM.INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"
REGULAR_DIR = "badc/cmip6/data/CMIP6/ScenarioMIP/INM/INM-CM5-0/ssp245/r1i1p1f1/Amon/rlds/gr1"
MEMBERS = tuple(
    f"CMIP6.DCPP.DWD.MPI-ESM1-2-LR.dcppA-hindcast.s1980-r{r}i1p1f1.day.tasmax.gn.v20220126"
    for r in (1, 2, 3)
)
MEMBER_DIR = "badc/cmip6/data/CMIP6/DCPP/DWD/MPI-ESM1-2-LR/dcppA-hindcast/s1980-r{}i1p1f1"
EC_EARTH = (
    "CMIP6.DCPP.EC-Earth-Consortium.EC-Earth3.dcppA-hindcast.s1960-r2i1p1f1.Amon.tas.gr.v20201215",
    "CMIP6.DCPP.EC-Earth-Consortium.EC-Earth3.dcppA-hindcast.s1960-r6i2p1f1.Amon.tas.gr.v20200508",
)
# one whole cell (lat 60..61.5, lon -1..1) and half of another (lon 199..200, as -161..-160)
SHAPE = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[w, 60], [e, 60], [e, 61.5], [w, 61.5], [w, 60]]],
                },
            }
            for name, w, e in (("cell", -1, 1), ("half_cell", -161, -160))
        ],
    }
)
NS = {"wps": "http://www.opengis.net/wps/1.0.0", "ows": "http://www.opengis.net/ows/1.1"}
CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)


def open_source(archive_dir, folder: str) -> xr.Dataset:
    (path,) = sorted((archive_dir / folder).glob("*/*.nc"))
    return xr.open_dataset(path, decode_times=CFTIME)


def test_both_processes_are_described(wps_url):
    wps = WebProcessingService(wps_url, version="1.0.0")
    shape = wps.describeprocess("average_shape")
    assert [i.identifier for i in shape.dataInputs] == ["collection", "shape"]
    assert [o.identifier for o in shape.processOutputs] == ["output", "prov", "prov_plot"]
    concat = wps.describeprocess("concat")
    assert [i.identifier for i in concat.dataInputs] == ["collection", "time", "apply_average"]


@pytest.mark.parametrize(
    ("progress", "as_file"), [(False, False), (True, True)], ids=["sync", "async-file"]
)
def test_birdy_average_shape_gives_the_cell_values(
    wps_url, archive_dir, tmp_path, progress, as_file
):
    shape = SHAPE
    if as_file:  # birdy sends the content of a local file
        shape = tmp_path / "shape.geojson"
        shape.write_text(SHAPE)
        shape = str(shape)
    wps = WPSClient(wps_url, progress=progress)
    response = wps.average_shape(collection=REGULAR, shape=shape)
    assert response.isSucceded(), response.errors
    output, prov, _plot = response.get(asobj=True)
    (result,) = output if isinstance(output, list) else [output]
    rlds = open_source(archive_dir, REGULAR_DIR).rlds.values
    np.testing.assert_allclose(result.rlds.values[:, 0], rlds[:, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(result.rlds.values[:, 1], rlds[:, 1, 1], rtol=1e-6)
    assert list(result.geom_name.values) == ["cell", "half_cell"]
    assert REGULAR in str(prov)


def test_birdy_async_concat_gives_the_ensemble_mean(wps_url, archive_dir):
    wps = WPSClient(wps_url, progress=True)
    response = wps.concat(collection=",".join(MEMBERS), time="1990-12/1990-12", apply_average=True)
    assert response.isSucceded(), response.errors
    output, _prov, _plot = response.get(asobj=True)
    (result,) = output if isinstance(output, list) else [output]
    members = [open_source(archive_dir, MEMBER_DIR.format(r) + "/day/tasmax/gn") for r in (1, 2, 3)]
    expected = np.mean(
        [m.tasmax.sel(time=slice("1990-12", "1990-12")).values.astype(float) for m in members],
        axis=0,
    )
    np.testing.assert_allclose(result.tasmax.values, expected, rtol=1e-6)
    assert result.sizes["time"] == 31 and "realization" not in result.dims


@pytest.mark.parametrize(
    ("identifier", "inputs", "locator", "text"),
    [
        ("average_shape", {"collection": REGULAR, "shape": "{not json"}, "shape", "not GeoJSON"),
        (
            "average_shape",
            {"collection": REGULAR, "shape": '{"type": "Point", "coordinates": [0, 0]}'},
            "shape",
            "type 'Point' given",
        ),
        ("concat", {"collection": MEMBERS[0]}, "collection", "two or more dataset ids"),
        ("concat", {"collection": ",".join(EC_EARTH)}, "collection", "proleptic_gregorian"),
    ],
    ids=["not-json", "point", "one-member", "calendars"],
)
def test_bad_input_is_an_ogc_exception_naming_the_input(wps_url, identifier, inputs, locator, text):
    response = execute_kvp(wps_url, identifier, inputs)
    assert response.status_code == 400, response.text
    exc = ET.fromstring(response.content).find(".//ows:Exception", NS)
    assert exc.get("exceptionCode") == "InvalidParameterValue"
    assert exc.get("locator") == locator
    assert text in exc.findtext("ows:ExceptionText", "", NS)


def test_a_polygon_off_the_grid_fails_the_job_naming_the_grid(wps_url):
    off_grid = json.dumps(
        {"type": "Polygon", "coordinates": [[[10, 10], [20, 10], [20, 20], [10, 20], [10, 10]]]}
    )
    with pytest.raises(ServiceException) as refused:  # a synchronous failure: an exception report
        WPSClient(wps_url).average_shape(collection=REGULAR, shape=off_grid)
    message = str(refused.value)
    assert 'exceptionCode="InvalidParameterValue" locator="shape"' in message
    assert "shape: polygon &#39;0&#39; covers no grid cell" in message
    assert "latitudes -89.25 to 60.75" in message


def test_rooki_runs_both(wps_url, monkeypatch):
    monkeypatch.setenv("ROOK_URL", wps_url)
    from rooki import Rooki

    rooki = Rooki(url=wps_url, mode="sync")
    shaped = rooki.average_shape(collection=REGULAR, shape=SHAPE)
    assert shaped.ok, shaped.status
    assert shaped.download_urls()[0].endswith("_201501-210012.nc")
    concatenated = rooki.concat(collection=",".join(MEMBERS), time="1990-01-01/1990-01-31")
    assert concatenated.ok, concatenated.status
    assert concatenated.download_urls()[0].endswith("_s1980-3members_gn_19900101-19900131.nc")
