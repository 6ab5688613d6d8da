"""Fixtures of the job layer: a job store on SQLite and (when configured) PostgreSQL, and a
service environment whose WPS accepts real asynchronous jobs."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from werkzeug.test import Client

from cp4cds_wps.config import get_settings
from cp4cds_wps.jobs.store import JobStore, jobs_table

POSTGRES_ENV = "CP4CDS_WPS_TEST_POSTGRES_URL"

#: A small request: one year of monthly tas (well under a second of work).
QUICK = (
    "collection=cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas;"
    "time=1900-01-01/1900-12-30"
)
#: A job of several seconds: daily tas of 160 years (58,000 steps in 16 files) cut to an
#: area, the heavy part of :data:`SLOW`.
MEDIUM = (
    "collection=c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231;"
    "area=0,10,20,60"
)
#: A request taking several seconds in two steps, reported as 0 %, 50 % (for the seconds of
#: the second) and 100 %: QUICK's monthly dataset whole, then :data:`MEDIUM`'s, cut to an area.
SLOW = (
    "collection=cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas,"
    "c3s-cmip5.output1.ICHEC.EC-EARTH.historical.day.atmos.day.r1i1p1.tas.v20131231;"
    "area=0,10,20,60"
)
#: :data:`SLOW` on 60 years: two steps of which the second lasts a second or more (long
#: enough to see the 50 % between polls), for the tests of progress reports.
STEPS = SLOW.replace(";area=", ";time=1860-01-01/1919-12-30;area=")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "jobs_settings(**kwargs): [jobs] settings of the service_env fixture"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[JobStore]:
    """An empty job store: on SQLite, and on the PostgreSQL at $CP4CDS_WPS_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV} (e.g. .ci/setup-postgres.sh)")
    store = JobStore(url)
    with store.engine.begin() as conn:
        conn.execute(jobs_table.delete())
    yield store
    with store.engine.begin() as conn:
        conn.execute(jobs_table.delete())
    store.engine.dispose()


@pytest.fixture
def service_env(tmp_path, archive_dir, inventory_db, monkeypatch, request) -> dict[str, str]:
    """Settings of a service in tmp_path, exported to this process (as a service's are).

    Extra settings come from ``@pytest.mark.jobs_settings(KEY=VALUE)`` ([jobs] keys).
    """
    env = {
        "CP4CDS_WPS_ARCHIVE__BASE_DIR": str(archive_dir),
        "CP4CDS_WPS_PATHS__VAR_DIR": str(tmp_path / "var"),
        "CP4CDS_WPS_PATHS__INVENTORY_DB": str(inventory_db),
        "CP4CDS_WPS_JOBS__DATABASE": "",
    }
    marker = request.node.get_closest_marker("jobs_settings")
    for key, value in (marker.kwargs if marker else {}).items():
        env[f"CP4CDS_WPS_JOBS__{key.upper()}"] = str(value)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


@pytest.fixture
def service_settings(service_env):
    """The settings of ``service_env``."""
    return get_settings()


@pytest.fixture
def wps(service_settings) -> Client:
    """A test client of the service's WSGI app (its ``prepare`` has run)."""
    from cp4cds_wps.app import create_app

    return Client(create_app(service_settings))


def execute_query(data_inputs: str, identifier: str = "subset", **options) -> str:
    """Query string of a WPS 1.0 KVP Execute, synchronous unless ``options`` say otherwise."""
    query = {
        "service": "WPS",
        "version": "1.0.0",
        "request": "Execute",
        "identifier": identifier,
        "DataInputs": data_inputs,
        **options,
    }
    return urllib.parse.urlencode(query)


def execute(client: Client, data_inputs: str, identifier: str = "subset", **options):
    """The response to a WPS 1.0 KVP Execute (see :func:`execute_query`)."""
    return client.get(f"/wps?{execute_query(data_inputs, identifier, **options)}")


def submit(client: Client, data_inputs: str) -> str:
    """Execute ``subset`` asynchronously (WPS 1.0 KVP); return the job id."""
    body = execute(client, data_inputs, storeExecuteResponse="true", status="true")
    location = re.search(r'statusLocation="([^"]+)"', body.get_data(as_text=True))
    assert location, body.get_data(as_text=True)
    return location.group(1).rsplit("/", 1)[-1].removesuffix(".xml")


def status_document(settings, job_id: str) -> str:
    """The job's WPS 1.0 status document as PyWPS wrote it."""
    return (settings.output_dir / f"{job_id}.xml").read_text()


def set_columns(store: JobStore, job_id: str, **values) -> None:
    """Change a job's columns directly (to put it into a past state)."""
    with store.engine.begin() as conn:
        conn.execute(sa.update(jobs_table).where(jobs_table.c.id == job_id).values(**values))
