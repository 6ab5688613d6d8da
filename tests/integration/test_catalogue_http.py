"""The catalogue of a real service over HTTP, on the test archive: the search narrows the
facets and their counts, a dataset page shows its files (sizes and checksums as the files
have them), its quality control and errata, the exports at their stable URLs open in
intake-esm and validate as STAC, the usage page counts real requests, GetCapabilities names
the operator."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections import Counter
from urllib.parse import quote

import numpy as np
import pystac
import pytest
import requests
import xarray as xr
from lxml import html
from owslib.wps import WebProcessingService

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.request_log import FLUSH_SECONDS

from ..jobs.conftest import QUICK
from .conftest import ERRATUM_DATASET, PROVIDER
from .test_jobs_http import final_document

pytestmark = pytest.mark.realdata

HADGEM = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"


def page(url: str) -> html.HtmlElement:
    """A catalogue page, parsed (asserting it is served as HTML)."""
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("text/html")
    return html.fromstring(response.text)


def facet_counts(tree: html.HtmlElement, name: str) -> dict[str, int]:
    """The values and counts a search page offers for a facet."""
    found = {}
    for item in tree.cssselect(f'div.facet[data-facet="{name}"] li'):
        value = item.cssselect("a")[0].text_content()[2:]  # after the check box
        found[value] = int(item.cssselect(".count")[0].text_content().replace(",", ""))
    return found


def matches(tree: html.HtmlElement) -> int:
    return int(tree.get_element_by_id("matches").text_content().replace(",", ""))


@pytest.fixture(scope="module")
def inventory(catalogue_service) -> Inventory:
    """The service's inventory, read directly (the independent account of the archive)."""
    return Inventory.from_settings(load_settings(env=catalogue_service.env))


def test_search_narrows_the_facets_and_their_counts(catalogue_service, inventory):
    everything = inventory.list()
    base = f"{catalogue_service.url}/catalogue/"
    tree = page(base)
    assert matches(tree) == len(everything)
    assert facet_counts(tree, "project") == Counter(d.project for d in everything)

    cmip6 = [d for d in everything if d.project == "cmip6"]
    models = Counter(d.facets["model"] for d in cmip6)
    tree = page(f"{base}?project=cmip6")
    assert matches(tree) == len(cmip6)
    # the most frequent values first; all of them behind a link
    shown = facet_counts(tree, "model")
    assert len(shown) == 8 < len(models)
    assert sorted(shown.values(), reverse=True) == sorted(models.values(), reverse=True)[:8]
    assert (
        f"all {len(models)} values"
        in tree.cssselect('div.facet[data-facet="model"]')[0].text_content()
    )
    tree = page(f"{base}?project=cmip6&expand=model")
    assert facet_counts(tree, "model") == models
    # the selected facet is counted under the other selections: other projects stay offered
    assert facet_counts(tree, "project") == Counter(d.project for d in everything)

    narrower = [d for d in cmip6 if d.facets.get("variable") == "rlds"]
    tree = page(f"{base}?project=cmip6&variable=rlds&expand=model")
    assert 0 < matches(tree) == len(narrower) < len(cmip6)
    listed = [a.text_content() for a in tree.cssselect("table.ids td:first-child a")]
    assert listed == sorted(d.id for d in narrower)
    assert facet_counts(tree, "model") == Counter(d.facets["model"] for d in narrower)

    # the text filter: words of the id, any case
    tree = page(f"{base}?q=ipsl-cm6a-lr+RLDS")
    assert ERRATUM_DATASET in [a.text_content() for a in tree.cssselect("table.ids a")]
    tree = page(f"{base}?experiment=no-such-experiment")
    assert matches(tree) == 0
    assert "No dataset has experiment no-such-experiment" in tree.text_content()


def test_availability_cells_count_and_link_their_datasets(catalogue_service, inventory):
    historical = [d for d in inventory.list() if d.facets.get("experiment") == "historical"]
    # datasets with both facets (some projects name no model)
    expected = Counter(
        (d.facets["model"], d.facets["variable"])
        for d in historical
        if "model" in d.facets and "variable" in d.facets
    )
    url = f"{catalogue_service.url}/catalogue/availability?experiment=historical"
    tree = page(f"{url}&rows=model&columns=variable")
    rows = tree.cssselect("table#matrix tr")
    columns = [th.text_content() for th in rows[0].cssselect("th")[1:]]
    found = {}
    for row in rows[1:]:
        model = row.cssselect("th")[0].text_content()
        for variable, cell in zip(columns, row.cssselect("td"), strict=True):
            if cell.text_content():
                found[model, variable] = int(cell.text_content())
    assert found == expected
    (model, variable), count = expected.most_common(1)[0]
    cell = tree.xpath(f'//table[@id="matrix"]//a[@title="{model} × {variable}"]')[0]
    assert matches(page(f"{catalogue_service.url}{cell.get('href')}")) == count
    csv_text = requests.get(url.replace("availability", "availability.csv"), timeout=60).text
    assert model in csv_text and variable in csv_text


