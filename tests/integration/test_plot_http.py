"""The ``plot`` process over HTTP: the PNG a user sees and the CSV of the values it shows."""

from __future__ import annotations

import io
import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import requests
from birdy import WPSClient
from owslib.wps import WebProcessingService

from ..operations.test_average import AREACELLO, CORDEX, SEA_ICE, source
from .test_subset_clients import exception_of
from .wps_client import execute_kvp

pytestmark = pytest.mark.realdata


def fetch(url: str) -> bytes:
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, url
    return response.content


def png_shape(content: bytes) -> tuple[int, ...]:
    return matplotlib.image.imread(io.BytesIO(content), format="png").shape


def test_describe_process(wps_url):
    process = WebProcessingService(wps_url, version="1.0.0").describeprocess("plot")
    inputs = {i.identifier: i for i in process.dataInputs}
    assert list(inputs) == ["collection", "kind", "timestep", "time", "area", "level"]
    assert inputs["kind"].allowedValues == ["map", "timeseries"]
    assert [o.identifier for o in process.processOutputs] == ["output", "data", "prov"]


def test_map_of_a_rotated_pole_dataset_at_a_date(wps_url, inventory):
    response = WPSClient(wps_url, progress=False).plot(
        collection=CORDEX, kind="map", timestep="2050-07"
    )
    assert response.isSucceded(), response.errors
    png_url, csv_url, prov_url = response.get()
    assert png_url.endswith("_20500701-20500701_map.png")
    assert png_shape(fetch(png_url))[:2] == (550, 1000)
    table = pd.read_csv(io.BytesIO(fetch(csv_url)))
    step = source(inventory, CORDEX).sel(time="2050-07").isel(time=0)
    np.testing.assert_allclose(table["value"], step.psl.values.ravel())
    np.testing.assert_allclose(table["lat"], step.lat.values.ravel())
    prov = json.loads(fetch(prov_url))
    locations = {e.get("prov:location") for e in prov["entity"].values()}
    assert {png_url, csv_url} <= locations


def test_timeseries_of_curvilinear_sea_ice_async(wps_url, inventory):
    response = WPSClient(wps_url, progress=True).plot(collection=SEA_ICE, kind="timeseries")
    assert response.isSucceded(), response.errors
    png_url, csv_url, prov_url = response.get()
    assert png_shape(fetch(png_url))[:2] == (550, 1000)
    table = pd.read_csv(io.BytesIO(fetch(csv_url)))
    src, fx = source(inventory, SEA_ICE), source(inventory, AREACELLO)
    rows = np.flatnonzero(np.isin(fx.y.values.round(4), src.y.values.round(4)))
    cols = np.flatnonzero(np.isin(fx.x.values.round(4), src.x.values.round(4)))
    areas = fx.areacello.values[np.ix_(rows, cols)].astype(float)
    values = src.siconc.values.astype(float)
    valid = ~np.isnan(values)
    expected = np.nansum(values * areas, axis=(1, 2)) / (valid * areas).sum(axis=(1, 2))
    np.testing.assert_allclose(table["value"], expected, rtol=1e-6)
    assert list(table.columns) == ["time", "value"] and len(table) == 1980
    assert AREACELLO in fetch(prov_url).decode()


def test_raw_png_from_a_plain_kvp_request(wps_url):
    response = execute_kvp(
        wps_url,
        "plot",
        {"collection": CORDEX, "kind": "timeseries", "time": "2006-01-01/2006-12-31"},
        RawDataOutput="output",
    )
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["Content-Type"].startswith("image/png")
    assert png_shape(response.content)[:2] == (550, 1000)


@pytest.mark.parametrize(
    ("inputs", "locator", "text"),
    [
        ({"kind": "bar"}, "kind", "'bar' is not one of map, timeseries"),
        ({"timestep": "July"}, "timestep", "neither a time step index"),
        ({"timestep": "2200-01"}, "timestep", "outside the time range"),
        ({"collection": f"{CORDEX},{SEA_ICE}"}, "collection", "a plot shows one dataset"),
        ({"collection": AREACELLO, "kind": "timeseries"}, "kind", "no time axis"),
        ({"area": "0,60,10,50"}, "area", "south"),
    ],
)
def test_bad_input_is_an_ogc_exception_naming_the_input(wps_url, inputs, locator, text):
    response = execute_kvp(wps_url, "plot", {"collection": CORDEX, **inputs})
    assert response.status_code == 400, response.text
    code, where, message = exception_of(response)
    assert (code, where) == ("InvalidParameterValue", locator)
    assert text in message
