"""Rows of the inventory's tables: reading records from them and writing them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

from cp4cds_wps.inventory import drs
from cp4cds_wps.inventory.records import Dataset, FileRecord
from cp4cds_wps.inventory.scan import FileHeader, FoundFile

#: Columns of the ``files`` table that a scan writes (quality control writes ``qc``).
FILE_COLUMNS = (
    "root, relpath, dataset_id, path, size, mtime, md5, start_time, end_time, n_times, "
    "calendar, step_days, grid, realm, problem, product_version, repeated"
)


def generation(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()[0]


def file_record(row: sqlite3.Row, within: tuple[str, ...]) -> FileRecord:
    return FileRecord(
        path=Path(row["path"]),
        root=row["root"],
        relpath=row["relpath"],
        size=row["size"],
        mtime=row["mtime"],
        md5=row["md5"],
        start=row["start_time"],
        end=row["end_time"],
        n_times=row["n_times"],
        within=within,
    )


def file_header(row: sqlite3.Row) -> FileHeader:
    return FileHeader(
        start=row["start_time"],
        end=row["end_time"],
        n_times=row["n_times"],
        calendar=row["calendar"],
        step_days=row["step_days"],
        grid=row["grid"],
        realm=row["realm"],
        problem=row["problem"],
        product_version=row["product_version"],
        repeated=row["repeated"],
    )


def write_file(
    conn: sqlite3.Connection, dataset_id: str, record: FileRecord, header: FileHeader
) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO files ({FILE_COLUMNS}) "
        f"VALUES ({', '.join('?' * len(FILE_COLUMNS.split(',')))})",
        (
            record.root,
            record.relpath,
            dataset_id,
            str(record.path),
            record.size,
            record.mtime,
            record.md5,
            header.start,
            header.end,
            header.n_times,
            header.calendar,
            header.step_days,
            header.grid,
            header.realm,
            header.problem,
            header.product_version,
            header.repeated,
        ),
    )


def write_dataset(conn: sqlite3.Connection, dataset: Dataset) -> None:
    """Record a dataset put together by a scan; its quality control is pending again."""
    conn.execute(
        "INSERT OR REPLACE INTO datasets (id, base_id, project, version, variable, start_time, "
        "end_time, calendar, size, facets, issues) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            dataset.id,
            drs.build_id(dataset.facets, with_version=False),
            dataset.project,
            dataset.version,
            dataset.variable,
            dataset.start,
            dataset.end,
            dataset.calendar,
            dataset.size,
            json.dumps(dataset.facets, sort_keys=True),
            json.dumps([[issue, issue.files, issue.kind] for issue in dataset.issues]),
        ),
    )
    conn.execute("DELETE FROM facets WHERE dataset_id = ?", (dataset.id,))
    conn.execute("DELETE FROM geometry WHERE dataset_id = ?", (dataset.id,))
    conn.executemany(
        "INSERT INTO facets VALUES (?, ?, ?)",
        ((dataset.id, name, value) for name, value in dataset.facets.items()),
    )


def delete_dataset(conn: sqlite3.Connection, dataset_id: str) -> int:
    conn.execute("DELETE FROM facets WHERE dataset_id = ?", (dataset_id,))
    conn.execute("DELETE FROM geometry WHERE dataset_id = ?", (dataset_id,))
    return conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount


def versioned(found: FoundFile, product_version: str | None) -> FoundFile:
    """``found`` with a version in its facets and dataset id: an Atlas file whose tree names
    none takes it from its ``product_version`` (see :func:`drs.with_version`)."""
    if "version" in found.facets:
        return found
    facets = drs.with_version(found.facets, product_version)
    return replace(found, facets=facets, dataset_id=drs.build_id(facets))
