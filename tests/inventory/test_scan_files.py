"""Scanning synthetic archives: time issues between files, links, duplicates, rescans."""

from __future__ import annotations

import os

import pytest

from cp4cds_wps.config import Root
from cp4cds_wps.errors import UnknownDataset

DS_DIR = "CMIP/INST/MODEL/historical/r1i1p1f1/{table}/tas/gn/{version}"
DS_ID = "CMIP6.CMIP.INST.MODEL.historical.r1i1p1f1.{table}.tas.gn.{version}"


def _dataset_dir(root: Root, table: str = "day", version: str = "v20200101"):
    return root.path / DS_DIR.format(table=table, version=version)


def _scan_one(make_inventory, root, table="day", version="v20200101"):
    inventory = make_inventory(root)
    inventory.scan()
    return inventory.get(DS_ID.format(table=table, version=version))


def test_contiguous_daily_files_have_no_issue(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root)
    write_nc(folder / "tas_b.nc", [10.5 + i for i in range(10)])
    write_nc(folder / "tas_a.nc", [0.5 + i for i in range(10)])
    dataset = _scan_one(make_inventory, cmip6_root)
    assert [f.relpath.rsplit("/", 1)[1] for f in dataset.files] == ["tas_a.nc", "tas_b.nc"]
    assert (dataset.start, dataset.end) == ("2000-01-01T12:00:00", "2000-01-20T12:00:00")
    assert dataset.issues == ()
    assert dataset.files[0].n_times == 10


def test_missing_days_between_files_are_a_gap(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root)
    write_nc(folder / "tas_a.nc", [0.5 + i for i in range(10)])
    write_nc(folder / "tas_b.nc", [13.5 + i for i in range(10)])
    (issue,) = _scan_one(make_inventory, cmip6_root).issues
    assert issue.startswith("gap between tas_a.nc and tas_b.nc")
    assert "2000-01-10T12:00:00 to 2000-01-14T12:00:00" in issue
    assert (issue.kind, issue.files) == ("gap", ("tas_a.nc", "tas_b.nc"))


def test_overlapping_files_are_reported(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root)
    write_nc(folder / "tas_a.nc", [0.5 + i for i in range(10)])
    write_nc(folder / "tas_b.nc", [9.5 + i for i in range(10)])
    (issue,) = _scan_one(make_inventory, cmip6_root).issues
    assert issue.startswith("tas_a.nc and tas_b.nc overlap in time")
    assert issue.kind == "overlap"


def test_time_steps_repeated_within_a_file_are_reported(cmip6_root, make_inventory, write_nc):
    write_nc(_dataset_dir(cmip6_root) / "tas_a.nc", [0.5, 1.5, 1.5, 2.5])
    dataset = _scan_one(make_inventory, cmip6_root)
    (issue,) = dataset.issues
    assert (issue, issue.kind) == ("tas_a.nc repeats 1 time step(s) within itself", "repeated")
    assert (dataset.start, dataset.end) == ("2000-01-01T12:00:00", "2000-01-03T12:00:00")


@pytest.mark.parametrize("calendar", ["360_day", "noleap", "standard"])
def test_monthly_files_split_at_year_ends_have_no_gap(
    cmip6_root, make_inventory, write_nc, calendar
):
    import cftime

    def mid_months(year):
        days = [
            cftime.date2num(
                cftime.datetime(year, m, 15, calendar=calendar), "days since 2000-01-01", calendar
            )
            for m in range(1, 13)
        ]
        return days

    folder = _dataset_dir(cmip6_root, table="Amon")
    write_nc(folder / "tas_2000.nc", mid_months(2000), calendar=calendar)
    write_nc(folder / "tas_2001.nc", mid_months(2001), calendar=calendar)
    dataset = _scan_one(make_inventory, cmip6_root, table="Amon")
    assert dataset.issues == ()
    assert dataset.calendar == calendar
    # a year left out is a gap
    (folder / "tas_2001.nc").unlink()
    write_nc(folder / "tas_2002.nc", mid_months(2002), calendar=calendar)
    (issue,) = _scan_one(make_inventory, cmip6_root, table="Amon").issues
    assert issue.startswith("gap between tas_2000.nc and tas_2002.nc")


