"""The operation ``regrid``: datasets regridded onto a regular latitude-longitude grid.

Free of WPS code, like :mod:`cp4cds_wps.operations.subset`: :func:`plan_regrid` resolves a request
against the inventory without reading data; :func:`run_regrid` carries it out.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import xarray as xr

from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.operations.base import COLLECTION, Input, Operation, Values
from cp4cds_wps.operations.sizing import DatasetEstimate, sized, time_steps
from cp4cds_wps.ops.regrid import (
    DEFAULT_GRID,
    DEFAULT_METHOD,
    GRIDS,
    METHODS,
    GridSpec,
    parse_grid,
    parse_method,
    regrid,
)
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.files import whole_datasets
from cp4cds_wps.tasks.runner import RunContext, Step, TaskResult, run_steps

METHOD = Input(
    "method",
    "Regridding Method",
    "nearest_s2d: the value of the nearest source cell; bilinear: bilinear "
    "interpolation; conservative: area-weighted means of the overlapping "
    "source cells, which keep the area mean (needs cell bounds on "
    "curvilinear grids).",
    kind="choice",
    choices=tuple(METHODS),
    default=DEFAULT_METHOD,
    linked=False,
)
GRID = Input(
    "grid",
    "Target Grid",
    "A global grid with cells of 0.25, 0.5, 1, 1.25 or 2.5 degrees, edges "
    "from -90 to 90 N and 0 to 360 E; auto: the one closest to the "
    "dataset's resolution; custom: the grid given by custom_grid.",
    kind="choice",
    choices=tuple(GRIDS),
    default=DEFAULT_GRID,
    linked=False,
)
CUSTOM_GRID = Input(
    "custom_grid",
    "Custom Grid",
    "With grid custom only: 'dlon dlat' for a global grid of those steps, or "
    "'lon0 lon1 dlon lat0 lat1 dlat' for the cells between those edges, in "
    "degrees. The steps must divide the spans. Example: -30 50 0.5 30 75 0.5",
)


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


def parse_regrid(values: Values) -> RegridRequest:
    """The request the input values make."""
    return RegridRequest(
        collection=parse_collection(values.get("collection")),
        method=parse_method(values.get("method")),
        grid=parse_grid(values.get("grid"), values.get("custom_grid")),
    )


def apply_regrid(ds: xr.Dataset, request: RegridRequest, *, work_dir: Path, **_) -> xr.Dataset:
    """``ds`` regridded as the request asks; CDO's weight files go to ``work_dir``."""
    return regrid(ds, method=request.method, grid=request.grid, work_dir=work_dir)


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


def estimate_regrid(
    request: RegridRequest, plans: tuple[RegridPlan, ...], inventory: Inventory, max_bytes: int
) -> tuple[DatasetEstimate, ...]:
    """What each planned dataset reads and writes: its grid replaced by the target grid."""
    found = []
    for plan in plans:
        geometry = inventory.geometry(plan.dataset)
        sizes: dict[str, int | None] = {}
        if geometry is not None and request.grid.dlat is not None:
            nlat, nlon = request.grid.shape
            if len(geometry.grid_dims) == 2:
                sizes = dict(zip(geometry.grid_dims, (nlat, nlon), strict=True))
            elif len(geometry.grid_dims) == 1:
                sizes = {geometry.grid_dims[0]: nlat * nlon}
        steps = time_steps(plan.files, None)
        found.append(sized(plan.dataset, plan.files, geometry, None, steps, sizes, {}, max_bytes))
    return tuple(found)


def run_regrid(
    request: RegridRequest, plans: tuple[RegridPlan, ...], context: RunContext
) -> TaskResult:
    """Regrid each planned dataset and write CF-compliant netCDF files.

    CDO's weight files (non-rectilinear grids) go to a temporary folder next to the
    context's ``out_dir``, named after it and removed when the run ends. See
    :func:`cp4cds_wps.tasks.runner.run_steps`.
    """
    out_dir = context.out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        dir=out_dir.parent, prefix=f".{out_dir.name}-regrid-"
    ) as work_dir:
        compute = partial(apply_regrid, request=request, work_dir=Path(work_dir))
        steps = [Step(plan.dataset, plan.files, compute) for plan in plans]
        return run_steps("regrid", request.parameters(), steps, context)


REGRID = Operation(
    name="regrid",
    title="Regrid",
    abstract="Regrid datasets of the archive, given by ESGF dataset ids, onto a "
    "regular latitude-longitude grid: from regular, curvilinear, rotated-pole or "
    "unstructured grids, by nearest neighbour, bilinear interpolation or "
    "conservative remapping. Missing values (e.g. land of ocean data) are left out "
    "and the weights of the valid cells renormalised; nothing is extrapolated beyond "
    "the source grid. Returns a Metalink document listing the resulting netCDF "
    "files, and the provenance of the result.",
    inputs=(COLLECTION, METHOD, GRID, CUSTOM_GRID),
    parse=parse_regrid,
    plan=plan_regrid,
    estimate=estimate_regrid,
    run=run_regrid,
    apply=apply_regrid,
    regrids=True,
)
