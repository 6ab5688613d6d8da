"""Quality control over an inventory: statuses and findings, incremental, cached by checksum."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.config import QcSettings, Root
from cp4cds_wps.errors import DatasetInconsistent, QualityRefused
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.average import AverageRequest, plan_average, run_average
from cp4cds_wps.qc import run as qc_run
from cp4cds_wps.qc import run_qc
from cp4cds_wps.tasks.files import check_consistent
from cp4cds_wps.tasks.runner import RunContext
from tests.cf_check import CFTIME
from tests.quirks import DIR, ID, write_member

CLEAN, QUIRKS, CONFLICT, CORRUPT = "r1i1p1f1", "r2i1p1f1", "r3i1p1f1", "r4i1p1f1"
FAST = ("checksum", "coordinates")  # the CF check is tested with the checks


def _md5_files(folder):
    for path in folder.glob("*.nc"):
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        path.with_name(f"{path.name}.md5").write_text(f"{digest}  {path.name}\n")


@pytest.fixture
def archive(tmp_path):
    """Four members: one whose files fit, the quirks (repeated December, missing year), the
    quirks with another December in the second file, and one file whose .md5 is wrong."""
    root = tmp_path / "CMIP6"
    values = {}
    for i, member in enumerate((CLEAN, QUIRKS, CONFLICT, CORRUPT)):
        values[member] = write_member(root, member, i, conflict=member == CONFLICT)
        folder = root / DIR.format(member=member)
        if member == CLEAN:  # the second and third files replaced by one from 2002 on
            for path in sorted(folder.glob("*.nc"))[1:]:
                path.unlink()
        _md5_files(folder)
    corrupt = sorted((root / DIR.format(member=CORRUPT)).glob("*.md5"))[0]
    corrupt.write_text("0" * 32 + "\n")
    return Root("cmip6", root, "cmip6")


def _inventory(tmp_path, root, name="db", **kwargs):
    inventory = Inventory(tmp_path / name / "inventory.sqlite", [root], **kwargs)
    inventory.scan()
    return inventory


def _qc(tmp_path, checks=FAST):
    return QcSettings(checks=checks, cache=tmp_path / "shared" / "qc-cache.sqlite")


def test_statuses_and_findings_of_each_dataset(tmp_path, archive):
    inventory = _inventory(tmp_path, archive)
    assert {d.qc_status for d in inventory.list()} == {"pending"}
    report = run_qc(inventory, _qc(tmp_path))
    assert (report.files, report.datasets) == (10, {"passed": 1, "warnings": 1, "failed": 2})
    assert inventory.get(ID.format(member=CLEAN)).status == "passed"

    quirks = inventory.get(ID.format(member=QUIRKS))
    assert quirks.status == "warnings"
    assert sorted((f.check, f.severity) for f in quirks.findings) == [
        ("time", "warning"),
        ("time", "warning"),
    ]
    texts = " ".join(f.message for f in quirks.findings)
    assert "gap between tas_Amon_MODEL_historical_r2i1p1f1_gn_200112-200312.nc and" in texts
    assert "1 time step(s) in tas_Amon_MODEL_historical_r2i1p1f1_gn_200001-200112.nc and " in texts
    assert "repeated with equal values; dropped when opened" in texts

    conflicts = [
        f for f in inventory.get(ID.format(member=CONFLICT)).findings if f.severity == "error"
    ]
    assert [f.check for f in conflicts] == ["time"]
    assert (
        "overlap in time with other values: tas differs at 2001-12-16T00:00:00"
        in conflicts[0].message
    )
    assert len(conflicts[0].files) == 2

    corrupt = inventory.get(ID.format(member=CORRUPT))
    (error,) = [f for f in corrupt.findings if f.severity == "error"]
    assert (corrupt.status, error.check) == ("failed", "checksum")
    assert error.message.endswith("the archive's checksum file says " + "0" * 32)


def test_after_qc_a_conflict_is_refused_when_the_request_is_planned(tmp_path, archive):
    inventory = _inventory(tmp_path, archive)
    run_qc(inventory, _qc(tmp_path))
    dataset = inventory.get(ID.format(member=CONFLICT))
    with pytest.raises(DatasetInconsistent, match="tas differs at 2001-12-16T00:00:00"):
        check_consistent(dataset, dataset.files)


def test_only_new_and_changed_files_are_checked_again(tmp_path, archive):
    inventory = _inventory(tmp_path, archive)
    run_qc(inventory, _qc(tmp_path))
    again = run_qc(inventory, _qc(tmp_path))
    assert (again.files, again.datasets) == (0, {})
    path = sorted((archive.path / DIR.format(member=CLEAN)).glob("*.nc"))[0]
    os.utime(path, (1, 1))
    inventory.scan()
    assert inventory.get(ID.format(member=CLEAN)).status == "pending"
    changed = run_qc(inventory, _qc(tmp_path))
    assert (changed.files, changed.cached, changed.datasets) == (1, 1, {"passed": 1})


def test_results_are_shared_by_checksum_between_inventories(tmp_path, archive):
    run_qc(_inventory(tmp_path, archive, "first"), _qc(tmp_path))
    other = _inventory(tmp_path, archive, "second")
    report = run_qc(other, _qc(tmp_path))
    assert (report.files, report.cached) == (10, 10)  # the coordinate check of each file
    assert other.get(ID.format(member=CORRUPT)).status == "failed"  # checksums: per file


def test_other_checks_check_again(tmp_path, archive):
    inventory = _inventory(tmp_path, archive)
    run_qc(inventory, _qc(tmp_path))
    report = run_qc(inventory, _qc(tmp_path, checks=("coordinates",)))
    assert report.files == 10
    assert inventory.get(ID.format(member=CORRUPT)).status == "warnings"  # no checksum check


def test_two_runs_at_once_the_second_skips(tmp_path, archive):
    inventory = _inventory(tmp_path, archive)
    with qc_run._lock(inventory) as got:
        assert got
        results = []
        thread = threading.Thread(target=lambda: results.append(run_qc(inventory, _qc(tmp_path))))
        thread.start()
        thread.join()
    assert results[0].skipped
    assert "already running" in results[0].summary()


def test_checks_in_a_pool_of_processes(tmp_path, archive):
    inventory = _inventory(tmp_path, archive)
    report = run_qc(inventory, QcSettings(checks=FAST, workers=2, cache=tmp_path / "c.sqlite"))
    assert report.datasets == {"passed": 1, "warnings": 1, "failed": 2}


def test_serve_passed_refuses_failed_and_pending_datasets_with_the_reason(tmp_path, archive):
    inventory = _inventory(tmp_path, archive, serve="passed")
    pending = inventory.get(ID.format(member=CLEAN))
    with pytest.raises(QualityRefused, match="has not finished yet"):
        check_consistent(pending, pending.files)
    run_qc(inventory, _qc(tmp_path))
    for member in (CLEAN, QUIRKS):
        dataset = inventory.get(ID.format(member=member))
        assert dataset.refused is None
        check_consistent(dataset, dataset.files)
    corrupt = inventory.get(ID.format(member=CORRUPT))
    request = AverageRequest((corrupt.id,), ("time",))
    with pytest.raises(QualityRefused) as caught:
        plan_average(request, inventory)
    assert caught.value.name == "collection"
    assert caught.value.reason.startswith(
        f"{corrupt.id} failed quality control, and this service serves only datasets that "
        "passed it: error (checksum): tas_Amon_MODEL_historical_r4i1p1f1_gn_200001-200112.nc: "
        "its MD5 is"
    )


def test_a_declared_fix_serves_the_conflicting_dataset(tmp_path, archive):
    register = tmp_path / "errata.toml"
    register.write_text(
        '[[errata]]\nuid = "E1"\nseverity = "medium"\n'
        f'datasets = ["{ID.format(member=CONFLICT)}"]\n'
        'description = "the second file repeats December 2001 with wrong values"\n'
        'fixes = [{ action = "drop_duplicate_steps", keep = "first" }]\n'
    )
    inventory = _inventory(tmp_path, archive, known_issues=register)
    run_qc(inventory, _qc(tmp_path))
    dataset = inventory.get(ID.format(member=CONFLICT))
    assert dataset.status == "failed"  # the finding stays; the fix makes it usable
    request = AverageRequest((dataset.id,), ("time",))
    result = run_average(
        request,
        plan_average(request, inventory),
        RunContext(out_dir=tmp_path / "job", out_url="u", time_chunk=5),
    )
    with xr.open_dataset(tmp_path / "job" / result.files[0].name, decode_times=CFTIME) as out:
        history = out.attrs["history"]
        mean = out.tas.values
    assert "the first file's kept as declared" in history
    (entity,) = [
        e
        for e in json.loads(result.provenance.json())["entity"].values()
        if "cp4cds:qc_status" in e
    ]
    assert entity["cp4cds:qc_status"] == "failed"
    assert any("overlap in time with other values" in f for f in entity["cp4cds:qc_finding"])
    assert entity["cp4cds:erratum"].startswith("medium erratum E1:")
    fix = "fix of erratum E1: repeated time steps dropped, keeping the first file's"
    assert entity["cp4cds:fix"] == fix
    clean = write_member(tmp_path / "reference", "r9i1p1f1", 2)  # the same values, unchanged
    np.testing.assert_allclose(mean, clean.mean(axis=0), rtol=1e-5)  # the first December
