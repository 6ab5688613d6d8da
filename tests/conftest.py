"""Shared fixtures: the test archive (skipped when absent) and settings writing to tmp."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import pytest

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory

ARCHIVE_ENV = "CP4CDS_WPS_ARCHIVE__BASE_DIR"

# Reference computations in the tests read netCDF on one thread, as the service does
# (cp4cds_wps.tasks.runner): HDF5 is not thread-safe, and a file closed by the garbage
# collector on one dask thread while another reads the same file fails ("NetCDF: HDF error").
dask.config.set(scheduler="synchronous")


def _archive_dir() -> Path:
    if os.environ.get(ARCHIVE_ENV):
        return Path(os.environ[ARCHIVE_ENV])
    return load_settings(env={}).base_dir


@pytest.fixture(scope="session")
def archive_dir() -> Path:
    """The mini-esgf-data archive; tests using it are skipped when it is absent."""
    path = _archive_dir()
    if not (path / "badc").is_dir():
        pytest.skip(
            f"test archive not found at {path}: set {ARCHIVE_ENV} to a mini-esgf-data checkout"
        )
    return path


@pytest.fixture(scope="session")
def settings_env(tmp_path_factory, archive_dir) -> dict[str, str]:
    """Environment that points a service at the test archive and a fresh var dir."""
    var_dir = tmp_path_factory.mktemp("var")
    return {
        ARCHIVE_ENV: str(archive_dir),
        "CP4CDS_WPS_PATHS__VAR_DIR": str(var_dir),
        # the quality control's results by file checksum, shared with `make start` and the
        # sessions before: a server started by a test checks only files not seen before
        "CP4CDS_WPS_QC__CACHE": str(load_settings(env={}).qc.cache),
    }


@pytest.fixture(scope="session")
def inventory_db(tmp_path_factory, archive_dir) -> Path:
    """The test archive's inventory, scanned once for the session: job tests read it, and
    services start from a copy (:func:`copy_inventory`)."""
    path = tmp_path_factory.mktemp("inventory") / "inventory.sqlite"
    env = {ARCHIVE_ENV: str(archive_dir), "CP4CDS_WPS_PATHS__INVENTORY_DB": str(path)}
    Inventory.from_settings(load_settings(env=env)).ensure_scanned()
    return path


def copy_inventory(inventory_db: Path, var_dir: Path) -> None:
    """Give the service of ``var_dir`` a copy of the scanned inventory of its archive, unless
    it has one: its own scan at start then finds every file unchanged instead of reading all."""
    var_dir.mkdir(parents=True, exist_ok=True)
    if (var_dir / "inventory.sqlite").exists():
        return
    with (
        contextlib.closing(sqlite3.connect(inventory_db)) as source,
        contextlib.closing(sqlite3.connect(var_dir / "inventory.sqlite")) as copy,
    ):
        source.backup(copy)


@pytest.fixture(scope="session")
def settings(settings_env):
    """Settings of a service on the test archive, writing below a temporary folder."""
    return load_settings(env=settings_env)


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Callable[[int], Path]]:
    """A factory of small file systems: ``tmpfs(kib)`` mounts a tmpfs of ``kib`` KiB in
    tmp_path and returns it (unmounted after the test). Mounting needs root: the test is
    skipped with the reason otherwise."""
    mounted = []

    def mount(kib: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs (a full file system) needs root")
        folder = tmp_path / f"tmpfs{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte with one file; return it."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        for size in (2**20, 4096, 1):  # whatever fits of each
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    return filler
