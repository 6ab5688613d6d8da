"""Names of output files, following the naming of the source files.

CMIP5, CMIP6 and CORDEX file names end with the time range they hold,
``_<start>-<end>.nc``, in the precision of the frequency (``YYYY`` for yearly data, ``YYYYMM``
for monthly, ``YYYYMMDD`` for daily, ``YYYYMMDDhh[mm[ss]]`` for sub-daily; CMIP5
climatologies add ``-clim``). An output is named like its source with the time range of the
data it holds, so outputs split in time get distinct names.
"""

from __future__ import annotations

import re
from pathlib import PurePath

import numpy as np
import xarray as xr

#: The time range at the end of a file name: ``_<start>[-<end>][-clim].nc``.
TIME_RANGE = re.compile(
    r"_(?P<start>\d{4}(?:\d{2}){0,5})(?:-(?P<end>\d{4}(?:\d{2}){0,5}))?(?P<suffix>-clim)?\.nc$"
)
#: Digits of a date in file names by the ``frequency`` global attribute, for sources whose
#: name has no time range.
FREQUENCY_DIGITS = {"yr": 4, "mon": 6, "day": 8, "6hr": 10, "3hr": 10, "1hr": 12}
#: ``strftime``-like fields of a date, in file name order, 2 digits each after the year.
FIELDS = ("month", "day", "hour", "minute", "second")


def output_filename(source_name: str, ds: xr.Dataset) -> str:
    """Name of the file holding ``ds``: the source's name with the time range of ``ds``.

    Parameters
    ----------
    source_name
        Name (or path) of the (first) source file, e.g.
        ``tas_Amon_HadGEM2-ES_historical_r1i1p1_185912-188411.nc``.
    ds
        The data to be written, with decoded dates (numpy or cftime) in ``time``.

    Returns
    -------
    str
        For data with a time axis, the source name with its time range (or single date)
        replaced by the first and last dates of ``ds`` in the same precision, e.g.
        ``tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-186912.nc``; a source name without
        a date gets the range appended, in the precision of the ``frequency`` attribute
        (monthly when unknown). After a mean over all time, the range is that of the time
        bounds. Fixed fields (no time axis) keep the source name.
    """
    name = PurePath(source_name).name
    times = _time_span(ds)
    if times is None:
        return name
    match = TIME_RANGE.search(name)
    if match:
        stem, digits, suffix = name[: match.start()], len(match["start"]), match["suffix"] or ""
    else:
        stem = name.removesuffix(".nc")
        digits, suffix = FREQUENCY_DIGITS.get(ds.attrs.get("frequency", ""), 6), ""
    start, end = format_date(times[0], digits), format_date(times[-1], digits)
    return f"{stem}_{start}-{end}{suffix}.nc"


def _time_span(ds: xr.Dataset):
    """The dates ``ds`` holds: its time axis, or after a mean over all time, that time's
    bounds; None for data without time."""
    if "time" in ds.dims and ds.sizes["time"]:
        return ds["time"].values
    if "time" in ds.coords and ds["time"].ndim == 0:
        bounds = ds["time"].attrs.get("bounds")
        if bounds in ds.variables:
            return ds[bounds].values.ravel()
    return None


def format_date(date, digits: int) -> str:
    """A date as in file names: ``YYYY`` followed by as many 2-digit fields as fit ``digits``.

    Parameters
    ----------
    date
        A ``cftime`` date, ``datetime`` or ``numpy.datetime64``.
    digits
        Number of digits: 4 (``YYYY``), 6 (``YYYYMM``), 8, 10, 12 or 14 (``YYYYMMDDhhmmss``).

    Returns
    -------
    str
        The date, e.g. ``"186001"`` for January 1860 with 6 digits.
    """
    if isinstance(date, np.datetime64):
        date = date.astype("datetime64[s]").item()
    fields = FIELDS[: (digits - 4) // 2]
    return f"{date.year:04d}" + "".join(f"{getattr(date, field):02d}" for field in fields)
