"""The ``regrid`` process over HTTP on every grid type of the archive, through birdy, rooki
and plain KVP, checked against CDO's own remapping of the archive files."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import xarray as xr
from birdy import WPSClient
from owslib.util import ServiceException
from owslib.wps import WebProcessingService

from cp4cds_wps.ops.regrid import GridSpec, parse_grid
from tests.cdo_reference import cdo_remap as cdo_remap_dataset
from tests.cdo_reference import gaps_as_missing_cells
from tests.cf_check import CFTIME, cf_failures

from ..operations.test_regrid import (
    LEVELS,
    NO_GRID,
    REGULAR,
    SEA_ICE,
    assert_equal_where_cdo_has_values,
    cdo_remap,
)
from .test_subset_clients import NS, download, exception_of, metalink_files
from .wps_client import execute_kvp

pytestmark = pytest.mark.realdata

ROTATED = (
    "cordex.output.EUR-11.KNMI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.KNMI-RACMO22E.v1.mon.tas.v20190625"
)


def result_file(response, tmp_path):
    """The one netCDF file behind a birdy response's Metalink, opened, and its path."""
    assert response.isSucceded(), response.errors
    files = metalink_files(response.get()[0])
    assert len(files) == 1
    path = download(files[0]["url"], tmp_path)
    return xr.open_dataset(path, decode_times=CFTIME), path


def test_describe_process_offers_rooks_inputs(wps_url):
    process = WebProcessingService(wps_url, version="1.0.0").describeprocess("regrid")
    inputs = {i.identifier: i for i in process.dataInputs}
    assert list(inputs) == ["collection", "method", "grid", "custom_grid"]
    assert inputs["method"].allowedValues == ["nearest_s2d", "bilinear", "conservative"]
    assert inputs["method"].defaultValue == "nearest_s2d"
    assert inputs["grid"].allowedValues[:2] == ["auto", "0pt25deg"]
    assert inputs["grid"].defaultValue == "auto"
    assert [o.identifier for o in process.processOutputs] == ["output", "prov", "prov_plot"]


def test_regular_grid_bilinear_with_birdy(wps_url, inventory, tmp_path):
    response = WPSClient(wps_url, progress=False).regrid(
        collection=REGULAR, method="bilinear", grid="2pt5deg"
    )
    out, path = result_file(response, tmp_path)
    grid = GridSpec("2pt5deg", 2.5, 2.5)
    expected = cdo_remap(inventory, REGULAR, "bilinear", grid, tmp_path)
    assert_equal_where_cdo_has_values(out.rlds.values, expected.values)
    assert "cp4cds-wps regrid" in out.attrs["history"]
    assert not cf_failures(path)


def test_curvilinear_grid_conservative_with_birdy_async(wps_url, inventory, tmp_path):
    response = WPSClient(wps_url, progress=True).regrid(
        collection=SEA_ICE, method="conservative", grid="2pt5deg"
    )
    out, path = result_file(response, tmp_path)
    grid = GridSpec("2pt5deg", 2.5, 2.5)
    expected = cdo_remap(inventory, SEA_ICE, "conservative", grid, tmp_path)
    np.testing.assert_allclose(out.siconc.values[:1200], expected.values, rtol=1e-6)
    assert not cf_failures(path)


def test_rotated_pole_grid_with_rooki(wps_url, inventory, tmp_path, monkeypatch):
    monkeypatch.setenv("ROOK_URL", wps_url)
    from rooki import Rooki

    result = Rooki(url=wps_url, mode="sync").regrid(
        collection=ROTATED, method="bilinear", grid="0pt25deg"
    )
    assert result.ok, result.status
    (url,) = result.download_urls()
    out = xr.open_dataset(download(url, tmp_path), decode_times=CFTIME)
    grid = GridSpec("0pt25deg", 0.25, 0.25)
    expected = cdo_remap(inventory, ROTATED, "bilinear", grid, tmp_path)
    assert_equal_where_cdo_has_values(out.tas.values, expected.values)
    assert "rotated_pole" not in out.variables


def test_levels_onto_a_custom_grid_with_a_plain_kvp_request(wps_url, inventory, tmp_path):
    custom = "0 360 5 -90 90 5"
    response = execute_kvp(
        wps_url,
        "regrid",
        {"collection": LEVELS, "method": "bilinear", "grid": "custom", "custom_grid": custom},
        ResponseDocument="output=@asReference=true",
    )
    assert response.status_code == 200
    doc = ET.fromstring(response.content)
    assert doc.find(".//wps:ProcessSucceeded", NS) is not None, response.text
    (linked,) = metalink_files(doc.find(".//wps:Output/wps:Reference", NS).get("href"))
    out = xr.open_dataset(download(linked["url"], tmp_path), decode_times=CFTIME)
    expected = cdo_remap(inventory, LEVELS, "bilinear", parse_grid("custom", custom), tmp_path)
    assert out.ta.dims == ("time", "plev", "lat", "lon") and out.ta.shape == (120, 19, 36, 72)
    assert_equal_where_cdo_has_values(out.ta.values, expected.values)


