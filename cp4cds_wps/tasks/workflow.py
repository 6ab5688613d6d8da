"""Workflows in rook's format: data operations chained into one job.

A workflow is a JSON document, as the Climate Data Store's client ``rooki`` writes it::

    {"doc": "subset then average",
     "inputs": {"tas": ["CMIP6.ScenarioMIP.INM.INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"]},
     "outputs": {"output": "average/output"},
     "steps": {"subset": {"run": "subset",
                          "in": {"collection": "inputs/tas", "time": "2016-01-01/2020-12-30"}},
               "average": {"run": "average",
                           "in": {"collection": "subset/output", "dims": "time"}}}}

``inputs`` name dataset ids (a list or comma-separated text); each step runs an operation of
:data:`OPERATIONS` (``run``) on the datasets its ``collection`` refers to (``inputs/<input>``,
``<step>/output``, or a list of such references), with its other inputs (``in``) as the
operation's parameters, written as in the operation's own process (lists of words or numbers
may be JSON lists, GeoJSON a JSON object); ``outputs`` name the steps whose results are
written.

Free of WPS code, like the other tasks: :func:`parse_workflow` checks a document without the
archive, :func:`plan_workflow` resolves its dataset ids, :func:`run_workflow` runs it as one
job. The results of steps stay lazy xarray Datasets in memory; only the outputs are written.
"""

from __future__ import annotations

import graphlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.ops.average import average_over_dims, average_time, parse_dims, parse_freq
from cp4cds_wps.ops.concat import REALIZATION, concat_realizations
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import (
    TimeRange,
    parse_area,
    parse_json,
    parse_level,
    parse_time,
    parse_time_components,
)
from cp4cds_wps.ops.regrid import parse_grid, parse_method, regrid
from cp4cds_wps.ops.shape import average_shape, parse_shape
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.ops.weights import cell_areas
from cp4cds_wps.output.metalink import LinkedFile
from cp4cds_wps.output.provenance import Provenance
from cp4cds_wps.tasks.average import AverageRequest, plan_average
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.concat import ConcatPlan, ConcatRequest, ensemble_file_name, plan_concat
from cp4cds_wps.tasks.files import check_consistent, open_files, record_input, select_files
from cp4cds_wps.tasks.runner import Progress, TaskResult, with_notes, write_outputs
from cp4cds_wps.tasks.software import software_versions

#: The WPS input holding the workflow, named in every error.
INPUT = "workflow"
#: Keys of a workflow document and of one step (``doc`` may be left out).
KEYS = ("doc", "inputs", "steps", "outputs")
STEP_KEYS = ("run", "in")
#: The reference to a workflow input is ``inputs/<name>``, to a step's result ``<step>/output``.
INPUTS_PREFIX, OUTPUT_SUFFIX = "inputs/", "/output"
#: Characters allowed in names of inputs and steps (besides letters and digits).
NAME_CHARS = "_-."
#: Joins the dataset ids of ensemble members into the name of their concatenation.
COMBINED = "+"


@dataclass(frozen=True)
class Operation:
    """How a workflow runs one operation.

    Attributes
    ----------
    function
        The operation on one dataset, ``function(ds, **parameters)``.
    inputs
        Names of the step inputs it takes besides ``collection``.
    parse
        Turns the step inputs given (text by name) into the keyword arguments of
        ``function``; raises the parsers' ``InvalidParameter``/``MissingParameter``.
    weighted
        Whether ``function`` is also given ``weights``: the cell areas of the archive's
        ``areacella``/``areacello`` when the dataset's grid is still the archive's (else
        None, and the operation computes them from the grid).
    combines
        Whether ``function`` makes one dataset of all, ``function(members, **parameters)``
        with ``(label, dataset)`` pairs (ensemble members).
    regrids
        Whether ``function`` puts the data on another grid; it is also given ``work_dir``,
        a folder for its temporary files.
    """

    function: Callable[..., xr.Dataset]
    inputs: tuple[str, ...]
    parse: Callable[[Mapping[str, str]], dict[str, Any]]
    weighted: Callable[[Mapping[str, Any]], bool] = lambda parameters: False
    combines: bool = False
    regrids: bool = False


