"""The operation ``concat``: ensemble members concatenated along ``realization`` into one file.

Free of WPS code, like :mod:`cp4cds_wps.operations.subset`. :func:`plan_concat` refuses, from the
inventory alone, members that cannot fit together (another variable, frequency or calendar,
or another period); :func:`run_concat` reads them, checks their grids and time steps (see
:func:`cp4cds_wps.ops.concat.concat_realizations`) and writes one file, optionally the
ensemble mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.operations.base import COLLECTION, TIME, Input, Operation, Values, parse_flag
from cp4cds_wps.operations.sizing import DatasetEstimate, read_only
from cp4cds_wps.ops.average import average_over_dims
from cp4cds_wps.ops.concat import REALIZATION, calendar_name, concat_realizations
from cp4cds_wps.ops.params import TimeRange, parse_time
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.files import check_consistent, select_files
from cp4cds_wps.tasks.runner import CombinedStep, RunContext, TaskResult, run_steps

APPLY_AVERAGE = Input(
    "apply_average",
    "Apply Average",
    "If True, returns the mean over the members (the realization dimension) "
    "instead of the members themselves.",
    kind="flag",
    default=False,
    linked=False,
)


@dataclass(frozen=True)
class ConcatRequest:
    """Members to concatenate, an optional time range, and whether to average them."""

    collection: tuple[str, ...]
    time: TimeRange | None = None
    apply_average: bool = False

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history."""
        params = {"collection": ",".join(self.collection)}
        if self.time is not None:
            params["time"] = str(self.time)
        params["apply_average"] = str(self.apply_average).lower()
        return params


def parse_concat(values: Values) -> ConcatRequest:
    """The request the input values make."""
    return ConcatRequest(
        collection=parse_collection(values.get("collection")),
        time=parse_time(values.get("time")),
        apply_average=parse_flag(values.get("apply_average"), "apply_average"),
    )


def combine_members(
    members: Sequence[tuple[str, xr.Dataset]], request: ConcatRequest
) -> xr.Dataset:
    """Labelled members (their time range) along ``realization``, or their mean."""
    if request.time is not None:
        members = [(label, subset(ds, time=request.time)) for label, ds in members]
    combined = concat_realizations(list(members))
    return average_over_dims(combined, [REALIZATION]) if request.apply_average else combined


@dataclass(frozen=True)
class ConcatPlan:
    """The members in request order, their files, and the label of each in the output."""

    members: tuple[tuple[Dataset, tuple[FileRecord, ...]], ...]
    labels: tuple[str, ...]


def plan_concat(request: ConcatRequest, inventory: Inventory) -> ConcatPlan:
    """Resolve the members of a request and choose their files, without reading data.

    Members are labelled by their member facet (e.g. ``r1i1p1f1``, ``s1980-r1i1p1f1``), or
    by their dataset id when members share a member facet.

    Raises
    ------
    InvalidParameter
        When fewer than two dataset ids are given.
    UnknownDataset, NoDataSelected, DatasetInconsistent
        When an id is unknown, the time range misses a member, a member's files disagree,
        or the members differ in variable, frequency, calendar or period.
    """
    if len(request.collection) < 2:
        raise InvalidParameter(
            "collection",
            "concat needs two or more dataset ids, the ensemble members to concatenate; "
            f"{len(request.collection)} given",
        )
    members = []
    for dataset_id in request.collection:
        dataset = inventory.get(dataset_id)
        files, _ = select_files(dataset, request.time)
        check_consistent(dataset, files)
        members.append((dataset, files))
    datasets = [dataset for dataset, _ in members]
    _check_alike(datasets, request.time)
    labels = [d.facets.get("member") or d.id for d in datasets]
    if len(set(labels)) < len(labels):
        labels = [d.id for d in datasets]
    return ConcatPlan(members=tuple(members), labels=tuple(labels))


