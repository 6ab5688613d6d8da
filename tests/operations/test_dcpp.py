"""Every operation on a decadal hindcast (DCPP) dataset sampled to a single latitude row:
the quirk that made conservative regridding of the archive's daily DCPP data fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cp4cds_wps.config import Root
from cp4cds_wps.errors import NoDataSelected
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.average import (
    AverageRequest,
    AverageTimeRequest,
    plan_average,
    run_average,
    run_average_time,
)
from cp4cds_wps.operations.plot import PlotRequest, plan_plot, run_plot
from cp4cds_wps.operations.regrid import RegridRequest, plan_regrid, run_regrid
from cp4cds_wps.ops.params import parse_time
from cp4cds_wps.ops.regrid import parse_grid
from cp4cds_wps.tasks.runner import RunContext
from tests.cdo_reference import cdo_remap, gaps_as_missing_cells, needs_cdo
from tests.cf_check import CFTIME, cf_failures
from tests.synthetic import dcpp_file

DATASET = "CMIP6.DCPP.INST.MODEL.dcppA-hindcast.s1980-r1i1p1f1.day.tasmax.gn.v20220126"


@pytest.fixture
def archive(tmp_path) -> tuple[Inventory, xr.Dataset]:
    """An inventory of a CMIP6 root holding the DCPP file, and the file's data."""
    root = Root("cmip6", tmp_path / "CMIP6", "cmip6")
    path = dcpp_file(root.path)
    inventory = Inventory(tmp_path / "inventory.sqlite", [root])
    inventory.scan()
    return inventory, xr.open_dataset(path, decode_times=CFTIME)


def ran(run, plan, request, inventory, out_dir) -> tuple[xr.Dataset, object]:
    """The one file of ``run`` (a task's run function) for ``request``, opened, and its
    path."""
    result = run(
        request,
        plan(request, inventory),
        RunContext(out_dir=out_dir, out_url="http://test/job", time_chunk=20),
    )
    (linked,) = result.files
    path = out_dir / linked.name
    return xr.open_dataset(path, decode_times=CFTIME), path


def test_the_dataset_id_is_that_of_a_hindcast_member(archive):
    inventory, _ = archive
    assert [d.id for d in inventory.list()] == [DATASET]


@needs_cdo
def test_conservative_regridding_fills_the_cells_the_two_cells_overlap(archive, tmp_path):
    inventory, src = archive
    request = RegridRequest((DATASET,), "conservative", parse_grid("1deg", None))
    out, path = ran(run_regrid, plan_regrid, request, inventory, tmp_path / "job")
    assert out.tasmax.shape == (61, 180, 360)
    # the cells of 1.875 x 1.85 degrees overlap three rows of 2 and 3 target cells
    assert (np.isfinite(out.tasmax.values).sum(axis=(1, 2)) == 3 * (2 + 3)).all()
    # as CDO remaps the two cells when the gaps between them are missing cells
    padded = gaps_as_missing_cells(src, "tasmax")
    expected = cdo_remap(padded, "conservative", parse_grid("1deg", None), tmp_path, "tasmax")
    np.testing.assert_allclose(out.tasmax.values, expected, rtol=1e-6)
    assert cf_failures(path) == set()


@pytest.mark.parametrize("method", ["bilinear", "nearest_s2d"])
def test_interpolation_is_refused_with_the_reason_and_the_way_out(archive, tmp_path, method):
    inventory, _ = archive
    request = RegridRequest((DATASET,), method, parse_grid("auto", None))
    with pytest.raises(NoDataSelected, match="has a single row or column: use conservative"):
        run_regrid(
            request,
            plan_regrid(request, inventory),
            RunContext(out_dir=tmp_path / "job", out_url="http://test/job", time_chunk=20),
        )
    assert not (tmp_path / "job").exists()


def test_area_and_time_means(archive, tmp_path):
    inventory, src = archive
    request = AverageRequest((DATASET,), ("latitude", "longitude"))
    out, path = ran(run_average, plan_average, request, inventory, tmp_path / "area")
    widths = np.diff(src.lon_bnds.values, axis=1)[:, 0]  # one row: areas are the widths
    expected = (src.tasmax.values[:, 0] * widths).sum(-1) / widths.sum()
    np.testing.assert_allclose(out.tasmax.values, expected, rtol=1e-6)
    assert cf_failures(path) == set()
    request = AverageTimeRequest((DATASET,), "month")
    monthly, path = ran(run_average_time, plan_average, request, inventory, tmp_path / "month")
    np.testing.assert_allclose(
        monthly.tasmax.values,
        [src.tasmax.values[:30].mean(0), src.tasmax.values[30:].mean(0)],
        rtol=1e-6,
    )
    assert [str(t)[:10] for t in monthly.time_bnds.values[:, 0]] == ["1980-11-01", "1980-12-01"]
    assert cf_failures(path) == set()


@pytest.mark.parametrize("kind", ["map", "timeseries"])
def test_plots(archive, tmp_path, kind):
    inventory, src = archive
    request = PlotRequest((DATASET,), kind=kind, time=parse_time("1980-12-01/1980-12-31"))
    result = run_plot(
        request,
        plan_plot(request, inventory),
        RunContext(out_dir=tmp_path, out_url="", time_chunk=20),
    )
    table = pd.read_csv(result.table)
    december = src.tasmax.sel(time=slice("1980-12-01", "1980-12-31"))
    if kind == "map":
        np.testing.assert_allclose(table.value, december.values[0, 0], rtol=1e-6)
    else:
        widths = np.diff(src.lon_bnds.values, axis=1)[:, 0]
        expected = (december.values[:, 0] * widths).sum(-1) / widths.sum()
        np.testing.assert_allclose(table.value, expected, rtol=1e-6)
    assert result.image.stat().st_size > 10_000
