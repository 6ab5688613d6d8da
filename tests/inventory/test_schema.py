"""A database of an older schema is emptied and scanned again."""

from __future__ import annotations

import sqlite3

from cp4cds_wps.inventory import schema


def test_an_older_database_is_emptied_and_its_generation_moves_on(tmp_path, make_inventory):
    db = tmp_path / "db" / "inventory.sqlite"
    db.parent.mkdir()
    with sqlite3.connect(db) as conn:  # the tables of schema 1, without a schema version
        conn.executescript(
            "CREATE TABLE datasets (id TEXT PRIMARY KEY, issues TEXT NOT NULL);"
            "INSERT INTO datasets VALUES ('old', '[]');"
            "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "INSERT INTO state VALUES ('generation', 7);"
        )
    inventory = make_inventory()
    assert inventory.count() == 0
    assert inventory.generation() == 8
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM state WHERE key = 'schema'").fetchone() == (
            schema.VERSION,
        )
        columns = {row[1] for row in conn.execute("PRAGMA table_info(datasets)")}
    assert {"qc_status", "qc_findings"} <= columns
    assert make_inventory().generation() == 8  # a current database is kept as it is
