"""The intake-esm export: intake_esm.esm_datastore opens it and loads the datasets, whose
values are those of the archive's files."""

from __future__ import annotations

import csv

import numpy as np
import xarray as xr

from cp4cds_wps.catalogue import intake_esm
from cp4cds_wps.catalogue.exports import Assets

from .conftest import ID


def test_catalog_opens_in_intake_esm_and_loads_the_files_values(site_inventory, site_settings,
                                                                 tmp_path):  # fmt: skip
    import intake_esm as ie

    json_path, csv_path = intake_esm.export(
        site_inventory, "cmip6", tmp_path, Assets("local", site_settings.data_url)
    )
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6  # three datasets of two files
    assert {r["dataset_id"] for r in rows} == {
        ID.format(member=m, variable=v) for m, v in (("r1i1p1f1", "tas"), ("r2i1p1f1", "tas"),
                                                     ("r1i1p1f1", "pr"))}  # fmt: skip
    assert rows[0]["calendar"] == "360_day" and rows[0]["start_time"].startswith("2000-01-16")
    cat = ie.esm_datastore(str(json_path))
    assert len(cat.df) == 6
    found = cat.search(member="r1i1p1f1")
    datasets = found.to_dataset_dict(xarray_open_kwargs={"use_cftime": True}, progressbar=False)
    # the two variables of one version of one run are one dataset (union), files joined
    ((key, ds),) = datasets.items()
    assert key == "cmip6.CMIP.INST.MODEL.historical.none.r1i1p1f1.mon.atmos.Amon.gn.v20200101"
    assert ds.sizes["time"] == 48
    for variable in ("tas", "pr"):
        record = site_inventory.get(ID.format(member="r1i1p1f1", variable=variable))
        with xr.open_mfdataset([f.path for f in record.files], combine="nested",
                               concat_dim="time", use_cftime=True) as direct:  # fmt: skip
            np.testing.assert_array_equal(ds[variable].values, direct[variable].values)
            assert list(ds.time.values) == list(direct.time.values)


def test_assets_are_the_services_data_urls_by_default(site_inventory, site_settings, tmp_path):
    _, csv_path = intake_esm.export(
        site_inventory, "cmip6", tmp_path, Assets("url", site_settings.data_url)
    )
    with csv_path.open() as fh:
        paths = [row["path"] for row in csv.DictReader(fh)]
    record = site_inventory.get(ID.format(member="r2i1p1f1", variable="tas")).files[0]
    assert f"http://wps.example.org/data/cmip6/{record.relpath}" in paths
    assert all(p.startswith("http://wps.example.org/data/cmip6/CMIP/INST/") for p in paths)
