"""The inventory as a STAC catalog (STAC 1.1.0): a root catalog, one collection per project,
one item per dataset with an asset per file.

Documents and their links are relative to a base (the service's
``/catalogue/stac`` URL, or a folder for a static export):

- ``catalog.json``: the root, linking each project's collection;
- ``<project>/collection.json``: the project's extent (the union of its items' bounding
  boxes where the grids are known, the first and last time step), summaries of its facets,
  and a link per item;
- ``<project>/<dataset id>.json``: the dataset's bounding box, time range
  (``start_datetime``, ``end_datetime``), facets and quality status as ``cp4cds:`` fields,
  and its files as assets (``href`` a ``/data`` URL or a local path, with size and MD5).

Time steps of calendars without a real date (``2000-02-30`` of ``360_day``) are given as
the last real day of their month in the datetime fields, as recorded in ``cp4cds:start``
and ``cp4cds:end``; datasets without time (fixed fields) carry their version's date.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from cp4cds_wps.catalogue.exports import Assets, project_datasets, project_facets, projects
from cp4cds_wps.inventory import Dataset, Inventory
from cp4cds_wps.inventory.geometry import Geometry

STAC_VERSION = "1.1.0"
CATALOG_ID = "cp4cds-wps"
_ISO = re.compile(r"^(-?\d+)-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d):(\d\d))?")
_VERSION_DATE = re.compile(r"^v(\d{4})(\d\d)(\d\d)$")


def rfc3339(text: str | None) -> str | None:
    """A time step ``YYYY-MM-DDTHH:MM:SS`` of any calendar as an RFC 3339 datetime (UTC):
    days beyond their month's length become its last day, years are kept within 1..9999."""
    match = _ISO.match(text or "")
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
    year = min(max(year, 1), 9999)
    month = min(max(month, 1), 12)
    day = min(max(day, 1), calendar.monthrange(year, month)[1])
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def _nominal(dataset: Dataset) -> str:
    """A datetime for a dataset without time steps: its version's date, else its first
    file's modification time."""
    match = _VERSION_DATE.match(dataset.version)
    if match:
        return rfc3339("-".join(match.groups())) or ""
    mtime = dataset.files[0].mtime if dataset.files else 0
    return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bbox(geometry: Geometry | None) -> list[float] | None:
    """The dataset's bounding box ``[west, south, east, north]`` in -180..180 degrees."""
    extent = geometry.extent if geometry is not None else None
    if not extent:
        return None
    south, north = max(extent["south"], -90.0), min(extent["north"], 90.0)
    west, east = extent["west"], extent["east"]
    if east - west >= 359.0:
        return [-180.0, south, 180.0, north]
    wrap = [((value + 180.0) % 360.0) - 180.0 for value in (west, east)]
    if wrap[1] == -180.0:
        wrap[1] = 180.0
    return [wrap[0], south, wrap[1], north]  # west > east: crossing the antimeridian


def _polygon(box: list[float]) -> dict:
    west, south, east, north = box
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def item_href(project: str, dataset_id: str) -> str:
    """An item's path relative to the catalog's base."""
    return f"{quote(project)}/{quote(dataset_id, safe='')}.json"


def _links(base: str, self_href: str, parent: str) -> list[dict]:
    return [
        {"rel": "root", "href": f"{base}/catalog.json", "type": "application/json"},
        {"rel": "parent", "href": f"{base}/{parent}", "type": "application/json"},
        {"rel": "self", "href": f"{base}/{self_href}", "type": "application/json"},
    ]


