"""Faults through HTTP against a real service (local backend): the dispatcher killed, the
output folder full, the job database locked, archive files changed after the scan or
corrupt. Each ends with every job succeeded, or failed with a message that says what
happened; none stuck, none lost, no partial output file, and /health telling the truth."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ..conftest import fill
from ..jobs.conftest import MEDIUM, QUICK, SLOW
from .conftest import cli
from .test_jobs_http import Service, _children_named, final_document, job_id, service

pytestmark = pytest.mark.realdata

#: The dataset of QUICK in the test archive, below its cmip5 root.
CMIP5_ROOT = "badc/cmip5/data/cmip5"
TAS = "output1/MOHC/HadGEM2-ES/historical/mon/atmos/Amon/r1i1p1/latest/tas"
#: What the command line of the dispatcher ends with.
DISPATCHER = "cp4cds_wps.cli\0dispatcher"
#: The file holding QUICK's year.
TAS_1900 = "tas_Amon_HadGEM2-ES_historical_r1i1p1_188412-190911.nc"


def health(running: Service) -> tuple[int, dict]:
    response = requests.get(f"{running.url}/health", timeout=30)
    return response.status_code, response.json()


def work_folders(running: Service) -> list[Path]:
    """What is in the work folder (nothing once every request and job ended)."""
    return list((Path(running.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "work").iterdir())


def succeeded_or_said_why(running: Service, status_urls: list[str]) -> dict[str, int]:
    """Every job ended; the failed ones with a message in their status document. Counts."""
    counts = {"succeeded": 0, "failed": 0}
    for url in status_urls:
        document = final_document(url, timeout=300)
        deadline = time.monotonic() + 30  # the worker ends the document, then the record
        while not (job := running.store.get(job_id(url))).final:
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        counts[job.state] += 1
        if job.state == "failed":
            assert job.message and job.message in document
        else:
            assert "ProcessSucceeded" in document
    return counts


@pytest.fixture(scope="module")
def plain(settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """A service on the test archive, one job at a time."""
    with service(settings_env, tmp_path_factory.mktemp("plain"), inventory=inventory_db,
                 max_running=1) as running:  # fmt: skip
        yield running


def test_dispatcher_killed_mid_job(plain):
    """Kill the dispatcher (-9) with one job running and three waiting: the web server goes
    on, a new dispatcher is started, and every job ends (the first one possibly failed,
    saying why)."""
    first = plain.submit(MEDIUM)
    deadline = time.monotonic() + 120
    while plain.store.get(job_id(first)).heartbeat is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    waiting = [plain.submit(QUICK) for _ in range(3)]
    pid_file = Path(plain.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "cp4cds-wps.pid"
    (dispatcher,) = _children_named(pid_file, DISPATCHER)
    os.kill(dispatcher, signal.SIGKILL)
    # the web server goes on serving; a new dispatcher carries on with the jobs
    deadline = time.monotonic() + 60
    while _children_named(pid_file, DISPATCHER) in ([], [dispatcher]):
        assert time.monotonic() < deadline, "no new dispatcher"
        assert cli(plain.env, "status").returncode == 0
        time.sleep(0.2)
    assert health(plain)[0] == 200
    service_log = Path(plain.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "log" / "service.log"
    assert "dispatcher exited with code -9; starting it again" in service_log.read_text()
    counts = succeeded_or_said_why(plain, [first, *waiting])
    assert counts["succeeded"] >= 3, counts  # the first may have failed, saying why
    assert health(plain)[0] == 200
    assert work_folders(plain) == []


def test_job_database_locked_by_another_process_for_20_s(plain):
    before = plain.submit(QUICK)
    database = Path(plain.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "jobs.sqlite"
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
         "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
         "time.sleep(20); db.execute('ROLLBACK')"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert locker.stdout.readline().strip() == "locked"
        start = time.monotonic()
        during = [plain.execute(QUICK) for _ in range(2)]
        took = time.monotonic() - start
        checks = [health(plain) for _ in range(3)]
        capabilities = requests.get(f"{plain.wps_url}?service=WPS&request=GetCapabilities",
                                    timeout=60)  # fmt: skip
    finally:
        locker.wait(timeout=60)
    print(f"two submissions took {took:.1f} s while the database was locked")
    for response in during:
        assert response.status_code == 200 and "statusLocation" in response.text, response.text
    assert capabilities.status_code == 200
    assert all(code == 200 for code, _ in checks), checks
    urls = [before] + [r.text.split('statusLocation="')[1].split('"')[0] for r in during]
    assert succeeded_or_said_why(plain, urls) == {"succeeded": 3, "failed": 0}
    assert health(plain)[0] == 200


#: A CMIP6 dataset of the test archive in yearly netCDF-4 files (zlib-compressed chunks).
PR = "DCPP/MOHC/HadGEM3-GC31-MM/dcppA-hindcast/s2004-r3i1p1f2/Amon/pr/gn/v20200417"
PR_ID = "CMIP6.DCPP.MOHC.HadGEM3-GC31-MM.dcppA-hindcast.s2004-r3i1p1f2.Amon.pr.gn.v20200417"
CMIP6_ROOT = "badc/cmip6/data/CMIP6"
OTHER_PR = PR.replace("v20200417", "v20200101")
OTHER_PR_ID = PR_ID.replace("v20200417", "v20200101")
PR_FILE = "pr_Amon_HadGEM3-GC31-MM_dcppA-hindcast_s2004-r3i1p1f2_gn_{}.nc"


def corrupt_a_chunk(path: Path) -> None:
    """Overwrite the compressed bytes of one chunk of ``pr`` (the header stays readable)."""
    import h5py

    with h5py.File(path, "r") as h5:
        chunk = h5["pr"].id.get_chunk_info(5)
    with path.open("r+b") as fh:
        fh.seek(chunk.byte_offset)
        fh.write(b"\xff" * chunk.size)


@pytest.fixture(scope="module")
def copied(settings_env, archive_dir, tmp_path_factory) -> Iterator[Service]:
    """A service on a copy of two datasets of the test archive, two of whose files are
    corrupt before the scan: one compressed chunk overwritten, one header overwritten."""
    base = tmp_path_factory.mktemp("archive")
    for root, dataset in ((CMIP5_ROOT, TAS), (CMIP6_ROOT, PR), (CMIP6_ROOT, OTHER_PR)):
        shutil.copytree(
            archive_dir / root / PR if dataset == OTHER_PR else archive_dir / root / dataset,
            base / root / dataset,
        )
        for path in (base / root / dataset).iterdir():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    pr = base / CMIP6_ROOT / PR
    corrupt_a_chunk(pr / PR_FILE.format("200601-200612"))
    # the same files as another version of the dataset, one of them with a garbled header
    with (base / CMIP6_ROOT / OTHER_PR / PR_FILE.format("200801-200812")).open("r+b") as fh:
        fh.write(b"garbage!" * 64)
    config = base / "archive.toml"
    config.write_text(
        f'[archive]\nbase_dir = "{base}"\n'
        f'[[archive.roots]]\nname = "cmip5"\npath = "{CMIP5_ROOT}"\nproject = "cmip5"\n'
        f'[[archive.roots]]\nname = "cmip6"\npath = "{CMIP6_ROOT}"\nproject = "cmip6"\n'
    )
    env = {"CP4CDS_WPS_CONFIG": str(config), "CP4CDS_WPS_ARCHIVE__BASE_DIR": str(base)}
    with service(settings_env, tmp_path_factory.mktemp("copied"), env=env) as running:
        running.archive = base
        yield running


def failure(running: Service, data_inputs: str) -> tuple[str, str]:
    """Run ``data_inputs`` synchronously and asynchronously: each must fail; their texts."""
    answer = running.execute(data_inputs.replace(";", ";", 1))
    sync = requests.get(
        running.wps_url,
        params={"service": "WPS", "version": "1.0.0", "request": "Execute",
                "identifier": "subset", "DataInputs": data_inputs},
        timeout=300,
    ).text  # fmt: skip
    assert "ProcessSucceeded" not in sync, sync
    location = (
        answer.text.split('statusLocation="')[1].split('"')[0]
        if ("statusLocation" in answer.text)
        else None
    )
    if location is None:  # refused when submitted
        return sync, answer.text
    document = final_document(location)
    job = running.store.get(job_id(location))
    assert (job.state, job.message in document) == ("failed", True), (job, document)
    assert not list((Path(running.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "outputs" / job.id).glob("*"))
    return sync, document


def test_archive_file_deleted_after_the_scan(copied):
    path = copied.archive / CMIP5_ROOT / TAS / TAS_1900
    path.unlink()
    for text in failure(copied, QUICK):
        assert f"archive file {path} changed since the inventory was made" in text, text
        assert "No such file or directory" in text
    assert work_folders(copied) == []
    assert health(copied)[0] == 200


def test_archive_file_truncated_after_the_scan(copied):
    name = "tas_Amon_HadGEM2-ES_historical_r1i1p1_190912-193411.nc"
    path = copied.archive / CMIP5_ROOT / TAS / name
    size = path.stat().st_size
    os.truncate(path, size // 2)
    for text in failure(copied, QUICK.replace("1900-01-01/1900-12-30", "1920/1920")):
        assert f"archive file {path} changed since the inventory was made" in text, text
        assert f"its size is {size // 2} bytes, {size} when scanned" in text
    assert work_folders(copied) == []


def test_corrupt_chunk_in_an_archive_file(copied):
    for text in failure(copied, f"collection={PR_ID};time=2006-03/2006-08"):
        assert PR_FILE.format("200601-200612") in text, text
        assert "NetCDF: HDF error" in text
    assert work_folders(copied) == []


def test_archive_file_with_a_corrupt_header(copied):
    # whether a request needs the file is unknown: refused, naming the file and why
    for year in (2008, 2010):
        for text in failure(copied, f"collection={OTHER_PR_ID};time={year}/{year}"):
            assert f"the time range of {PR_FILE.format('200801-200812')} of {OTHER_PR_ID}" in text
            assert "is unknown" in text and "NetCDF: Unknown file format" in text, text
    assert work_folders(copied) == []


def test_output_folder_full(settings_env, tmp_path, tmpfs, inventory_db):
    outputs = tmpfs(4096)
    env = {"CP4CDS_WPS_PATHS__OUTPUT_DIR": str(outputs)}
    with service(settings_env, tmp_path / "var", env=env, inventory=inventory_db,
                 max_running=1) as running:  # fmt: skip
        assert health(running)[0] == 200
        # jobs running or queued when the folder fills up fail saying so
        running_job, queued_job = running.submit(SLOW), running.submit(QUICK)
        filler = fill(outputs)
        code, body = health(running)
        assert (code, body["failing"]) == (503, ["outputs"]), body
        refused = [running.execute(QUICK), requests.get(running.wps_url, timeout=60, params={
            "service": "WPS", "version": "1.0.0", "request": "Execute", "identifier": "subset",
            "DataInputs": QUICK})]  # fmt: skip
        for response in refused:  # asynchronous and synchronous
            assert response.status_code == 400, response.text
            assert 'exceptionCode="NotEnoughStorage"' in response.text
            assert "no space left on the device of the output folder" in response.text
        running.wait_active_jobs(timeout=300)
        for url in (running_job, queued_job):
            job = running.store.get(job_id(url))
            assert (job.state, "no space left" in job.message) == ("failed", True), job
        filler.unlink()
        assert health(running)[0] == 200
        for url in (running_job, queued_job):  # their status documents say so too
            document = final_document(url)
            assert "ProcessFailed" in document and "no space left" in document, document
        # nothing partial is left, and with room again jobs succeed
        assert [p.name for p in outputs.glob("*/*.nc*")] == []
        assert "ProcessSucceeded" in final_document(running.submit(QUICK))
        assert work_folders(running) == []