def _subset_parameters(given: Mapping[str, str]) -> dict[str, Any]:
    return {
        "time": parse_time(given.get("time")),
        "time_components": parse_time_components(given.get("time_components")),
        "area": parse_area(given.get("area")),
        "level": parse_level(given.get("level")),
    }


def _horizontal(parameters: Mapping[str, Any]) -> bool:
    return bool({"latitude", "longitude"} & set(parameters["dims"]))


def _parse_flag(text: str | None, name: str) -> bool:
    """``true``/``false`` (or ``1``/``0``, any case; not given is false)."""
    value = (text or "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidParameter(name, f"{text!r} is not true or false")
    return value in ("true", "1")


def _concat(
    members: Sequence[tuple[str, xr.Dataset]], *, time: TimeRange | None, apply_average: bool
) -> xr.Dataset:
    """Ensemble members (their time range) along ``realization``, or their mean, as the
    ``concat`` process makes them (:func:`cp4cds_wps.tasks.concat.run_concat`)."""
    if time is not None:
        members = [(label, subset(ds, time=time)) for label, ds in members]
    combined = concat_realizations(members)
    return average_over_dims(combined, [REALIZATION]) if apply_average else combined


#: The operations a step may run, by the name given in ``run``.
OPERATIONS: dict[str, Operation] = {
    "subset": Operation(subset, ("time", "time_components", "area", "level"), _subset_parameters),
    "average": Operation(
        average_over_dims,
        ("dims",),
        lambda given: {"dims": parse_dims(given.get("dims"))},
        weighted=_horizontal,
    ),
    "average_time": Operation(
        average_time, ("freq",), lambda given: {"freq": parse_freq(given.get("freq"))}
    ),
    "average_shape": Operation(
        average_shape,
        ("shape",),
        lambda given: {"shapes": parse_shape(given.get("shape"))},
        weighted=lambda parameters: True,
    ),
    "regrid": Operation(
        regrid,
        ("method", "grid", "custom_grid"),
        lambda given: {
            "method": parse_method(given.get("method")),
            "grid": parse_grid(given.get("grid"), given.get("custom_grid")),
        },
        regrids=True,
    ),
    "concat": Operation(
        _concat,
        ("time", "apply_average"),
        lambda given: {
            "time": parse_time(given.get("time")),
            "apply_average": _parse_flag(given.get("apply_average"), "apply_average"),
        },
        combines=True,
    ),
}


@dataclass(frozen=True)
class WorkflowStep:
    """One step: an operation, the references its collection is made of, its parameters."""

    name: str
    operation: str
    collection: tuple[str, ...]
    parameters: dict[str, Any]
    given: dict[str, str]

    def describe(self) -> str:
        """The step as text, e.g. ``"average (dims=time)"``, for history attributes."""
        return f"{self.name} ({', '.join(f'{k}={v}' for k, v in self.given.items())})"


@dataclass(frozen=True)
class Workflow:
    """A parsed, checked workflow; ``steps`` in an order that runs each after its sources."""

    doc: str
    inputs: dict[str, tuple[str, ...]]
    steps: tuple[WorkflowStep, ...]
    outputs: dict[str, str]
    text: str = field(repr=False)

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance."""
        return {"doc": self.doc, "workflow": self.text}


def _problem(reason: str) -> InvalidParameter:
    return InvalidParameter(INPUT, reason)


def _in_step(
    step: str, operation: str, err: InvalidParameter | MissingParameter
) -> InvalidParameter:
    """An error of a step's input or data, reported against the workflow input."""
    if isinstance(err, MissingParameter):
        return _problem(f"step {step!r} ({operation}): input {err.name!r} is required")
    return _problem(f"step {step!r} ({operation}): {err}")


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict) or not value:
        raise _problem(f"{what} must be a non-empty JSON object")
    return value