def test_single_step_monthly_files_use_the_nominal_step(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root, table="Amon")
    write_nc(folder / "tas_01.nc", [15.0], calendar="360_day")
    write_nc(folder / "tas_02.nc", [45.0], calendar="360_day")
    assert _scan_one(make_inventory, cmip6_root, table="Amon").issues == ()
    write_nc(folder / "tas_02.nc", [105.0], calendar="360_day")
    (issue,) = _scan_one(make_inventory, cmip6_root, table="Amon").issues
    assert "gap between tas_01.nc and tas_02.nc" in issue


def test_different_calendars_and_grids_are_reported(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root)
    write_nc(folder / "tas_a.nc", [0.5, 1.5], calendar="noleap")
    write_nc(folder / "tas_b.nc", [2.5, 3.5], calendar="360_day", shape=(5, 6))
    issues = _scan_one(make_inventory, cmip6_root).issues
    assert "files use different calendars: 360_day (tas_b.nc); noleap (tas_a.nc)" in issues
    assert "files have different grids: lat=3,lon=4 (tas_a.nc); lat=5,lon=6 (tas_b.nc)" in issues
    assert {i.kind for i in issues} == {"calendar", "grid"}


def test_fixed_file_without_time_and_missing_variable(cmip6_root, make_inventory, write_nc):
    write_nc(_dataset_dir(cmip6_root, table="fx") / "tas_fx.nc", None)
    dataset = _scan_one(make_inventory, cmip6_root, table="fx")
    assert (dataset.start, dataset.end, dataset.calendar) == (None, None, None)
    assert dataset.files[0].n_times == 0
    assert dataset.facets["frequency"] == "fx"
    write_nc(_dataset_dir(cmip6_root, table="fx") / "tas_fx.nc", None, variable="other")
    dataset = _scan_one(make_inventory, cmip6_root, table="fx")
    assert dataset.issues == ("tas_fx.nc: variable 'tas' not in the file",)


def test_md5_beside_the_file_is_recorded(cmip6_root, make_inventory, write_nc):
    path = write_nc(_dataset_dir(cmip6_root) / "tas.nc", [0.5])
    path.with_name("tas.nc.md5").write_text("0123abcd  tas.nc\n")
    assert _scan_one(make_inventory, cmip6_root).files[0].md5 == "0123abcd"


def test_latest_links_are_aliases_not_datasets(cmip6_root, make_inventory, write_nc):
    old, new = _dataset_dir(cmip6_root, version="v1"), _dataset_dir(cmip6_root, version="v2")
    write_nc(old / "tas.nc", [0.5])
    write_nc(new / "tas.nc", [1.5])
    (new.parent / "latest").write_text("v1\n")  # a link stub pointing at the older version
    inventory = make_inventory(cmip6_root)
    inventory.scan()
    assert [d.version for d in inventory.list()] == ["v1", "v2"]
    assert inventory.get(DS_ID.format(table="day", version="latest")).version == "v1"
    assert inventory.get(DS_ID.format(table="day", version="v1")[: -len(".v1")]).version == "v2"
    (new.parent / "latest").unlink()
    os.symlink("v2", new.parent / "latest")  # a real symbolic link
    inventory.scan()
    assert inventory.get(DS_ID.format(table="day", version="latest")).version == "v2"
    assert len(inventory.list()) == 2


def test_linked_root_is_not_counted_twice(tmp_path, cmip6_root, make_inventory, write_nc):
    write_nc(_dataset_dir(cmip6_root) / "tas.nc", [0.5])
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "CMIP6").write_text("../CMIP6")  # stub link to the first root
    os.symlink(cmip6_root.path, tmp_path / "pool" / "CMIP6-link")
    stub = Root("pool-cmip6", tmp_path / "pool" / "CMIP6", "cmip6")
    link = Root("pool-link", tmp_path / "pool" / "CMIP6-link", "cmip6")
    inventory = make_inventory(stub, cmip6_root, link)
    report = inventory.scan()
    (dataset,) = inventory.list()
    assert report.duplicates_skipped == 2
    assert dataset.files[0].root == "pool-cmip6"  # the first root listed wins
    assert (
        dataset.files[0].path
        == cmip6_root.path / DS_DIR.format(table="day", version="v20200101") / "tas.nc"
    )
    relpath = dataset.files[0].relpath
    assert inventory.file("pool-cmip6", relpath) == dataset.files[0]
    assert inventory.file("pool-cmip6", relpath).verified_path() == dataset.files[0].path
    assert inventory.file("cmip6", relpath) is None
    assert inventory.file("pool-cmip6", "../../etc/passwd") is None


