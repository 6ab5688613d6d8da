"""Datasets whose files overlap or leave a gap: every operation runs on them, with the repair
in the output's history and provenance, and values equal to numpy on the repaired series."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cp4cds_wps.config import Root
from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.average import (
    AverageRequest,
    AverageTimeRequest,
    plan_average,
    run_average,
    run_average_time,
)
from cp4cds_wps.operations.concat import ConcatRequest, plan_concat, run_concat
from cp4cds_wps.operations.plot import PlotRequest, plan_plot, run_plot
from cp4cds_wps.operations.regrid import RegridRequest, plan_regrid, run_regrid
from cp4cds_wps.operations.subset import SubsetRequest, plan_subset, run_subset
from cp4cds_wps.ops.params import parse_area, parse_time
from cp4cds_wps.ops.regrid import parse_grid
from cp4cds_wps.tasks.files import check_consistent, select_files
from cp4cds_wps.tasks.runner import RunContext
from cp4cds_wps.tasks.workflow import parse_workflow, plan_workflow, run_workflow
from tests.cf_check import CFTIME, cf_failures
from tests.quirks import DIR, ID, STEPS, areas, write_member, write_months


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    top = tmp_path_factory.mktemp("quirks")
    root = top / "CMIP6"
    values = {m: write_member(root, m, i) for i, m in enumerate(("r1i1p1f1", "r2i1p1f1"))}
    write_member(root, "r3i1p1f1", 3, conflict=True)
    inventory = Inventory(top / "db" / "inventory.sqlite", [Root("cmip6", root, "cmip6")])
    inventory.scan()
    return inventory, values


def _history_and_notes(result, path):
    with xr.open_dataset(path, decode_times=CFTIME) as out:
        history = out.attrs["history"]
    activity = json.loads(result.provenance.json())["activity"]
    notes = [n for a in activity.values() for n in np.atleast_1d(a.get("cp4cds:note", []))]
    return history, notes


def _assert_repairs_recorded(result, path):
    history, notes = _history_and_notes(result, path)
    for text in (history, " ".join(map(str, notes))):
        assert "1 time step(s) in tas_Amon_MODEL_historical_r1i1p1f1_gn_200001-200112.nc" in text
        assert "(2001-12-16T00:00:00) repeated, with equal values, dropped" in text
        assert "gap between" in text and "processed as it is" in text


def test_the_inventory_reports_the_overlap_and_the_gap(archive):
    inventory, _ = archive
    dataset = inventory.get(ID.format(member="r1i1p1f1"))
    assert sorted(issue.kind for issue in dataset.issues) == ["gap", "overlap"]
    check_consistent(dataset, dataset.files)  # refused before: now repaired when opened


def test_subset_drops_the_repeated_december_and_keeps_the_gap(archive, tmp_path):
    inventory, values = archive
    request = SubsetRequest(
        (ID.format(member="r1i1p1f1"),),
        time=parse_time("2001-06/2005-06"),
        area=parse_area("0,0,180,90"),
    )
    result = run_subset(
        request,
        plan_subset(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", data_url="d", time_chunk=7),
    )
    path = tmp_path / "job" / result.files[0].name
    out = xr.open_dataset(path, decode_times=CFTIME)
    chosen = [i for i, (y, m) in enumerate(STEPS) if (2001, 6) <= (y, m) <= (2005, 6)]
    np.testing.assert_allclose(out.tas.values, values["r1i1p1f1"][chosen][:, 2:, :4], rtol=1e-6)
    assert [t.year for t in out.time.values].count(2001) == 7  # June to December, once each
    assert 2004 not in {t.year for t in out.time.values}
    _assert_repairs_recorded(result, path)
    assert not cf_failures(path)


@pytest.mark.parametrize("dims", [("time",), ("latitude", "longitude")])
def test_average_over_the_repaired_series(archive, tmp_path, dims):
    inventory, values = archive
    request = AverageRequest((ID.format(member="r1i1p1f1"),), dims)
    result = run_average(
        request,
        plan_average(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    path = tmp_path / "job" / result.files[0].name
    out = xr.open_dataset(path, decode_times=CFTIME)
    src = values["r1i1p1f1"]
    if dims == ("time",):  # 360_day: every month 30 days long
        np.testing.assert_allclose(out.tas.values, src.mean(axis=0), rtol=1e-5)
    else:
        expected = (src * areas()).sum(axis=(1, 2)) / areas().sum()
        np.testing.assert_allclose(out.tas.values, expected, rtol=1e-5)
    _assert_repairs_recorded(result, path)
    assert not cf_failures(path)


def test_yearly_means_skip_the_missing_year(archive, tmp_path):
    inventory, values = archive
    request = AverageTimeRequest((ID.format(member="r1i1p1f1"),), "year")
    result = run_average_time(
        request,
        plan_average(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    path = tmp_path / "job" / result.files[0].name
    out = xr.open_dataset(path, decode_times=CFTIME)
    years = [2000, 2001, 2002, 2003, 2005, 2006]
    assert [t.year for t in out.time.values] == years
    expected = [
        values["r1i1p1f1"][[i for i, (y, _) in enumerate(STEPS) if y == year]].mean(axis=0)
        for year in years
    ]
    np.testing.assert_allclose(out.tas.values, expected, rtol=1e-5)
    _assert_repairs_recorded(result, path)


def test_conservative_regrid_onto_the_same_grid_returns_the_repaired_series(archive, tmp_path):
    inventory, values = archive
    grid = parse_grid("custom", "0 360 45 -90 90 45")  # the source's own cells
    request = RegridRequest((ID.format(member="r1i1p1f1"),), "conservative", grid)
    result = run_regrid(
        request,
        plan_regrid(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    path = tmp_path / "job" / result.files[0].name
    out = xr.open_dataset(path, decode_times=CFTIME)
    np.testing.assert_allclose(out.tas.values, values["r1i1p1f1"], rtol=1e-5)
    _assert_repairs_recorded(result, path)


def test_concat_of_members_with_the_same_quirks(archive, tmp_path):
    inventory, values = archive
    request = ConcatRequest(tuple(ID.format(member=m) for m in ("r1i1p1f1", "r2i1p1f1")))
    result = run_concat(
        request,
        plan_concat(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    path = tmp_path / "job" / result.files[0].name
    out = xr.open_dataset(path, decode_times=CFTIME)
    np.testing.assert_allclose(
        out.tas.transpose("realization", "time", ...).values,
        np.stack([values["r1i1p1f1"], values["r2i1p1f1"]]),
        rtol=1e-6,
    )
    _assert_repairs_recorded(result, path)


def test_plot_timeseries_of_the_repaired_series(archive, tmp_path):
    inventory, values = archive
    request = PlotRequest((ID.format(member="r1i1p1f1"),), kind="timeseries")
    result = run_plot(
        request,
        plan_plot(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    table = pd.read_csv(result.table)
    expected = (values["r1i1p1f1"] * areas()).sum(axis=(1, 2)) / areas().sum()
    assert len(table) == len(STEPS)
    np.testing.assert_allclose(table.iloc[:, -1].to_numpy(), expected, rtol=1e-5)
    (activity,) = json.loads(result.provenance.json())["activity"].values()
    assert any("repeated, with equal values, dropped" in n for n in activity["cp4cds:note"])


def test_orchestrated_subset_and_mean(archive, tmp_path):
    inventory, values = archive
    doc = {
        "inputs": {"tas": [ID.format(member="r1i1p1f1")]},
        "outputs": {"output": "mean/output"},
        "steps": {
            "sub": {"run": "subset", "in": {"collection": "inputs/tas", "time": "2001-01/2005-12"}},
            "mean": {"run": "average", "in": {"collection": "sub/output", "dims": "time"}},
        },
    }
    workflow = parse_workflow(json.dumps(doc))
    result = run_workflow(
        workflow,
        plan_workflow(workflow, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    path = tmp_path / "job" / result.files[0].name
    out = xr.open_dataset(path, decode_times=CFTIME)
    chosen = [i for i, (y, _) in enumerate(STEPS) if 2001 <= y <= 2005]
    np.testing.assert_allclose(out.tas.values, values["r1i1p1f1"][chosen].mean(axis=0), rtol=1e-5)
    _assert_repairs_recorded(result, path)
    assert plan_workflow(workflow, inventory) is not None


def test_repeated_steps_with_other_values_fail_naming_files_and_time(archive, tmp_path):
    inventory, _ = archive
    request = AverageRequest((ID.format(member="r3i1p1f1"),), ("time",))
    with pytest.raises(DatasetInconsistent) as caught:
        run_average(
            request,
            plan_average(request, inventory),
            RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
        )
    assert caught.value.reason.startswith(
        "tas_Amon_MODEL_historical_r3i1p1f1_gn_200001-200112.nc and "
        "tas_Amon_MODEL_historical_r3i1p1f1_gn_200112-200312.nc overlap in time with other "
        "values: tas differs at 2001-12-16T00:00:00"
    )
    assert not (tmp_path / "job").exists()


def test_a_request_of_one_file_of_the_pair_is_not_concerned(archive):
    inventory, _ = archive
    dataset = inventory.get(ID.format(member="r3i1p1f1"))
    files, _ = select_files(dataset, parse_time("2000-01/2001-06"))
    assert len(files) == 1
    check_consistent(dataset, files)


def test_files_of_different_calendars_stay_refused_naming_them(tmp_path):
    folder = tmp_path / "CMIP6" / DIR.format(member="r1i1p1f1")
    folder.mkdir(parents=True)
    values = np.zeros((12, 4, 8))
    write_months(folder / "tas_2000.nc", [(2000, m) for m in range(1, 13)], values)
    write_months(folder / "tas_2001.nc", [(2001, m) for m in range(1, 13)], values, "noleap")
    inventory = Inventory(
        tmp_path / "inventory.sqlite", [Root("cmip6", tmp_path / "CMIP6", "cmip6")]
    )
    inventory.scan()
    request = AverageRequest((ID.format(member="r1i1p1f1"),), ("time",))
    with pytest.raises(DatasetInconsistent) as caught:
        plan_average(request, inventory)
    assert caught.value.reason.endswith(
        "files use different calendars: 360_day (tas_2000.nc); noleap (tas_2001.nc)"
    )
