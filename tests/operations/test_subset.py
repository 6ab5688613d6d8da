"""The subset task end to end on one dataset of every project, without WPS."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.config import Root
from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter, NoDataSelected
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.subset import SubsetRequest, plan_subset, run_subset
from cp4cds_wps.ops.params import parse_area, parse_time
from cp4cds_wps.tasks.runner import RunContext

pytestmark = pytest.mark.realdata

# (dataset id, folder below the archive, variable, time range)
CASES = [
    (
        "CMIP6.CMIP.NCAR.CESM2-WACCM.historical.r1i1p1f1.day.tas.gn.v20190227",
        "badc/cmip6/data/CMIP6/CMIP/NCAR/CESM2-WACCM/historical/r1i1p1f1/day/tas/gn/v20190227",
        "tas",
        "2003-02-01/2003-03-31",
    ),
    (
        "CMIP6.DCPP.MOHC.HadGEM3-GC31-MM.dcppA-hindcast.s2004-r3i1p1f2.Amon.pr.gn.v20200417",
        "badc/cmip6/data/CMIP6/DCPP/MOHC/HadGEM3-GC31-MM/dcppA-hindcast/s2004-r3i1p1f2/Amon/pr/gn/v20200417",
        "pr",
        "2005-06-01/2007-05-30",
    ),
    (
        "cmip5.output1.ICHEC.EC-EARTH.historical.mon.atmos.Amon.r1i1p1.latest.tas",
        "badc/cmip5/data/cmip5/output1/ICHEC/EC-EARTH/historical/mon/atmos/Amon/r1i1p1/latest/tas",
        "tas",
        "1905-01-01/1925-12-31",
    ),
    (
        "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231",
        "gws/nopw/j04/cp4cds1_vol1/data/c3s-cmip5/output1/ICHEC/EC-EARTH/historical/day/atmos/day/r1i1p1/tas/v20131231",
        "tas",
        "1899-12-15/1900-01-15",
    ),
    (
        "cordex.output.AFR-22.GERICS.MPI-M-MPI-ESM-LR.historical.r1i1p1.GERICS-REMO2015.v1.day.tas.v20201015",
        "pool/data/CORDEX/data/cordex/output/AFR-22/GERICS/MPI-M-MPI-ESM-LR/historical/r1i1p1/GERICS-REMO2015/v1/day/tas/v20201015",
        "tas",
        "2000-12-20/2001-01-10",
    ),
    (
        "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl.v20190212",
        "gws/nopw/j04/cp4cds1_vol1/data/c3s-cordex/output/EUR-11/IPSL/MOHC-HadGEM2-ES/rcp85/r1i1p1/IPSL-WRF381P/v1/day/psl/v20190212",
        "psl",
        "2020-01-01/2021-06-30",
    ),
    (
        "c3s-cica-atlas.psl.ERA5.mon.v1",
        "pool/data/c3s-cica-atlas/ERA5",
        "psl",
        "1990-01-01/1990-12-31",
    ),
]


@pytest.fixture(scope="module")
def inventory(settings):
    inv = Inventory.from_settings(settings)
    inv.ensure_scanned()
    return inv


def run(request, inventory, tmp_path, **kwargs):
    plans = plan_subset(request, inventory)
    return run_subset(
        request,
        plans,
        RunContext(
            out_dir=tmp_path / "job",
            out_url="http://test/outputs/job",
            data_url="http://test/data",
            time_chunk=120,
            **kwargs,
        ),
    )


@pytest.mark.parametrize(("dataset_id", "folder", "var", "time"), CASES, ids=lambda c: str(c)[:30])
def test_subset_values_equal_plain_xarray(
    inventory, archive_dir, tmp_path, dataset_id, folder, var, time
):
    request = SubsetRequest(collection=(dataset_id,), time=parse_time(time))
    result = run(request, inventory, tmp_path)

    assert len(result.files) == 1
    out = xr.open_dataset(tmp_path / "job" / result.files[0].name, use_cftime=True)
    start, end = time.split("/")
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    files = sorted((archive_dir / folder).glob(f"{var}_*.nc"))
    source = xr.open_mfdataset(
        files, decode_times=coder, data_vars="minimal", coords="minimal", compat="override"
    )
    expected = source[var].sel(time=slice(start, end))
    assert out[var].shape == expected.shape
    np.testing.assert_allclose(out[var].values, expected.values, equal_nan=True)
    assert out.time.dt.calendar == source.time.dt.calendar
    assert result.files[0].url == f"http://test/outputs/job/{result.files[0].name}"
    assert result.files[0].size == (tmp_path / "job" / result.files[0].name).stat().st_size
    prov = json.loads(result.provenance.json())
    assert dataset_id in json.dumps(prov)


def test_whole_files_are_returned_as_originals(inventory, tmp_path):
    dataset_id = "cmip5.output1.ICHEC.EC-EARTH.historical.mon.atmos.Amon.r1i1p1.latest.tas"
    dataset = inventory.get(dataset_id)
    first = dataset.files[0]
    request = SubsetRequest(
        collection=(dataset_id,), time=parse_time(f"{first.start[:10]}/{first.end[:10]}")
    )
    result = run(request, inventory, tmp_path)
    assert [f.name for f in result.files] == [first.path.name]
    assert result.files[0].url == f"http://test/data/{first.root}/{first.relpath}"
    assert result.files[0].md5 == first.md5
    assert not list((tmp_path / "job").glob("*.nc"))


def test_files_the_inventory_found_inconsistent_are_not_combined(inventory, tmp_path):
    dataset_id = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"
    with pytest.raises(DatasetInconsistent, match="185001.nc"):
        plan_subset(
            SubsetRequest(collection=(dataset_id,), time=parse_time("1850/1851")), inventory
        )
    # a time range that needs only the long file works
    result = run(
        SubsetRequest(collection=(dataset_id,), time=parse_time("1900/1901")), inventory, tmp_path
    )
    assert result.files[0].name == "rlds_Amon_IPSL-CM6A-LR_historical_r1i1p1f1_gr_190001-190112.nc"


def test_several_datasets_give_one_file_each(inventory, tmp_path):
    ids = (
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas",
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.land.Lmon.r1i1p1.latest.rh",
    )
    result = run(
        SubsetRequest(
            collection=ids, time=parse_time("1950/1951"), area=parse_area("0,-90,360,90")
        ),
        inventory,
        tmp_path,
    )
    assert [f.name.split("_")[0] for f in result.files] == ["tas", "rh"]


def test_a_failed_run_leaves_no_file(inventory, tmp_path):
    dataset_id = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
    request = SubsetRequest(
        collection=(dataset_id,), time=parse_time("1950/1951"), area=parse_area("10,10,20,20")
    )
    with pytest.raises(NoDataSelected, match="area"):
        run(request, inventory, tmp_path)
    assert not (tmp_path / "job").exists()


def test_original_files_cannot_be_combined_with_processing(inventory):
    request = SubsetRequest(
        collection=("cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas",),
        area=parse_area("0,0,10,10"),
        original_files=True,
    )
    with pytest.raises(InvalidParameter, match="original_files"):
        plan_subset(request, inventory)


def test_progress_is_reported_per_dataset(inventory, tmp_path):
    ids = (
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas",
        "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.land.Lmon.r1i1p1.latest.rh",
    )
    request = SubsetRequest(collection=ids, time=parse_time("1950/1951"))
    seen = []
    run_subset(
        request,
        plan_subset(request, inventory),
        RunContext(
            out_dir=tmp_path / "job",
            out_url="http://test/outputs/job",
            data_url="http://test/data",
            time_chunk=120,
            progress=lambda percent, message: seen.append((percent, message)),
        ),
    )
    assert seen == [
        (0, f"subset: {ids[0]}"),
        (50, f"subset: {ids[1]}"),
        (100, "subset done: 2 file(s)"),
    ]


def test_a_result_larger_than_the_file_limit_is_split_along_time(inventory, tmp_path):
    # 34,303 days of the area: between 1 and 2 MiB of psl, time and time bounds
    cordex_psl = (
        "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl."
        "v20190212"
    )
    request = SubsetRequest(collection=(cordex_psl,), area=parse_area("0,40,20,60"))
    whole = run(request, inventory, tmp_path / "whole")
    split = run(request, inventory, tmp_path / "split", max_file_mb=1)

    opened = [
        xr.open_dataset(tmp_path / "split" / "job" / f.name, use_cftime=True) for f in split.files
    ]
    assert len(whole.files) == 1 and len(split.files) == 2
    assert all(part.nbytes <= 2**20 for part in opened)
    for before, after in zip(opened, opened[1:], strict=False):  # consecutive, no overlap
        assert before.time.values[-1] < after.time.values[0]
    names = [f.name.rsplit("_", 1)[1] for f in split.files]  # each named for its own range
    assert names[0].startswith("20060101-") and names[-1].endswith("-20991201.nc")
    expected = xr.open_dataset(tmp_path / "whole" / "job" / whole.files[0].name, use_cftime=True)
    xr.testing.assert_identical(xr.concat([part.psl for part in opened], dim="time"), expected.psl)


def test_a_file_unreadable_when_scanned_is_named_not_a_crash(tmp_path):
    """Its time range is unknown, so whether a request needs it is too: refused, saying why
    (it used to fail comparing None with the requested dates)."""
    root = Root("cmip6", tmp_path / "CMIP6", "cmip6")
    folder = root.path / "CMIP/INST/MODEL/historical/r1i1p1f1/day/tas/gn/v20200101"
    folder.mkdir(parents=True)
    for year in (2000, 2001):
        xr.Dataset(
            {"tas": ("time", np.array([280.0, 281.0]), {"units": "K"})},
            coords={"time": ("time", [0.5, 1.5], {"units": f"days since {year}-01-01"})},
        ).to_netcdf(folder / f"tas_day_MODEL_historical_r1i1p1f1_gn_{year}0101-{year}0102.nc")
    broken = folder / "tas_day_MODEL_historical_r1i1p1f1_gn_20010101-20010102.nc"
    with broken.open("r+b") as fh:
        fh.write(b"garbage!" * 8)
    inventory = Inventory(tmp_path / "inventory.sqlite", [root])
    inventory.scan()
    (dataset,) = inventory.list()
    request = SubsetRequest(collection=(dataset.id,), time=parse_time("2000-01-01/2000-01-01"))
    with pytest.raises(DatasetInconsistent, match=f"the time range of {broken.name} of "
                       f"{dataset.id} is unknown: {broken.name}: cannot read: "):  # fmt: skip
        plan_subset(request, inventory)
