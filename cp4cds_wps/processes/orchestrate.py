"""WPS process ``orchestrate``: run a workflow of data operations (rook's format) as one job."""

from __future__ import annotations

from pywps import FORMATS, ComplexInput
from pywps.app.Common import Metadata

from cp4cds_wps.processes.common import (
    DataProcess,
    complex_text,
    inventory,
)
from cp4cds_wps.tasks.workflow import (
    OPERATIONS,
    Workflow,
    parse_workflow,
    plan_workflow,
    run_workflow,
)


def _workflow(wps_request) -> Workflow:
    return parse_workflow(complex_text(wps_request, "workflow"))


class Orchestrate(DataProcess):
    """Run a workflow chaining subsets, averages and other operations (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="orchestrate",
            title="Orchestrate",
            abstract="Run a workflow of combined operations as one job. The workflow is a "
            "JSON document in the format of rook and its client rooki: 'inputs' name "
            "dataset ids, 'steps' run operations ("
            + ", ".join(OPERATIONS)
            + ") on workflow inputs ('inputs/<name>') or results of earlier steps "
            "('<step>/output'), 'outputs' name the steps whose results are returned. "
            "Returns a Metalink document listing the resulting netCDF files, and the "
            "provenance of every step.",
            metadata=[Metadata("Rooki", "https://github.com/roocs/rooki")],
            inputs=[
                ComplexInput(
                    "workflow",
                    "Workflow",
                    abstract="The workflow as JSON. Example: "
                    '{"doc": "yearly means", "inputs": {"tas": ["CMIP6.ScenarioMIP.INM.'
                    'INM-CM5-0.ssp245.r1i1p1f1.Amon.rlds.gr1.v20190619"]}, "outputs": '
                    '{"output": "average/output"}, "steps": {"subset": {"run": "subset", '
                    '"in": {"collection": "inputs/tas", "time": "2016/2020"}}, "average": '
                    '{"run": "average_time", "in": {"collection": "subset/output", '
                    '"freq": "year"}}}}',
                    min_occurs=1,
                    max_occurs=1,
                    supported_formats=[FORMATS.JSON],
                ),
            ],
        )

    parse = staticmethod(_workflow)
    plan = staticmethod(plan_workflow)

    def run(self, request, plan, **options):
        """Run the workflow as one job (it plans its steps again as it goes)."""
        return run_workflow(request, inventory(), **options)
