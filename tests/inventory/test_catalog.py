"""The inventory of the real test archive (mini-esgf-data), scanned once per module."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cp4cds_wps.errors import UnknownDataset
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.inventory.report import describe, summarize

pytestmark = pytest.mark.realdata

EC_EARTH = "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231"
IPSL = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.v20180803"


@pytest.fixture(scope="module")
def scanned(settings, tmp_path_factory):
    inventory = Inventory(tmp_path_factory.mktemp("inv") / "inventory.sqlite", settings.roots)
    began = time.monotonic()
    report = inventory.scan()
    return inventory, report, time.monotonic() - began


def test_scan_records_every_netcdf_file_once(scanned, archive_dir):
    inventory, report, _ = scanned
    roots = ["badc", "gws", "pool"]  # group_workspaces is an unconfigured older copy
    on_disk = {p.name for top in roots for p in (archive_dir / top).rglob("*.nc") if p.is_file()}
    recorded = [f.path.name for d in inventory.list() for f in d.files]
    assert len(recorded) == report.files
    # every file name on disk is recorded, none twice (pool-cmip6 is the same tree)
    assert set(recorded) == on_disk
    assert len(recorded) == len(set(recorded))
    assert report.duplicates_skipped > 0
    assert report.warnings == ()


def test_rescan_is_faster_and_changes_nothing(scanned):
    inventory, first, first_seconds = scanned
    before = inventory.list()
    began = time.monotonic()
    again = inventory.scan()
    assert time.monotonic() - began < first_seconds
    assert not again.changed
    assert again.files_unchanged == first.files
    assert inventory.list() == before


@pytest.mark.parametrize(
    ("dataset_id", "project", "n_files"),
    [
        ("cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas", "cmip5", 6),
        (IPSL, "cmip6", 2),
        ("CMIP6.ScenarioMIP.MIROC.MIROC6.ssp119.r1i1p1f1.Amon.ta.gn.v20190807", "cmip6", 1),
        (
            "cordex.output.EUR-11.KNMI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.KNMI-RACMO22E.v1.mon.tas"
            ".v20190625",
            "cordex",
            1,
        ),
        (EC_EARTH, "c3s-cmip5", 16),
        (
            "c3s-cmip5.output1.BCC.bcc-csm1-1.rcp85.mon.ocean.Omon.r1i1p1.zos.v20120705",
            "c3s-cmip5",
            1,
        ),
        (
            "c3s-cordex.output.EUR-11.IPSL.MOHC-HadGEM2-ES.rcp85.r1i1p1.IPSL-WRF381P.v1.day.psl"
            ".v20190212",
            "c3s-cordex",
            10,
        ),
        ("c3s-cica-atlas.pr.CMIP5.rcp26.mon.v1", "c3s-cica-atlas", 1),
    ],
)
def test_a_dataset_of_every_project(scanned, dataset_id, project, n_files):
    inventory, _, _ = scanned
    dataset = inventory.get(dataset_id)
    assert (dataset.id, dataset.project, len(dataset.files)) == (dataset_id, project, n_files)
    assert all(f.path.is_file() for f in dataset.files)
    # md5 comes from the .md5 file beside, which some files of the archive lack
    for record in dataset.files:
        md5_file = Path(f"{record.path}.md5")
        expected = md5_file.read_text().split()[0] if md5_file.exists() else None
        assert record.md5 == expected
    assert dataset.size == sum(f.path.stat().st_size for f in dataset.files)


def test_dcpp_member(scanned):
    inventory, _, _ = scanned
    (dataset,) = inventory.list(sub_experiment="s2004", model="HadGEM3-GC31-MM")
    assert dataset.facets["member"] == "s2004-r3i1p1f2"
    assert dataset.facets["frequency"] == "mon"
    assert (dataset.start[:7], dataset.end[:7]) == ("2004-11", "2015-03")
    assert dataset.calendar == "360_day"
    assert len(dataset.files) == 12 and dataset.issues == ()


def test_ec_earth_files_in_time_order(scanned):
    inventory, _, _ = scanned
    dataset = inventory.get(EC_EARTH)
    names = [f.path.name for f in dataset.files]
    assert names == sorted(names)  # names carry the decade: 1850..., 1860..., ...
    assert names[0].endswith("18500101-18591231.nc")
    assert names[-1].endswith("20000101-20091130.nc")
    assert (dataset.start, dataset.end) == ("1850-01-01T12:00:00", "2009-11-30T12:00:00")
    assert [f.start[:4] for f in dataset.files] == [str(y) for y in range(1850, 2001, 10)]
    assert dataset.issues == ()


def test_latest_link_and_versionless_ids(scanned):
    inventory, _, _ = scanned
    assert inventory.get(EC_EARTH.replace("v20131231", "latest")).id == EC_EARTH
    assert inventory.get(EC_EARTH.rsplit(".", 1)[0]).id == EC_EARTH
    assert inventory.get(IPSL.replace("CMIP6.", "cmip6.", 1)).id == IPSL
    real_latest = "CMIP6.CMIP.MIROC.MIROC6.historical.r1i1p1f1.SImon.siconc.gn"
    assert inventory.get(real_latest).version == "latest"
    inm = "CMIP6.CMIP.INM.INM-CM5-0.historical.r1i1p1f1.Amon.rlds.gr1"
    assert inventory.get(inm).version == "v20190610"


def test_unknown_id_suggests_close_ids(scanned):
    inventory, _, _ = scanned
    with pytest.raises(UnknownDataset) as err:
        inventory.get(IPSL.replace("rlds", "rldz"))
    assert err.value.suggestions[0] == IPSL
    assert len(err.value.suggestions) <= 5
    assert "did you mean" in str(err.value)


def test_real_inconsistencies_are_reported(scanned):
    inventory, _, _ = scanned
    issues = inventory.get(IPSL).issues
    assert any("overlap in time" in i for i in issues)
    assert any("different grids" in i for i in issues)
    clean = [d for d in inventory.list() if not d.issues]
    assert len(clean) > 70


def test_list_filters_by_pattern_and_facets(scanned):
    inventory, _, _ = scanned
    daily_tas = inventory.list("*.tas.*", frequency="day")
    assert daily_tas and all(
        d.variable == "tas" and d.facets["frequency"] == "day" for d in daily_tas
    )
    assert {d.project for d in inventory.list(variable="tas")} >= {"cmip5", "cmip6", "cordex"}
    assert inventory.list(project="c3s-cica-atlas", origin="E-OBS")[0].variable in ("t", "sfcwind")
    assert inventory.list("nothing*") == []


def test_report_texts(scanned):
    inventory, _, _ = scanned
    dataset = inventory.get(IPSL)
    text = describe(dataset)
    assert text.splitlines()[0] == IPSL
    assert "1850-01-16T12:00:00 to 2014-12-16T12:00:00" in text
    assert next(f.md5 for f in dataset.files if f.md5) in text
    assert "overlap in time" in text
    lines = summarize(inventory.list("CMIP6.CMIP.IPSL.*")).splitlines()
    assert len(lines) == 3 and lines[0].startswith("CMIP6.CMIP.IPSL.")
    assert "!2 issue(s)" in lines[0]
