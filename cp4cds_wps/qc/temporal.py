"""Quality control of a dataset as a whole: how its files fit together in time and grid.

From the issues the scan found between files (:class:`~cp4cds_wps.inventory.records.Issue`)
and, where files overlap or repeat steps, from the values at the repeated steps.
"""

from __future__ import annotations

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.inventory.records import INCOMPATIBLE, Dataset, Finding
from cp4cds_wps.ops.open import open_parts
from cp4cds_wps.ops.repeated import conflict_message, find_repeats, first_difference

#: Issues that fail a dataset: its files cannot be read or combined.
_FAILING = {"unreadable", *INCOMPATIBLE}


def dataset_findings(dataset: Dataset, *, time_chunk: int = 120) -> list[Finding]:
    """The dataset-level findings: files that cannot be read or combined (errors), gaps
    (warnings), repeated time steps (a warning when their values are equal, as they are
    then dropped when the dataset is opened; an error naming the files and the first
    differing time when not).

    Parameters
    ----------
    dataset
        The dataset as the inventory records it.
    time_chunk
        Time steps per dask chunk when comparing repeated steps.

    Returns
    -------
    list of Finding
    """
    found = []
    for issue in dataset.issues:
        if issue.kind in _FAILING:
            found.append(Finding("files", "error", issue.message, issue.files))
        elif issue.kind == "gap":
            message = f"{issue.message}; processed as it is"
            found.append(Finding("time", "warning", message, issue.files))
    kinds = {issue.kind for issue in dataset.issues}
    if kinds & {"overlap", "repeated"} and not kinds & _FAILING:
        found += _repeat_findings(dataset, time_chunk)
    return found


def _repeat_findings(dataset: Dataset, time_chunk: int) -> list[Finding]:
    names = [f.path.name for f in dataset.files]
    parts = open_parts([f.verified_path() for f in dataset.files], time_chunk=time_chunk)
    try:
        repeats = find_repeats(parts, names)
        found = []
        for repeat in repeats:
            files = tuple(dict.fromkeys(repeat.names))
            difference = first_difference(parts, repeat)
            if difference is None:
                message = f"{repeat.describe()} repeated with equal values; dropped when opened"
                found.append(Finding("time", "warning", message, files))
            else:
                found.append(Finding("time", "error", conflict_message(repeat, *difference), files))
        return found
    except DatasetInconsistent as err:
        return [Finding("time", "error", err.reason, tuple(names))]
    finally:
        for part in parts:
            part.close()
