"""The inventory's generations, facet index and geometry cache, on synthetic archives."""

from __future__ import annotations

import netCDF4
import numpy as np

from cp4cds_wps.inventory import catalog

DS_DIR = "CMIP/INST/{model}/historical/r1i1p1f1/day/{variable}/gn/v20200101"
DS_ID = "CMIP6.CMIP.INST.{model}.historical.r1i1p1f1.day.{variable}.gn.v20200101"


def add(root, write_nc, model: str, variable: str = "tas"):
    folder = root.path / DS_DIR.format(model=model, variable=variable)
    return write_nc(folder / f"{variable}_a.nc", [0.5, 1.5], variable=variable)


def test_scans_that_change_datasets_start_a_new_generation(cmip6_root, make_inventory, write_nc):
    inventory = make_inventory(cmip6_root)
    add(cmip6_root, write_nc, "A")
    inventory.scan()
    first = inventory.generation()
    index = inventory.facet_index()
    assert index.generation == first and index.size == 1
    assert (inventory.index_dir / f"g{first}").is_dir()

    inventory.scan()  # nothing changed
    assert inventory.generation() == first
    assert inventory.facet_index() is index

    add(cmip6_root, write_nc, "B", "pr")
    inventory.scan()
    assert inventory.generation() == first + 1
    index = inventory.facet_index()
    assert index.size == 2 and index.values["model"] == ("", "A", "B")


def test_other_processes_load_the_saved_index(cmip6_root, make_inventory, write_nc):
    inventory = make_inventory(cmip6_root)
    add(cmip6_root, write_nc, "A")
    inventory.scan()
    catalog._INDEXES.clear()  # as in a fresh process
    loaded = make_inventory(cmip6_root).facet_index()
    assert isinstance(loaded.column("model"), np.memmap)
    assert loaded.facets_of(0)["model"] == "A"


def test_old_generations_are_removed(cmip6_root, make_inventory, write_nc):
    inventory = make_inventory(cmip6_root)
    for model in "ABCD":
        add(cmip6_root, write_nc, model)
        inventory.scan()
    now = inventory.generation()
    kept = sorted(p.name for p in inventory.index_dir.iterdir())
    assert kept == [f"g{now - 1}", f"g{now}"]


def test_an_index_missing_on_disk_is_built_again(cmip6_root, make_inventory, write_nc):
    inventory = make_inventory(cmip6_root)
    add(cmip6_root, write_nc, "A")
    inventory.scan()
    for folder in inventory.index_dir.iterdir():
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    catalog._INDEXES.clear()
    assert inventory.facet_index().size == 1


def test_geometry_is_read_once_and_dropped_when_the_dataset_changes(
    cmip6_root, make_inventory, write_nc
):
    inventory = make_inventory(cmip6_root)
    path = add(cmip6_root, write_nc, "A")
    inventory.scan()
    dataset = inventory.get(DS_ID.format(model="A", variable="tas"))
    geometry = inventory.geometry(dataset)
    assert geometry.grid_type == "none" and geometry.time_dim == "time"
    assert [v.name for v in geometry.variables] == ["time", "tas"]
    assert inventory.geometry(dataset) == geometry  # from the cache

    # a grid the geometry reader recognises: latitude and longitude coordinates
    with netCDF4.Dataset(path, "a") as nc:
        lat = nc.createVariable("lat", "f8", ("lat",))
        lat.units, lat[:] = "degrees_north", [-10.0, 0.0, 10.0]
        lon = nc.createVariable("lon", "f8", ("lon",))
        lon.units, lon[:] = "degrees_east", [0.0, 90.0, 180.0, 270.0]
    inventory.scan()
    geometry = inventory.geometry(inventory.get(dataset.id))
    assert (geometry.grid_type, geometry.grid_dims) == ("regular", ("lat", "lon"))
    assert geometry.extent == {"west": 0.0, "east": 270.0, "south": -10.0, "north": 10.0}