def _check_name(name: str, what: str) -> None:
    if not name or not all(c.isalnum() or c in NAME_CHARS for c in name):
        raise _problem(
            f"{what} name {name!r} may hold only letters, digits and the characters "
            f"{' '.join(NAME_CHARS)}"
        )


def _unknown_keys(given: Mapping, known: Sequence[str], what: str) -> None:
    unknown = [k for k in given if k not in known]
    if unknown:
        raise _problem(
            f"{what} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys are {', '.join(known)}"
        )


def _as_text(value: Any) -> str | None:
    """A step input as the text its parser reads: lists of words or numbers comma-separated,
    booleans ``true``/``false``, JSON objects (e.g. GeoJSON) as JSON text, null as not given."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return ",".join(str(v) for v in value)
    return json.dumps(value)


def parse_workflow(text: str | None) -> Workflow:
    """Parse and check a workflow document, without looking at the archive.

    Parameters
    ----------
    text
        The JSON document (see the module documentation).

    Returns
    -------
    Workflow
        With its steps in topological order (each step after the steps it reads).

    Raises
    ------
    MissingParameter
        When no document is given.
    InvalidParameter
        Named ``workflow``, saying what is wrong and where: malformed JSON, missing or unknown
        keys, an unknown operation or input of an operation, a reference to an unknown input
        or step, steps forming a cycle (named in order), a step no output needs, or a
        parameter value its operation's parser refuses.
    """
    if text is None or not text.strip():
        raise MissingParameter(INPUT)
    doc = parse_json(text, INPUT)
    if not isinstance(doc, dict):
        raise _problem("must be a JSON object with the keys inputs, steps and outputs")
    _unknown_keys(doc, KEYS, "the workflow")
    for key in KEYS[1:]:
        if key not in doc:
            raise _problem(f"the key {key!r} is missing; a workflow has {', '.join(KEYS[1:])}")
    inputs = _parse_inputs(_object(doc["inputs"], "'inputs'"))
    steps = {
        name: _parse_step(name, step, inputs)
        for name, step in _object(doc["steps"], "'steps'").items()
    }
    outputs = _parse_outputs(_object(doc["outputs"], "'outputs'"), steps)
    return Workflow(
        doc=str(doc.get("doc") or ""),
        inputs=inputs,
        steps=_ordered(steps, outputs),
        outputs=outputs,
        text=json.dumps(doc, separators=(",", ":")),
    )


def _parse_inputs(given: dict) -> dict[str, tuple[str, ...]]:
    inputs = {}
    for name, ids in given.items():
        _check_name(name, "input")
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            ids = ",".join(ids)
        if not isinstance(ids, str):
            raise _problem(f"input {name!r} must be a dataset id or a list of dataset ids")
        try:
            inputs[name] = parse_collection(ids, name)
        except MissingParameter as exc:
            raise _problem(f"input {name!r} names no dataset id") from exc
        except InvalidParameter as exc:
            raise _problem(f"input {name!r}: {exc.reason}") from exc
    return inputs


def _parse_step(name: str, step: Any, inputs: Mapping[str, tuple[str, ...]]) -> WorkflowStep:
    _check_name(name, "step")
    if f"{name}/" == INPUTS_PREFIX:
        raise _problem(f"the step name {name!r} is kept for references to workflow inputs")
    if not isinstance(step, dict):
        raise _problem(f"step {name!r} must be a JSON object with the keys run and in")
    _unknown_keys(step, STEP_KEYS, f"step {name!r}")
    for key in STEP_KEYS:
        if key not in step:
            raise _problem(f"step {name!r} has no {key!r}")
    operation = step["run"]
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise _problem(
            f"step {name!r} runs the unknown operation {operation!r}; "
            f"known operations are {', '.join(OPERATIONS)}"
        )
    spec = OPERATIONS[operation]
    given = step["in"]
    if not isinstance(given, dict):
        raise _problem(f"step {name!r}: 'in' must be a JSON object of the operation's inputs")
    unknown = [k for k in given if k != "collection" and k not in spec.inputs]
    if unknown:
        raise _problem(
            f"step {name!r}: {operation} has no input {', '.join(map(repr, unknown))}; "
            f"its inputs are {', '.join(('collection', *spec.inputs))}"
        )
    if given.get("collection") is None:
        raise _problem(f"step {name!r} ({operation}): input 'collection' is required")
    collection = _parse_references(name, given["collection"], inputs)
    texts = {k: t for k, v in given.items() if k != "collection" and (t := _as_text(v)) is not None}
    try:
        parameters = spec.parse(texts)
    except (InvalidParameter, MissingParameter) as exc:
        raise _in_step(name, operation, exc) from exc
    return WorkflowStep(name, operation, collection, parameters, texts)


def _parse_references(step: str, value: Any, inputs: Mapping) -> tuple[str, ...]:
    references = value if isinstance(value, list) else [value]
    if not references or not all(isinstance(r, str) for r in references):
        raise _problem(f"step {step!r}: the collection must be a reference or a list of references")
    for reference in references:
        if reference.startswith(INPUTS_PREFIX):
            name = reference.removeprefix(INPUTS_PREFIX)
            if name not in inputs:
                raise _problem(
                    f"step {step!r} refers to the unknown input {name!r}; "
                    f"the inputs are {', '.join(inputs)}"
                )
        elif not reference.endswith(OUTPUT_SUFFIX) or reference.count("/") != 1:
            raise _problem(
                f"step {step!r}: the collection {reference!r} is not a reference; "
                "write 'inputs/<input name>' or '<step name>/output'"
            )
    if len(set(references)) < len(references):
        raise _problem(f"step {step!r}: the collection names a reference more than once")
    return tuple(references)


def _source_step(reference: str) -> str | None:
    """The step a reference names, or None for a workflow input."""
    if reference.startswith(INPUTS_PREFIX):
        return None
    return reference.removesuffix(OUTPUT_SUFFIX)


def _parse_outputs(given: dict, steps: Mapping[str, WorkflowStep]) -> dict[str, str]:
    outputs = {}
    for name, reference in given.items():
        source = _source_step(reference) if isinstance(reference, str) else None
        if source is None or not reference.endswith(OUTPUT_SUFFIX) or "/" in source:
            raise _problem(f"output {name!r} must be a step's result, '<step name>/output'")
        if source not in steps:
            raise _problem(
                f"output {name!r} refers to the unknown step {source!r}; "
                f"the steps are {', '.join(steps)}"
            )
        outputs[name] = source
    return outputs


def _ordered(
    steps: Mapping[str, WorkflowStep], outputs: Mapping[str, str]
) -> tuple[WorkflowStep, ...]:
    """The steps in topological order; refuses unknown sources, cycles and unused steps."""
    graph = {}
    for name, step in steps.items():
        sources = [s for r in step.collection if (s := _source_step(r)) is not None]
        for source in sources:
            if source not in steps:
                raise _problem(
                    f"step {name!r} refers to the unknown step {source!r}; "
                    f"the steps are {', '.join(steps)}"
                )
        graph[name] = sources
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise _problem(
            f"the steps {' -> '.join(map(repr, exc.args[1]))} form a cycle: each reads the "
            "output of the one before"
        ) from exc
    needed = set(outputs.values())
    for name in reversed(order):
        if name in needed:
            needed.update(graph[name])
    unused = [name for name in order if name not in needed]
    if unused:
        raise _problem(
            f"no output needs the step(s) {', '.join(map(repr, unused))}; "
            "name their result in 'outputs' or leave them out"
        )
    return tuple(steps[name] for name in order)


# -- planning --------------------------------------------------------------------------------


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
    :func:`cp4cds_wps.tasks.average.plan_average`); ``concat`` steps are planned as the
    concat task plans them (:func:`cp4cds_wps.tasks.concat.plan_concat`).

    Raises
    ------
    InvalidParameter
        Named ``workflow``, naming the input or step concerned: an unknown dataset id (with
        suggestions), a time range outside a dataset, files that disagree, a dataset
        reaching one step twice, or ensemble members that do not fit together.
    """
    weighted = any(OPERATIONS[s.operation].weighted(s.parameters) for s in workflow.steps)
    datasets: dict[str, tuple[Dataset, ...]] = {}
    areas: dict[str, Dataset | None] = {}
    for name, ids in workflow.inputs.items():
        try:
            datasets[name] = tuple(inventory.get(i) for i in ids)
            if weighted:
                request = AverageRequest(ids, ("latitude", "longitude"))
                areas.update((p.dataset.id, p.areas) for p in plan_average(request, inventory))
        except InvalidParameter as exc:
            raise _problem(f"input {name!r}: {exc.reason}") from exc
    sources: dict[tuple[str, str], tuple[Source, ...]] = {}
    members: dict[str, ConcatPlan] = {}
    results: dict[str, list[str]] = {}
    for step in workflow.steps:
        time = step.parameters.get("time")
        time = time if isinstance(time, TimeRange) else None
        names = []
        for reference in step.collection:
            source = _source_step(reference)
            if source is not None:
                names += results[source]
                continue
            chosen = []
            for dataset in datasets[reference.removeprefix(INPUTS_PREFIX)]:
                try:
                    files, _ = select_files(dataset, time)
                    check_consistent(dataset, files)
                except InvalidParameter as exc:
                    raise _in_step(step.name, step.operation, exc) from exc
                chosen.append(Source(dataset, files, areas.get(dataset.id)))
                names.append(dataset.id)
            sources[step.name, reference] = tuple(chosen)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise _problem(
                f"step {step.name!r} ({step.operation}) gets the dataset(s) "
                f"{', '.join(twice)} more than once"
            )
        if OPERATIONS[step.operation].combines:
            members[step.name] = _plan_members(step, names, time, inventory)
            names = [_ensemble_name(names, members[step.name].labels)]
        results[step.name] = names
    return WorkflowPlan(sources, members)


