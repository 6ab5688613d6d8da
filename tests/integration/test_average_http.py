"""The ``average`` and ``average_time`` processes over HTTP on every grid type of the archive,
through birdy, OWSLib and plain KVP, checked against numpy on the archive's files."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import xarray as xr
from birdy import WPSClient
from owslib.util import ServiceException
from owslib.wps import WebProcessingService

from ..operations.test_average import (
    AREACELLO,
    CFTIME,
    CORDEX,
    LEVELS,
    REGULAR,
    SEA_ICE,
    cf_failures,
    source,
)
from .test_subset_clients import NS, download, exception_of, metalink_files
from .wps_client import execute_kvp

pytestmark = pytest.mark.realdata


def result_file(response, tmp_path) -> tuple[xr.Dataset, list[str]]:
    """The one netCDF file behind a birdy response's Metalink, and its CF failures."""
    assert response.isSucceded(), response.errors
    files = metalink_files(response.get()[0])
    assert len(files) == 1
    path = download(files[0]["url"], tmp_path)
    return xr.open_dataset(path, decode_times=CFTIME), cf_failures(path)


def band_areas(src: xr.Dataset) -> np.ndarray:
    """Areas (relative) of the cells of a regular grid, from its bounds."""
    lat_b, lon_b = np.deg2rad(src.lat_bnds.values), np.deg2rad(src.lon_bnds.values)
    return np.outer(np.abs(np.diff(np.sin(lat_b))), np.abs(np.diff(lon_b)))


def test_describe_process_with_owslib(wps_url):
    wps = WebProcessingService(wps_url, version="1.0.0")
    assert {"average", "average_time"} <= {p.identifier for p in wps.processes}
    average = wps.describeprocess("average")
    assert [i.identifier for i in average.dataInputs] == ["collection", "dims"]
    assert average.dataInputs[1].dataType.endswith("string")
    average_time = wps.describeprocess("average_time")
    freq = average_time.dataInputs[1]
    assert freq.identifier == "freq"
    assert freq.allowedValues == ["day", "month", "season", "year"]
    for process in (average, average_time):
        assert [o.identifier for o in process.processOutputs] == ["output", "prov", "prov_plot"]


def test_area_mean_of_a_regular_grid(wps_url, inventory, tmp_path):
    response = WPSClient(wps_url, progress=False).average(
        collection=REGULAR, dims="latitude,longitude"
    )
    out, failures = result_file(response, tmp_path)
    src = source(inventory, REGULAR)
    areas = band_areas(src)
    expected = (src.rlds.values * areas).sum(axis=(1, 2)) / areas.sum()
    np.testing.assert_allclose(out.rlds.values, expected, rtol=1e-5)
    assert out.rlds.dims == ("time",)
    assert not failures


def test_rooki_averages_unchanged(wps_url, monkeypatch):
    monkeypatch.setenv("ROOK_URL", wps_url)
    from rooki import Rooki

    rooki = Rooki(url=wps_url, mode="sync")
    result = rooki.average(collection=REGULAR, dims="latitude,longitude")
    assert result.ok, result.status
    assert result.num_files == 1
    result = rooki.average_time(collection=REGULAR, freq="year")
    assert result.ok, result.status
    assert result.download_urls()[0].startswith(f"{wps_url.removesuffix('/wps')}/outputs/")


def sea_ice_area_mean(inventory) -> np.ndarray:
    """The areacello-weighted mean of SEA_ICE (a curvilinear grid) at each time, by numpy."""
    src, fx = source(inventory, SEA_ICE), source(inventory, AREACELLO)
    rows = np.flatnonzero(np.isin(fx.y.values.round(4), src.y.values.round(4)))
    cols = np.flatnonzero(np.isin(fx.x.values.round(4), src.x.values.round(4)))
    areas = fx.areacello.values[np.ix_(rows, cols)].astype(float)
    values = src.siconc.values.astype(float)
    valid = ~np.isnan(values)
    return np.nansum(values * areas, axis=(1, 2)) / (valid * areas).sum(axis=(1, 2))


def test_area_mean_of_a_curvilinear_grid_uses_areacello_async(wps_url, inventory, tmp_path):
    response = WPSClient(wps_url, progress=True).average(
        collection=SEA_ICE, dims="latitude,longitude"
    )
    out, failures = result_file(response, tmp_path)
    np.testing.assert_allclose(out.siconc.values, sea_ice_area_mean(inventory), rtol=1e-5)
    assert "cell areas from areacello" in out.siconc.attrs["cell_methods"]
    assert not failures