def _checked(url: str, timeout: float = 120) -> html.HtmlElement:
    """The dataset page once the service's quality control has judged the dataset."""
    deadline = time.monotonic() + timeout
    while True:
        tree = page(url)
        if not tree.cssselect("span.status-pending") or time.monotonic() > deadline:
            return tree
        time.sleep(1)


def test_dataset_page_shows_files_checksums_quality_and_errata(catalogue_service, inventory):
    dataset = inventory.get(ERRATUM_DATASET)
    url = f"{catalogue_service.url}/catalogue/dataset/{quote(ERRATUM_DATASET, safe='')}"
    tree = _checked(url)
    assert tree.cssselect("h1")[0].text_content() == ERRATUM_DATASET
    rows = tree.cssselect("table.files tr")[1:]
    assert len(rows) == len(dataset.files) == 2
    for row, record in zip(rows, dataset.files, strict=True):
        cells = row.cssselect("td")
        data = record.path.read_bytes()
        assert cells[0].text_content() == record.path.name
        assert cells[3].cssselect("span")[0].get("title") == f"{len(data):,} bytes"
        assert cells[4].text_content() == hashlib.md5(data).hexdigest()
        assert cells[5].text_content() == hashlib.sha256(data).hexdigest()
        # the link downloads the original
        href = cells[0].cssselect("a")[0].get("href")
        download = requests.get(f"{catalogue_service.url}{href}", timeout=60)
        assert download.status_code == 200 and download.content == data
    # quality control as recorded once judged: the status, each finding, the erratum
    judged = inventory.get(ERRATUM_DATASET)
    assert judged.qc_status != "pending" and judged.status in ("warnings", "failed")
    assert tree.cssselect("h1 + p span.status")[0].text_content() == judged.status
    findings = [[td.text_content() for td in r.cssselect("td")]
                for r in tree.cssselect("table.findings tr")[1:]]  # fmt: skip
    assert findings == [[f.check, f.severity, f.message, ", ".join(f.files)]
                        for f in judged.findings]  # fmt: skip
    assert any("185001.nc" in row[3] for row in findings)  # the single-step file
    erratum = tree.cssselect("div.erratum")[0].text_content()
    assert "Single-step file repeats the first month" in erratum
    assert "5c1f0d2e-test-erratum" in erratum and "medium" in erratum
    assert "repeated time steps dropped" in erratum  # the fix, described

    missing = requests.get(url.replace("rlds", "rldz"), timeout=60)
    assert missing.status_code == 404
    assert ERRATUM_DATASET in missing.text  # suggested


def test_intake_esm_catalog_at_its_url_loads_the_files_values(catalogue_service, inventory):
    import intake_esm

    url = f"{catalogue_service.url}/catalogue/intake-esm/cmip5.json"
    cat = intake_esm.esm_datastore(url)
    cmip5 = [d for d in inventory.list() if d.project == "cmip5"]
    assert len(cat.df) == sum(len(d.files) for d in cmip5)
    found = cat.search(model="HadGEM2-ES", experiment="historical", table="Amon", variable="tas")
    # over HTTP xarray opens file objects, which the netCDF4 engine cannot: these files are
    # netCDF-3 (scipy; netCDF-4 ones take h5netcdf)
    assert all(f.path.read_bytes()[:3] == b"CDF" for f in inventory.get(HADGEM).files)
    opened = found.to_dataset_dict(
        xarray_open_kwargs={"engine": "scipy", "use_cftime": True}, progressbar=False
    )
    (ds,) = opened.values()
    files = [f.path for f in inventory.get(HADGEM).files]
    with xr.open_mfdataset(files, combine="by_coords", use_cftime=True, data_vars="minimal",
                           coords="minimal", compat="override") as direct:  # fmt: skip
        np.testing.assert_array_equal(ds["tas"].values, direct["tas"].values)
        assert list(ds.time.values) == list(direct.time.values)
    assert ds["tas"].attrs["units"] == "K"


