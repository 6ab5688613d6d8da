"""The operation ``orchestrate``: a workflow of data operations (rook's format) as one job.

Parsing, planning and running are :mod:`cp4cds_wps.tasks.workflow`'s.
"""

from __future__ import annotations

from cp4cds_wps.inventory import Inventory
from cp4cds_wps.operations.base import Input, Operation, Values
from cp4cds_wps.operations.sizing import DatasetEstimate
from cp4cds_wps.tasks.workflow import (
    STEP_OPERATIONS,
    Workflow,
    WorkflowPlan,
    parse_workflow,
    plan_workflow,
    run_workflow,
)

WORKFLOW = Input(
    "workflow",
    "Workflow",
    "The workflow as JSON. Example: "
    '{"doc": "yearly means", "inputs": {"tas": ["CMIP6.ScenarioMIP.INM.'
    'INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"]}, "outputs": '
    '{"output": "average/output"}, "steps": {"subset": {"run": "subset", '
    '"in": {"collection": "inputs/tas", "time": "2016/2020"}}, "average": '
    '{"run": "average_time", "in": {"collection": "subset/output", '
    '"freq": "year"}}}}',
    kind="json",
    required=True,
    formats=("json",),
    linked=False,
)


def parse_orchestrate(values: Values) -> Workflow:
    """The workflow the input ``workflow`` holds."""
    return parse_workflow(values.get("workflow"))


def estimate_orchestrate(
    workflow: Workflow, plan: WorkflowPlan, inventory: Inventory, max_bytes: int
) -> tuple[DatasetEstimate, ...]:
    """Nothing: a workflow is not sized (it reads datasets by reference, not by id)."""
    return ()


ORCHESTRATE = Operation(
    name="orchestrate",
    title="Orchestrate",
    abstract="Run a workflow of combined operations as one job. The workflow is a "
    "JSON document in the format of rook and its client rooki: 'inputs' name "
    "dataset ids, 'steps' run operations ("
    + ", ".join(STEP_OPERATIONS)
    + ") on workflow inputs ('inputs/<name>') or results of earlier steps "
    "('<step>/output'), 'outputs' name the steps whose results are returned. "
    "Returns a Metalink document listing the resulting netCDF files, and the "
    "provenance of every step.",
    inputs=(WORKFLOW,),
    parse=parse_orchestrate,
    plan=plan_workflow,
    estimate=estimate_orchestrate,
    run=run_workflow,
    sized=False,
)
