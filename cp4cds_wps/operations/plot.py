"""The operation ``plot``: a quick look at one dataset as a PNG, with the plotted numbers as CSV.

Free of WPS code, like :mod:`cp4cds_wps.operations.subset`: :func:`plan_plot` resolves a request
against the inventory without reading data; :func:`run_plot` opens the files, subsets them,
draws (:mod:`cp4cds_wps.ops.plot`) and writes the image and the table.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import matplotlib

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.operations.average import areas_dataset
from cp4cds_wps.operations.base import AREA, COLLECTION, LEVEL, TIME, Input, Operation, Values
from cp4cds_wps.operations.sizing import DatasetEstimate, read_only
from cp4cds_wps.ops.notes import recorded_notes
from cp4cds_wps.ops.open import open_dataset
from cp4cds_wps.ops.params import Area, LevelRange, TimeRange, parse_area, parse_level, parse_time
from cp4cds_wps.ops.plot import (
    KINDS,
    Timestep,
    parse_kind,
    parse_timestep,
    plot_map,
    plot_timeseries,
    select_timestep,
)
from cp4cds_wps.ops.subset import subset
from cp4cds_wps.output.naming import output_filename
from cp4cds_wps.output.provenance import Provenance
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.files import check_consistent, open_files, record_input, select_files
from cp4cds_wps.tasks.runner import RunContext, one_thread
from cp4cds_wps.tasks.software import software_versions

KIND = Input(
    "kind",
    "Kind of plot",
    "map: the values on the grid at one time step; timeseries: "
    "the area-weighted mean over the grid at each time step.",
    kind="choice",
    choices=tuple(KINDS),
    default=KINDS[0],
    linked=False,
)
TIMESTEP = Input(
    "timestep",
    "Time step",
    "The time step of a map: its index (0 the first, the default; -1 the "
    "last) or a date with at least year and month, which selects the first "
    "step within it. Example: 2015-07",
)


@dataclass(frozen=True)
class PlotRequest:
    """What to plot: one dataset, the kind of plot and an optional selection."""

    collection: tuple[str, ...]
    kind: str = "map"
    timestep: Timestep | None = None
    time: TimeRange | None = None
    area: Area | None = None
    level: LevelRange | None = None

    def parameters(self) -> dict[str, str]:
        """The request as text, for provenance."""
        params = {"collection": ",".join(self.collection), "kind": self.kind}
        for name in ("timestep", "time", "area", "level"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        return params


def parse_plot(values: Values) -> PlotRequest:
    """The request the input values make."""
    return PlotRequest(
        collection=parse_collection(values.get("collection")),
        kind=parse_kind(values.get("kind")),
        timestep=parse_timestep(values.get("timestep")),
        time=parse_time(values.get("time")),
        area=parse_area(values.get("area")),
        level=parse_level(values.get("level")),
    )


@dataclass(frozen=True)
class PlotPlan:
    """The dataset to plot, the files needed, and the dataset of its cell areas if used."""

    dataset: Dataset
    files: tuple[FileRecord, ...]
    areas: Dataset | None = None


@dataclass(frozen=True)
class PlotResult:
    """The PNG image, the CSV table of the plotted values and the provenance of the run."""

    image: Path
    table: Path
    provenance: Provenance


def plan_plot(request: PlotRequest, inventory: Inventory) -> PlotPlan:
    """Resolve the dataset of a request and choose its files, without reading data.

    A map of a step given by date needs only the files around that date. A time series uses
    the archive's ``areacella``/``areacello`` for its area means when there is one (as
    :func:`cp4cds_wps.operations.average.plan_average`).

    Raises
    ------
    InvalidParameter
        When more than one dataset is given, a time series is asked of a dataset without
        time, or a time step of a time series or of a dataset without time.
    UnknownDataset, NoDataSelected, DatasetInconsistent
        When the id is unknown, the time or time step misses the dataset, or the files
        needed disagree.
    """
    if len(request.collection) != 1:
        raise InvalidParameter(
            "collection",
            f"a plot shows one dataset; {len(request.collection)} ids were given",
        )
    if request.kind == "timeseries" and request.timestep is not None:
        raise InvalidParameter(
            "timestep", "a timeseries shows every time step; choose a period with time"
        )
    dataset = inventory.get(request.collection[0])
    if dataset.start is None:
        if request.kind == "timeseries":
            raise InvalidParameter(
                "kind", f"{dataset.id} has no time axis: plot a map, not a timeseries"
            )
        if request.timestep is not None:
            raise InvalidParameter("timestep", f"{dataset.id} has no time axis to choose from")
    files, _ = select_files(dataset, request.time)
    within = request.timestep.within if request.kind == "map" and request.timestep else None
    if within is not None:
        files = _files_within(dataset, files, within, request.timestep)
    check_consistent(dataset, files)
    areas = areas_dataset(dataset, inventory) if request.kind == "timeseries" else None
    return PlotPlan(dataset=dataset, files=files, areas=areas)


def _files_within(
    dataset: Dataset, files: tuple[FileRecord, ...], within: TimeRange, timestep: Timestep
) -> tuple[FileRecord, ...]:
    chosen = tuple(f for f in files if f.end >= within.start and f.start <= within.end)
    if not chosen:
        raise NoDataSelected(
            "timestep",
            f"{timestep} is outside the time range of the data selected from {dataset.id}: "
            f"{files[0].start} to {files[-1].end}",
        )
    return chosen


def estimate_plot(
    request: PlotRequest, plan: PlotPlan, inventory: Inventory, _: int
) -> tuple[DatasetEstimate, ...]:
    """What the plot reads (its image is not estimated)."""
    return read_only([(plan.dataset, plan.files)])


def run_plot(request: PlotRequest, plan: PlotPlan, context: RunContext) -> PlotResult:
    """Draw the planned dataset; write ``<name>_<kind>.png`` and ``.csv`` into the context's
    ``out_dir`` (its ``out_url`` for the provenance; never split into several files).

    Parameters
    ----------
    request, plan
        What to plot, as planned by :func:`plan_plot`.
    context
        Where the files go, chunking and progress.

    Returns
    -------
    PlotResult
    """
    report, out_dir = context.report, context.out_dir
    dataset = plan.dataset
    report(0, f"plot: {dataset.id}")
    # the files are closed when done, also on errors (see cp4cds_wps.tasks.runner)
    with (
        one_thread(),
        recorded_notes() as notes,
        contextlib.ExitStack() as files_open,
    ):
        opened = open_files(dataset, plan.files, time_chunk=context.time_chunk)
        ds = subset(
            files_open.enter_context(opened),
            time=request.time,
            area=request.area,
            level=request.level,
        )
        if request.kind == "map":
            if "time" in ds.dims:
                ds = select_timestep(ds, request.timestep)
            figure, table = plot_map(ds, dataset.variable, title=dataset.id)
        else:
            areacella = None
            if plan.areas is not None:
                fx = open_dataset([f.verified_path() for f in plan.areas.files])
                areacella = files_open.enter_context(fx)[plan.areas.variable]
            figure, table = plot_timeseries(
                ds, dataset.variable, title=dataset.id, areacella=areacella
            )
    stem = output_filename(plan.files[0].path.name, ds).removesuffix(".nc")
    out_dir.mkdir(parents=True, exist_ok=True)
    image = out_dir / f"{stem}_{request.kind}.png"
    table_path = out_dir / f"{stem}_{request.kind}.csv"
    figure.savefig(image)
    table.to_csv(table_path, index=False)

    software = {**software_versions(), "matplotlib": matplotlib.__version__}
    prov = Provenance("plot", request.parameters(), software=software)
    for used in (dataset, plan.areas):
        if used is not None:
            files = plan.files if used is dataset else used.files
            record_input(prov, used, files)
    for text in notes:
        prov.add_note(text)
    for path in (image, table_path):
        prov.add_output(path.name, f"{context.out_url}/{path.name}")
    report(100, "plot done")
    return PlotResult(image=image, table=table_path, provenance=prov)


PLOT = Operation(
    name="plot",
    title="Plot",
    abstract="A quick look at one dataset of the archive, given by its ESGF dataset "
    "id: the area-weighted mean over the grid (or a part of it) at each time step, or "
    "a longitude/latitude map of one time step, on regular, curvilinear and "
    "rotated-pole grids. Of data with levels the first selected level is shown. "
    "Returns the plot as PNG, the plotted values as CSV, and the provenance.",
    inputs=(COLLECTION, KIND, TIMESTEP, TIME, AREA, LEVEL),
    parse=parse_plot,
    plan=plan_plot,
    estimate=estimate_plot,
    run=run_plot,
    sized=False,
)
