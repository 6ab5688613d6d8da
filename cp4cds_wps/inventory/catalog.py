"""The inventory: datasets of the archive roots recorded in SQLite and looked up by id.

The store is safe to share between processes (gunicorn workers, forked jobs): each call
opens its own connection, the database runs in WAL mode, and a scan writes in one
transaction.

Each scan that changes datasets starts a new *generation* of the inventory. The facet index
(:mod:`cp4cds_wps.inventory.facet_index`) is saved per generation beside the database, and
every process reloads it when the generation moves on.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import shutil
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import replace
from pathlib import Path

from cp4cds_wps.config import Root, Settings
from cp4cds_wps.errors import UnknownDataset
from cp4cds_wps.inventory import drs, rows, schema
from cp4cds_wps.inventory.assemble import assemble
from cp4cds_wps.inventory.errata import KnownIssues
from cp4cds_wps.inventory.facet_index import FacetIndex
from cp4cds_wps.inventory.geometry import Geometry, read_geometry
from cp4cds_wps.inventory.quality import refusal
from cp4cds_wps.inventory.records import Dataset, FileRecord, Finding, Issue, ScanReport
from cp4cds_wps.inventory.scan import (
    FileHeader,
    FoundFile,
    read_header,
    read_md5,
    real_roots,
    walk_roots,
)

_MAX_SUGGESTIONS = 5
#: Facet indexes loaded by this process, by database path (one generation each).
_INDEXES: dict[Path, FacetIndex] = {}


class Inventory:
    """The datasets below the configured archive roots.

    Parameters
    ----------
    db_path
        The SQLite file (created with its folder on first use).
    roots
        The archive roots; roots listed first win when two hold the same dataset id.
    known_issues
        The known-issues register whose errata the datasets carry (None: none).
    serve
        ``"all"``, or ``"passed"`` to mark datasets whose quality control failed or is
        pending as ``refused`` (see :class:`~cp4cds_wps.inventory.records.Dataset`).
    """

    def __init__(
        self,
        db_path: Path,
        roots: Sequence[Root],
        *,
        known_issues: Path | None = None,
        serve: str = "all",
    ):
        self.db_path = Path(db_path)
        self.roots = tuple(roots)
        self.known_issues = KnownIssues(known_issues)
        self.serve = serve
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Inventory:
        """Return the inventory of a service's settings (``inventory_db``, ``roots``, and
        the known-issues register and serve policy of ``[qc]``)."""
        return cls(
            settings.inventory_db,
            settings.roots,
            known_issues=settings.qc.known_issues,
            serve=settings.qc.serve,
        )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.db_path, timeout=60)) as conn:
            conn.row_factory = sqlite3.Row
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                schema.prepare(conn)
                self._ready = True
            with conn:
                yield conn

    def connection(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection to the database in one transaction (committed on success), for the
        modules of this package that keep their own tables (quality control)."""
        return self._connect()

    # -- scanning --------------------------------------------------------------------------

    def scan(self) -> ScanReport:
        """Scan the roots and bring the database up to date.

        Files whose size and modification time are unchanged are not read again; new and
        changed files are read, removed ones dropped, and a dataset left without files is
        removed.

        Returns
        -------
        ScanReport
            Counts of files and datasets, and warnings (missing roots, links pointing
            outside the roots, files that do not fit the DRS).
        """
        began = time.monotonic()
        walk = walk_roots(self.roots)
        within = real_roots(self.roots)
        with self._connect() as conn:
            stored = {
                (row["root"], row["relpath"]): row
                for row in conn.execute(f"SELECT {rows.FILE_COLUMNS} FROM files")
            }
            by_dataset: dict[str, list[tuple[FileRecord, FileHeader]]] = defaultdict(list)
            facets: dict[str, dict[str, str]] = {}
            touched: set[str] = set()
            counts = {"added": 0, "changed": 0, "unchanged": 0}
            for found in walk.files:
                key = (found.root, found.relpath)
                found, record, header, state = self._record(found, stored.pop(key, None), within)
                counts[state] += 1
                by_dataset[found.dataset_id].append((record, header))
                facets[found.dataset_id] = found.facets
                if state != "unchanged":
                    touched.add(found.dataset_id)
                    rows.write_file(conn, found.dataset_id, record, header)
            for (root, relpath), row in stored.items():
                conn.execute("DELETE FROM files WHERE root = ? AND relpath = ?", (root, relpath))
                touched.add(row["dataset_id"])
            removed = 0
            for dataset_id in touched:
                if dataset_id in by_dataset:
                    dataset = assemble(dataset_id, facets[dataset_id], by_dataset[dataset_id])
                    rows.write_dataset(conn, dataset)
                else:
                    removed += rows.delete_dataset(conn, dataset_id)
            conn.execute("DELETE FROM aliases")
            conn.executemany("INSERT INTO aliases VALUES (?, ?)", walk.aliases.items())
            total = conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
            if touched:
                conn.execute("UPDATE state SET value = value + 1 WHERE key = 'generation'")
        self.facet_index()
        return ScanReport(
            files_added=counts["added"],
            files_changed=counts["changed"],
            files_removed=len(stored),
            files_unchanged=counts["unchanged"],
            datasets=total,
            datasets_updated=len(touched) - removed,
            datasets_removed=removed,
            duplicates_skipped=walk.duplicates,
            seconds=time.monotonic() - began,
            warnings=tuple(walk.warnings),
        )

    @staticmethod
    def _record(
        found: FoundFile, row: sqlite3.Row | None, within: tuple[str, ...]
    ) -> tuple[FoundFile, FileRecord, FileHeader, str]:
        """Return the file (its dataset id complete: see :func:`versioned`), its record and
        header, read again only when it changed."""
        stat = os.stat(found.path)
        unchanged = (
            row is not None
            and row["size"] == stat.st_size
            and row["mtime"] == stat.st_mtime
            and row["dataset_id"] == rows.versioned(found, row["product_version"]).dataset_id
            and row["path"] == str(found.path)
        )
        if unchanged:
            header = rows.file_header(row)
            return (
                rows.versioned(found, header.product_version),
                rows.file_record(row, within),
                header,
                "unchanged",
            )
        header = read_header(found.path, found.facets["variable"])
        record = FileRecord(
            path=found.path,
            root=found.root,
            relpath=found.relpath,
            size=stat.st_size,
            mtime=stat.st_mtime,
            md5=read_md5(found.path),
            start=header.start,
            end=header.end,
            n_times=header.n_times,
            within=within,
        )
        return (
            rows.versioned(found, header.product_version),
            record,
            header,
            "added" if row is None else "changed",
        )

    def count(self) -> int:
        """Number of datasets recorded."""
        with self._connect() as conn:
            return conn.execute("SELECT count(*) FROM datasets").fetchone()[0]

    def ensure_scanned(self) -> ScanReport | None:
        """Scan when the database holds no dataset yet; return the report, or None."""
        return self.scan() if self.count() == 0 else None

    def generation(self) -> int:
        """The inventory's generation: a number that grows with each scan changing datasets."""
        with self._connect() as conn:
            return rows.generation(conn)

    @property
    def index_dir(self) -> Path:
        """The folder holding the facet index of each generation."""
        return self.db_path.with_name(f"{self.db_path.name}.facets")

    def facet_index(self) -> FacetIndex:
        """The facet index of the current generation.

        Loaded once per process and generation (memory-mapped from the index folder); built
        from the datasets table and saved when no process has saved it yet. Folders of
        generations before the previous one are removed.

        Returns
        -------
        FacetIndex
        """
        with self._connect() as conn:
            generation = rows.generation(conn)
            cached = _INDEXES.get(self.db_path)
            if cached is not None and cached.generation == generation:
                return cached
            try:
                index = FacetIndex.load(self.index_dir / f"g{generation}")
            except FileNotFoundError:
                conn.execute("BEGIN")  # one snapshot: the generation and its datasets
                generation = rows.generation(conn)
                found = conn.execute("SELECT facets FROM datasets ORDER BY id")
                index = FacetIndex.build([json.loads(row[0]) for row in found], generation)
                conn.commit()
                index.save(self.index_dir)
                for old in self.index_dir.glob("g*"):
                    if old.name[1:].isdigit() and int(old.name[1:]) < generation - 1:
                        shutil.rmtree(old, ignore_errors=True)
        _INDEXES[self.db_path] = index
        return index

    def geometry(self, dataset: Dataset) -> Geometry | None:
        """Grid, levels and variables of a dataset, read from its first file once and kept.

        Returns
        -------
        Geometry or None
            None for a dataset without files or whose first file cannot be read.
        """
        with self._connect() as conn:
            row = conn.execute(
                "SELECT data FROM geometry WHERE dataset_id = ?", (dataset.id,)
            ).fetchone()
        if row is not None:
            try:
                return Geometry.from_dict(json.loads(row[0]))
            except (KeyError, TypeError):
                pass  # kept by an older version of the service: read again
        if not dataset.files:
            return None
        try:
            geometry = read_geometry(dataset.files[0].path, dataset.variable)
        except (OSError, RuntimeError, ValueError):
            return None
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset.id,)).fetchone():
                conn.execute(
                    "INSERT OR REPLACE INTO geometry VALUES (?, ?)",
                    (dataset.id, json.dumps(geometry.to_dict())),
                )
        return geometry

    # -- lookups ---------------------------------------------------------------------------

    def get(self, dataset_id: str) -> Dataset:
        """Return the dataset an id names.

        Accepted: the exact id; the project prefix in any case; an id without version
        (the newest version); version ``latest`` (the version a ``latest`` link points to,
        a real ``latest`` folder, else the newest version).

        Raises
        ------
        UnknownDataset
            With up to 5 of the closest known ids as suggestions.
        """
        wanted = drs.canonical_id(dataset_id.strip())
        with self._connect() as conn:
            found = self._resolve(conn, wanted)
            if found is None:
                known = [row[0] for row in conn.execute("SELECT id FROM datasets")]
                close = difflib.get_close_matches(wanted, known, n=_MAX_SUGGESTIONS, cutoff=0.6)
                raise UnknownDataset(dataset_id, close)
            return self._load(conn, [found])[0]

    @staticmethod
    def _resolve(conn: sqlite3.Connection, wanted: str) -> str | None:
        row = conn.execute("SELECT id FROM datasets WHERE id = ?", (wanted,)).fetchone()
        if row is None:
            row = conn.execute("SELECT dataset_id FROM aliases WHERE alias = ?", (wanted,))
            row = row.fetchone()
        if row is not None:
            return row[0]
        try:
            facets = drs.parse_id(wanted)
        except ValueError:
            return None
        if facets.get("version", "latest") != "latest":
            return None
        base = drs.build_id(facets, with_version=False)
        versions = conn.execute("SELECT id, version FROM datasets WHERE base_id = ?", (base,))
        newest = max(versions, key=lambda r: drs.version_key(r["version"]), default=None)
        return None if newest is None else newest["id"]

    def list(self, pattern: str | None = None, **facets: str) -> list[Dataset]:
        """Return the datasets, all or those whose id matches and whose facets equal.

        Parameters
        ----------
        pattern
            A shell-style pattern on the id (``fnmatch``, case-sensitive), e.g.
            ``"CMIP6.*.tas.*"``.
        **facets
            Facet values the datasets must have, e.g. ``project="cmip6"``,
            ``frequency="day"``.

        Returns
        -------
        list of Dataset
            Sorted by id.
        """
        query = "SELECT id FROM datasets"
        args: list[str] = []
        for name, value in facets.items():
            query += " INTERSECT SELECT dataset_id FROM facets WHERE name = ? AND value = ?"
            args += [name, value]
        with self._connect() as conn:
            ids = sorted(row[0] for row in conn.execute(query, args))
            if pattern is not None:
                ids = [i for i in ids if fnmatch.fnmatchcase(i, pattern)]
            return self._load(conn, ids)

    def get_many(self, dataset_ids: Sequence[str]) -> list[Dataset]:
        """Return the datasets of exact ids (as recorded), in their order; ids not recorded
        are left out. One query for all of them, e.g. for a page of search results."""
        with self._connect() as conn:
            return self._load(conn, list(dict.fromkeys(dataset_ids)))

    def dataset_of(self, root: str, relpath: str) -> str | None:
        """The id of the dataset a recorded file belongs to, or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT dataset_id FROM files WHERE root = ? AND relpath = ?", (root, relpath)
            ).fetchone()
        return None if row is None else row[0]

    def file(self, root: str, relpath: str) -> FileRecord | None:
        """Return the record of a file by its root and path below it, or None when it is
        not recorded."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {rows.FILE_COLUMNS} FROM files WHERE root = ? AND relpath = ?",
                (root, relpath),
            ).fetchone()
        return None if row is None else rows.file_record(row, real_roots(self.roots))

    def _load(self, conn: sqlite3.Connection, ids: Sequence[str]) -> list[Dataset]:
        """Read datasets with their files, in the order of ``ids``."""
        if not ids:
            return []
        within = real_roots(self.roots)
        errata = self.known_issues.errata()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM wanted")
        conn.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((i,) for i in ids))
        files = defaultdict(list)
        found = conn.execute(
            f"SELECT {rows.FILE_COLUMNS} FROM files WHERE dataset_id IN (SELECT id FROM wanted)"
        )
        for row in found:
            files[row["dataset_id"]].append(rows.file_record(row, within))
        datasets = {}
        for row in conn.execute("SELECT * FROM datasets WHERE id IN (SELECT id FROM wanted)"):
            ordered = sorted(
                files[row["id"]], key=lambda r: (r.start is None, r.start or "", r.relpath)
            )
            dataset = Dataset(
                id=row["id"],
                project=row["project"],
                version=row["version"],
                facets=json.loads(row["facets"]),
                variable=row["variable"],
                files=tuple(ordered),
                start=row["start_time"],
                end=row["end_time"],
                calendar=row["calendar"],
                size=row["size"],
                issues=tuple(
                    Issue(text, tuple(files), kind)
                    for text, files, kind in json.loads(row["issues"])
                ),
                qc_status=row["qc_status"],
                findings=tuple(Finding.from_dict(f) for f in json.loads(row["qc_findings"])),
                errata=tuple(e for e in errata if e.concerns(row["id"], row["version"])),
            )
            datasets[row["id"]] = replace(dataset, refused=refusal(dataset, self.serve))
        return [datasets[i] for i in ids if i in datasets]
