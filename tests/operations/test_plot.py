"""The plot task on real archive data of every grid type: the CSV holds what numpy computes."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.plot import PlotRequest, plan_plot, run_plot
from cp4cds_wps.ops.params import parse_area, parse_level, parse_time
from cp4cds_wps.ops.plot import parse_timestep
from cp4cds_wps.tasks.runner import RunContext

from .test_average import AREACELLO, CORDEX, LEVELS, REGULAR, SEA_ICE, source

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def run(request, inventory, tmp_path):
    result = run_plot(
        request,
        plan_plot(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="http://test/outputs/job", time_chunk=120),
    )
    return result, pd.read_csv(result.table)


def test_map_of_a_rotated_pole_dataset_at_a_date(inventory, tmp_path):
    request = PlotRequest((CORDEX,), "map", timestep=parse_timestep("2050-07"))
    plan = plan_plot(request, inventory)
    (needed,) = plan.files  # only the file holding the date
    assert needed.start < "2050-07" < needed.end
    result, table = run(request, inventory, tmp_path)
    src = source(inventory, CORDEX)
    step = src.sel(time="2050-07").isel(time=0)
    assert str(step.time.values) == "2050-07-01 12:00:00"
    np.testing.assert_allclose(table["value"], step.psl.values.ravel())
    np.testing.assert_allclose(table["lat"], step.lat.values.ravel())
    np.testing.assert_allclose(table["lon"], step.lon.values.ravel())
    assert result.image.name.endswith("_20500701-20500701_map.png")
    assert matplotlib.image.imread(result.image).shape[:2] == (550, 1000)
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == sorted(
        [result.image.name, result.table.name]
    )
    prov = json.loads(result.provenance.json())
    outputs = [e["prov:location"] for e in prov["entity"].values() if "prov:location" in e]
    assert sorted(outputs) == sorted(
        f"http://test/outputs/job/{p.name}" for p in (result.image, result.table)
    )
    assert CORDEX in result.provenance.json()


def test_map_of_a_regular_grid_defaults_to_the_first_step(inventory, tmp_path):
    _, table = run(PlotRequest((REGULAR,), "map"), inventory, tmp_path)
    first = source(inventory, REGULAR).rlds.isel(time=0)
    np.testing.assert_allclose(table["value"], first.values.ravel(), rtol=1e-6)


def test_timeseries_of_curvilinear_sea_ice_uses_the_archive_areacello(inventory, tmp_path):
    result, table = run(PlotRequest((SEA_ICE,), "timeseries"), inventory, tmp_path)
    src, fx = source(inventory, SEA_ICE), source(inventory, AREACELLO)
    rows = np.flatnonzero(np.isin(fx.y.values.round(4), src.y.values.round(4)))
    cols = np.flatnonzero(np.isin(fx.x.values.round(4), src.x.values.round(4)))
    areas = fx.areacello.values[np.ix_(rows, cols)].astype(float)
    values = src.siconc.values.astype(float)
    expected = np.nansum(values * areas, axis=(1, 2)) / (~np.isnan(values) * areas).sum(axis=(1, 2))
    np.testing.assert_allclose(table["value"], expected, rtol=1e-6)
    assert table["time"].iloc[0] == "1850-01-16T12:00:00"
    assert AREACELLO in result.provenance.json()


def test_timeseries_of_a_rotated_pole_dataset_in_a_time_range(inventory, tmp_path):
    request = PlotRequest((CORDEX,), "timeseries", time=parse_time("2006-01-01/2006-03-31"))
    _, table = run(request, inventory, tmp_path)
    src = source(inventory, CORDEX).sel(time=slice("2006-01-01", "2006-03-31"))
    rlat, half = np.deg2rad(src.rlat.values), np.deg2rad(0.055)
    areas = np.outer(np.sin(rlat + half) - np.sin(rlat - half), np.ones(src.sizes["rlon"]))
    expected = (src.psl.values * areas).sum(axis=(1, 2)) / areas.sum()
    assert len(table) == 90
    np.testing.assert_allclose(table["value"], expected, rtol=1e-5)


def test_timeseries_of_one_level_of_an_area(inventory, tmp_path):
    request = PlotRequest(
        (LEVELS,), "timeseries", area=parse_area("0,-30,180,40"), level=parse_level("50000")
    )
    _, table = run(request, inventory, tmp_path)
    src = source(inventory, LEVELS).sel(plev=50000.0)
    box = src.sel(lat=src.lat[(src.lat >= -30) & (src.lat <= 40)], lon=src.lon[src.lon <= 180])
    band = np.abs(np.diff(np.sin(np.deg2rad(box.lat_bnds.values)), axis=1))[:, 0]
    expected = (box.ta.values.mean(axis=2) * band).sum(axis=1) / band.sum()
    np.testing.assert_allclose(table["value"], expected, rtol=1e-6)
    assert box.ta.shape == (120, 2, 3)


@pytest.mark.parametrize(
    ("request_", "name", "message"),
    [
        (PlotRequest((CORDEX, LEVELS)), "collection", "a plot shows one dataset; 2 ids"),
        (PlotRequest((AREACELLO,), "timeseries"), "kind", "has no time axis: plot a map"),
        (PlotRequest((AREACELLO,), timestep=parse_timestep("0")), "timestep", "no time axis"),
        (
            PlotRequest((LEVELS,), "timeseries", timestep=parse_timestep("0")),
            "timestep",
            "a timeseries shows every time step",
        ),
        (PlotRequest((LEVELS,), timestep=parse_timestep("2030-01")), "timestep", "outside"),
        (PlotRequest((LEVELS,), time=parse_time("2030/2031")), "time", "outside"),
    ],
)
def test_plan_refuses_what_cannot_be_plotted(inventory, request_, name, message):
    with pytest.raises(InvalidParameter, match=message) as info:
        plan_plot(request_, inventory)
    assert info.value.name == name


def test_an_index_beyond_the_data_fails_naming_the_steps(inventory, tmp_path):
    request = PlotRequest((LEVELS,), timestep=parse_timestep("120"))
    with pytest.raises(InvalidParameter, match="index 120 is out of range: .* 120 time steps"):
        run(request, inventory, tmp_path)
    with pytest.raises(NoDataSelected):
        run(PlotRequest((LEVELS,), level=parse_level("1/2")), inventory, tmp_path)