def test_links_outside_the_roots_and_missing_roots_are_reported(
    tmp_path, cmip6_root, make_inventory, write_nc
):
    outside = write_nc(tmp_path / "outside" / "tas.nc", [0.5]).parent
    folder = _dataset_dir(cmip6_root)
    folder.mkdir(parents=True)
    os.symlink(outside / "tas.nc", folder / "tas.nc")
    (folder.parent / "v20210101").write_text("../../../../../../../../../outside")
    (folder / "tas.nc.pid1.ncks.tmp").write_bytes(b"\x89HDF\r\n")
    missing = Root("gone", tmp_path / "nowhere", "cmip6")
    inventory = make_inventory(cmip6_root, missing)
    report = inventory.scan()
    assert inventory.list() == []
    assert report.files == 0
    assert any("gone" in w and "does not exist" in w for w in report.warnings)
    outside_warnings = [w for w in report.warnings if "points outside the roots" in w]
    assert len(outside_warnings) == 2


def test_rescan_adds_changes_and_removes(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root)
    write_nc(folder / "tas_a.nc", [0.5, 1.5])
    write_nc(folder / "tas_b.nc", [2.5, 3.5])
    inventory = make_inventory(cmip6_root)
    first = inventory.scan()
    assert (first.files_added, first.datasets) == (2, 1)
    again = inventory.scan()
    assert (again.files_unchanged, again.changed, again.datasets_updated) == (2, False, 0)

    write_nc(folder / "tas_c.nc", [4.5])
    write_nc(folder / "tas_b.nc", [2.5, 3.5, 4.5])  # now overlaps tas_c
    os.utime(folder / "tas_b.nc", (1, 1))
    other = _dataset_dir(cmip6_root, table="Amon")
    write_nc(other / "tas.nc", [15.0])
    report = inventory.scan()
    assert (report.files_added, report.files_changed, report.files_unchanged) == (2, 1, 1)
    assert report.datasets == 2
    dataset = inventory.get(DS_ID.format(table="day", version="v20200101"))
    assert dataset.end == "2000-01-05T12:00:00"
    assert dataset.issues == (
        "tas_b.nc and tas_c.nc overlap in time (2000-01-05T12:00:00 <= 2000-01-05T12:00:00)",
    )

    (other / "tas.nc").unlink()
    (folder / "tas_a.nc").unlink()
    report = inventory.scan()
    assert (report.files_removed, report.datasets_removed, report.datasets) == (2, 1, 1)
    assert dataset.start != inventory.get(dataset.id).start
    with pytest.raises(UnknownDataset):
        inventory.get(DS_ID.format(table="Amon", version="v20200101"))


def test_ensure_scanned_scans_only_an_empty_db(cmip6_root, make_inventory, write_nc):
    write_nc(_dataset_dir(cmip6_root) / "tas.nc", [0.5])
    inventory = make_inventory(cmip6_root)
    assert inventory.ensure_scanned().datasets == 1
    assert inventory.ensure_scanned() is None


def test_issues_name_the_files_they_concern(cmip6_root, make_inventory, write_nc):
    folder = _dataset_dir(cmip6_root)
    write_nc(folder / "tas_a.nc", [0.5, 1.5])
    write_nc(folder / "tas_b.nc", [1.5, 2.5])
    write_nc(folder / "tas_c.nc", [9.5, 10.5])
    overlap, gap = _scan_one(make_inventory, cmip6_root).issues
    assert (overlap.files, gap.files) == (("tas_a.nc", "tas_b.nc"), ("tas_b.nc", "tas_c.nc"))
    assert gap.message == str(gap) and gap.startswith("gap between tas_b.nc and tas_c.nc")
