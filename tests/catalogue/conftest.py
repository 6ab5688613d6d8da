"""A small synthetic CMIP6 archive (360_day months on a 4x8 grid) served by a catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from cp4cds_wps.config import load_settings
from cp4cds_wps.inventory import Inventory

from ..quirks import write_months

DIR = "CMIP/INST/MODEL/historical/{member}/Amon/{variable}/gn/v20200101"
ID = "CMIP6.CMIP.INST.MODEL.historical.{member}.Amon.{variable}.gn.v20200101"
#: Two files per dataset: 2000-2001 and 2002-2003, monthly.
SPANS = {"200001-200112": (2000, 2001), "200201-200312": (2002, 2003)}
DATASETS = (("r1i1p1f1", "tas"), ("r2i1p1f1", "tas"), ("r1i1p1f1", "pr"))


def write_dataset(root: Path, member: str, variable: str, seed: int) -> list[Path]:
    """Write one dataset's two files; return their paths."""
    folder = root / DIR.format(member=member, variable=variable)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    paths = []
    for span, (first, last) in SPANS.items():
        months = [(y, m) for y in range(first, last + 1) for m in range(1, 13)]
        path = folder / f"{variable}_Amon_MODEL_historical_{member}_gn_{span}.nc"
        write_months(path, months, 250 + 50 * rng.random((len(months), 4, 8)))
        if variable != "tas":
            with xr.open_dataset(path) as ds:
                renamed = ds.rename({"tas": variable}).load()
            renamed[variable].attrs["standard_name"] = "precipitation_flux"
            renamed[variable].attrs["units"] = "kg m-2 s-1"
            renamed.to_netcdf(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """The archive's CMIP6 root."""
    root = tmp_path_factory.mktemp("archive") / "CMIP6"
    for seed, (member, variable) in enumerate(DATASETS):
        write_dataset(root, member, variable, seed)
    return root


@pytest.fixture(scope="session")
def site_settings(archive, tmp_path_factory):
    """Settings of a service of the synthetic archive."""
    config = tmp_path_factory.mktemp("site") / "config.toml"
    config.write_text(
        f'[paths]\nvar_dir = "{config.parent / "var"}"\n'
        f'[archive]\nbase_dir = "{archive.parent}"\n'
        '[[archive.roots]]\nname = "cmip6"\npath = "CMIP6"\nproject = "cmip6"\n'
        '[server]\nurl = "http://wps.example.org"\n'
    )
    return load_settings(config, env={})


@pytest.fixture(scope="session")
def site_inventory(site_settings) -> Inventory:
    """The synthetic archive's inventory, scanned."""
    inventory = Inventory.from_settings(site_settings)
    inventory.scan()
    return inventory