def test_stac_catalog_at_its_url_validates(catalogue_service, inventory):
    everything = inventory.list()
    catalog = pystac.Catalog.from_file(f"{catalogue_service.url}/catalogue/stac/catalog.json")
    catalog.validate()
    collections = {c.id: c for c in catalog.get_children()}
    assert set(collections) == {d.project for d in everything}
    for collection in collections.values():
        collection.validate()
        links = collection.get_item_links()
        assert len(links) == sum(d.project == collection.id for d in everything)
    # the items of one project, each fetched and validated (about 0.1 s each)
    cmip5 = {d.id for d in everything if d.project == "cmip5"}
    assert collections["cmip5"].validate_all() == len(cmip5)
    items = {i.id: i for i in collections["cmip5"].get_items()}
    assert set(items) == cmip5
    dataset = inventory.get(HADGEM)
    assets = list(items[dataset.id].assets.values())
    assert [a.extra_fields["cp4cds:size"] for a in assets] == [f.size for f in dataset.files]
    first = requests.get(assets[0].href, timeout=60)
    assert first.status_code == 200 and first.content == dataset.files[0].path.read_bytes()


def _usage(url: str) -> dict:
    response = requests.get(f"{url}/catalogue/usage.json", timeout=60)
    assert response.status_code == 200
    return response.json()["totals"]


def test_usage_counts_processes_and_downloads(catalogue_service, inventory):
    url = catalogue_service.url
    time.sleep(FLUSH_SECONDS + 0.5)  # each server process has written what earlier tests asked
    before = _usage(url)
    assert "ProcessSucceeded" in final_document(catalogue_service.submit(QUICK))
    refused = catalogue_service.execute(f"collection={HADGEM};time=1900-13-01/1901-01-01")
    assert refused.status_code == 400 and "InvalidParameterValue" in refused.text
    record = inventory.get(ERRATUM_DATASET).files[0]
    download = requests.get(f"{url}/data/{record.root}/{quote(record.relpath)}", timeout=60)
    assert download.status_code == 200 and len(download.content) == record.size

    def delta(facet: str, source: str, value: str) -> int:
        return after[facet][source].get(value, 0) - before[facet][source].get(value, 0)

    # each server process writes its counts within FLUSH_SECONDS: another may answer first
    deadline = time.monotonic() + FLUSH_SECONDS + 5
    after = _usage(url)
    while time.monotonic() < deadline and 0 in (
        delta("model", "download", "IPSL-CM6A-LR"),
        delta("model", "process", "HadGEM2-ES"),
    ):
        time.sleep(0.2)
        after = _usage(url)

    assert delta("variable", "process", "tas") == 1  # the refused request is not counted
    assert delta("model", "process", "HadGEM2-ES") == 1
    assert delta("variable", "download", "rlds") == 1
    assert delta("model", "download", "IPSL-CM6A-LR") == 1
    assert delta("variable", "process", "rlds") == delta("variable", "download", "tas") == 0

    tree = page(f"{url}/catalogue/usage")
    processes = sum(after["variable"]["process"].values())
    downloads = sum(after["variable"]["download"].values())
    assert tree.get_element_by_id("process-total").text_content() == f"{processes:,}"
    assert tree.get_element_by_id("download-total").text_content() == f"{downloads:,}"
    variables = tree.cssselect('section[data-facet="variable"] table tr')[1:]
    assert {r.cssselect("td")[0].text_content() for r in variables} >= {"tas", "rlds"}
    assert tree.cssselect('section[data-facet="variable"] svg rect')

    rows = list(csv.DictReader(io.StringIO(requests.get(f"{url}/catalogue/usage.csv",
                                                        timeout=60).text)))  # fmt: skip
    today = time.strftime("%Y-%m-%d", time.gmtime())
    subset = [r for r in rows if r["source"] == "process" and r["variable"] == "tas"]
    assert {(r["day"], r["process"], r["model"], r["experiment"]) for r in subset} == {
        (today, "subset", "HadGEM2-ES", "historical")
    }
    assert sum(int(r["requests"]) for r in subset) == after["variable"]["process"]["tas"]


def test_capabilities_name_the_provider(catalogue_service):
    wps = WebProcessingService(catalogue_service.wps_url, version="1.0.0")
    assert wps.provider.name == PROVIDER["NAME"]
    assert wps.provider.url == PROVIDER["URL"]
    contact = wps.provider.contact
    assert (contact.name, contact.email) == (PROVIDER["CONTACT_NAME"], PROVIDER["CONTACT_EMAIL"])
    assert (contact.phone, contact.city) == (PROVIDER["CONTACT_PHONE"], PROVIDER["CITY"])
    footer = page(f"{catalogue_service.url}/catalogue/").cssselect("footer")[0].text_content()
    assert PROVIDER["NAME"] in footer and PROVIDER["CONTACT_EMAIL"] in footer
