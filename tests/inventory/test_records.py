"""An archive file is opened or served only while it is the file the scan recorded."""

from __future__ import annotations

import os

import pytest

from cp4cds_wps.errors import ArchiveFileChanged

DATASET_DIR = "CMIP/INST/MODEL/historical/r1i1p1f1/day/tas/gn/v20200101"


@pytest.fixture
def scanned(tmp_path, cmip6_root, make_inventory, write_nc):
    """An inventory of one dataset of one file, scanned, and that file's record."""
    write_nc(cmip6_root.path / DATASET_DIR / "tas.nc", [0.5, 1.5])
    inventory = make_inventory(cmip6_root)
    inventory.scan()
    (dataset,) = inventory.list()
    return dataset.files[0]


def test_an_unchanged_file_is_verified(scanned):
    assert scanned.verified_path() == scanned.path


def test_a_file_replaced_by_a_link_outside_the_roots_is_refused(tmp_path, scanned, write_nc):
    outside = write_nc(tmp_path / "elsewhere" / "secret.nc", [0.5, 1.5])
    os.utime(outside, (scanned.mtime, scanned.mtime))  # same size and time as recorded
    assert outside.stat().st_size == scanned.size
    scanned.path.unlink()
    scanned.path.symlink_to(outside)
    with pytest.raises(ArchiveFileChanged, match="resolves outside the archive roots"):
        scanned.verified_path()


def test_a_file_changed_after_the_scan_is_refused(scanned):
    with scanned.path.open("ab") as fh:
        fh.write(b"appended")
    with pytest.raises(ArchiveFileChanged, match=f"size is {scanned.size + 8} bytes"):
        scanned.verified_path()


def test_a_file_touched_after_the_scan_is_refused(scanned):
    os.utime(scanned.path, (scanned.mtime + 10, scanned.mtime + 10))
    with pytest.raises(ArchiveFileChanged, match="modified after the scan"):
        scanned.verified_path()


def test_a_removed_file_is_refused_with_the_path(scanned):
    scanned.path.unlink()
    with pytest.raises(ArchiveFileChanged, match="cannot be read") as caught:
        scanned.verified_path()
    assert str(scanned.path) in str(caught.value)
    assert "scan the archive again" in str(caught.value)