def test_area_mean_of_a_rotated_pole_grid(wps_url, inventory, tmp_path):
    response = WPSClient(wps_url).average(collection=CORDEX, dims="latitude,longitude")
    out, failures = result_file(response, tmp_path)
    src = source(inventory, CORDEX)
    rlat, half = np.deg2rad(src.rlat.values), np.deg2rad(0.055)
    areas = np.outer(np.sin(rlat + half) - np.sin(rlat - half), np.ones(src.sizes["rlon"]))
    expected = (src.psl.values * areas).sum(axis=(1, 2)) / areas.sum()
    np.testing.assert_allclose(out.psl.values, expected, rtol=1e-5)
    assert not failures


def test_level_mean_with_a_plain_kvp_request(wps_url, inventory, tmp_path):
    response = execute_kvp(
        wps_url,
        "average",
        {"collection": LEVELS, "dims": "level"},
        ResponseDocument="output=@asReference=true",
    )
    assert response.status_code == 200
    doc = ET.fromstring(response.content)
    assert doc.find(".//wps:ProcessSucceeded", NS) is not None, response.text
    (linked,) = metalink_files(doc.find(".//wps:Output/wps:Reference", NS).get("href"))
    path = download(linked["url"], tmp_path)
    out = xr.open_dataset(path, decode_times=CFTIME)
    # the levels have no bounds: a plain mean of the levels with data (none below ground)
    expected = np.nanmean(source(inventory, LEVELS).ta.values.astype(float), axis=1)
    np.testing.assert_allclose(out.ta.values, expected, rtol=1e-5)
    assert out.ta.dims == ("time", "lat", "lon") and out.plev.ndim == 0
    assert "plev: mean" in out.ta.attrs["cell_methods"]
    assert not cf_failures(path)


def test_yearly_means_weight_months_by_their_length(wps_url, inventory, tmp_path):
    response = WPSClient(wps_url).average_time(collection=REGULAR, freq="year")
    out, failures = result_file(response, tmp_path)
    src = source(inventory, REGULAR)
    days = np.array([(b - a).days for a, b in src.time_bnds.values], dtype=float)
    years = src.time.dt.year.values
    rlds = src.rlds.values.astype(float)
    expected = np.stack(
        [np.average(rlds[years == y], axis=0, weights=days[years == y]) for y in np.unique(years)]
    )
    np.testing.assert_allclose(out.rlds.values, expected, rtol=1e-5)
    assert [t.year for t in out.time.values[:2]] == [2015, 2016]
    assert out.attrs["frequency"] == "yr"
    assert not failures


@pytest.mark.parametrize(
    ("identifier", "inputs", "code", "locator", "text"),
    [
        ("average", {"dims": "height"}, "InvalidParameterValue", "dims", "unknown dimension"),
        ("average", {"dims": "time,time"}, "InvalidParameterValue", "dims", "more than once"),
        ("average", {}, "MissingParameterValue", "dims", ""),
        ("average", {"dims": "time", "collection": AREACELLO}, None, "dims", "no time axis"),
        ("average_time", {"freq": "day"}, "InvalidParameterValue", "freq", "finer data"),
        ("average_time", {"freq": "hour"}, None, "freq", "'hour' is not one of day, month"),
        ("average_time", {"freq": "year", "collection": AREACELLO}, None, "freq", "no time"),
        ("average", {"dims": "time", "collection": LEVELS + "x"}, None, "collection", "mean"),
    ],
)
def test_bad_input_is_refused_before_a_job_starts(wps_url, identifier, inputs, code, locator, text):
    response = execute_kvp(wps_url, identifier, {"collection": LEVELS, **inputs})
    assert response.status_code == 400, response.text
    got_code, got_locator, message = exception_of(response)
    assert got_code == (code or "InvalidParameterValue")
    assert got_locator == locator
    assert text in message


def test_a_dim_only_the_data_show_missing_fails_the_job_with_the_reason(wps_url, settings):
    before = set(settings.output_dir.rglob("*.nc"))
    with pytest.raises(ServiceException) as refused:  # a synchronous failure: an exception report
        WPSClient(wps_url).average(collection=CORDEX, dims="level")
    message = str(refused.value)
    assert 'exceptionCode="InvalidParameterValue" locator="dims"' in message
    assert "dims: dataset has no level axis; its dimensions are" in message
    assert set(settings.output_dir.rglob("*.nc")) == before
