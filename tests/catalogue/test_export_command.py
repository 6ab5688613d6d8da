"""``cp4cds-wps inventory export``: both catalogs written into a folder, as tools read them."""

from __future__ import annotations

import csv
import json

import intake_esm
import pystac
import pytest

from cp4cds_wps.cli import main

from .conftest import ID


@pytest.fixture(autouse=True)
def _restore_config(monkeypatch):
    monkeypatch.setenv("CP4CDS_WPS_CONFIG", "")  # the CLI exports --config; restore it after


def test_export_writes_an_intake_esm_and_a_stac_catalog(site_settings, site_inventory,
                                                        tmp_path, capsys):  # fmt: skip
    config = str(site_settings.sources[-1])
    folder = tmp_path / "exports"
    assert main(["inventory", "--config", config, "export", str(folder)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [
        str(folder / "intake-esm" / "cmip6.json"),
        str(folder / "stac" / "catalog.json"),
    ]
    cat = intake_esm.esm_datastore(printed[0])
    assert sorted(cat.df["dataset_id"].unique()) == sorted(d.id for d in site_inventory.list())
    # by default assets are the service's /data URLs
    record = site_inventory.get(ID.format(member="r1i1p1f1", variable="pr")).files[0]
    assert f"http://wps.example.org/data/cmip6/{record.relpath}" in set(cat.df["path"])
    catalog = pystac.Catalog.from_file(printed[1])
    assert catalog.validate_all() == 3
    items = list(catalog.get_items(recursive=True))
    assert sum(len(i.assets) for i in items) == 6


def test_export_of_local_paths_with_a_base_url(site_settings, site_inventory, tmp_path, capsys):
    config = str(site_settings.sources[-1])
    folder = tmp_path / "local"
    args = ["export", "--format", "stac", "--paths", "local", "--base-url",
            "https://example.org/cat/", str(folder)]  # fmt: skip
    assert main(["inventory", "--config", config, *args]) == 0
    assert capsys.readouterr().out.split() == [str(folder / "stac" / "catalog.json")]
    assert not (folder / "intake-esm").exists()
    root = json.loads((folder / "stac" / "catalog.json").read_text())
    assert {link["href"] for link in root["links"] if link["rel"] == "child"} == {
        "https://example.org/cat/stac/cmip6/collection.json"
    }
    dataset = site_inventory.get(ID.format(member="r2i1p1f1", variable="tas"))
    item = json.loads((folder / "stac" / "cmip6" / f"{dataset.id}.json").read_text())
    assert [a["href"] for a in item["assets"].values()] == [str(f.path) for f in dataset.files]
    assert [a["cp4cds:size"] for a in item["assets"].values()] == [f.size for f in dataset.files]


def test_intake_esm_csv_has_a_row_per_file(site_settings, tmp_path, capsys):
    config = str(site_settings.sources[-1])
    args = ["export", "--format", "intake-esm", "--paths", "local", str(tmp_path)]
    assert main(["inventory", "--config", config, *args]) == 0
    with (tmp_path / "intake-esm" / "cmip6.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    assert all(int(r["size"]) > 0 for r in rows)
