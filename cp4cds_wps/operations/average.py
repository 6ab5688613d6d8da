"""The operation ``average`` (means over axes), and the planning of all area means.

Free of WPS code, like :mod:`cp4cds_wps.operations.subset`: :func:`plan_average` resolves a
request against the inventory without reading data (and finds the dataset's cell areas,
``areacella``/``areacello``, when the archive has them) for ``average``, ``average_time``
(:mod:`cp4cds_wps.operations.average_time`) and ``average_shape``; :func:`run_average` and
:func:`run_average_time` carry them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import median

import cftime
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.inventory.geometry import Geometry
from cp4cds_wps.operations.base import COLLECTION, Input, Operation, Values
from cp4cds_wps.operations.sizing import DatasetEstimate, read_bytes, sized, time_steps
from cp4cds_wps.ops.average import DIMS, average_over_dims, average_time, check_coarser, parse_dims
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.weights import cell_areas
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.files import whole_datasets
from cp4cds_wps.tasks.runner import RunContext, Step, TaskResult, run_steps

_ISO = "%Y-%m-%dT%H:%M:%S"
#: Realms and table prefixes of ocean and sea-ice data, whose cells are in ``areacello``.
_OCEAN_REALMS = ("ocean", "seaIce", "ocnBgchem")
_OCEAN_TABLES = ("O", "SI")
#: Dimensions of ``dims`` besides time, level and the horizontal grid.
_REALIZATION_DIMS = ("realization", "member", "ensemble")

DIMS_INPUT = Input(
    "dims",
    "Dimensions",
    f"Comma separated dimensions to average over (or the input repeated), out of "
    f"{', '.join(DIMS)}. Means over "
    "latitude and longitude are weighted by cell area (areacella/areacello when the "
    "archive has them); on curvilinear and rotated-pole grids average both together. "
    "Example: latitude,longitude",
    required=True,
    max_occurs=len(DIMS),
)


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


def parse_average(values: Values) -> AverageRequest:
    """The request the input values make."""
    return AverageRequest(
        collection=parse_collection(values.get("collection")),
        dims=parse_dims(values.get("dims")),
    )


def apply_average(
    ds: xr.Dataset, request: AverageRequest, weights: xr.DataArray | None = None, **_
) -> xr.Dataset:
    """The means of ``ds`` over the request's dimensions, weighted by ``weights`` if given."""
    return average_over_dims(ds, request.dims, weights=weights)


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


def estimate_means(
    plans: tuple[AveragePlan, ...],
    inventory: Inventory,
    max_bytes: int,
    shape: Callable[[AveragePlan, Geometry | None], tuple[int, dict[str, int | None]]],
) -> tuple[DatasetEstimate, ...]:
    """Size the means of each planned dataset: ``shape(plan, geometry)`` gives the time
    steps kept and the sizes of the other dimensions (None: averaged away); the cell areas
    read count too."""
    found = []
    for plan in plans:
        geometry = inventory.geometry(plan.dataset)
        steps, sizes = shape(plan, geometry)
        read = read_bytes(plan.files, None)
        if plan.areas is not None:
            read += plan.areas.size
        estimate = sized(plan.dataset, plan.files, geometry, None, steps, sizes, {}, max_bytes)
        found.append(replace(estimate, read_bytes=read))
    return tuple(found)


def estimate_average(
    request: AverageRequest, plans: tuple[AveragePlan, ...], inventory: Inventory, max_bytes: int
) -> tuple[DatasetEstimate, ...]:
    """What each planned dataset reads and writes: its dimensions averaged away."""

    def shape(plan: AveragePlan, geometry: Geometry | None) -> tuple[int, dict]:
        steps = time_steps(plan.files, None)
        if geometry is None:
            return steps, {}
        return (1 if "time" in request.dims else steps), _averaged_dims(request.dims, geometry)

    return estimate_means(plans, inventory, max_bytes, shape)


def _averaged_dims(dims: tuple[str, ...], geometry: Geometry) -> dict[str, int | None]:
    removed: dict[str, int | None] = {}
    if "time" in dims and geometry.time_dim is not None:
        removed[geometry.time_dim] = None
    if "level" in dims and geometry.levels is not None:
        removed[geometry.levels.name] = None
    if "latitude" in dims or "longitude" in dims:
        removed.update({dim: None for dim in geometry.grid_dims})
    if "realization" in dims:
        main = geometry.main()
        for dim in main.dims if main else ():
            if dim in _REALIZATION_DIMS:
                removed[dim] = None
    return removed


def run_average(
    request: AverageRequest, plans: tuple[AveragePlan, ...], context: RunContext
) -> TaskResult:
    """Average each planned dataset over ``request.dims``; write CF netCDF files.

    Spatial means use the planned cell areas when there are some (see
    :func:`cp4cds_wps.ops.weights.cell_areas`). See :func:`cp4cds_wps.tasks.runner.run_steps`.
    """

    def mean(ds: xr.Dataset, weights: xr.DataArray | None) -> xr.Dataset:
        return apply_average(ds, request, weights)

    steps = [area_weighted_step(plan, mean) for plan in plans]
    return run_steps("average", request.parameters(), steps, context)


def run_average_time(
    request: AverageTimeRequest, plans: tuple[AveragePlan, ...], context: RunContext
) -> TaskResult:
    """Average each planned dataset over periods of ``request.freq``; write CF netCDF.

    See :func:`cp4cds_wps.tasks.runner.run_steps`.
    """
    steps = [
        Step(plan.dataset, plan.files, lambda ds: average_time(ds, request.freq)) for plan in plans
    ]
    return run_steps("average_time", request.parameters(), steps, context)


AVERAGE = Operation(
    name="average",
    title="Average",
    abstract="Average datasets of the archive, given by ESGF dataset ids, over "
    "time, level, latitude, longitude and/or realization. Means over the grid are "
    "area-weighted on regular, curvilinear and rotated-pole grids, level means "
    "thickness-weighted and time means weighted by the length of each step when the "
    "data have bounds. Returns a Metalink document listing the resulting netCDF "
    "files, and the provenance of the result.",
    inputs=(COLLECTION, DIMS_INPUT),
    parse=parse_average,
    plan=plan_average,
    estimate=estimate_average,
    run=run_average,
    apply=apply_average,
    weighted=lambda request: request.spatial,
)
