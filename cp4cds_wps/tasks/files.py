"""Choosing the files of a dataset that a request needs, from inventory records alone."""

from __future__ import annotations

from collections.abc import Iterable

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter, NoDataSelected
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.ops.params import TimeRange


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


def check_consistent(dataset: Dataset, files: tuple[FileRecord, ...]) -> None:
    """Refuse to combine files that the inventory found overlapping, gapped or mismatched.

    Raises
    ------
    DatasetInconsistent
        Naming the dataset's issues that concern the chosen files.
    """
    names = {f.path.name for f in files}
    concerned = [issue for issue in dataset.issues if len(names & set(issue.files)) > 1]
    if concerned:
        raise DatasetInconsistent(
            "collection",
            f"the files of {dataset.id} that this request needs are inconsistent: "
            + "; ".join(issue.message for issue in concerned),
        )


def whole_datasets(
    collection: Iterable[str], inventory: Inventory
) -> list[tuple[Dataset, tuple[FileRecord, ...]]]:
    """Each dataset of ``collection`` with all its files, checked to combine into one.

    Raises
    ------
    UnknownDataset, DatasetInconsistent
        When an id is unknown or the dataset's files disagree.
    """
    found = []
    for dataset_id in collection:
        dataset = inventory.get(dataset_id)
        files, _ = select_files(dataset, None)
        check_consistent(dataset, files)
        found.append((dataset, files))
    return found
