"""The Climate Data Store's path through its roocs adaptor: a rooki ``orchestrate`` workflow
``Input(variable, dataset_ids)`` then ``Subset(time, time_components with month names, area)``,
run asynchronously through rooki's client over the real server, then ``download_urls()``,
``provenance()`` and ``provenance_image()``, the values checked against numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
import xarray as xr

from ..tasks.test_workflow import CFTIME, RLDS, source
from .test_subset_clients import download

pytestmark = pytest.mark.realdata


def test_the_adaptor_workflow_with_month_names_runs_async_through_rooki(
    wps_url, inventory, tmp_path, monkeypatch
):
    monkeypatch.setenv("ROOK_URL", wps_url)
    monkeypatch.setenv("ROOK_MODE", "async")
    from rooki import operators as ops

    # as the adaptor maps the CDS form: year 2017 and 2018, month jan..mar, area N,W,S,E
    # (70, 180, 50, 220) reordered to W,S,E,N
    workflow = ops.Subset(
        ops.Input("rlds", [RLDS]),
        time="2017-01-01/2018-12-31",
        time_components="year:2017,2018|month:jan,feb,mar",
        area="180,50,220,70",
    )
    result = workflow.orchestrate()
    assert result.ok, result.status
    (url,) = result.download_urls()
    out = xr.open_dataset(download(url, tmp_path), decode_times=CFTIME)

    src = source(inventory, RLDS)
    times = src.time.dt
    keep = np.isin(times.year.values, [2017, 2018]) & np.isin(times.month.values, [1, 2, 3])
    lat, lon = src.lat.values, src.lon.values
    box = src.isel(
        time=np.flatnonzero(keep),
        lat=np.flatnonzero((lat >= 50) & (lat <= 70)),
        lon=np.flatnonzero((lon >= 180) & (lon <= 220)),
    )
    assert box.rlds.shape == (6, 1, 1)  # the test needs a non-trivial selection
    assert [(t.year, t.month) for t in out.time.values] == [
        (y, m) for y in (2017, 2018) for m in (1, 2, 3)
    ]
    np.testing.assert_array_equal(out.lat.values, box.lat.values)
    np.testing.assert_array_equal(out.lon.values, box.lon.values)
    np.testing.assert_allclose(out.rlds.values, box.rlds.values, rtol=1e-6)

    prov = requests.get(result.provenance(), timeout=30).json()
    step = prov["activity"]["cp4cds:step/subset_rlds_1"]
    assert step["cp4cds:operation"] == "subset"
    assert step["cp4cds:time"] == "2017-01-01/2018-12-31"
    assert RLDS in json.dumps(prov)
    image = requests.get(result.provenance_image(), timeout=30).content
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
