"""The averaging tasks: means over axes and over calendar periods, written as netCDF.

Free of WPS code, like :mod:`cp4cds_wps.tasks.subset`: :func:`plan_average` resolves a
request against the inventory without reading data (and finds the dataset's cell areas,
``areacella``/``areacello``, when the archive has them); :func:`run_average` and
:func:`run_average_time` carry it out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import cftime
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.ops.average import average_over_dims, average_time, check_coarser
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.weights import cell_areas
from cp4cds_wps.tasks.files import whole_datasets
from cp4cds_wps.tasks.runner import Progress, Step, TaskResult, run_steps

_ISO = "%Y-%m-%dT%H:%M:%S"
#: Realms and table prefixes of ocean and sea-ice data, whose cells are in ``areacello``.
_OCEAN_REALMS = ("ocean", "seaIce", "ocnBgchem")
_OCEAN_TABLES = ("O", "SI")


@dataclass(frozen=True)
class AverageRequest:
    """Means over axes: ``dims`` out of :data:`cp4cds_wps.ops.average.DIMS`."""

    collection: tuple[str, ...]
    dims: tuple[str, ...]

    @property
    def spatial(self) -> bool:
        """Whether cell areas are needed."""
        return "latitude" in self.dims or "longitude" in self.dims

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history."""
        return {"collection": ",".join(self.collection), "dims": ",".join(self.dims)}


