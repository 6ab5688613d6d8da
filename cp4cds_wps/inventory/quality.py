"""The quality control's records in the inventory, and what the ``[qc] serve`` policy makes
of them.

Quality control (:mod:`cp4cds_wps.qc`) keeps, in the ``files`` table, each file's result
(``qc``: its checksums and findings, NULL until checked) and, in the ``datasets`` table,
each dataset's status and findings. A scan that adds or changes a file resets both, so that
the dataset is ``pending`` until checked again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cp4cds_wps.inventory.records import Dataset, Finding


@dataclass(frozen=True)
class PendingFile:
    """A file whose quality control is pending, as the scan recorded it."""

    root: str
    relpath: str
    dataset_id: str
    path: Path
    size: int
    mtime: float
    md5: str | None


def reset_if_checks_changed(inventory, signature: str) -> bool:
    """Make every file and dataset pending when the checks run differ from those that
    gave the recorded results (``signature`` names the checks and their versions).

    Returns
    -------
    bool
        True when the results were reset.
    """
    with inventory.connection() as conn:
        row = conn.execute("SELECT value FROM qc_state WHERE key = 'checks'").fetchone()
        if row is not None and row[0] == signature:
            return False
        conn.execute("UPDATE files SET qc = NULL")
        conn.execute("UPDATE datasets SET qc_status = 'pending', qc_findings = '[]'")
        conn.execute("INSERT OR REPLACE INTO qc_state VALUES ('checks', ?)", (signature,))
    return row is not None


def pending_files(inventory) -> list[PendingFile]:
    """The files not checked yet, by dataset and path."""
    with inventory.connection() as conn:
        rows = conn.execute(
            "SELECT root, relpath, dataset_id, path, size, mtime, md5 FROM files "
            "WHERE qc IS NULL ORDER BY dataset_id, relpath"
        ).fetchall()
    return [PendingFile(*row[:3], Path(row[3]), *row[4:]) for row in rows]


def store_files(inventory, results: list[tuple[PendingFile, dict]]) -> None:
    """Record files' results (in one transaction), but not those of files that a scan has
    changed meanwhile."""
    with inventory.connection() as conn:
        conn.executemany(
            "UPDATE files SET qc = ? WHERE root = ? AND relpath = ? AND size = ? AND mtime = ?",
            ((json.dumps(result), f.root, f.relpath, f.size, f.mtime) for f, result in results),
        )


def pending_datasets(inventory) -> list[str]:
    """Datasets whose status is pending and whose files have all been checked."""
    with inventory.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM datasets WHERE qc_status = 'pending' AND NOT EXISTS "
            "(SELECT 1 FROM files WHERE files.dataset_id = datasets.id AND files.qc IS NULL) "
            "ORDER BY id"
        )
        return [row[0] for row in rows]


def file_results(inventory, dataset_id: str) -> dict[str, dict]:
    """The recorded results of a dataset's files, by file name."""
    with inventory.connection() as conn:
        rows = conn.execute(
            "SELECT relpath, qc FROM files WHERE dataset_id = ? AND qc IS NOT NULL", (dataset_id,)
        )
        return {Path(relpath).name: json.loads(qc) for relpath, qc in rows}


def store_datasets(inventory, judged: list[tuple[Dataset, list[Finding]]]) -> None:
    """Record datasets' findings and the status they give (in one transaction), but not for
    datasets that a scan has changed meanwhile (their size, or pending again)."""
    with inventory.connection() as conn:
        conn.executemany(
            "UPDATE datasets SET qc_status = ?, qc_findings = ? WHERE id = ? AND size = ? "
            "AND qc_status = 'pending'",
            (
                (status_of(found), json.dumps([f.to_dict() for f in found]), d.id, d.size)
                for d, found in judged
            ),
        )


def status_of(findings: list[Finding]) -> str:
    """``failed`` with an error, ``warnings`` with a warning, else ``passed``."""
    severities = {f.severity for f in findings}
    return "failed" if "error" in severities else "warnings" if severities else "passed"


def refusal(dataset: Dataset, serve: str) -> str | None:
    """Why a dataset is not served under the policy ``serve`` (None: it is served).

    Under ``"passed"``, a dataset whose quality control failed is refused with its errors
    (and critical errata), one whose quality control is pending with that.
    """
    if serve != "passed" or dataset.status in ("passed", "warnings"):
        return None
    if dataset.status == "pending":
        return (
            f"the quality control of {dataset.id} has not finished yet, and this service "
            "serves only datasets that passed it; try again later"
        )
    errors = [str(f) for f in dataset.findings if f.severity == "error"]
    errors += [str(e) for e in dataset.errata if e.severity == "critical"]
    return f"{dataset.id} failed quality control, and this service serves only datasets " + (
        f"that passed it: {'; '.join(errors)}"
    )
