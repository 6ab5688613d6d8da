"""What a request of the main WPS would read and write, and whether the limits allow it.

The request is parsed and planned exactly as the main WPS does (same parsers, same planning
from the inventory, so the same errors), then sized without reading data beyond coordinates
and a small sample:

- read: the archive files the request opens, each counted in proportion to the time steps
  it contributes (the archive stores whole fields per chunk);
- written: every variable of the dataset's first file with the output sizes of its
  dimensions; data variables compressed as the service writes them (zlib level 1 with
  shuffle, the ratio measured on up to 1 MiB of the selection), coordinates and bounds
  uncompressed, plus the netCDF-4 header of each output file;
- returned original files (``subset`` of whole files) are neither read nor written.

:func:`check_limits` raises the error the main processes answer over-limit requests with.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from cp4cds_wps.config import LimitSettings, Settings
from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Dataset, FileRecord, Inventory
from cp4cds_wps.inventory.geometry import Geometry, compressed_fraction
from cp4cds_wps.meta.checks import area_cells, selected_levels, time_files
from cp4cds_wps.ops.average import parse_dims, parse_freq
from cp4cds_wps.ops.params import (
    TimeComponents,
    TimeRange,
    parse_area,
    parse_level,
    parse_time,
    parse_time_components,
)
from cp4cds_wps.ops.regrid import parse_grid, parse_method
from cp4cds_wps.tasks.average import AverageRequest, AverageTimeRequest, plan_average
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.files import check_consistent
from cp4cds_wps.tasks.subset import SubsetRequest, plan_subset

#: Bytes of the netCDF-4 header of one output file (HDF5 superblock, object headers,
#: attributes, dimension scales): 29 to 49 KiB in the outputs of ``subset`` on the test
#: archive, 34 KiB typically.
FILE_OVERHEAD = 34 * 1024
#: Processes whose output size is estimated; others are sized by what they read only.
SIZED = ("subset", "average", "average_time", "regrid")
#: Average length in days of the periods of ``average_time``.
_PERIOD_DAYS = {"day": 1.0, "month": 365.25 / 12, "season": 365.25 / 4, "year": 365.25}
#: Dimensions of ``average``'s ``dims`` besides time, level and the horizontal grid.
_REALIZATION_DIMS = ("realization", "member", "ensemble")
_MB = 2**20
_ISO = re.compile(r"[-T:]")


@dataclass(frozen=True)
class DatasetEstimate:
    """One dataset of a request.

    ``files`` archive files opened and ``read_bytes`` read from them; ``linked`` original
    files returned as they are; ``write_bytes`` the netCDF written (None: not estimated for
    this process) in ``outputs`` files; ``shape`` the output sizes of the dataset variable's
    dimensions.
    """

    id: str
    files: int
    read_bytes: int
    write_bytes: int | None
    outputs: int
    linked: int = 0
    shape: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """What a whole request reads and writes."""

    process: str
    datasets: tuple[DatasetEstimate, ...]

    @property
    def files(self) -> int:
        """Archive files opened."""
        return sum(d.files for d in self.datasets)

    @property
    def read_bytes(self) -> int:
        """Bytes read from the archive."""
        return sum(d.read_bytes for d in self.datasets)

    @property
    def write_bytes(self) -> int | None:
        """Bytes of netCDF written, None when not estimated for the process."""
        sizes = [d.write_bytes for d in self.datasets]
        return None if None in sizes else sum(sizes)

    def to_dict(self, limits: LimitSettings) -> dict:
        """The estimate with the limits and whether it is within them, as JSON-ready data."""
        problem = over_limit(self, limits)
        return {
            "process": self.process,
            "read_bytes": self.read_bytes,
            "write_bytes": self.write_bytes,
            "files": self.files,
            "outputs": sum(d.outputs for d in self.datasets),
            "linked_files": sum(d.linked for d in self.datasets),
            "datasets": [asdict(d) for d in self.datasets],
            "limits": asdict(limits),
            "within_limits": problem is None,
            "reason": None if problem is None else problem.reason,
        }


def over_limit(estimate: Estimate, limits: LimitSettings) -> InvalidParameter | None:
    """The error of a request beyond the limits, or None when it is within them.

    The error names the input ``collection``, which brings the data; its reason gives the
    figures and the limit.
    """
    checks = (
        ("read", estimate.read_bytes, limits.max_read_mb, "max_read_mb"),
        ("write", estimate.write_bytes, limits.max_write_mb, "max_write_mb"),
    )
    for verb, size, limit, key in checks:
        if size is not None and size > limit * _MB:
            return InvalidParameter(
                "collection",
                f"the request would {verb} about {size / _MB:,.0f} MiB, more than this "
                f"service's limit of {limit:,} MiB ({key}); select a shorter time range, a "
                f"smaller area or fewer datasets, or split the request",
            )
    if estimate.files > limits.max_files:
        return InvalidParameter(
            "collection",
            f"the request would open {estimate.files:,} files, more than this service's limit "
            f"of {limits.max_files:,} (max_files); select a shorter time range or fewer "
            f"datasets, or split the request",
        )
    return None


def check_limits(
    process: str, inputs: Mapping[str, str | None], inventory: Inventory, settings: Settings
) -> Estimate:
    """Estimate a request and refuse it when it exceeds the configured limits.

    Parameters
    ----------
    process
        The main WPS process, e.g. ``subset``.
    inputs
        Its inputs as text (see :func:`wps_inputs`).
    inventory
        Where dataset ids are resolved.
    settings
        The service settings (``limits``, ``max_file_mb``).

    Returns
    -------
    Estimate

    Raises
    ------
    InvalidParameter
        When the request exceeds a limit (or its inputs are invalid, as the process says).
    """
    found = estimate(process, inputs, inventory, max_file_mb=settings.max_file_mb)
    problem = over_limit(found, settings.limits)
    if problem is not None:
        raise problem
    return found


def wps_inputs(request) -> dict[str, str]:
    """The inputs of a PyWPS request as text (several values of an input joined by commas)."""
    return {
        name: ",".join(str(item.data) for item in items)
        for name, items in request.inputs.items()
        if items
    }


def _flag(text: str | None) -> bool:
    return str(text or "").strip().lower() in ("true", "1", "yes")


def estimate(
    process: str,
    inputs: Mapping[str, str | None],
    inventory: Inventory,
    *,
    max_file_mb: int,
) -> Estimate:
    """Estimate the bytes read and written and the files opened by a main-WPS request.

    Parameters
    ----------
    process
        The main WPS process (:data:`SIZED` are sized fully; any other process is sized by
        the files of its ``collection``, if it has one).
    inputs
        The process inputs as text.
    inventory
        Where dataset ids are resolved.
    max_file_mb
        Largest output file (MiB of uncompressed data); larger results are split.

    Returns
    -------
    Estimate

    Raises
    ------
    InvalidParameter, MissingParameter
        As the main process raises them for these inputs.
    """
    text = {k: (v if v is None else str(v)) for k, v in inputs.items()}
    max_bytes = max_file_mb * _MB
    if process == "subset":
        return Estimate(process, _subset(text, inventory, max_bytes))
    if process in ("average", "average_time"):
        return Estimate(process, _average(process, text, inventory, max_bytes))
    if process == "regrid":
        return Estimate(process, _regrid(text, inventory, max_bytes))
    datasets = []
    if not text.get("collection"):  # a process that does not read datasets by id
        return Estimate(process, ())
    for dataset_id in parse_collection(text.get("collection")):
        dataset = inventory.get(dataset_id)
        files = time_files(dataset, parse_time(text.get("time")))
        datasets.append(DatasetEstimate(dataset.id, len(files), _read_bytes(files, None), None, 0))
    return Estimate(process, tuple(datasets))


# -- per process ---------------------------------------------------------------------------


def _subset(text: Mapping, inventory: Inventory, max_bytes: int) -> tuple[DatasetEstimate, ...]:
    request = SubsetRequest(
        collection=parse_collection(text.get("collection")),
        time=parse_time(text.get("time")),
        time_components=parse_time_components(text.get("time_components")),
        area=parse_area(text.get("area")),
        level=parse_level(text.get("level")),
        original_files=_flag(text.get("original_files")),
    )
    found = []
    for plan in plan_subset(request, inventory):
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
        steps = _steps(plan.files, request.time)
        if request.time_components is not None:
            steps = _components_fraction(request.time_components, plan.files, steps)
        found.append(
            _sized(dataset, plan.files, geometry, request.time, steps, sizes, index, max_bytes)
        )
    return tuple(found)


def _average(
    process: str, text: Mapping, inventory: Inventory, max_bytes: int
) -> tuple[DatasetEstimate, ...]:
    collection = parse_collection(text.get("collection"))
    if process == "average":
        request = AverageRequest(collection=collection, dims=parse_dims(text.get("dims")))
    else:
        request = AverageTimeRequest(collection=collection, freq=parse_freq(text.get("freq")))
    found = []
    for plan in plan_average(request, inventory):
        dataset, geometry = plan.dataset, inventory.geometry(plan.dataset)
        steps = _steps(plan.files, None)
        sizes: dict[str, int | None] = {}
        if isinstance(request, AverageTimeRequest):
            steps = max(1, math.ceil(_span_days(dataset) / _PERIOD_DAYS[request.freq]))
            steps = min(steps, _steps(plan.files, None))
        elif geometry is not None:
            sizes = _averaged_dims(request.dims, geometry)
            if "time" in request.dims:
                steps = 1
        read = _read_bytes(plan.files, None)
        if plan.areas is not None:
            read += plan.areas.size
        sized = _sized(dataset, plan.files, geometry, None, steps, sizes, {}, max_bytes)
        found.append(replace(sized, read_bytes=read))
    return tuple(found)


def _regrid(text: Mapping, inventory: Inventory, max_bytes: int) -> tuple[DatasetEstimate, ...]:
    parse_method(text.get("method"))
    grid = parse_grid(text.get("grid"), text.get("custom_grid"))
    time = parse_time(text.get("time"))
    found = []
    for dataset_id in parse_collection(text.get("collection")):
        dataset = inventory.get(dataset_id)
        files = time_files(dataset, time)
        check_consistent(dataset, files)
        geometry = inventory.geometry(dataset)
        sizes: dict[str, int | None] = {}
        if geometry is not None and grid.dlat is not None:
            nlat, nlon = grid.shape
            if len(geometry.grid_dims) == 2:
                sizes = dict(zip(geometry.grid_dims, (nlat, nlon), strict=True))
            elif len(geometry.grid_dims) == 1:
                sizes = {geometry.grid_dims[0]: nlat * nlon}
        steps = _steps(files, time)
        found.append(_sized(dataset, files, geometry, time, steps, sizes, {}, max_bytes))
    return tuple(found)


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


# -- sizing --------------------------------------------------------------------------------


def _sized(
    dataset: Dataset,
    files: tuple[FileRecord, ...],
    geometry: Geometry | None,
    time: TimeRange | None,
    steps: int,
    sizes: dict[str, int | None],
    index: dict[str, np.ndarray],
    max_bytes: int,
) -> DatasetEstimate:
    """Size the output of one dataset whose time axis keeps ``steps`` steps and whose other
    dimensions change to ``sizes`` (None: averaged away, which drops the coordinates and
    bounds along them and reduces the data variables)."""
    read = _read_bytes(files, time)
    main = None if geometry is None else geometry.main()
    if main is None:
        return DatasetEstimate(dataset.id, len(files), read, None, 0)
    fixed = per_step = compressible = 0
    for var in geometry.variables:
        removed = [d for d in var.dims if d in sizes and sizes[d] is None]
        if removed and var.role != "data":
            continue
        shape = {d: sizes.get(d) or n for d, n in zip(var.dims, var.shape, strict=True)}
        timed = shape.pop(geometry.time_dim, None) is not None
        raw = var.itemsize * math.prod(n for d, n in shape.items() if d not in removed)
        if timed:
            per_step += raw
        else:
            fixed += raw
        if var.role == "data" and var.dims and var.dtype != "str":
            compressible += raw * (steps if timed else 1)
    per_file = max(1, (max_bytes - fixed) // max(1, per_step))
    outputs = max(1, math.ceil(steps / per_file)) if per_step else 1
    raw_total = fixed * outputs + per_step * steps
    ratio = _ratio(files, geometry, time, index)
    written = outputs * FILE_OVERHEAD + raw_total - compressible + round(compressible * ratio)
    shape = {
        d: steps if d == geometry.time_dim else sizes.get(d) or n
        for d, n in zip(main.dims, main.shape, strict=True)
        if not (d in sizes and sizes[d] is None)
    }
    return DatasetEstimate(dataset.id, len(files), read, written, outputs, shape=shape)


def _ratio(
    files: tuple[FileRecord, ...],
    geometry: Geometry,
    time: TimeRange | None,
    index: dict[str, np.ndarray],
) -> float:
    """Compressed over raw size of the dataset variable's selection, sampled; 1 if unknown."""
    if not files:
        return 1.0
    first = files[0]
    sample = dict(index)
    if geometry.time_dim is not None and first.n_times:
        start, _ = _positions(first, time)
        sample[geometry.time_dim] = np.arange(start, first.n_times)
    try:
        ratio = _sampled_ratio(first, geometry.variable, sample)
    except (OSError, RuntimeError, ValueError, IndexError):
        ratio = None
    return 1.0 if ratio is None else min(ratio, 1.0)


