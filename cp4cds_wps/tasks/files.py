"""The files of a dataset that a request needs: choosing them from inventory records, refusing
those that cannot be combined or served, and opening them with the known fixes applied."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter, NoDataSelected, QualityRefused
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.inventory.records import INCOMPATIBLE
from cp4cds_wps.ops.coordinates import repaired_coordinates
from cp4cds_wps.ops.fixes import apply_fixes
from cp4cds_wps.ops.notes import note
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import TimeRange
from cp4cds_wps.output.provenance import Provenance


def select_files(dataset: Dataset, time: TimeRange | None) -> tuple[tuple[FileRecord, ...], bool]:
    """Return the files of ``dataset`` that overlap ``time`` and whether they lie wholly in it.

    Raises
    ------
    InvalidParameter
        When a time range is asked of a dataset without time axis.
    DatasetInconsistent
        When a file's time range is unknown (the file could not be read when scanned).
    NoDataSelected
        When the time range misses the dataset.
    """
    if time is None or (time.start is None and time.end is None):
        return dataset.files, True
    if dataset.start is None:
        raise InvalidParameter("time", f"dataset {dataset.id} has no time axis")
    unknown = [f.path.name for f in dataset.files if f.start is None or f.end is None]
    if unknown:  # unreadable when scanned: whether the request needs them is unknown
        problems = [issue.message for issue in dataset.issues if set(issue.files) & set(unknown)]
        raise DatasetInconsistent(
            "collection",
            f"the time range of {', '.join(unknown)} of {dataset.id} is unknown: "
            + "; ".join(problems or ["the file could not be read when the archive was scanned"]),
        )
    start, end = time.start, time.end  # both in the inventory's YYYY-MM-DDThh:mm:ss form
    chosen = tuple(
        f
        for f in dataset.files
        if (start is None or f.end >= start) and (end is None or f.start <= end)
    )
    if not chosen:
        raise NoDataSelected(
            "time",
            f"{time} is outside the time range of {dataset.id}: {dataset.start} to {dataset.end}",
        )
    whole = all(
        (start is None or f.start >= start) and (end is None or f.end <= end) for f in chosen
    )
    return chosen, whole


def keep_repeated(dataset: Dataset) -> str | None:
    """Which file's repeated time steps to keep as the known-issues register declares
    (``"first"`` or ``"last"``), or None to keep them only when their values are equal."""
    declared = [
        f.params.get("keep", "first") for f in dataset.fixes if f.action == "drop_duplicate_steps"
    ]
    return declared[-1] if declared else None


def check_consistent(dataset: Dataset, files: tuple[FileRecord, ...]) -> None:
    """Refuse a dataset the service does not serve, and files that cannot be combined.

    Files that overlap in time are combined (their repeated steps dropped, see
    :func:`cp4cds_wps.ops.open.open_dataset`), and files leaving a gap are used as they are;
    refused are files of different grids or calendars, and repeated time steps whose values
    differ (found by quality control) unless the register declares which file to keep.

    Raises
    ------
    QualityRefused
        When the ``[qc] serve`` policy refuses the dataset (its QC failed or is pending).
    DatasetInconsistent
        Naming the dataset's issues that concern the chosen files.
    """
    if dataset.refused:
        raise QualityRefused("collection", dataset.refused)
    names = {f.path.name for f in files}
    concerned = [
        issue.message
        for issue in dataset.issues
        if issue.kind in INCOMPATIBLE and len(names & set(issue.files)) > 1
    ]
    if keep_repeated(dataset) is None:
        concerned += [
            finding.message
            for finding in dataset.findings
            if finding.check == "time"
            and finding.severity == "error"
            and set(finding.files) <= names
        ]
    if concerned:
        raise DatasetInconsistent(
            "collection",
            f"the files of {dataset.id} that this request needs are inconsistent: "
            + "; ".join(concerned),
        )


def whole_datasets(
    collection: Iterable[str], inventory: Inventory
) -> list[tuple[Dataset, tuple[FileRecord, ...]]]:
    """Each dataset of ``collection`` with all its files, checked to combine into one.

    Raises
    ------
    UnknownDataset, DatasetInconsistent, QualityRefused
        When an id is unknown, the dataset's files disagree or the dataset is not served.
    """
    found = []
    for dataset_id in collection:
        dataset = inventory.get(dataset_id)
        files, _ = select_files(dataset, None)
        check_consistent(dataset, files)
        found.append((dataset, files))
    return found


def open_files(
    dataset: Dataset, files: Sequence[FileRecord], *, time_chunk: int = 120
) -> xr.Dataset:
    """Open the chosen files of a dataset lazily, as the inventory knows them.

    The files are verified (:meth:`FileRecord.verified_path`), repeated time steps dropped
    (see :func:`cp4cds_wps.ops.open.open_dataset`), gaps between them noted, and the fixes
    the known-issues register declares for the dataset applied, and coordinate metadata
    that breaks CF repaired (:func:`cp4cds_wps.ops.coordinates.repaired_coordinates`); each
    is noted for the output's history and provenance (:mod:`cp4cds_wps.ops.notes`).

    Parameters
    ----------
    dataset
        The dataset.
    files
        Its files that the request needs, in time order.
    time_chunk
        Time steps per dask chunk.

    Returns
    -------
    xarray.Dataset
    """
    ds = open_dataset(
        [f.verified_path() for f in files],
        time_chunk=time_chunk,
        keep_repeated=keep_repeated(dataset),
    )
    names = {f.path.name for f in files}
    for issue in dataset.issues:
        if issue.kind == "gap" and set(issue.files) <= names:
            note(f"time: {issue.message}; processed as it is, without the missing steps")
    fixed = repaired_coordinates(apply_fixes(ds, dataset.fixes))
    if fixed is not ds:
        fixed.set_close(ds.close)  # closing the result closes the files
    return fixed


def record_input(prov: Provenance, dataset: Dataset, files: Sequence[FileRecord]) -> str:
    """Record a dataset read by a request in its provenance, with the files read, the
    dataset's quality control status and findings, its errata and the fixes declared.

    Returns
    -------
    str
        The identifier of the dataset's entity (see :meth:`Provenance.add_input`).
    """
    return prov.add_input(
        dataset.id,
        dataset.version,
        [(f.path.name, f.md5) for f in files],
        qc_status=dataset.status,
        findings=[str(f) for f in dataset.findings],
        errata=[str(e) for e in dataset.errata],
        fixes=[f.describe() for f in dataset.fixes],
    )