@pytest.mark.parametrize(
    ("inputs", "code", "locator", "text"),
    [
        ({"method": "patch"}, "InvalidParameterValue", "method", "'patch' is not one of"),
        ({"grid": "3deg"}, "InvalidParameterValue", "grid", "'3deg' is not one of auto"),
        ({"grid": "custom"}, "InvalidParameterValue", "custom_grid", "needs a custom_grid"),
        (
            {"grid": "custom", "custom_grid": "0 360 0.7 -90 90 1"},
            "InvalidParameterValue",
            "custom_grid",
            "0.7 does not divide 360 degrees",
        ),
        ({"collection": REGULAR + "x"}, "InvalidParameterValue", "collection", "did you mean"),
    ],
)
def test_bad_input_is_refused_before_a_job_starts(wps_url, inputs, code, locator, text):
    response = execute_kvp(wps_url, "regrid", {"collection": REGULAR, **inputs})
    assert response.status_code == 400, response.text
    got_code, got_locator, message = exception_of(response)
    assert (got_code, got_locator) == (code, locator)
    assert text in message


def test_a_dataset_without_latitude_and_longitude_fails_the_job_with_the_reason(wps_url, settings):
    before = set(settings.output_dir.rglob("*"))
    with pytest.raises(ServiceException) as refused:  # a synchronous failure: an exception report
        WPSClient(wps_url).regrid(collection=NO_GRID, method="bilinear", grid="1deg")
    message = str(refused.value)
    assert 'exceptionCode="InvalidParameterValue" locator="collection"' in message
    assert "collection: dataset has no latitude axis" in message
    # neither outputs nor CDO work files are left behind
    assert {p for p in settings.output_dir.rglob("*") if p.suffix == ".nc"} == {
        p for p in before if p.suffix == ".nc"
    }
    assert not [p for p in settings.output_dir.rglob(".*regrid*")]


#: The archive's daily decadal hindcasts, sampled to a few cells far apart (one of them to
#: a single latitude row), whose conservative regridding failed.
DCPP_DAILY = [
    "CMIP6.DCPP.CMCC.CMCC-CM2-SR5.dcppA-hindcast.s1960-r1i1p1f1.day.tas.gn.v20210806",
    "CMIP6.DCPP.DWD.MPI-ESM1-2-LR.dcppA-hindcast.s1980-r1i1p1f1.day.tasmax.gn.v20220126",
    "CMIP6.DCPP.MOHC.HadGEM3-GC31-MM.dcppA-hindcast.s1960-r2i1p1f2.day.tasmin.gn.v20200417",
    "CMIP6.DCPP.EC-Earth-Consortium.EC-Earth3.dcppA-hindcast.s1961-r6i2p1f1.day.pr.gr.v20200508",
]


@pytest.mark.parametrize("dataset_id", DCPP_DAILY)
def test_daily_hindcasts_regrid_conservatively(wps_url, inventory, tmp_path, dataset_id):
    response = execute_kvp(
        wps_url, "regrid", {"collection": dataset_id, "method": "conservative", "grid": "1deg"}
    )
    doc = ET.fromstring(response.content)
    assert doc.find(".//wps:ProcessSucceeded", NS) is not None, response.text
    (linked,) = metalink_files(doc.find(".//wps:Output/wps:Reference", NS).get("href"))
    path = download(linked["url"], tmp_path)
    dataset = inventory.get(dataset_id)
    out = xr.open_dataset(path, decode_times=CFTIME)[dataset.variable]
    # each cell covers its own bounds only: CDO's remapping of the first file with the gaps
    # between the cells filled with missing cells
    first = xr.open_dataset(dataset.files[0].path, decode_times=CFTIME)
    padded = gaps_as_missing_cells(first, dataset.variable)
    expected = cdo_remap_dataset(
        padded, "conservative", GridSpec("1deg", 1, 1), tmp_path, dataset.variable
    )
    steps = expected.shape[0]
    np.testing.assert_allclose(out.values[:steps], expected, rtol=1e-6)
    assert np.isfinite(out.values[0]).sum() < 100  # a few cells, not the globe


def test_a_hindcast_of_a_single_latitude_row_is_not_interpolated(wps_url):
    response = execute_kvp(
        wps_url, "regrid", {"collection": DCPP_DAILY[1], "method": "bilinear", "grid": "1deg"}
    )
    assert "has a single row or column: use conservative" in response.text
