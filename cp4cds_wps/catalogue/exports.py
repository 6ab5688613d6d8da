"""What the inventory exports share: datasets of a project read in batches, and where their
files are found (the service's ``/data`` URLs, or local paths for tools on this machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np

from cp4cds_wps.inventory import Dataset, FileRecord, Inventory, drs

#: Datasets read from the database at once.
BATCH = 2000
#: Where asset paths point: the service's URLs, or the files' local paths.
PATH_KINDS = ("url", "local")


@dataclass(frozen=True)
class Assets:
    """How an export names the archive files.

    ``kind`` ``url``: ``<data_url>/<root>/<relpath>`` (what the service serves at
    ``/data``); ``local``: the file's path on this machine.
    """

    kind: str
    data_url: str

    def href(self, record: FileRecord) -> str:
        """Where a tool finds the file."""
        if self.kind == "local":
            return str(record.path)
        return f"{self.data_url.rstrip('/')}/{quote(record.root)}/{quote(record.relpath)}"


def projects(inventory: Inventory) -> list[str]:
    """The projects of the inventory's datasets, sorted."""
    index = inventory.facet_index()
    if "project" not in index.names:
        return []
    totals = index.totals("project")
    return [index.values["project"][c] for c in np.flatnonzero(totals) if c]


def project_ids(inventory: Inventory, project: str) -> list[str]:
    """The ids of a project's datasets, in id order (empty for an unknown project)."""
    index = inventory.facet_index()
    code = index.code("project", project) if "project" in index.names else None
    if code is None:
        return []
    rows = np.sort(index.posting("project", [code]))
    return [drs.build_id(index.facets_of(int(row))) for row in rows]


def project_datasets(inventory: Inventory, project: str) -> Iterator[Dataset]:
    """A project's datasets with their files, in id order, read :data:`BATCH` at a time."""
    ids = project_ids(inventory, project)
    for start in range(0, len(ids), BATCH):
        yield from inventory.get_many(ids[start : start + BATCH])


def project_facets(inventory: Inventory, project: str) -> tuple[list[str], list[str]]:
    """The facets of a project's datasets: those some have, and those all have.

    Returns
    -------
    tuple of lists
        (facets of any dataset, facets of every dataset), in display order.
    """
    index = inventory.facet_index()
    code = index.code("project", project)
    if code is None:
        return [], []
    matched = index.select({"project": [code]})
    some, every = [], []
    for name in index.names:
        counts = index.counts(name, matched)
        if counts[1:].sum():
            some.append(name)
            if counts[0] == 0:
                every.append(name)
    return some, every
