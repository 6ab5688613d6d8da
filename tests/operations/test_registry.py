"""The registry: every operation declared once becomes a WPS process, a workflow step and
an estimate, with the inputs its module declares."""

from __future__ import annotations

import pytest
from pywps import ComplexInput, Process

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.operations.registry import OPERATIONS, all_inputs, operation
from cp4cds_wps.processes import processes
from cp4cds_wps.tasks.workflow import STEP_OPERATIONS


def test_every_operation_is_a_process_with_its_declared_inputs():
    offered = {p.identifier: p for p in processes()}
    assert list(offered) == list(OPERATIONS)
    for name, op in OPERATIONS.items():
        process = offered[name]
        assert (process.title, process.abstract) == (op.title, op.abstract)
        assert [i.identifier for i in process.inputs] == list(op.input_names)
        for declared, made in zip(op.inputs, process.inputs, strict=True):
            assert made.min_occurs == int(declared.required)
            assert made.max_occurs == declared.max_occurs
            assert isinstance(made, ComplexInput) == (declared.kind == "json")
            if declared.kind == "choice":
                assert [v.value for v in made.allowed_values] == list(declared.choices)


def test_a_queued_process_is_rebuilt_from_its_json():
    """PyWPS rebuilds a queued job's process by its class name, without arguments."""
    for process in processes():
        rebuilt = Process.from_json(process.json)
        assert rebuilt.identifier == process.identifier
        assert rebuilt.json["inputs"] == process.json["inputs"]


def test_workflow_steps_run_the_operations_that_work_on_datasets():
    assert list(STEP_OPERATIONS) == [
        "subset",
        "average",
        "average_time",
        "average_shape",
        "regrid",
        "concat",
    ]
    assert "original_files" not in STEP_OPERATIONS["subset"].step_inputs


def test_an_unknown_operation_is_refused_naming_the_offered_ones():
    with pytest.raises(InvalidParameter) as err:
        operation("mean")
    assert err.value.name == "process"
    assert str(err.value).startswith("process: unknown process 'mean'; the main WPS offers subset")


def test_shared_inputs_are_declared_once():
    inputs = all_inputs()
    for name in ("collection", "time", "area", "level"):
        users = [op for op in OPERATIONS.values() if name in op.input_names]
        assert len(users) > 1
        assert all(
            next(i for i in op.inputs if i.identifier == name) is inputs[name] for op in users
        )
