"""The STAC export: valid STAC 1.1.0 (pystac's validation against the schemas it ships), a
collection per project, an item per dataset with an asset per file."""

from __future__ import annotations

import pystac
import pystac.validation
import pytest

from cp4cds_wps.catalogue import stac
from cp4cds_wps.catalogue.exports import Assets

from .conftest import ID


def test_static_catalog_validates_with_an_item_per_dataset(site_inventory, site_settings,
                                                           tmp_path):  # fmt: skip
    root = stac.export(site_inventory, tmp_path, Assets("local", site_settings.data_url))
    catalog = pystac.Catalog.from_file(str(root))
    assert catalog.validate_all() == 3  # the items (the catalog and collection too)
    (collection,) = catalog.get_children()
    assert collection.id == "cmip6"
    items = {item.id: item for item in collection.get_items()}
    dataset = site_inventory.get(ID.format(member="r2i1p1f1", variable="tas"))
    assert set(items) == {d.id for d in site_inventory.list()}
    item = items[dataset.id]
    assert [a.href for a in item.assets.values()] == [str(f.path) for f in dataset.files]
    assert [a.extra_fields["cp4cds:size"] for a in item.assets.values()] == [
        f.size for f in dataset.files
    ]
    assert item.properties["start_datetime"] == "2000-01-16T00:00:00Z"
    assert item.properties["end_datetime"] == "2003-12-16T00:00:00Z"
    assert item.properties["cp4cds:calendar"] == "360_day"
    assert item.properties["cp4cds:member"] == "r2i1p1f1"
    # cell centres 22.5 .. 337.5 east: a box across the antimeridian (west > east)
    assert item.bbox == [22.5, -67.5, -22.5, 67.5]
    extent = collection.extent.temporal.intervals[0]
    assert [t.strftime("%Y-%m-%d") for t in extent] == ["2000-01-16", "2003-12-16"]
    assert collection.summaries.to_dict()["cp4cds:variable"] == ["pr", "tas"]
    # the validation is real (the schemas pystac ships, offline): an item whose datetime is
    # null needs start_datetime
    broken = item.to_dict()
    del broken["properties"]["start_datetime"]
    with pytest.raises(pystac.errors.STACValidationError):
        pystac.validation.validate_dict(broken)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2000-02-30T00:00:00", "2000-02-29T00:00:00Z"),  # 360_day
        ("2001-02-29T12:00:00", "2001-02-28T12:00:00Z"),  # all_leap
        ("1850-01-16T12:00:00", "1850-01-16T12:00:00Z"),
        ("0000-01-01T00:00:00", "0001-01-01T00:00:00Z"),
        ("2000-12-30", "2000-12-30T00:00:00Z"),
        (None, None),
        ("someday", None),
    ],
)
def test_time_steps_of_any_calendar_become_rfc3339(text, expected):
    assert stac.rfc3339(text) == expected


def test_bounding_boxes_are_within_minus_180_and_180():
    from types import SimpleNamespace

    def box(west, east, south=-10.0, north=10.0):
        return stac.bbox(SimpleNamespace(extent={"west": west, "east": east, "south": south,
                                                 "north": north}))  # fmt: skip

    assert box(0.0, 359.0) == [-180.0, -10.0, 180.0, 10.0]
    assert box(-279.98, 79.98, -81.5, 89.5) == [-180.0, -81.5, 180.0, 89.5]
    assert box(10.0, 40.0) == [10.0, -10.0, 40.0, 10.0]
    assert box(200.0, 300.0) == [-160.0, -10.0, -60.0, 10.0]
    assert stac.bbox(None) is None
