"""What a request of the main WPS would read and write, and whether the limits allow it.

The request is parsed and planned by its operation (:mod:`cp4cds_wps.operations`), as the
main WPS does (same parser, same planning from the inventory, so the same errors), then
sized by the operation's ``estimate`` without reading data beyond coordinates and a small
sample (see :mod:`cp4cds_wps.operations.sizing`).

:func:`check_limits` raises the error the main processes answer over-limit requests with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cp4cds_wps.config import LimitSettings, Settings
from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.base import Operation
from cp4cds_wps.operations.registry import operation
from cp4cds_wps.operations.sizing import DatasetEstimate

__all__ = ["DatasetEstimate", "Estimate", "check_limits", "estimate", "over_limit", "wps_inputs"]

_MB = 2**20


@dataclass(frozen=True)
class Estimate:
    """What a whole request reads and writes."""

    process: str
    datasets: tuple[DatasetEstimate, ...]

    @property
    def files(self) -> int:
        """Archive files opened."""
        return sum(d.files for d in self.datasets)

    @property
    def read_bytes(self) -> int:
        """Bytes read from the archive."""
        return sum(d.read_bytes for d in self.datasets)

    @property
    def write_bytes(self) -> int | None:
        """Bytes of netCDF written, None when not estimated for the process."""
        sizes = [d.write_bytes for d in self.datasets]
        return None if None in sizes else sum(sizes)

    def to_dict(self, limits: LimitSettings) -> dict:
        """The estimate with the limits and whether it is within them, as JSON-ready data."""
        problem = over_limit(self, limits)
        return {
            "process": self.process,
            "read_bytes": self.read_bytes,
            "write_bytes": self.write_bytes,
            "files": self.files,
            "outputs": sum(d.outputs for d in self.datasets),
            "linked_files": sum(d.linked for d in self.datasets),
            "datasets": [asdict(d) for d in self.datasets],
            "limits": asdict(limits),
            "within_limits": problem is None,
            "reason": None if problem is None else problem.reason,
        }


def over_limit(estimate: Estimate, limits: LimitSettings) -> InvalidParameter | None:
    """The error of a request beyond the limits, or None when it is within them.

    The error names the input ``collection``, which brings the data; its reason gives the
    figures and the limit.
    """
    checks = (
        ("read", estimate.read_bytes, limits.max_read_mb, "max_read_mb"),
        ("write", estimate.write_bytes, limits.max_write_mb, "max_write_mb"),
    )
    for verb, size, limit, key in checks:
        if size is not None and size > limit * _MB:
            return InvalidParameter(
                "collection",
                f"the request would {verb} about {size / _MB:,.0f} MiB, more than this "
                f"service's limit of {limit:,} MiB ({key}); select a shorter time range, a "
                f"smaller area or fewer datasets, or split the request",
            )
    if estimate.files > limits.max_files:
        return InvalidParameter(
            "collection",
            f"the request would open {estimate.files:,} files, more than this service's limit "
            f"of {limits.max_files:,} (max_files); select a shorter time range or fewer "
            f"datasets, or split the request",
        )
    return None


def check_limits(
    process: str, inputs: Mapping[str, Any], inventory: Inventory, settings: Settings
) -> Estimate:
    """Estimate a request and refuse it when it exceeds the configured limits.

    Parameters
    ----------
    process
        The main WPS process, e.g. ``subset``.
    inputs
        Its inputs as text (see :func:`wps_inputs`).
    inventory
        Where dataset ids are resolved.
    settings
        The service settings (``limits``, ``max_file_mb``).

    Returns
    -------
    Estimate

    Raises
    ------
    InvalidParameter
        When the request exceeds a limit (or its inputs are invalid, as the process says).
    """
    found = estimate(process, inputs, inventory, max_file_mb=settings.max_file_mb)
    return within_limits(found, settings.limits)


def within_limits(found: Estimate, limits: LimitSettings) -> Estimate:
    """``found``, unless it exceeds ``limits``.

    Raises
    ------
    InvalidParameter
        The error of :func:`over_limit`.
    """
    problem = over_limit(found, limits)
    if problem is not None:
        raise problem
    return found


def wps_inputs(request) -> dict[str, str]:
    """The inputs of a PyWPS request as text (several values of an input joined by commas)."""
    return {
        name: ",".join(str(item.data) for item in items)
        for name, items in request.inputs.items()
        if items
    }


def estimate(
    process: str,
    inputs: Mapping[str, Any],
    inventory: Inventory,
    *,
    max_file_mb: int,
) -> Estimate:
    """Estimate the bytes read and written and the files opened by a main-WPS request.

    Parameters
    ----------
    process
        The main WPS process (those whose operation is ``sized`` are sized fully; the
        others by the files they read).
    inputs
        The process inputs as text.
    inventory
        Where dataset ids are resolved.
    max_file_mb
        Largest output file (MiB of uncompressed data); larger results are split.

    Returns
    -------
    Estimate

    Raises
    ------
    InvalidParameter, MissingParameter
        As the main process raises them for these inputs (``process`` when there is no
        such process).
    """
    op = operation(process)
    request = op.parse({k: (v if v is None else str(v)) for k, v in inputs.items()})
    plan = op.plan(request, inventory)
    return estimate_plan(op, request, plan, inventory, max_file_mb=max_file_mb)


def estimate_plan(
    op: Operation, request: Any, plan: Any, inventory: Inventory, *, max_file_mb: int
) -> Estimate:
    """The estimate of a request already parsed and planned by ``op``."""
    return Estimate(op.name, op.estimate(request, plan, inventory, max_file_mb * _MB))
