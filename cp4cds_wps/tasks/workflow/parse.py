"""Parsing and checking a workflow document (see :mod:`cp4cds_wps.tasks.workflow`).

Each step's inputs are parsed by the parser of its operation
(:data:`cp4cds_wps.operations.data.DATA_OPERATIONS`), as the operation's own process parses
them.
"""

from __future__ import annotations

import graphlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.operations.base import Operation
from cp4cds_wps.operations.data import DATA_OPERATIONS
from cp4cds_wps.ops.params import parse_json
from cp4cds_wps.tasks.collection import parse_collection

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
#: The operations a step may run, by the name given in ``run``: those that work on each
#: dataset lazily or combine datasets into one.
STEP_OPERATIONS: dict[str, Operation] = {
    name: op for name, op in DATA_OPERATIONS.items() if op.apply or op.combine
}


@dataclass(frozen=True)
class WorkflowStep:
    """One step: an operation, the references its collection is made of, and the request
    its operation's parser made of its inputs (whose ``collection`` holds the references);
    ``given`` the inputs as text."""

    name: str
    operation: str
    collection: tuple[str, ...]
    request: Any
    given: dict[str, str]

    @property
    def spec(self) -> Operation:
        """The operation the step runs."""
        return STEP_OPERATIONS[self.operation]

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


def problem(reason: str) -> InvalidParameter:
    return InvalidParameter(INPUT, reason)


def in_step(
    step: str, operation: str, err: InvalidParameter | MissingParameter
) -> InvalidParameter:
    """An error of a step's input or data, reported against the workflow input."""
    if isinstance(err, MissingParameter):
        return problem(f"step {step!r} ({operation}): input {err.name!r} is required")
    return problem(f"step {step!r} ({operation}): {err}")


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict) or not value:
        raise problem(f"{what} must be a non-empty JSON object")
    return value


def _check_name(name: str, what: str) -> None:
    if not name or not all(c.isalnum() or c in NAME_CHARS for c in name):
        raise problem(
            f"{what} name {name!r} may hold only letters, digits and the characters "
            f"{' '.join(NAME_CHARS)}"
        )


def _unknown_keys(given: Mapping, known: Sequence[str], what: str) -> None:
    unknown = [k for k in given if k not in known]
    if unknown:
        raise problem(
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
        raise problem("must be a JSON object with the keys inputs, steps and outputs")
    _unknown_keys(doc, KEYS, "the workflow")
    for key in KEYS[1:]:
        if key not in doc:
            raise problem(f"the key {key!r} is missing; a workflow has {', '.join(KEYS[1:])}")
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
            raise problem(f"input {name!r} must be a dataset id or a list of dataset ids")
        try:
            inputs[name] = parse_collection(ids, name)
        except MissingParameter as exc:
            raise problem(f"input {name!r} names no dataset id") from exc
        except InvalidParameter as exc:
            raise problem(f"input {name!r}: {exc.reason}") from exc
    return inputs


def _parse_step(name: str, step: Any, inputs: Mapping[str, tuple[str, ...]]) -> WorkflowStep:
    _check_name(name, "step")
    if f"{name}/" == INPUTS_PREFIX:
        raise problem(f"the step name {name!r} is kept for references to workflow inputs")
    if not isinstance(step, dict):
        raise problem(f"step {name!r} must be a JSON object with the keys run and in")
    _unknown_keys(step, STEP_KEYS, f"step {name!r}")
    for key in STEP_KEYS:
        if key not in step:
            raise problem(f"step {name!r} has no {key!r}")
    operation = step["run"]
    if not isinstance(operation, str) or operation not in STEP_OPERATIONS:
        raise problem(
            f"step {name!r} runs the unknown operation {operation!r}; "
            f"known operations are {', '.join(STEP_OPERATIONS)}"
        )
    spec = STEP_OPERATIONS[operation]
    given = step["in"]
    if not isinstance(given, dict):
        raise problem(f"step {name!r}: 'in' must be a JSON object of the operation's inputs")
    unknown = [k for k in given if k != "collection" and k not in spec.step_inputs]
    if unknown:
        raise problem(
            f"step {name!r}: {operation} has no input {', '.join(map(repr, unknown))}; "
            f"its inputs are {', '.join(('collection', *spec.step_inputs))}"
        )
    if given.get("collection") is None:
        raise problem(f"step {name!r} ({operation}): input 'collection' is required")
    collection = _parse_references(name, given["collection"], inputs)
    texts = {k: t for k, v in given.items() if k != "collection" and (t := _as_text(v)) is not None}
    try:
        request = spec.parse({**texts, "collection": ",".join(collection)})
    except (InvalidParameter, MissingParameter) as exc:
        raise in_step(name, operation, exc) from exc
    return WorkflowStep(name, operation, collection, request, texts)


def _parse_references(step: str, value: Any, inputs: Mapping) -> tuple[str, ...]:
    references = value if isinstance(value, list) else [value]
    if not references or not all(isinstance(r, str) for r in references):
        raise problem(f"step {step!r}: the collection must be a reference or a list of references")
    for reference in references:
        if reference.startswith(INPUTS_PREFIX):
            name = reference.removeprefix(INPUTS_PREFIX)
            if name not in inputs:
                raise problem(
                    f"step {step!r} refers to the unknown input {name!r}; "
                    f"the inputs are {', '.join(inputs)}"
                )
        elif not reference.endswith(OUTPUT_SUFFIX) or reference.count("/") != 1:
            raise problem(
                f"step {step!r}: the collection {reference!r} is not a reference; "
                "write 'inputs/<input name>' or '<step name>/output'"
            )
    if len(set(references)) < len(references):
        raise problem(f"step {step!r}: the collection names a reference more than once")
    return tuple(references)


def source_step(reference: str) -> str | None:
    """The step a reference names, or None for a workflow input."""
    if reference.startswith(INPUTS_PREFIX):
        return None
    return reference.removesuffix(OUTPUT_SUFFIX)


def _parse_outputs(given: dict, steps: Mapping[str, WorkflowStep]) -> dict[str, str]:
    outputs = {}
    for name, reference in given.items():
        source = source_step(reference) if isinstance(reference, str) else None
        if source is None or not reference.endswith(OUTPUT_SUFFIX) or "/" in source:
            raise problem(f"output {name!r} must be a step's result, '<step name>/output'")
        if source not in steps:
            raise problem(
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
        sources = [s for r in step.collection if (s := source_step(r)) is not None]
        for source in sources:
            if source not in steps:
                raise problem(
                    f"step {name!r} refers to the unknown step {source!r}; "
                    f"the steps are {', '.join(steps)}"
                )
        graph[name] = sources
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise problem(
            f"the steps {' -> '.join(map(repr, exc.args[1]))} form a cycle: each reads the "
            "output of the one before"
        ) from exc
    needed = set(outputs.values())
    for name in reversed(order):
        if name in needed:
            needed.update(graph[name])
    unused = [name for name in order if name not in needed]
    if unused:
        raise problem(
            f"no output needs the step(s) {', '.join(map(repr, unused))}; "
            "name their result in 'outputs' or leave them out"
        )
    return tuple(steps[name] for name in order)
