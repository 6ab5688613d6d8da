"""The runner records the notes operations take on the data, opens only verified files and
names an archive file that cannot be read."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import xarray as xr
from xarray.backends.file_manager import FILE_CACHE

from cp4cds_wps.config import Root
from cp4cds_wps.errors import ArchiveFileChanged, ArchiveFileUnreadable
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.ops.notes import note
from cp4cds_wps.tasks.runner import RunContext, Step, run_steps

DATASET_DIR = "CMIP/INST/MODEL/historical/r1i1p1f1/day/tas/gn/v20200101"


def scanned(tmp_path, encoding=None, damage=None):
    """A scanned one-file dataset of a synthetic CMIP6 root; ``damage(path)`` is done to
    its file before the scan."""
    cmip6_root = Root("cmip6", tmp_path / "CMIP6", "cmip6")
    path = (
        cmip6_root.path / DATASET_DIR / "tas_day_MODEL_historical_r1i1p1f1_gn_20000101-20000103.nc"
    )
    path.parent.mkdir(parents=True)
    xr.Dataset(
        {"tas": ("time", np.array([280.0, 281.0, 282.0]), {"units": "K"})},
        coords={
            "time": (
                "time",
                [0.5, 1.5, 2.5],
                {"units": "days since 2000-01-01", "standard_name": "time"},
            )
        },
    ).to_netcdf(path, encoding=encoding)
    if damage is not None:
        damage(path)
    inventory = Inventory(tmp_path / "inventory.sqlite", [cmip6_root])
    inventory.scan()
    (found,) = inventory.list()
    return found


@pytest.fixture
def dataset(tmp_path):
    """A scanned one-file dataset of a synthetic CMIP6 root."""
    return scanned(tmp_path)


def _run(dataset, compute, out_dir):
    return run_steps(
        "test",
        {"collection": dataset.id, "doubled": "yes"},
        [Step(dataset, dataset.files, compute)],
        RunContext(
            out_dir=out_dir, out_url="http://example.org/outputs", data_url="", time_chunk=10
        ),
    )


def test_notes_on_the_data_reach_history_and_provenance(tmp_path, dataset):
    def doubled(ds: xr.Dataset) -> xr.Dataset:
        note("tas: doubled for the test")
        return ds * 2

    result = _run(dataset, doubled, tmp_path / "out")
    (output,) = result.files
    written = xr.open_dataset(tmp_path / "out" / output.name)
    assert written.attrs["history"].splitlines()[0].endswith("; tas: doubled for the test")
    np.testing.assert_array_equal(written["tas"].values, [560.0, 562.0, 564.0])
    activity = json.loads(result.provenance.json())["activity"]["cp4cds:test"]
    assert activity["cp4cds:note"] == "tas: doubled for the test"


def test_a_file_changed_since_the_scan_is_not_opened(tmp_path, dataset):
    with dataset.files[0].path.open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArchiveFileChanged, match="size is"):
        _run(dataset, lambda ds: ds, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _cached_files() -> list[str]:
    """The files xarray holds open (its cache of netCDF handles)."""
    return [repr(key) for key in FILE_CACHE]


def test_the_files_of_a_failed_step_are_closed(tmp_path, dataset):
    # a failed step's datasets must not stay open until the garbage collector closes them:
    # closing an HDF5 file while the next step opens it again crashes the worker
    def fails(ds: xr.Dataset) -> xr.Dataset:
        raise ValueError("failed for the test")

    with pytest.raises(ValueError, match="failed for the test") as info:
        _run(dataset, fails, tmp_path / "out")
    assert info.traceback  # the frames that hold the datasets are still alive here
    assert not [k for k in _cached_files() if dataset.files[0].path.name in k]


def overwrite_a_chunk(path) -> None:
    """Overwrite the compressed bytes of the second chunk of ``tas``; the header stays."""
    with h5py.File(path, "r") as h5:
        chunk = h5["tas"].id.get_chunk_info(1)
    with path.open("r+b") as fh:
        fh.seek(chunk.byte_offset)
        fh.write(b"\xff" * chunk.size)


def test_a_corrupt_archive_file_is_named(tmp_path):
    encoding = {"tas": {"zlib": True, "chunksizes": (1,)}}
    corrupt = scanned(tmp_path, encoding, damage=overwrite_a_chunk)
    with pytest.raises(ArchiveFileUnreadable) as raised:
        _run(corrupt, lambda ds: ds * 2, tmp_path / "out")
    assert str(raised.value) == (
        f"archive file {corrupt.files[0].path} cannot be read (NetCDF: HDF error); the "
        "service operator must check it"
    )
    assert not (tmp_path / "out").exists()


def test_a_failure_that_is_not_the_files_passes_unchanged(tmp_path, dataset):
    def failing(ds: xr.Dataset) -> xr.Dataset:
        raise RuntimeError("not the file's fault")

    with pytest.raises(RuntimeError, match="not the file's fault"):
        _run(dataset, failing, tmp_path / "out")
