"""Scanning Atlas trees: dataset ids with the real version of the dataset."""

from __future__ import annotations

import netCDF4
import numpy as np

from cp4cds_wps.config import Root


def _atlas_file(path, product_version: str | None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w") as nc:
        if product_version is not None:
            nc.product_version = product_version
        nc.createDimension("time", None)
        nc.createDimension("lat", 2)
        time = nc.createVariable("time", "f8", ("time",))
        time.units, time.calendar, time.axis = "days since 2006-01-01", "standard", "T"
        time[:] = [15.5, 45.0]
        nc.createVariable("tnn", "f4", ("time", "lat"))[:] = np.zeros((2, 2))
    return path


def test_ipcc_ar6_atlas_ids_carry_the_files_product_version(tmp_path, make_inventory):
    top = tmp_path / "c3s-ipcc-ar6-atlas"
    _atlas_file(top / "CORDEX-ANT/rcp45/tnn_CORDEX-ANT_rcp45_mon_200601-200602.nc", "v2.0-final")
    _atlas_file(top / "CMIP6/ssp245/tnn_CMIP6_ssp245_mon_200601-200602.nc", None)
    inventory = make_inventory(Root("ipcc", top, "c3s-ipcc-ar6-atlas"))
    inventory.scan()
    assert [d.id for d in inventory.list()] == [
        "c3s-ipcc-ar6-atlas.tnn.CMIP6.ssp245.mon.v1",  # no version anywhere: v1
        "c3s-ipcc-ar6-atlas.tnn.CORDEX-ANT.rcp45.mon.v2",
    ]
    for asked in (
        "c3s-ipcc-ar6-atlas.tnn.CORDEX-ANT.rcp45.mon.v2",
        "c3s-ipcc-ar6-atlas.tnn.CORDEX-ANT.rcp45.mon",  # roocs' form: the newest version
        "c3s-ipcc-atlas.tnn.CORDEX-ANT.rcp45.mon",  # rook's spelling of the project
    ):
        assert inventory.get(asked).version == "v2"
    assert inventory.list(project="c3s-ipcc-ar6-atlas", version="v2")[0].facets["origin"] == (
        "CORDEX-ANT"
    )


def test_atlas_versions_of_the_tree_sit_side_by_side(tmp_path, make_inventory):
    top = tmp_path / "c3s-cica-atlas"
    _atlas_file(top / "ERA5/psl_ERA5_mon_194001-194002.nc", "v1.0")
    _atlas_file(top / "v02/ERA5/psl_ERA5_mon_194001-194002_v02.nc", "v2.0")
    inventory = make_inventory(Root("cica", top, "c3s-cica-atlas"))
    report = inventory.scan()
    assert [d.id for d in inventory.list()] == [
        "c3s-cica-atlas.psl.ERA5.mon.v1",
        "c3s-cica-atlas.psl.ERA5.mon.v2",
    ]
    assert inventory.get("c3s-cica-atlas.psl.ERA5.mon").version == "v2"
    again = inventory.scan()  # unchanged files keep their datasets
    assert (report.files_added, again.files_unchanged, again.datasets_updated) == (2, 2, 0)


def test_the_test_archives_atlas_keeps_its_ids(archive_dir, make_inventory):
    root = Root("cica", archive_dir / "pool/data/c3s-cica-atlas", "c3s-cica-atlas")
    inventory = make_inventory(root)
    inventory.scan()
    assert "c3s-cica-atlas.pr.CMIP5.rcp26.mon.v1" in {d.id for d in inventory.list()}
    assert {d.version for d in inventory.list()} == {"v1"}  # product_version = "v1.0"
