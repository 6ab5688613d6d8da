"""The subset task: resolve dataset ids, select files, subset, write outputs.

Free of WPS code: the ``subset`` process (and later the job workers) call :func:`plan_subset`
to validate a request cheaply and :func:`run_subset` to carry it out.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dask

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import Area, LevelRange, TimeComponents, TimeRange
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.output.metalink import LinkedFile, file_digest
from cp4cds_wps.output.naming import output_filename
from cp4cds_wps.output.netcdf import write_netcdf
from cp4cds_wps.output.provenance import Provenance
from cp4cds_wps.tasks.files import check_consistent, select_files
from cp4cds_wps.tasks.software import software_versions

Progress = Callable[[int, str], None]


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


@dataclass(frozen=True)
class TaskResult:
    """Files a task produced (or selected) and the provenance of the run."""

    files: tuple[LinkedFile, ...]
    provenance: Provenance


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
    progress: Progress | None = None,
) -> TaskResult:
    """Subset each planned dataset and write CF-compliant netCDF files into ``out_dir``.

    Parameters
    ----------
    request
        The parsed request.
    plans
        The result of :func:`plan_subset`.
    out_dir
        A folder of this run only; removed again if the run fails.
    out_url
        URL under which ``out_dir`` is served.
    data_url
        URL under which archive roots are served (``<data_url>/<root>/<relpath>``).
    time_chunk
        Time steps per dask chunk when opening datasets.
    progress
        Called with (percent, message) as the work advances.

    Returns
    -------
    TaskResult
    """
    report = progress or (lambda percent, message: None)
    prov = Provenance("subset", request.parameters(), software=software_versions())
    linked: list[LinkedFile] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for i, plan in enumerate(plans):
            dataset = plan.dataset
            report(int(100 * i / len(plans)), f"subsetting {dataset.id}")
            prov.add_input(dataset.id, dataset.version, [(f.path.name, f.md5) for f in plan.files])
            if plan.copy_originals:
                for f in plan.files:
                    url = f"{data_url}/{f.root}/{f.relpath}"
                    linked.append(LinkedFile(name=f.path.name, url=url, size=f.size, md5=f.md5))
                    prov.add_output(f.path.name, url)
                continue
            # The synchronous scheduler keeps dask from starting thread pools in the server
            # process: PyWPS forks async jobs from it, and a fork after dask threads can hang.
            with dask.config.set(scheduler="synchronous"):
                ds = open_dataset([f.path for f in plan.files], time_chunk=time_chunk)
                result = subset(
                    ds,
                    time=request.time,
                    time_components=request.time_components,
                    area=request.area,
                    level=request.level,
                )
                name = output_filename(plan.files[0].path.name, result)
                path = write_netcdf(
                    result,
                    _unique(out_dir / name),
                    history=f"cp4cds-wps subset of {dataset.id} with {_describe(request)}",
                )
            md5, sha256 = file_digest(path)
            url = f"{out_url}/{path.name}"
            linked.append(
                LinkedFile(
                    name=path.name, url=url, size=path.stat().st_size, md5=md5, sha256=sha256
                )
            )
            prov.add_output(path.name, url)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    report(100, f"subset done: {len(linked)} file(s)")
    return TaskResult(files=tuple(linked), provenance=prov)


def _unique(path: Path) -> Path:
    """``path``, or a numbered variant when two datasets give the same file name."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        n += 1
    return candidate


def _describe(request: SubsetRequest) -> str:
    return ", ".join(f"{k}={v}" for k, v in request.parameters().items() if k != "collection")
