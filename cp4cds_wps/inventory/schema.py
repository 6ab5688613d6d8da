"""The inventory's SQLite schema, and bringing a database of an older schema up to date.

The inventory is a cache of the archive: a database of another schema version is emptied
(its generation kept moving on, so that every process reloads its facet index) and filled
again by the next scan.
"""

from __future__ import annotations

import sqlite3

#: Version of :data:`SCHEMA`; a database of another version is emptied and scanned again.
VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    root TEXT NOT NULL, relpath TEXT NOT NULL, dataset_id TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER NOT NULL, mtime REAL NOT NULL, md5 TEXT,
    start_time TEXT, end_time TEXT, n_times INTEGER NOT NULL, calendar TEXT,
    step_days REAL, grid TEXT, realm TEXT, problem TEXT, product_version TEXT,
    repeated INTEGER NOT NULL DEFAULT 0, qc TEXT,
    PRIMARY KEY (root, relpath)
);
CREATE INDEX IF NOT EXISTS files_dataset ON files (dataset_id);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, base_id TEXT NOT NULL, project TEXT NOT NULL, version TEXT NOT NULL,
    variable TEXT, start_time TEXT, end_time TEXT, calendar TEXT, size INTEGER NOT NULL,
    facets TEXT NOT NULL, issues TEXT NOT NULL,
    qc_status TEXT NOT NULL DEFAULT 'pending', qc_findings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS datasets_base ON datasets (base_id);
CREATE TABLE IF NOT EXISTS facets (
    dataset_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (dataset_id, name)
);
CREATE INDEX IF NOT EXISTS facets_value ON facets (name, value);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, dataset_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO state VALUES ('generation', 0);
CREATE TABLE IF NOT EXISTS geometry (dataset_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS qc_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_TABLES = ("files", "datasets", "facets", "aliases", "geometry", "qc_state")


def prepare(conn: sqlite3.Connection) -> None:
    """Create the tables, or empty those of a database of another schema version.

    Parameters
    ----------
    conn
        A connection outside of a transaction.
    """
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    generation = 0
    if "state" in tables:
        found = dict(conn.execute("SELECT key, value FROM state").fetchall())
        generation = found.get("generation", 0)
        if found.get("schema") != VERSION:
            with conn:
                for table in _TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                generation += 1
    conn.executescript(SCHEMA)
    with conn:
        conn.execute("INSERT OR REPLACE INTO state VALUES ('schema', ?)", (VERSION,))
        conn.execute(
            "UPDATE state SET value = max(value, ?) WHERE key = 'generation'", (generation,)
        )