@dataclass(frozen=True)
class AverageTimeRequest:
    """Means over calendar periods: ``freq`` is day, month, season or year."""

    collection: tuple[str, ...]
    freq: str

    spatial = False

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance and history."""
        return {"collection": ",".join(self.collection), "freq": self.freq}


@dataclass(frozen=True)
class AveragePlan:
    """One dataset of a request, its files, and the dataset of its cell areas if needed."""

    dataset: Dataset
    files: tuple[FileRecord, ...]
    areas: Dataset | None = None


def plan_average(
    request: AverageRequest | AverageTimeRequest, inventory: Inventory
) -> tuple[AveragePlan, ...]:
    """Resolve the datasets of a request and their files, without reading data.

    For spatial means, the ``areacella`` (atmosphere, land) or ``areacello`` (ocean, sea
    ice) dataset of the same project, model, experiment, member and grid (tables ``fx`` or
    ``Ofx``; CMIP5's fx member ``r0i0p0``) is planned along when the archive has it.

    Returns
    -------
    tuple of AveragePlan
        One per dataset id, in request order.

    Raises
    ------
    UnknownDataset, DatasetInconsistent
        When an id is unknown or the dataset's files disagree.
    """
    plans = []
    for dataset, files in whole_datasets(request.collection, inventory):
        _check_time_axis(request, dataset)
        areas = areas_dataset(dataset, inventory) if request.spatial else None
        plans.append(AveragePlan(dataset=dataset, files=files, areas=areas))
    return tuple(plans)


def _check_time_axis(request: AverageRequest | AverageTimeRequest, dataset: Dataset) -> None:
    """Refuse time means of fixed fields, and periods not longer than the data's time
    steps, judged from the inventory (a job checks again on the data's time bounds)."""
    if isinstance(request, AverageTimeRequest):
        name, advice = "freq", ""
    elif isinstance(request, AverageRequest) and "time" in request.dims:
        name, advice = "dims", ": leave time out"
    else:
        return
    if dataset.start is None:
        raise InvalidParameter(name, f"{dataset.id} has no time axis (a fixed field){advice}")
    if name == "freq" and (step := _step_days(dataset)) is not None:
        try:
            check_coarser(request.freq, step)
        except InvalidParameter as err:
            raise InvalidParameter("freq", f"{dataset.id}: {err.reason}") from err


def _step_days(dataset: Dataset) -> float | None:
    """The median length (days) of a time step within the dataset's files, or None when no
    file has two steps."""
    calendar = dataset.calendar or "standard"
    steps = [
        (
            cftime.datetime.strptime(f.end, _ISO, calendar=calendar)
            - cftime.datetime.strptime(f.start, _ISO, calendar=calendar)
        ).total_seconds()
        / 86400
        / (f.n_times - 1)
        for f in dataset.files
        if f.n_times > 1
    ]
    return median(steps) if steps else None


def areas_dataset(dataset: Dataset, inventory: Inventory) -> Dataset | None:
    """The archive's cell areas of ``dataset``'s grid (``areacella``/``areacello``), if any.

    The dataset of the same project, model, experiment, member (or CMIP5's fx member
    ``r0i0p0``) and grid in table ``fx`` or ``Ofx``, newest version.
    """
    facets = dataset.facets
    if "model" not in facets or "experiment" not in facets:
        return None
    table = facets.get("table", "")
    ocean = facets.get("realm") in _OCEAN_REALMS or table.startswith(_OCEAN_TABLES)
    variable = "areacello" if ocean else "areacella"
    wanted = {k: facets[k] for k in ("project", "model", "experiment", "grid") if k in facets}
    found = [
        d
        for d in inventory.list(variable=variable, **wanted)
        if d.facets.get("table") in ("fx", "Ofx")
        and d.facets.get("member") in (facets.get("member"), "r0i0p0")
    ]
    return max(found, key=lambda d: d.version, default=None)


def area_weighted_step(
    plan: AveragePlan, mean: Callable[[xr.Dataset, xr.DataArray | None], xr.Dataset]
) -> Step:
    """The step of a plan computing ``mean(ds, weights)``, where ``weights`` are the planned
    cell areas of the archive (``areacella``/``areacello``) on the dataset's grid, or None
    when there are none (the mean then finds them from the grid itself)."""

    def compute(ds: xr.Dataset) -> xr.Dataset:
        weights = None
        if plan.areas is not None:
            with open_dataset([f.verified_path() for f in plan.areas.files]) as fx:
                weights = cell_areas(ds, areacella=fx[plan.areas.variable])
        return mean(ds, weights)

    also = (plan.areas,) if plan.areas is not None else ()
    return Step(plan.dataset, plan.files, compute, also_used=also)


def run_average(
    request: AverageRequest,
    plans: tuple[AveragePlan, ...],
    *,
    out_dir: Path,
    out_url: str,
    time_chunk: int,
    max_file_mb: int | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Average each planned dataset over ``request.dims``; write CF netCDF into ``out_dir``.

    Spatial means use the planned cell areas when there are some (see
    :func:`cp4cds_wps.ops.weights.cell_areas`). Other arguments as
    :func:`cp4cds_wps.tasks.runner.run_steps`; ``out_dir`` is removed if the run fails.
    """

    def mean(ds: xr.Dataset, weights: xr.DataArray | None) -> xr.Dataset:
        return average_over_dims(ds, request.dims, weights=weights)

    return run_steps(
        "average",
        request.parameters(),
        [area_weighted_step(plan, mean) for plan in plans],
        out_dir=out_dir,
        out_url=out_url,
        data_url="",
        time_chunk=time_chunk,
        max_file_mb=max_file_mb,
        progress=progress,
    )


def run_average_time(
    request: AverageTimeRequest,
    plans: tuple[AveragePlan, ...],
    *,
    out_dir: Path,
    out_url: str,
    time_chunk: int,
    max_file_mb: int | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Average each planned dataset over periods of ``request.freq``; write CF netCDF.

    Arguments as :func:`cp4cds_wps.tasks.runner.run_steps`; ``out_dir`` is removed if the
    run fails.
    """
    steps = [
        Step(plan.dataset, plan.files, lambda ds: average_time(ds, request.freq)) for plan in plans
    ]
    return run_steps(
        "average_time",
        request.parameters(),
        steps,
        out_dir=out_dir,
        out_url=out_url,
        data_url="",
        time_chunk=time_chunk,
        max_file_mb=max_file_mb,
        progress=progress,
    )
