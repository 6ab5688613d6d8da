"""The operation ``subset``: select a time range, time components, area and levels.

Free of WPS code: :func:`parse_subset` reads the inputs, :func:`plan_subset` resolves a
request cheaply (and validates it), :func:`estimate_subset` sizes it and :func:`run_subset`
carries it out; :data:`SUBSET` declares them with the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.meta.checks import area_cells, selected_levels
from cp4cds_wps.operations.base import (
    AREA,
    COLLECTION,
    LEVEL,
    TIME,
    TIME_COMPONENTS,
    Input,
    Operation,
    Values,
    parse_flag,
)
from cp4cds_wps.operations.sizing import DatasetEstimate, components_fraction, sized, time_steps
from cp4cds_wps.ops.params import (
    Area,
    LevelRange,
    TimeComponents,
    TimeRange,
    parse_area,
    parse_level,
    parse_time,
    parse_time_components,
)
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.files import check_consistent, select_files
from cp4cds_wps.tasks.runner import RunContext, Step, TaskResult, run_steps

ORIGINAL_FILES = Input(
    "original_files",
    "Original Files",
    "If True, returns the original files of the archive that hold the time "
    "period, without any processing and without copying.",
    kind="flag",
    default=False,
    linked=False,
    in_workflow=False,
)


@dataclass(frozen=True)
class SubsetRequest:
    """What a user asked for, parsed and typed."""

    collection: tuple[str, ...]
    time: TimeRange | None = None
    time_components: TimeComponents | None = None
    area: Area | None = None
    level: LevelRange | None = None
    original_files: bool = False

    @property
    def needs_processing(self) -> bool:
        """Whether anything beyond choosing whole files is asked for."""
        return any(p is not None for p in (self.time_components, self.area, self.level))

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history."""
        params = {"collection": ",".join(self.collection)}
        for name in ("time", "time_components", "area", "level"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        params["original_files"] = str(self.original_files).lower()
        return params


def parse_subset(values: Values) -> SubsetRequest:
    """The request the input values make (see :class:`cp4cds_wps.operations.base.Values`)."""
    return SubsetRequest(
        collection=parse_collection(values.get("collection")),
        **subset_parameters(values),
        original_files=parse_flag(values.get("original_files"), "original_files"),
    )


def subset_parameters(values: Values) -> dict:
    """The selection the inputs ``time``, ``time_components``, ``area`` and ``level`` make."""
    return {
        "time": parse_time(values.get("time")),
        "time_components": parse_time_components(values.get("time_components")),
        "area": parse_area(values.get("area")),
        "level": parse_level(values.get("level")),
    }


def apply_subset(ds: xr.Dataset, request: SubsetRequest, **_) -> xr.Dataset:
    """The request's selection of ``ds`` (lazy)."""
    return subset(
        ds,
        time=request.time,
        time_components=request.time_components,
        area=request.area,
        level=request.level,
    )


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset of a request and the files it needs."""

    dataset: Dataset
    files: tuple[FileRecord, ...]
    copy_originals: bool


def plan_subset(request: SubsetRequest, inventory: Inventory) -> tuple[DatasetPlan, ...]:
    """Resolve the datasets of a request and choose their files, without reading data.

    Parameters
    ----------
    request
        The parsed request.
    inventory
        Where dataset ids are looked up.

    Returns
    -------
    tuple of DatasetPlan
        One per dataset id, in request order.

    Raises
    ------
    UnknownDataset, NoDataSelected, DatasetInconsistent, InvalidParameter
        When an id is unknown, the time range misses a dataset, the files needed disagree,
        or ``original_files`` is combined with processing.
    """
    if request.original_files and request.needs_processing:
        raise InvalidParameter(
            "original_files",
            "original files cannot be returned when area, level or time_components ask for "
            "processing; leave original_files false",
        )
    plans = []
    for dataset_id in request.collection:
        dataset = inventory.get(dataset_id)
        files, whole = select_files(dataset, request.time)
        check_consistent(dataset, files)
        originals = request.original_files or (whole and not request.needs_processing)
        plans.append(DatasetPlan(dataset=dataset, files=files, copy_originals=originals))
    return tuple(plans)


def estimate_subset(
    request: SubsetRequest, plans: tuple[DatasetPlan, ...], inventory: Inventory, max_bytes: int
) -> tuple[DatasetEstimate, ...]:
    """What each planned dataset reads and writes: the cells, levels and steps selected."""
    found = []
    for plan in plans:
        dataset = plan.dataset
        if plan.copy_originals:
            found.append(DatasetEstimate(dataset.id, 0, 0, 0, 0, linked=len(plan.files)))
            continue
        geometry = inventory.geometry(dataset)
        sizes: dict[str, int | None] = {}
        index: dict[str, np.ndarray] = {}
        if geometry is not None and request.area is not None:
            cells = area_cells(dataset, geometry, request.area)
            sizes.update(cells.shape)
            index.update(cells.positions)
        if geometry is not None and request.level is not None:
            positions = selected_levels(geometry, request.level)
            sizes[geometry.levels.name] = int(positions.size)
            index[geometry.levels.name] = positions
        steps = time_steps(plan.files, request.time)
        if request.time_components is not None:
            steps = components_fraction(request.time_components, plan.files, steps)
        found.append(
            sized(dataset, plan.files, geometry, request.time, steps, sizes, index, max_bytes)
        )
    return tuple(found)


def run_subset(
    request: SubsetRequest, plans: tuple[DatasetPlan, ...], context: RunContext
) -> TaskResult:
    """Subset each planned dataset and write CF-compliant netCDF files into the context's
    folder.

    Datasets whose plan says so are answered with their original files, linked from the
    context's ``data_url``. See :func:`cp4cds_wps.tasks.runner.run_steps`.
    """
    selection = partial(apply_subset, request=request)
    steps = [
        Step(plan.dataset, plan.files, None if plan.copy_originals else selection) for plan in plans
    ]
    return run_steps("subset", request.parameters(), steps, context)


SUBSET = Operation(
    name="subset",
    title="Subset",
    abstract="Subset datasets of the archive, given by ESGF dataset ids, by time "
    "range, time components, area and level. Returns a Metalink document listing "
    "the resulting netCDF files, and the provenance of the result.",
    inputs=(COLLECTION, TIME, TIME_COMPONENTS, AREA, LEVEL, ORIGINAL_FILES),
    parse=parse_subset,
    plan=plan_subset,
    estimate=estimate_subset,
    run=run_subset,
    apply=apply_subset,
)
