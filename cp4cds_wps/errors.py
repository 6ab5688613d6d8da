"""Typed errors raised by the inventory, the operations and the output writers.

They carry the name of the request input they concern, so that the WPS layer can turn
each into the right OGC exception in one place (``cp4cds_wps.processes.common``).
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of the errors a user's request can cause."""


class InvalidParameter(ServiceError):
    """An input has a value the service cannot use.

    Parameters
    ----------
    name
        The request input concerned (e.g. ``"time"``).
    reason
        What is wrong, in words a user understands.
    """

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


class MissingParameter(ServiceError):
    """A required input was not given."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"{name}: a value is required")


class UnknownDataset(InvalidParameter):
    """A dataset id is not in the inventory; ``suggestions`` holds the closest known ids."""

    def __init__(self, dataset_id: str, suggestions: list[str], name: str = "collection"):
        self.dataset_id = dataset_id
        self.suggestions = suggestions
        reason = f"unknown dataset id {dataset_id!r}"
        if suggestions:
            reason += "; did you mean: " + ", ".join(suggestions)
        super().__init__(name, reason)


class NoDataSelected(InvalidParameter):
    """The request selects no data of the dataset (e.g. a time range outside it)."""


class DatasetInconsistent(InvalidParameter):
    """The files of a dataset overlap, leave gaps or disagree in grid where a request needs them."""


class QualityRefused(InvalidParameter):
    """The service serves only datasets that passed quality control (``[qc] serve =
    "passed"``), and this one failed it or has not been checked yet; the reason names the
    finding."""


class ArchiveFileChanged(ServiceError):
    """An archive file is no longer the file the inventory recorded: it was removed,
    replaced or changed after the scan, or it now resolves to a place outside the archive
    roots. Nothing the user can fix; the operator must scan again.

    Parameters
    ----------
    path
        The file as recorded.
    reason
        What differs, e.g. ``"its size is 10 bytes, 4096 when scanned"``.
    """

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(
            f"archive file {path} changed since the inventory was made ({reason}); "
            "the service operator must scan the archive again"
        )


class ArchiveFileUnreadable(ServiceError):
    """An archive file cannot be read where a request needs it (corrupt data, e.g. a
    compressed chunk that does not decompress). Nothing the user can fix.

    Parameters
    ----------
    path
        The file.
    reason
        What the netCDF library said, e.g. ``"NetCDF: HDF error"``.
    """

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(
            f"archive file {path} cannot be read ({reason}); the service operator must check it"
        )


class NoSpaceLeft(ServiceError):
    """The output folder is full: the result cannot be written (``/health`` says so too)."""

    def __init__(self):
        super().__init__(
            "no space left on the device of the output folder: the result cannot "
            "be written; try again later"
        )