def _check_alike(datasets: list[Dataset], time: TimeRange | None) -> None:
    """Refuse members that differ, by the inventory, in what concatenation needs the same."""
    first = datasets[0]
    for dataset in datasets[1:]:
        for what, value, wanted in (
            ("variable", dataset.variable, first.variable),
            ("frequency", dataset.facets.get("frequency"), first.facets.get("frequency")),
            ("calendar", calendar_name(dataset.calendar), calendar_name(first.calendar)),
        ):
            if value != wanted:
                raise DatasetInconsistent(
                    "collection",
                    f"member {dataset.id} has the {what} {value}, {first.id} {wanted}; "
                    "concatenate members of one variable, frequency and calendar",
                )
    _check_same_period(datasets, time)


def _check_same_period(datasets: list[Dataset], time: TimeRange | None) -> None:
    """Refuse members whose selected periods surely begin or end at different steps.

    A member's selection begins at its first step when that lies in the requested period
    (and ends at its last step likewise); other ends are only known after reading.
    """
    timed = [d for d in datasets if d.start is not None and d.end is not None]
    starts = {d.start for d in timed if time is None or time.start is None or d.start >= time.start}
    ends = {d.end for d in timed if time is None or time.end is None or d.end <= time.end}
    if len(starts) < 2 and len(ends) < 2:
        return
    spans = "; ".join(f"{d.id} {d.start} to {d.end}" for d in timed)
    low, high = max(d.start for d in timed), min(d.end for d in timed)
    hint = (
        f"select the dates all cover with the time input, e.g. {low[:10]}/{high[:10]}"
        if low <= high
        else "they share no date"
    )
    initialised = sorted({d.facets.get("sub_experiment", "none") for d in timed} - {"none"})
    if len(initialised) > 1:
        hint = (
            f"hindcasts of different start dates ({', '.join(initialised)}) are not aligned "
            f"by lead time; {hint}"
        )
    raise DatasetInconsistent("collection", f"the members cover different periods: {spans}; {hint}")


def estimate_concat(
    request: ConcatRequest, plan: ConcatPlan, inventory: Inventory, _: int
) -> tuple[DatasetEstimate, ...]:
    """What each member reads (the output is not estimated)."""
    return read_only(plan.members)


def run_concat(request: ConcatRequest, plan: ConcatPlan, context: RunContext) -> TaskResult:
    """Concatenate the planned members (their mean if asked); write one CF netCDF file.

    The file is named like the first member's first file, with the member replaced by the
    number of members (``s1980-5members``; ``...-mean`` for the ensemble mean) and the time
    range of the result. See :func:`cp4cds_wps.tasks.runner.run_steps`.
    """

    def compute(opened: list[xr.Dataset]) -> xr.Dataset:
        return combine_members(list(zip(plan.labels, opened, strict=True)), request)

    step = CombinedStep(plan.members, compute, ensemble_file_name(plan, request.apply_average))
    return run_steps("concat", request.parameters(), [step], context)


def ensemble_file_name(plan: ConcatPlan, mean: bool) -> str:
    """The first member's first file name with the member replaced by the member count."""
    first, files = plan.members[0]
    name = files[0].path.name
    member = first.facets.get("member")
    starts = {d.facets.get("sub_experiment", "none") for d, _ in plan.members}
    prefix = f"{starts.pop()}-" if len(starts) == 1 and "none" not in starts else ""
    tag = f"{prefix}{len(plan.members)}members{'-mean' if mean else ''}"
    return name.replace(f"_{member}_", f"_{tag}_", 1) if member else name


CONCAT = Operation(
    name="concat",
    title="Concat",
    abstract="Concatenate two or more ensemble members (e.g. decadal hindcast members "
    "of one start date), given by ESGF dataset ids, along a new realization "
    "dimension into one netCDF file, optionally averaged over the members. Members "
    "must share variable, grid, calendar and time steps: members of different start "
    "dates are concatenated over the dates they share, chosen with the time input. "
    "Returns a Metalink document listing the resulting netCDF file, and the "
    "provenance of the result.",
    inputs=(COLLECTION, TIME, APPLY_AVERAGE),
    parse=parse_concat,
    plan=plan_concat,
    estimate=estimate_concat,
    run=run_concat,
    combine=combine_members,
    sized=False,
)
