"""Results of the file checks kept by the file's SHA-256 checksum, in SQLite.

A file checked once is not checked again, whatever its path or inventory: the cache can be
shared by several inventories (and test sessions) with ``[qc] cache``. Each result is kept
with the version of the check that gave it, so that a new check version checks again.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from cp4cds_wps.inventory.records import Finding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    sha256 TEXT NOT NULL, check_name TEXT NOT NULL, version TEXT NOT NULL,
    findings TEXT NOT NULL, PRIMARY KEY (sha256, check_name, version)
);
"""


class ResultCache:
    """Findings of file checks by checksum.

    Parameters
    ----------
    path
        The SQLite file (created with its folder on first use).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=60)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def get(self, sha256: str, check: str, version: str) -> list[Finding] | None:
        """The findings kept for a file's content, or None when it was not checked."""
        with closing(sqlite3.connect(self.path, timeout=60)) as conn:
            row = conn.execute(
                "SELECT findings FROM results WHERE sha256 = ? AND check_name = ? AND version = ?",
                (sha256, check, version),
            ).fetchone()
        return None if row is None else [Finding.from_dict(f) for f in json.loads(row[0])]

    def put(self, sha256: str, check: str, version: str, findings: list[Finding]) -> None:
        """Keep the findings of a check of a file's content."""
        with closing(sqlite3.connect(self.path, timeout=60)) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
                (sha256, check, version, json.dumps([f.to_dict() for f in findings])),
            )
