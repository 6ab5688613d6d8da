"""What the inventory hands out: files, datasets and scan reports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cp4cds_wps.errors import ArchiveFileChanged
from cp4cds_wps.inventory.errata import Erratum, Fix


def inside(real: str, tops: Sequence[str]) -> bool:
    """Whether the real path ``real`` is one of the folders ``tops`` or lies below one."""
    return any(real == top or real.startswith(top + os.sep) for top in tops)


#: Issues that keep the files concerned from being combined into one dataset.
INCOMPATIBLE = ("calendar", "grid")


class Issue(str):
    """A human-readable issue of a dataset (a ``str``) that also names the files concerned.

    ``files`` holds file names (``FileRecord.path.name``); ``message`` is the text itself;
    ``kind`` says what it is: files that cannot be read (``unreadable``), use different
    calendars or grids (``calendar``, ``grid``), overlap in time (``overlap``), leave a gap
    (``gap``), or repeat time steps within themselves (``repeated``).
    """

    files: tuple[str, ...]
    kind: str

    def __new__(cls, message: str, files: tuple[str, ...], kind: str) -> Issue:
        issue = super().__new__(cls, message)
        issue.files = tuple(files)
        issue.kind = kind
        return issue

    @property
    def message(self) -> str:
        """The issue as text."""
        return str(self)


@dataclass(frozen=True)
class FileRecord:
    """One netCDF file of a dataset.

    ``path`` is the file's absolute path below its root as found: real symbolic links are
    kept in it, link-stub files (plain files holding a link's target) are replaced by the
    target they name, so that the path can be opened. ``relpath`` is the path below the
    root as the DRS tree shows it (served at ``/data/<root>/<relpath>``). ``start`` and
    ``end`` are the first and last time steps, ``YYYY-MM-DDTHH:MM:SS`` in the file's
    calendar (None for files without time, e.g. fx). ``within`` holds the real paths of the
    archive roots, which the file must resolve into (set by the inventory).
    """

    path: Path
    root: str
    relpath: str
    size: int
    mtime: float
    md5: str | None
    start: str | None
    end: str | None
    n_times: int
    within: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def verified_path(self) -> Path:
        """``path``, checked to be the file the scan recorded, for opening or serving it.

        Its real path (symbolic links resolved) must lie below one of the archive roots of
        ``within``, and its size and modification time must be those recorded: a file
        replaced after the scan, e.g. by a link to a file outside the archive, is refused.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        ArchiveFileChanged
            When the file is gone, resolves outside the roots, or differs from the record.
        """
        try:
            stat = self.path.stat()
        except OSError as err:
            raise ArchiveFileChanged(str(self.path), f"it cannot be read: {err.strerror}") from err
        if not inside(os.path.realpath(self.path), self.within):
            raise ArchiveFileChanged(str(self.path), "it now resolves outside the archive roots")
        if stat.st_size != self.size:
            raise ArchiveFileChanged(
                str(self.path), f"its size is {stat.st_size} bytes, {self.size} when scanned"
            )
        if stat.st_mtime != self.mtime:
            raise ArchiveFileChanged(str(self.path), "it was modified after the scan")
        return self.path


@dataclass(frozen=True)
class Finding:
    """One result of quality control: a check that found something about some files.

    ``check`` names the check (``checksum``, ``cf``, ``time``, ``coordinates``,
    ``cell_area``, ``files``, ``errata``); ``severity`` is ``error`` (the dataset fails) or
    ``warning``; ``files`` holds the file names concerned.
    """

    check: str
    severity: str
    message: str
    files: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The finding as JSON-ready data."""
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "files": list(self.files),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        """The finding of :meth:`to_dict`."""
        return cls(data["check"], data["severity"], data["message"], tuple(data["files"]))

    def __str__(self) -> str:
        return f"{self.severity} ({self.check}): {self.message}"


@dataclass(frozen=True)
class Dataset:
    """A dataset: the files of one DRS leaf, in time order, and what was found about them.

    ``qc_status`` and ``findings`` are those of the scan's quality control (see
    :mod:`cp4cds_wps.qc`); ``errata`` the entries of the known-issues register that name the
    dataset (:mod:`cp4cds_wps.inventory.errata`); ``refused`` why the service does not serve
    it under its ``[qc] serve`` policy (None: it does).
    """

    id: str
    project: str
    version: str
    facets: dict[str, str]
    variable: str | None
    files: tuple[FileRecord, ...]
    start: str | None
    end: str | None
    calendar: str | None
    size: int
    issues: tuple[Issue, ...]
    qc_status: str = "pending"
    findings: tuple[Finding, ...] = ()
    errata: tuple[Erratum, ...] = ()
    refused: str | None = None

    @property
    def status(self) -> str:
        """The dataset's quality: ``qc_status``, made ``failed`` by a critical erratum and
        ``warnings`` (from ``passed``) by any other."""
        if any(e.severity == "critical" for e in self.errata):
            return "failed"
        if self.errata and self.qc_status == "passed":
            return "warnings"
        return self.qc_status

    @property
    def fixes(self) -> tuple[Fix, ...]:
        """The fixes the known-issues register declares for the dataset, in register order."""
        return tuple(fix for erratum in self.errata for fix in erratum.fixes)


@dataclass(frozen=True)
class ScanReport:
    """Counts and warnings of one scan of the archive roots."""

    files_added: int = 0
    files_changed: int = 0
    files_removed: int = 0
    files_unchanged: int = 0
    datasets: int = 0
    datasets_updated: int = 0
    datasets_removed: int = 0
    duplicates_skipped: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def files(self) -> int:
        """Files recorded after the scan."""
        return self.files_added + self.files_changed + self.files_unchanged

    @property
    def changed(self) -> bool:
        """True when the scan added, changed or removed anything."""
        return bool(self.files_added or self.files_changed or self.files_removed)
