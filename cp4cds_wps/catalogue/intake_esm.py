"""The inventory as intake-esm catalogs: per project, a JSON description and a CSV of files.

One CSV row per archive file: the dataset's id and facets, the file's time range, size,
MD5 and where it is (``path``: a ``/data`` URL of the service or a local path). The JSON
(ESM collection specification 0.1.0) names the CSV and groups the rows into datasets by
the facets every dataset of the project has except ``variable`` (so that intake-esm merges
variables of one version of one model run and member), joining a dataset's files along
``time``::

    import intake
    cat = intake.open_esm_datastore("http://127.0.0.1:5000/catalogue/intake-esm/cmip6.json")
    subset = cat.search(experiment="historical", variable="tas")
    datasets = subset.to_dataset_dict(xarray_open_kwargs={"engine": "h5netcdf"})

Over HTTP xarray reads file objects, which its default engine for intake-esm (``netcdf4``)
cannot: ``h5netcdf`` reads netCDF-4 files, ``scipy`` netCDF-3 ones. A catalog of local
paths (``cp4cds-wps inventory export --paths local``) opens with the defaults.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from cp4cds_wps.catalogue.exports import Assets, project_datasets, project_facets
from cp4cds_wps.inventory import Dataset, Inventory

#: The ESM collection specification version written.
ESMCAT_VERSION = "0.1.0"
#: Columns after the facets.
FILE_COLUMNS = ("start_time", "end_time", "calendar", "size", "md5", "qc_status", "path")


def columns(facets: list[str]) -> list[str]:
    """The CSV's columns for a project with these facets."""
    return ["dataset_id", *facets, *FILE_COLUMNS]


def rows(dataset: Dataset, facets: list[str], assets: Assets) -> Iterator[list]:
    """The CSV rows of a dataset: one per file, in time order."""
    for record in dataset.files:
        yield [
            dataset.id,
            *(dataset.facets.get(name, "") for name in facets),
            record.start or "",
            record.end or "",
            dataset.calendar or "",
            record.size,
            record.md5 or "",
            dataset.status,
            assets.href(record),
        ]


def description(project: str, catalog_file: str, facets: list[str], grouped: list[str]) -> dict:
    """The catalog's JSON description (ESM collection specification).

    Parameters
    ----------
    project
        The project.
    catalog_file
        Where the CSV is: a URL, or a path relative to the JSON file.
    facets
        The CSV's facet columns.
    grouped
        The facets every dataset has (grouped by, except ``variable``).
    """
    aggregations = [
        {
            "type": "join_existing",
            "attribute_name": "start_time",
            "options": {"dim": "time", "coords": "minimal", "compat": "override"},
        }
    ]
    if "variable" in facets:
        aggregations.insert(0, {"type": "union", "attribute_name": "variable"})
    return {
        "esmcat_version": ESMCAT_VERSION,
        "id": f"cp4cds-wps-{project}",
        "description": f"The {project} datasets of a cp4cds-wps archive, one row per file.",
        "catalog_file": catalog_file,
        "attributes": [{"column_name": name, "vocabulary": ""} for name in facets],
        "assets": {"column_name": "path", "format": "netcdf"},
        "aggregation_control": {
            "variable_column_name": "variable" if "variable" in facets else "dataset_id",
            "groupby_attrs": [name for name in grouped if name != "variable"] or ["dataset_id"],
            "aggregations": aggregations,
        },
    }


def write_csv(inventory: Inventory, project: str, assets: Assets, out: io.TextIOBase) -> int:
    """Write a project's CSV; return the number of file rows."""
    facets, _ = project_facets(inventory, project)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns(facets))
    count = 0
    for dataset in project_datasets(inventory, project):
        for row in rows(dataset, facets, assets):
            writer.writerow(row)
            count += 1
    return count


def export(
    inventory: Inventory, project: str, folder: Path, assets: Assets, csv_href: str | None = None
) -> tuple[Path, Path]:
    """Write a project's catalog into ``folder`` as ``<project>.json`` and ``<project>.csv``.

    Parameters
    ----------
    csv_href
        How the JSON names the CSV (default: its file name, beside the JSON).

    Returns
    -------
    tuple of Path
        The JSON and the CSV.
    """
    folder.mkdir(parents=True, exist_ok=True)
    facets, every = project_facets(inventory, project)
    csv_path = folder / f"{project}.csv"
    partial = csv_path.with_name(f".{csv_path.name}.partial")
    with partial.open("w", newline="") as out:
        write_csv(inventory, project, assets, out)
    partial.replace(csv_path)
    json_path = folder / f"{project}.json"
    text = json.dumps(description(project, csv_href or csv_path.name, facets, every), indent=2)
    json_path.write_text(text)
    return json_path, csv_path
