"""Planning a parsed workflow against the inventory (see :mod:`cp4cds_wps.tasks.workflow`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.operations.average import AverageRequest, plan_average
from cp4cds_wps.operations.concat import ConcatPlan
from cp4cds_wps.tasks.files import check_consistent, select_files
from cp4cds_wps.tasks.workflow.parse import (
    INPUTS_PREFIX,
    Workflow,
    WorkflowStep,
    in_step,
    problem,
    source_step,
)

#: Joins the dataset ids of ensemble members into the name of their concatenation.
COMBINED = "+"


@dataclass(frozen=True)
class Source:
    """A dataset of the archive a step reads, the files it needs and its cell areas."""

    dataset: Dataset
    files: tuple[FileRecord, ...]
    areas: Dataset | None


@dataclass(frozen=True)
class WorkflowPlan:
    """What a workflow reads from the archive.

    ``sources`` holds the datasets of each (step, ``inputs/<name>`` reference), ``members``
    the ensemble members of each ``concat`` step (labels and files, as the concat task
    plans them).
    """

    sources: dict[tuple[str, str], tuple[Source, ...]]
    members: dict[str, ConcatPlan]


def plan_workflow(workflow: Workflow, inventory: Inventory) -> WorkflowPlan:
    """Resolve the dataset ids of a workflow and choose their files, without reading data.

    A step reading a workflow input with a time range (``subset``, ``concat``) gets only the
    files that hold it. When a step averages over the horizontal grid, the datasets'
    ``areacella`` or ``areacello`` is planned along (see
    :func:`cp4cds_wps.operations.average.plan_average`); ``concat`` steps are planned as the
    concat task plans them (:func:`cp4cds_wps.operations.concat.plan_concat`).

    Raises
    ------
    InvalidParameter
        Named ``workflow``, naming the input or step concerned: an unknown dataset id (with
        suggestions), a time range outside a dataset, files that disagree, a dataset
        reaching one step twice, or ensemble members that do not fit together.
    """
    weighted = any(s.spec.weighted(s.request) for s in workflow.steps)
    datasets: dict[str, tuple[Dataset, ...]] = {}
    areas: dict[str, Dataset | None] = {}
    for name, ids in workflow.inputs.items():
        try:
            datasets[name] = tuple(inventory.get(i) for i in ids)
            if weighted:
                request = AverageRequest(ids, ("latitude", "longitude"))
                areas.update((p.dataset.id, p.areas) for p in plan_average(request, inventory))
        except InvalidParameter as exc:
            raise problem(f"input {name!r}: {exc.reason}") from exc
    sources: dict[tuple[str, str], tuple[Source, ...]] = {}
    members: dict[str, ConcatPlan] = {}
    results: dict[str, list[str]] = {}
    for step in workflow.steps:
        time = getattr(step.request, "time", None)
        names = []
        for reference in step.collection:
            source = source_step(reference)
            if source is not None:
                names += results[source]
                continue
            chosen = []
            for dataset in datasets[reference.removeprefix(INPUTS_PREFIX)]:
                try:
                    files, _ = select_files(dataset, time)
                    check_consistent(dataset, files)
                except InvalidParameter as exc:
                    raise in_step(step.name, step.operation, exc) from exc
                chosen.append(Source(dataset, files, areas.get(dataset.id)))
                names.append(dataset.id)
            sources[step.name, reference] = tuple(chosen)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise problem(
                f"step {step.name!r} ({step.operation}) gets the dataset(s) "
                f"{', '.join(twice)} more than once"
            )
        if step.spec.combine is not None:
            members[step.name] = _plan_members(step, names, inventory)
            names = [ensemble_name(names, members[step.name].labels)]
        results[step.name] = names
    return WorkflowPlan(sources, members)


def _plan_members(step: WorkflowStep, names: list[str], inventory: Inventory) -> ConcatPlan:
    """The members of a combining step, planned by its operation."""
    if any(COMBINED in name for name in names):
        raise problem(
            f"step {step.name!r} ({step.operation}) gets an ensemble made by another "
            "concat step; concatenate the members in one step"
        )
    try:
        return step.spec.plan(replace(step.request, collection=tuple(names)), inventory)
    except InvalidParameter as exc:
        raise in_step(step.name, step.operation, exc) from exc


def ensemble_name(ids: Sequence[str], labels: Sequence[str]) -> str:
    """The name of an ensemble: the first member's dataset id with the member labels joined
    by ``+`` in place of its member (e.g. ``...dcppA-hindcast.s1980-r1i1p1f1+s1980-r2i1p1f1
    .day...``), else the dataset ids joined by ``+``."""
    first = f".{labels[0]}."
    if first in ids[0]:
        return ids[0].replace(first, f".{COMBINED.join(labels)}.", 1)
    return COMBINED.join(ids)
