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
:data:`STEP_OPERATIONS` (``run``) on the datasets its ``collection`` refers to
(``inputs/<input>``, ``<step>/output``, or a list of such references), with its other inputs
(``in``) as the operation's parameters, written as in the operation's own process (lists of
words or numbers may be JSON lists, GeoJSON a JSON object); ``outputs`` name the steps whose
results are written.

Free of WPS code, like the other tasks: :func:`parse_workflow` (:mod:`.parse`) checks a
document without the archive, parsing each step's inputs with its operation's parser;
:func:`plan_workflow` (:mod:`.plan`) resolves its dataset ids, :func:`run_workflow`
(:mod:`.run`) runs it as one job. The results of steps stay lazy xarray Datasets in memory;
only the outputs are written.
"""

from cp4cds_wps.tasks.workflow.parse import (
    STEP_OPERATIONS,
    Workflow,
    WorkflowStep,
    parse_workflow,
)
from cp4cds_wps.tasks.workflow.plan import WorkflowPlan, plan_workflow
from cp4cds_wps.tasks.workflow.run import run_workflow

__all__ = [
    "STEP_OPERATIONS",
    "Workflow",
    "WorkflowPlan",
    "WorkflowStep",
    "parse_workflow",
    "plan_workflow",
    "run_workflow",
]