def _plan_members(
    step: WorkflowStep, names: list[str], time: TimeRange | None, inventory: Inventory
) -> ConcatPlan:
    if any(COMBINED in name for name in names):
        raise _problem(
            f"step {step.name!r} ({step.operation}) gets an ensemble made by another "
            "concat step; concatenate the members in one step"
        )
    try:
        return plan_concat(ConcatRequest(tuple(names), time), inventory)
    except InvalidParameter as exc:
        raise _in_step(step.name, step.operation, exc) from exc


def _ensemble_name(ids: Sequence[str], labels: Sequence[str]) -> str:
    """The name of an ensemble: the first member's dataset id with the member labels joined
    by ``+`` in place of its member (e.g. ``...dcppA-hindcast.s1980-r1i1p1f1+s1980-r2i1p1f1
    .day...``), else the dataset ids joined by ``+``."""
    first = f".{labels[0]}."
    if first in ids[0]:
        return ids[0].replace(first, f".{COMBINED.join(labels)}.", 1)
    return COMBINED.join(ids)


# -- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Result:
    """One dataset of a step's result: lazy data and what it comes from.

    ``name`` is the dataset id it derives from (see :func:`_ensemble_name` for an
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


def run_workflow(
    workflow: Workflow,
    inventory: Inventory,
    *,
    out_dir: Path,
    out_url: str,
    time_chunk: int,
    max_file_mb: int | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Run a workflow as one job and write its outputs as CF-compliant netCDF files.

    Every step works on lazy datasets, one per source dataset (one for all members after a
    ``concat``); only the results of the steps named in ``outputs`` are computed and
    written, one file each, named like their first source file. The provenance records the
    input datasets, every step (its parameters, the entities it used and the results it
    generated) and the files, each derived from the result it holds.

    Parameters
    ----------
    workflow
        From :func:`parse_workflow`.
    inventory
        Where dataset ids are resolved (see :func:`plan_workflow`).
    out_dir
        A folder of this run only; removed again if the run fails.
    out_url
        URL under which ``out_dir`` is served.
    time_chunk
        Time steps per dask chunk when opening datasets.
    max_file_mb
        Largest output file; see :func:`cp4cds_wps.tasks.runner.write_outputs`.
    progress
        Called with (percent, message) as the work advances.

    Returns
    -------
    TaskResult

    Raises
    ------
    InvalidParameter
        Named ``workflow``, naming the step, when an operation refuses its data (e.g. an
        area holding no grid cell, an axis the data lack, members on different grids).
    """
    report = progress or (lambda percent, message: None)
    plan = plan_workflow(workflow, inventory)
    prov = Provenance("orchestrate", workflow.parameters(), software=software_versions())
    linked: list[LinkedFile] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        # one thread, as in cp4cds_wps.tasks.runner.run_steps
        with dask.config.set(scheduler="synchronous"), recorded_notes() as notes:
            results: dict[str, list[_Result]] = {}
            for step in workflow.steps:
                report(0, f"orchestrate: step {step.name} ({step.operation})")
                try:
                    members = _step_inputs(step, plan, results, prov, time_chunk)
                    # regridding writes (and removes) its temporary files in the job's folder
                    results[step.name] = _run_step(step, members, plan, prov, work_dir=out_dir)
                except (InvalidParameter, MissingParameter) as exc:
                    raise _in_step(step.name, step.operation, exc) from exc
            written = [(n, r) for n, s in workflow.outputs.items() for r in results[s]]
            for i, (name, result) in enumerate(written):
                report(int(100 * i / len(written)), f"orchestrate: writing {name} of {result.name}")
                history = f"cp4cds-wps orchestrate of {result.name}: " + " -> ".join(result.history)
                history = with_notes(history, notes)
                for output in write_outputs(
                    result.data,
                    result.source_name,
                    out_dir=out_dir,
                    out_url=out_url,
                    history=history,
                    max_file_mb=max_file_mb,
                ):
                    linked.append(output)
                    prov.add_output(output.name, output.url, derived_from=[result.entity])
        for text in notes:
            prov.add_note(text)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    report(100, f"orchestrate done: {len(linked)} file(s)")
    return TaskResult(files=tuple(linked), provenance=prov)


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
        earlier = _source_step(reference)
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
    if OPERATIONS[step.operation].combines:
        done, used = _combined(step, members, plan.members[step.name])
    else:
        done, used = _each(step, members, prov, work_dir)
    entities = prov.add_step(step.name, step.operation, step.given, used)
    return [replace(r, entity=entities[r.name]) for r in done]


def _each(
    step: WorkflowStep, members: list[_Result], prov: Provenance, work_dir: Path
) -> tuple[list[_Result], dict[str, list[str]]]:
    """The operation applied to each dataset, and the entities each result derives from."""
    operation = OPERATIONS[step.operation]
    weighted = operation.weighted(step.parameters)
    extra: dict[str, Any] = {"work_dir": work_dir} if operation.regrids else {}
    done, used = [], {}
    for member in members:
        used[member.name] = [member.entity]
        if weighted:
            extra["weights"], areas = _archive_areas(member, prov)
            used[member.name] += [areas] if areas else []
        data = operation.function(member.data, **step.parameters, **extra)
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
    data = OPERATIONS[step.operation].function(pairs, **step.parameters)
    first = members[0]
    combined = _Result(
        name=_ensemble_name([m.name for m in members], planned.labels),
        data=data,
        entity="",
        source_name=ensemble_file_name(planned, bool(step.parameters.get("apply_average"))),
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
