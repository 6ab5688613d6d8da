"""The subset task: resolve dataset ids, select files, subset, write outputs.

Free of WPS code: the ``subset`` process (and later the job workers) call :func:`plan_subset`
to validate a request cheaply and :func:`run_subset` to carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.ops.params import Area, LevelRange, TimeComponents, TimeRange
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.tasks.files import check_consistent, select_files
from cp4cds_wps.tasks.runner import Progress, Step, TaskResult, run_steps


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


def run_subset(
    request: SubsetRequest,
    plans: tuple[DatasetPlan, ...],
    *,
    out_dir: Path,
    out_url: str,
    data_url: str,
    time_chunk: int,
    max_file_mb: int | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Subset each planned dataset and write CF-compliant netCDF files into ``out_dir``.

    Datasets whose plan says so are answered with their original files, linked from
    ``data_url``. See :func:`cp4cds_wps.tasks.runner.run_steps` for the other parameters.
    """
    selection = partial(
        subset,
        time=request.time,
        time_components=request.time_components,
        area=request.area,
        level=request.level,
    )
    steps = [
        Step(plan.dataset, plan.files, None if plan.copy_originals else selection) for plan in plans
    ]
    return run_steps(
        "subset",
        request.parameters(),
        steps,
        out_dir=out_dir,
        out_url=out_url,
        data_url=data_url,
        time_chunk=time_chunk,
        max_file_mb=max_file_mb,
        progress=progress,
    )
