"""The regrid task: resolve dataset ids, regrid each dataset, write CF netCDF files.

Free of WPS code, like :mod:`cp4cds_wps.tasks.subset`: :func:`plan_regrid` resolves a request
against the inventory without reading data; :func:`run_regrid` carries it out.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.ops.regrid import GridSpec, regrid
from cp4cds_wps.tasks.files import whole_datasets
from cp4cds_wps.tasks.runner import Progress, Step, TaskResult, run_steps


@dataclass(frozen=True)
class RegridRequest:
    """Regrid datasets with ``method`` (out of :data:`cp4cds_wps.ops.regrid.METHODS`) onto
    ``grid``."""

    collection: tuple[str, ...]
    method: str
    grid: GridSpec

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history."""
        params = {
            "collection": ",".join(self.collection),
            "method": self.method,
            "grid": self.grid.name,
        }
        if self.grid.name == "custom":
            params["custom_grid"] = self.grid.custom_grid
        return params


@dataclass(frozen=True)
class RegridPlan:
    """One dataset of a request and its files."""

    dataset: Dataset
    files: tuple[FileRecord, ...]


def plan_regrid(request: RegridRequest, inventory: Inventory) -> tuple[RegridPlan, ...]:
    """Resolve the datasets of a request and their files, without reading data.

    Returns
    -------
    tuple of RegridPlan
        One per dataset id, in request order.

    Raises
    ------
    UnknownDataset, DatasetInconsistent
        When an id is unknown or the dataset's files disagree.
    """
    return tuple(
        RegridPlan(dataset=dataset, files=files)
        for dataset, files in whole_datasets(request.collection, inventory)
    )


def run_regrid(
    request: RegridRequest,
    plans: tuple[RegridPlan, ...],
    *,
    out_dir: Path,
    out_url: str,
    time_chunk: int,
    max_file_mb: int | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Regrid each planned dataset and write CF-compliant netCDF files into ``out_dir``.

    CDO's weight files (non-rectilinear grids) go to a temporary folder next to
    ``out_dir``, named after it and removed when the run ends. Other arguments as
    :func:`cp4cds_wps.tasks.runner.run_steps`; ``out_dir`` is removed if the run fails.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        dir=out_dir.parent, prefix=f".{out_dir.name}-regrid-"
    ) as work_dir:
        compute = partial(regrid, method=request.method, grid=request.grid, work_dir=Path(work_dir))
        return run_steps(
            "regrid",
            request.parameters(),
            [Step(plan.dataset, plan.files, compute) for plan in plans],
            out_dir=out_dir,
            out_url=out_url,
            data_url="",
            time_chunk=time_chunk,
            max_file_mb=max_file_mb,
            progress=progress,
        )
