"""WPS process ``orchestrate``: a workflow of data operations (rook's format) as one job."""

from __future__ import annotations

from pywps.app.Common import Metadata

from cp4cds_wps.config import Settings
from cp4cds_wps.operations.orchestrate import ORCHESTRATE
from cp4cds_wps.processes.common import DataProcess


class Orchestrate(DataProcess):
    """Run a workflow chaining subsets, averages and other operations (rook-compatible)."""

    operation_name = ORCHESTRATE.name

    def __init__(self, settings: Settings | None = None):
        super().__init__(
            ORCHESTRATE,
            settings=settings,
            metadata=[Metadata("Rooki", "https://github.com/roocs/rooki")],
        )
