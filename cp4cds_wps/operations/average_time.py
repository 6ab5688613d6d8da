"""The operation ``average_time``: daily, monthly, seasonal or yearly means.

Planned and run with the other means (:mod:`cp4cds_wps.operations.average`).
"""

from __future__ import annotations

import math

import xarray as xr

from cp4cds_wps.inventory import Inventory
from cp4cds_wps.inventory.geometry import Geometry
from cp4cds_wps.operations.average import (
    AveragePlan,
    AverageTimeRequest,
    estimate_means,
    plan_average,
    run_average_time,
)
from cp4cds_wps.operations.base import COLLECTION, Input, Operation, Values
from cp4cds_wps.operations.sizing import DatasetEstimate, span_days, time_steps
from cp4cds_wps.ops.average import FREQS, average_time, parse_freq
from cp4cds_wps.tasks.collection import parse_collection

#: Average length in days of the periods.
PERIOD_DAYS = {"day": 1.0, "month": 365.25 / 12, "season": 365.25 / 4, "year": 365.25}

FREQ = Input(
    "freq",
    "Frequency",
    "The period of the time means, in the dataset's calendar: day, month, "
    "season (DJF, MAM, JJA, SON) or year. It must be longer than the dataset's time "
    "steps. Example: year",
    kind="choice",
    required=True,
    choices=tuple(FREQS),
)


def parse_average_time(values: Values) -> AverageTimeRequest:
    """The request the input values make."""
    return AverageTimeRequest(
        collection=parse_collection(values.get("collection")),
        freq=parse_freq(values.get("freq")),
    )


def apply_average_time(ds: xr.Dataset, request: AverageTimeRequest, **_) -> xr.Dataset:
    """The means of ``ds`` over the request's periods."""
    return average_time(ds, request.freq)


def estimate_average_time(
    request: AverageTimeRequest,
    plans: tuple[AveragePlan, ...],
    inventory: Inventory,
    max_bytes: int,
) -> tuple[DatasetEstimate, ...]:
    """What each planned dataset reads and writes: one step per period."""

    def shape(plan: AveragePlan, geometry: Geometry | None) -> tuple[int, dict]:
        periods = math.ceil(span_days(plan.dataset) / PERIOD_DAYS[request.freq])
        return min(max(1, periods), time_steps(plan.files, None)), {}

    return estimate_means(plans, inventory, max_bytes, shape)


AVERAGE_TIME = Operation(
    name="average_time",
    title="Average by Time",
    abstract="Daily, monthly, seasonal or yearly means of datasets of the archive, "
    "given by ESGF dataset ids, in each dataset's own calendar; steps are weighted by "
    "their length. Returns a Metalink document listing the resulting netCDF files, "
    "and the provenance of the result.",
    inputs=(COLLECTION, FREQ),
    parse=parse_average_time,
    plan=plan_average,
    estimate=estimate_average_time,
    run=run_average_time,
    apply=apply_average_time,
)