def item(dataset: Dataset, geometry: Geometry | None, assets: Assets, base: str) -> dict:
    """The STAC item of a dataset (a GeoJSON Feature)."""
    box = bbox(geometry)
    start, end = rfc3339(dataset.start), rfc3339(dataset.end)
    properties: dict = (
        {"datetime": None, "start_datetime": start, "end_datetime": end}
        if start and end
        else {"datetime": _nominal(dataset)}
    )
    properties.update(
        {
            "title": dataset.id,
            "cp4cds:version": dataset.version,
            "cp4cds:calendar": dataset.calendar,
            "cp4cds:start": dataset.start,
            "cp4cds:end": dataset.end,
            "cp4cds:size": dataset.size,
            "cp4cds:qc_status": dataset.status,
            **{f"cp4cds:{name}": value for name, value in dataset.facets.items()},
        }
    )
    if geometry is not None:
        properties["cp4cds:grid_type"] = geometry.grid_type
    collection = f"{quote(dataset.project)}/collection.json"
    links = _links(base, item_href(dataset.project, dataset.id), collection)
    links.append({"rel": "collection", "href": f"{base}/{collection}", "type": "application/json"})
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "id": dataset.id,
        "collection": dataset.project,
        "geometry": None if box is None else _polygon(box),
        **({} if box is None else {"bbox": box}),
        "properties": properties,
        "links": links,
        "assets": {
            record.path.name: {
                "href": assets.href(record),
                "type": "application/netcdf",
                "roles": ["data"],
                "title": f"{record.path.name} ({record.start or 'no time'} to {record.end or '-'})",
                "cp4cds:size": record.size,
                "cp4cds:md5": record.md5,
            }
            for record in dataset.files
        },
    }


def root_catalog(names: list[str], base: str) -> dict:
    """The root catalog, linking each project's collection."""
    links = [
        {"rel": "root", "href": f"{base}/catalog.json", "type": "application/json"},
        {"rel": "self", "href": f"{base}/catalog.json", "type": "application/json"},
    ]
    links += [
        {
            "rel": "child",
            "href": f"{base}/{quote(p)}/collection.json",
            "type": "application/json",
            "title": p,
        }  # fmt: skip
        for p in names
    ]
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": CATALOG_ID,
        "title": "cp4cds-wps archive",
        "description": "The datasets of a cp4cds-wps archive: one collection per project, one "
        "item per dataset with its files as assets.",
        "links": links,
    }


def collection(inventory: Inventory, project: str, base: str) -> dict:
    """A project's collection: its extent, facet summaries and a link per dataset."""
    facets, _ = project_facets(inventory, project)
    index = inventory.facet_index()
    matched = index.select({"project": [index.code("project", project)]})
    summaries = {}
    for name in facets:
        if name in ("project", "version"):
            continue
        counts = index.counts(name, matched)
        summaries[f"cp4cds:{name}"] = [
            index.values[name][c] for c, n in enumerate(counts) if c and n
        ]
    boxes, starts, ends, links = [], [], [], []
    for dataset in project_datasets(inventory, project):
        links.append({"rel": "item", "href": f"{base}/{item_href(project, dataset.id)}",
                      "type": "application/geo+json", "title": dataset.id})  # fmt: skip
        box = bbox(inventory.geometry(dataset))
        if box is not None and box[0] <= box[2]:
            boxes.append(box)
        if dataset.start and dataset.end:
            starts.append(rfc3339(dataset.start))
            ends.append(rfc3339(dataset.end))
    spatial = (
        [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]  # fmt: skip
        if boxes
        else [-180.0, -90.0, 180.0, 90.0]
    )
    temporal = [min(starts), max(ends)] if starts else [None, None]
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": project,
        "title": f"{project} datasets",
        "description": f"The {project} datasets of the archive, one item per dataset.",
        "license": "other",
        "extent": {"spatial": {"bbox": [spatial]}, "temporal": {"interval": [temporal]}},
        "summaries": summaries,
        "links": _links(base, f"{quote(project)}/collection.json", "catalog.json") + links,
    }


def export(inventory: Inventory, folder: Path, assets: Assets, base: str | None = None) -> Path:
    """Write the whole catalog as a static STAC catalog into ``folder``.

    Parameters
    ----------
    base
        The URL the folder will be served at; default: the folder itself (``file://``
        links, for tools on this machine).

    Returns
    -------
    Path
        ``catalog.json``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    base = (base or folder.resolve().as_uri()).rstrip("/")
    names = projects(inventory)
    for project in names:
        (folder / project).mkdir(exist_ok=True)
        for dataset in project_datasets(inventory, project):
            document = item(dataset, inventory.geometry(dataset), assets, base)
            (folder / project / f"{dataset.id}.json").write_text(json.dumps(document, indent=1))
        document = collection(inventory, project, base)
        (folder / project / "collection.json").write_text(json.dumps(document, indent=1))
    path = folder / "catalog.json"
    path.write_text(json.dumps(root_catalog(names, base), indent=1))
    return path
