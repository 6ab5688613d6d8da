"""What operators watch, over HTTP of a real service: ``/health`` (ok, and 503 naming the
broken check), ``/metrics`` (Prometheus, summed over gunicorn's workers) and ``/dashboard``
(its HTML, and a screenshot taken by headless Chromium)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory

from ..jobs.conftest import QUICK
from .test_jobs_http import Service, final_document, service

pytestmark = pytest.mark.realdata

DATASET = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"
#: The dashboard's plot colours (cp4cds_wps.dashboard): bars and line.
BARS, LINE = (0x2F, 0x81, 0xF7), (0xD1, 0x24, 0x2F)


@pytest.fixture(scope="module")
def watched(settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """A service of its own (its checks get broken here) after some traffic: WPS requests,
    one job run to its end and one archive file downloaded."""
    with service(
        settings_env, tmp_path_factory.mktemp("watched"), inventory=inventory_db
    ) as running:
        wps = running.wps_url
        for query in ("request=GetCapabilities", "version=1.0.0&request=DescribeProcess"
                      "&identifier=subset"):  # fmt: skip
            assert requests.get(f"{wps}?service=WPS&{query}", timeout=60).status_code == 200
        assert "ProcessSucceeded" in final_document(running.submit(QUICK))
        running.wait_active_jobs()
        yield running


def _settings(running: Service):
    return load_settings(env=running.env)


def _samples(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_health_is_ok_when_everything_works(watched):
    response = requests.get(f"{watched.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "ok",
        "checks": {"inventory": True, "outputs": True, "jobs_db": True},
    }


@contextmanager
def _broken(path: Path) -> Iterator[None]:
    """``path`` moved aside and replaced by what cannot serve as it: a folder instead of a
    database file, a file instead of the output folder."""
    aside = path.with_name(f"{path.name}.aside")
    path.rename(aside)
    try:
        if aside.is_dir():
            path.write_text("not a folder")
        else:
            path.mkdir()
        yield
    finally:
        path.unlink() if path.is_file() else path.rmdir()
        aside.rename(path)


@pytest.mark.parametrize("check", ["inventory", "jobs_db", "outputs"])
def test_health_fails_naming_the_broken_check(watched, check):
    settings = _settings(watched)
    path = {"inventory": settings.inventory_db, "jobs_db": settings.jobs_db,
            "outputs": settings.output_dir}[check]  # fmt: skip
    with _broken(path):
        response = requests.get(f"{watched.url}/health", timeout=10)
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "checks": {name: name != check for name in ("inventory", "outputs", "jobs_db")},
        "failing": [check],
    }
    assert requests.get(f"{watched.url}/health", timeout=10).status_code == 200


def test_metrics_count_requests_jobs_bytes_and_variables(watched):
    with _broken(_settings(watched).output_dir):  # three failed health checks, counted as 503
        assert [requests.get(f"{watched.url}/health", timeout=10).status_code
                for _ in range(3)] == [503] * 3  # fmt: skip
    dataset = Inventory.from_settings(_settings(watched)).get(DATASET)
    file = dataset.files[0]
    data = requests.get(f"{watched.url}/data/{file.root}/{file.relpath}", timeout=60)
    assert data.status_code == 200
    response = requests.get(f"{watched.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found = _samples(response.text)

    def requests_of(endpoint, operation, status="200"):
        labels = (("endpoint", endpoint), ("operation", operation), ("status", status))
        return found.get(("cp4cds_wps_requests_total", labels), 0)

    # two gunicorn workers answered these: the counts are their sum
    assert requests_of("wps", "GetCapabilities") == 1
    assert requests_of("wps", "DescribeProcess") == 1
    assert requests_of("wps", "Execute") == 1
    assert requests_of("outputs", "GetStatus") >= 1
    assert requests_of("health", "health") >= 1
    assert requests_of("health", "health", "503") >= 3
    labels = (("endpoint", "wps"), ("operation", "Execute"), ("status", "200"))
    assert found[("cp4cds_wps_request_duration_seconds_count", labels)] == 1
    assert found[("cp4cds_wps_request_duration_seconds_sum", labels)] > 0
    assert found[("cp4cds_wps_bytes_served_total", (("endpoint", "data"),))] == file.size
    assert found[("cp4cds_wps_bytes_served_total", (("endpoint", "outputs"),))] > 0
    assert found[("cp4cds_wps_variable_requests_total", (("variable", "tas"),))] == 1
    assert found[("cp4cds_wps_jobs", (("state", "succeeded"),))] == 1
    assert found[("cp4cds_wps_jobs", (("state", "accepted"),))] == 0
    assert found[("cp4cds_wps_queue_length", ())] == 0


def test_dashboard_page(watched):
    response = requests.get(f"{watched.url}/dashboard", params={"period": "hour"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    for text in ("the last hour", "uptime", "availability", "average request time",
                 "<td>Execute</td>", "<td>GetCapabilities</td>"):  # fmt: skip
        assert text in page
    assert page.count("<svg") == 2
    assert "<rect " in page and "<polyline " in page
    assert "<script" not in page and "<link" not in page
    for period in ("day", "week"):
        assert requests.get(f"{watched.url}/dashboard?period={period}", timeout=10).ok
    bad = requests.get(f"{watched.url}/dashboard?period=year", timeout=10)
    assert bad.status_code == 400
    assert "hour, day, week" in bad.text


def test_dashboard_screenshot_in_headless_chromium(watched, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed (Debian: apt-get install chromium; see .ci/run)")
    shot = tmp_path / "dashboard.png"
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,900",
         f"{watched.url}/dashboard?period=hour"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.is_file(), run.stdout + run.stderr
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 900)
    pixels = np.asarray(image)
    colours = {tuple(c) for c in pixels.reshape(-1, 3)[::7]}
    assert len(colours) > 20, "the screenshot looks blank"
    # the plots were drawn: pixels of the bars' and the line's colours, below the cards
    plots = pixels[200:, :, :].astype(int)
    for colour in (BARS, LINE):
        near = np.abs(plots - colour).sum(axis=2) < 30
        assert near.sum() >= 20, f"no plot drawn in {colour}"  # at least one dot
    assert plots.std() > 10
