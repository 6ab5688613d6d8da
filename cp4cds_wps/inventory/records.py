"""What the inventory hands out: files, datasets and scan reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class Issue(str):
    """A human-readable issue of a dataset (a ``str``) that also names the files concerned.

    ``files`` holds file names (``FileRecord.path.name``); ``message`` is the text itself.
    """

    files: tuple[str, ...]

    def __new__(cls, message: str, files: tuple[str, ...] = ()) -> Issue:
        issue = super().__new__(cls, message)
        issue.files = tuple(files)
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
    calendar (None for files without time, e.g. fx).
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


@dataclass(frozen=True)
class Dataset:
    """A dataset: the files of one DRS leaf, in time order, and what was found about them."""

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
