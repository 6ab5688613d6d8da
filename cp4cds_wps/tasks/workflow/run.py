"""Running a planned workflow as one job (see :mod:`cp4cds_wps.tasks.workflow`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.inventory import Dataset
from cp4cds_wps.operations.concat import ConcatPlan, ensemble_file_name
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.weights import cell_areas
from cp4cds_wps.output.metalink import LinkedFile
from cp4cds_wps.output.provenance import Provenance
from cp4cds_wps.tasks.files import open_files, record_input
from cp4cds_wps.tasks.runner import (
    RunContext,
    TaskResult,
    finished,
    job_folder,
    one_thread,
    with_notes,
    write_outputs,
)
from cp4cds_wps.tasks.software import software_versions
from cp4cds_wps.tasks.workflow.parse import Workflow, WorkflowStep, in_step, source_step
from cp4cds_wps.tasks.workflow.plan import WorkflowPlan, ensemble_name


@dataclass(frozen=True)
class _Result:
    """One dataset of a step's result: lazy data and what it comes from.

    ``name`` is the dataset id it derives from (see :func:`ensemble_name` for an
    ensemble), ``source_name`` the file name outputs are named after, ``areas`` the
    dataset's cell areas in the archive (valid while ``archive_grid``), ``history`` the
    steps applied.
    """

    name: str
    data: xr.Dataset
    entity: str
    source_name: str
    areas: Dataset | None
    archive_grid: bool = True
    history: tuple[str, ...] = ()


def run_workflow(workflow: Workflow, plan: WorkflowPlan, context: RunContext) -> TaskResult:
    """Run a planned workflow as one job and write its outputs as CF-compliant netCDF files.

    Every step works on lazy datasets, one per source dataset (one for all members after a
    ``concat``); only the results of the steps named in ``outputs`` are computed and
    written, one file each, named like their first source file. The provenance records the
    input datasets, every step (its parameters, the entities it used and the results it
    generated) and the files, each derived from the result it holds.

    Parameters
    ----------
    workflow
        From :func:`~cp4cds_wps.tasks.workflow.parse_workflow`.
    plan
        From :func:`~cp4cds_wps.tasks.workflow.plan_workflow`.
    context
        Where the outputs go and how they are written (``out_dir`` is removed again if the
        run fails).

    Returns
    -------
    TaskResult

    Raises
    ------
    InvalidParameter
        Named ``workflow``, naming the step, when an operation refuses its data (e.g. an
        area holding no grid cell, an axis the data lack, members on different grids).
    """
    report = context.report
    prov = Provenance("orchestrate", workflow.parameters(), software=software_versions())
    linked: list[LinkedFile] = []
    with job_folder(context) as out_dir:
        with one_thread(), recorded_notes() as notes:
            results: dict[str, list[_Result]] = {}
            for step in workflow.steps:
                report(0, f"orchestrate: step {step.name} ({step.operation})")
                try:
                    members = _step_inputs(step, plan, results, prov, context.time_chunk)
                    # regridding writes (and removes) its temporary files in the job's folder
                    results[step.name] = _run_step(step, members, plan, prov, work_dir=out_dir)
                except (InvalidParameter, MissingParameter) as exc:
                    raise in_step(step.name, step.operation, exc) from exc
            written = [(n, r) for n, s in workflow.outputs.items() for r in results[s]]
            for i, (name, result) in enumerate(written):
                report(int(100 * i / len(written)), f"orchestrate: writing {name} of {result.name}")
                history = f"cp4cds-wps orchestrate of {result.name}: " + " -> ".join(result.history)
                history = with_notes(history, notes)
                for output in write_outputs(
                    result.data, result.source_name, context, history=history
                ):
                    linked.append(output)
                    prov.add_output(output.name, output.url, derived_from=[result.entity])
        for text in notes:
            prov.add_note(text)
    return finished("orchestrate", linked, prov, context)


def _step_inputs(
    step: WorkflowStep,
    plan: WorkflowPlan,
    results: Mapping[str, list[_Result]],
    prov: Provenance,
    time_chunk: int,
) -> list[_Result]:
    """The datasets a step works on: earlier results and archive datasets, opened lazily."""
    members: list[_Result] = []
    for reference in step.collection:
        earlier = source_step(reference)
        if earlier is not None:
            members += results[earlier]
            continue
        for source in plan.sources[step.name, reference]:
            dataset, files = source.dataset, source.files
            entity = record_input(prov, dataset, files)
            data = open_files(dataset, files, time_chunk=time_chunk)
            members.append(_Result(dataset.id, data, entity, files[0].path.name, source.areas))
    return members


def _run_step(
    step: WorkflowStep,
    members: list[_Result],
    plan: WorkflowPlan,
    prov: Provenance,
    *,
    work_dir: Path,
) -> list[_Result]:
    """Apply the step's operation (lazily) and record the step."""
    if step.spec.combine is not None:
        done, used = _combined(step, members, plan.members[step.name])
    else:
        done, used = _each(step, members, prov, work_dir)
    entities = prov.add_step(step.name, step.operation, step.given, used)
    return [replace(r, entity=entities[r.name]) for r in done]


def _each(
    step: WorkflowStep, members: list[_Result], prov: Provenance, work_dir: Path
) -> tuple[list[_Result], dict[str, list[str]]]:
    """The operation applied to each dataset, and the entities each result derives from."""
    operation = step.spec
    weighted = operation.weighted(step.request)
    extra: dict[str, Any] = {"work_dir": work_dir} if operation.regrids else {}
    done, used = [], {}
    for member in members:
        used[member.name] = [member.entity]
        if weighted:
            extra["weights"], areas = _archive_areas(member, prov)
            used[member.name] += [areas] if areas else []
        data = operation.apply(member.data, step.request, **extra)
        done.append(
            replace(
                member,
                data=data,
                archive_grid=member.archive_grid and not operation.regrids,
                history=(*member.history, step.describe()),
            )
        )
    return done, used


def _combined(
    step: WorkflowStep, members: list[_Result], planned: ConcatPlan
) -> tuple[list[_Result], dict[str, list[str]]]:
    """The operation making one dataset of all members, and the entities it derives from."""
    pairs = list(zip(planned.labels, [m.data for m in members], strict=True))
    data = step.spec.combine(pairs, step.request)
    first = members[0]
    combined = _Result(
        name=ensemble_name([m.name for m in members], planned.labels),
        data=data,
        entity="",
        source_name=ensemble_file_name(planned, step.request.apply_average),
        areas=first.areas,
        archive_grid=all(m.archive_grid for m in members),
        history=(*first.history, step.describe()),
    )
    return [combined], {combined.name: [m.entity for m in members]}


def _archive_areas(member: _Result, prov: Provenance) -> tuple[xr.DataArray | None, str | None]:
    """Cell areas from the archive's ``areacella``/``areacello`` for ``member``'s grid, and
    the provenance entity of that dataset; (None, None) without them or on another grid."""
    areas = member.areas
    if areas is None or not member.archive_grid:
        return None, None
    fx = open_dataset([f.verified_path() for f in areas.files])
    entity = record_input(prov, areas, areas.files)
    return cell_areas(member.data, areacella=fx[areas.variable]), entity
