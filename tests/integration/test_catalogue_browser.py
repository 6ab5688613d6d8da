"""The catalogue in headless Chromium (selenium and chromedriver), against a real service:
a search narrows the facets, a dataset page shows its files, a request submitted from the
request builder succeeds and lists its result files; each page is screenshotted and the
screenshot checked. Reading works with JavaScript off as well.

Screenshots go to ``$CP4CDS_WPS_SCREENSHOTS`` when set (``make screenshots`` writes
docs/images this way), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import requests
import xarray as xr
from PIL import Image

from .conftest import ERRATUM_DATASET
from .test_catalogue_http import HADGEM

pytestmark = pytest.mark.realdata

#: The browser window (the screenshots' size).
WIDTH, HEIGHT = 1280, 900
SCREENSHOTS = "CP4CDS_WPS_SCREENSHOTS"


def _driver(javascript: bool = True):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip(
            "headless Chromium not found (chromium and chromedriver on PATH; Debian: "
            "apt-get install chromium chromium-driver, as .ci/setup-chromium.sh does)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}"):  # fmt: skip
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60)
    # the page's viewport of exactly WIDTH x HEIGHT (the window has its own frame)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium with JavaScript."""
    driver = _driver()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots are saved."""
    folder = Path(os.environ.get(SCREENSHOTS) or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver, path: Path, *texts: str) -> None:
    """Save the window as a PNG and check it: the window's size, not blank, and the page
    showing ``texts``."""
    body = driver.find_element("tag name", "body").text
    for text in texts:
        assert text in body, f"{text!r} not on the page {driver.current_url}"
    assert driver.save_screenshot(str(path))
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3)[::11], axis=0)) > 20, "the screenshot looks blank"
    header = pixels[:30].reshape(-1, 3).mean(axis=0)
    assert (header < 80).all(), "the page's dark header is not drawn"


def _matches(driver) -> int:
    return int(driver.find_element("id", "matches").text.replace(",", ""))


def _facet(driver, name: str, value: str):
    selector = f'div.facet[data-facet="{name}"] a[title="{name} {value}"]'
    return driver.find_element("css selector", selector)


def _wait(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def test_a_search_narrows_the_facets(catalogue_service, browser, shots):
    browser.get(f"{catalogue_service.url}/catalogue/")
    everything = _matches(browser)
    _facet(browser, "project", "cmip6").click()
    _wait(browser, lambda d: "project=cmip6" in d.current_url)
    cmip6 = _matches(browser)
    assert 0 < cmip6 < everything
    _facet(browser, "variable", "rlds").click()
    _wait(browser, lambda d: "variable=rlds" in d.current_url)
    rlds = _matches(browser)
    assert 0 < rlds < cmip6
    chips = browser.find_element("css selector", "p.chips").text
    assert "project: cmip6" in chips and "variable: rlds" in chips
    rows = browser.find_elements("css selector", "table.ids tr")
    assert len(rows) == rlds + 1
    # the other variables stay offered with their counts under project=cmip6
    assert (
        _facet(browser, "variable", "tas")
        .find_element("xpath", "..")
        .text.endswith(tuple("0123456789"))
    )
    screenshot(browser, shots / "catalogue-search.png", "cmip6", ERRATUM_DATASET)


def test_a_dataset_page_shows_its_files(catalogue_service, browser, shots):
    browser.get(f"{catalogue_service.url}/catalogue/?q={quote(ERRATUM_DATASET)}")
    browser.find_element("link text", ERRATUM_DATASET).click()
    _wait(browser, lambda d: "/catalogue/dataset/" in d.current_url)
    files = browser.find_elements("css selector", "table.files tr")[1:]
    names = [row.find_element("tag name", "a").text for row in files]
    assert names == [
        "rlds_Amon_IPSL-CM6A-LR_historical_r1i1p1f1_gr_185001-201412.nc",
        "rlds_Amon_IPSL-CM6A-LR_historical_r1i1p1f1_gr_185001.nc",
    ]
    assert all(len(row.find_elements("tag name", "code")[1].text) == 64 for row in files)
    screenshot(browser, shots / "catalogue-dataset.png", "Files", "SHA-256", "Errata and fixes")


def test_a_request_from_the_builder_succeeds(catalogue_service, browser, shots):
    from selenium.webdriver.support.ui import Select

    browser.get(f"{catalogue_service.url}/catalogue/request?process=subset&collection={HADGEM}")
    for name in ("time_from", "time_to"):
        old = browser.find_element("id", "estimate")
        Select(browser.find_element("id", name)).select_by_value("1900")  # sends the form
        _wait(browser, lambda d, old=old: d.find_element("id", "estimate") != old)
    assert "within the service's limits" in browser.find_element("id", "estimate").text
    assert "time='1900/1900'" in browser.find_element("id", "code-birdy").text
    browser.find_element("id", "submit").click()
    status = browser.find_element("id", "job-status")
    _wait(browser, lambda d: status.get_attribute("data-state") in ("succeeded", "failed"), 180)
    assert status.get_attribute("data-state") == "succeeded", status.text
    _wait(browser, lambda d: d.find_elements("css selector", "a.result-file"))
    links = browser.find_elements("css selector", "a.result-file")
    assert [a.text for a in links] and all(a.text.endswith(".nc") for a in links)
    screenshot(browser, shots / "catalogue-request.png", "succeeded", links[0].text)
    # the result is the dataset's year 1900
    result = requests.get(links[0].get_attribute("href"), timeout=60)
    assert result.status_code == 200
    with xr.open_dataset(result.content, use_cftime=True) as ds:
        assert {t.year for t in ds.time.values} == {1900} and ds.sizes["time"] == 12


def test_reading_works_without_javascript(catalogue_service):
    from selenium.webdriver.support.ui import Select

    driver = _driver(javascript=False)
    try:
        driver.get(f"{catalogue_service.url}/catalogue/")
        everything = _matches(driver)
        _facet(driver, "experiment", "historical").click()
        _wait(driver, lambda d: "experiment=historical" in d.current_url)
        assert 0 < _matches(driver) < everything
        driver.find_element("link text", HADGEM).click()
        _wait(driver, lambda d: "/catalogue/dataset/" in d.current_url)
        assert len(driver.find_elements("css selector", "table.files tr")) > 1
        # the builder is a GET form: choices are sent with its button (no script sends them)
        driver.find_element("link text", "request data of it").click()
        _wait(driver, lambda d: "/catalogue/request" in d.current_url)
        page = driver.current_url
        for name in ("time_from", "time_to"):
            Select(driver.find_element("id", name)).select_by_value("1900")
        assert driver.current_url == page  # the script did not run
        driver.find_element("css selector", "#builder button[type=submit]").click()
        _wait(driver, lambda d: "time_from=1900" in d.current_url)
        assert "within the service's limits" in driver.find_element("id", "estimate").text
        assert "time='1900/1900'" in driver.find_element("id", "code-birdy").text
        execute = driver.find_element("id", "execute-url").get_attribute("href")
        assert execute.startswith(f"{catalogue_service.url}/wps?service=WPS")
    finally:
        driver.quit()