#: Ratios sampled (see :func:`_sampled_ratio`), and how many are kept.
_RATIOS: dict[tuple, float | None] = {}
_MAX_RATIOS = 4096


def _sampled_ratio(
    record: FileRecord, variable: str, sample: dict[str, np.ndarray]
) -> float | None:
    """:func:`compressed_fraction` of a file's selection, sampled once per process for each
    file (as scanned), variable and selection: the same request submitted again (every
    submission is estimated) reads nothing again."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(sample):
        digest.update(name.encode() + b"\0" + np.ascontiguousarray(sample[name]).tobytes())
    key = (str(record.path), record.size, record.mtime, variable, digest.digest())
    if key not in _RATIOS:
        if len(_RATIOS) >= _MAX_RATIOS:
            _RATIOS.clear()
        _RATIOS[key] = compressed_fraction(record.path, variable, sample)
    return _RATIOS[key]


def _day_number(iso: str) -> float:
    """A date as days on a uniform 360-day scale: exact for positions within one file,
    whose steps are equally long on the same scale up to a day."""
    year, month, day, hour, minute, second = (int(x) for x in _ISO.split(iso))
    return year * 360.0 + (month - 1) * 30.0 + (day - 1) + (hour + (minute + second / 60) / 60) / 24


def _positions(record: FileRecord, time: TimeRange | None) -> tuple[int, int]:
    """First and last step (inclusive) of ``record`` inside ``time``."""
    last = record.n_times - 1
    if time is None or not record.start or last <= 0:
        return 0, last
    begin, end = _day_number(record.start), _day_number(record.end)
    step = (end - begin) / last
    first = 0 if time.start is None else math.ceil((_day_number(time.start) - begin) / step - 1e-6)
    final = last if time.end is None else math.floor((_day_number(time.end) - begin) / step + 1e-6)
    return max(0, first), min(last, final)


def _steps(files: tuple[FileRecord, ...], time: TimeRange | None) -> int:
    """Time steps of ``files`` inside ``time``."""
    total = 0
    for record in files:
        first, last = _positions(record, time)
        total += max(0, last - first + 1)
    return total


def _read_bytes(files: tuple[FileRecord, ...], time: TimeRange | None) -> int:
    total = 0
    for record in files:
        if record.n_times > 0:
            first, last = _positions(record, time)
            total += round(record.size * max(0, last - first + 1) / record.n_times)
        else:
            total += record.size
    return total


def _span_days(dataset: Dataset) -> float:
    if not dataset.start or not dataset.end:
        return 0.0
    return (_day_number(dataset.end) - _day_number(dataset.start)) * 365.25 / 360 + 1


def _components_fraction(
    components: TimeComponents, files: tuple[FileRecord, ...], steps: int
) -> int:
    """Time steps left by time components, judged by the share of each component kept."""
    share = 1.0
    for name, values in components.components.items():
        if name == "year":
            years = {
                y
                for f in files
                if f.start and f.end
                for y in range(int(f.start[:4]), int(f.end[:4]) + 1)
            }
            share *= len(years & set(values)) / max(len(years), 1)
        else:
            share *= min(1.0, len(set(values)) / {"month": 12, "day": 30, "hour": 24}.get(name, 60))
    return max(1, round(steps * share)) if share else 0
