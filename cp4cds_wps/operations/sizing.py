"""Sizing planned requests without reading data beyond coordinates and a small sample.

Each operation's ``estimate`` (see :mod:`cp4cds_wps.operations`) sizes its plan with these:

- read: the archive files the request opens, each counted in proportion to the time steps
  it contributes (the archive stores whole fields per chunk);
- written: every variable of the dataset's first file with the output sizes of its
  dimensions; data variables compressed as the service writes them (zlib level 1 with
  shuffle, the ratio measured on up to 1 MiB of the selection), coordinates and bounds
  uncompressed, plus the netCDF-4 header of each output file;
- returned original files (``subset`` of whole files) are neither read nor written.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from cp4cds_wps.inventory import Dataset, FileRecord
from cp4cds_wps.inventory.geometry import Geometry, compressed_fraction
from cp4cds_wps.ops.params import TimeComponents, TimeRange

#: Bytes of the netCDF-4 header of one output file (HDF5 superblock, object headers,
#: attributes, dimension scales): 29 to 49 KiB in the outputs of ``subset`` on the test
#: archive, 34 KiB typically.
FILE_OVERHEAD = 34 * 1024
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


def read_only(
    inputs: Iterable[tuple[Dataset, tuple[FileRecord, ...]]],
) -> tuple[DatasetEstimate, ...]:
    """Datasets sized by what is read of their files only (the output is not estimated)."""
    return tuple(
        DatasetEstimate(dataset.id, len(files), read_bytes(files, None), None, 0)
        for dataset, files in inputs
    )


def sized(
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
    read = read_bytes(files, time)
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


def time_steps(files: tuple[FileRecord, ...], time: TimeRange | None) -> int:
    """Time steps of ``files`` inside ``time``."""
    total = 0
    for record in files:
        first, last = _positions(record, time)
        total += max(0, last - first + 1)
    return total


def read_bytes(files: tuple[FileRecord, ...], time: TimeRange | None) -> int:
    total = 0
    for record in files:
        if record.n_times > 0:
            first, last = _positions(record, time)
            total += round(record.size * max(0, last - first + 1) / record.n_times)
        else:
            total += record.size
    return total


def span_days(dataset: Dataset) -> float:
    if not dataset.start or not dataset.end:
        return 0.0
    return (_day_number(dataset.end) - _day_number(dataset.start)) * 365.25 / 360 + 1


def components_fraction(
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
