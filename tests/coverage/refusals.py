"""The known, documented refusals of the coverage matrix, in one place.

Each entry names the datasets (an ``fnmatch`` pattern of ids), the operations, why the data
do not allow them, and the error the service must raise: its class (out of
:mod:`cp4cds_wps.errors`) and a phrase its message must contain. ``docs/coverage.md``
renders this table (``python -m tests.coverage.report``).

A refusal belongs here only when the data truly do not allow the operation: no time axis
for a time series or a time mean, no latitude/longitude for a map, a grid mean or a regrid,
files of one dataset reduced to different grids in the test archive, a grid sampled so
sparsely that it covers no target cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter, NoDataSelected, ServiceError


@dataclass(frozen=True)
class Refusal:
    """Datasets matching ``pattern`` refuse ``operations`` with ``error`` naming ``phrase``."""

    pattern: str
    operations: tuple[str, ...]
    reason: str
    error: type[ServiceError]
    phrase: str

    def matches(self, err: ServiceError) -> bool:
        """Whether ``err`` is this refusal: its class, and its message naming the reason."""
        return type(err) is self.error and self.phrase in str(err)

    def describe(self) -> str:
        return f"{self.error.__name__} containing {self.phrase!r}: {self.reason}"


#: Every operation of the matrix (its columns, :data:`tests.coverage.matrix.OPERATIONS`).
ALL = (
    "subset",
    "mean_time",
    "mean_grid",
    "average_year",
    "average_month",
    "regrid_bilinear",
    "regrid_conservative",
    "plot_map",
    "plot_timeseries",
)

TIME_OPERATIONS = ("mean_time", "average_year", "average_month", "plot_timeseries")
GRID_OPERATIONS = ("mean_grid", "regrid_bilinear", "regrid_conservative", "plot_map")
DIFFERENT_GRIDS = "the mini archive reduced the dataset's files to different grids"

REFUSALS: tuple[Refusal, ...] = (
    Refusal(
        "CMIP6.CMIP.CCCR-IITM.IITM-ESM.1pctCO2.r1i1p1f1.Omon.tos.gn.*",
        ALL,
        DIFFERENT_GRIDS + " (2x4 and 200x360 cells)",
        DatasetInconsistent,
        "files have different grids",
    ),
    Refusal(
        "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlds.gr.*",
        ALL,
        DIFFERENT_GRIDS + " (143x144 and 2x2 cells)",
        DatasetInconsistent,
        "files have different grids",
    ),
    Refusal(
        "CMIP6.CMIP.MPI-M.MPI-ESM1-2-LR.historical.r1i1p1f1.AERmon.o3.gn.*",
        ALL,
        DIFFERENT_GRIDS + " (a zonal-mean file of 96x1 cells beside the 96x192 grid)",
        DatasetInconsistent,
        "files have different grids",
    ),
    Refusal(
        "*.fx.*",
        TIME_OPERATIONS,
        "a fixed field: no time axis to average over or plot against",
        InvalidParameter,
        "has no time axis",
    ),
    Refusal(
        "*.Ofx.*",
        TIME_OPERATIONS,
        "a fixed field: no time axis to average over or plot against",
        InvalidParameter,
        "has no time axis",
    ),
    Refusal(
        "*mon.*",
        ("average_month",),
        "monthly data: a monthly mean needs finer time steps",
        InvalidParameter,
        "a month mean needs finer data",
    ),
    Refusal(
        "cmip5.output1.IPSL.IPSL-CM5A-MR.rcp45.mon.ocean.Omon.r1i1p1.*.zostoga",
        ("average_year",),
        "sampled in time to steps about 100 months apart: a yearly mean needs finer steps",
        InvalidParameter,
        "a year mean needs finer data",
    ),
    Refusal(
        "*.zostoga*",
        GRID_OPERATIONS,
        "a global mean series (zostoga): no latitude/longitude grid",
        InvalidParameter,
        "has no latitude",
    ),
    Refusal(
        "*.msftmz.*",
        GRID_OPERATIONS,
        "a zonal-mean overturning stream function per basin (msftmz): no longitude axis",
        InvalidParameter,
        "longitude",
    ),
    Refusal(
        "CMIP6.CMIP.MPI-M.ICON-ESM-LR.*",
        ("regrid_bilinear",),
        "an unstructured grid (ICON's triangles): bilinear interpolation needs rows and columns",
        InvalidParameter,
        "bilinear interpolation needs a structured grid",
    ),
    *(
        Refusal(
            pattern,
            ("regrid_bilinear",),
            f"sampled to {cells} cell(s): no target centre lies between the cell centres",
            NoDataSelected,
            "no cell of the target grid",
        )
        for pattern, cells in (
            ("c3s-cica-atlas.pr.CMIP5.rcp26.mon.*", "1x2"),
            ("cmip5.output1.IPSL.IPSL-CM5A-LR.historical.mon.atmos.Amon.r1i1p1.*.tas", "1x1"),
            ("CMIP6.ScenarioMIP.MPI-M.MPI-ESM1-2-LR.ssp370.r1i1p1f1.fx.mrsofc.gn.*", "1x2"),
            ("cordex.output.ANT-44.KNMI.ECMWF-ERAINT.evaluation.r1i1p1.KNMI-RACMO21P.*", "1x2"),
        )
    ),
    Refusal(
        "CMIP6.DCPP.DWD.MPI-ESM1-2-LR.dcppA-hindcast.s1980-*.day.tasmax.*",
        ("regrid_bilinear",),
        "sampled to a single latitude row: no target centre lies between the cell centres",
        NoDataSelected,
        "has a single row or column",
    ),
)


def expected_refusal(dataset_id: str, operation: str) -> Refusal | None:
    """The listed refusal of ``operation`` on ``dataset_id``, if any (the first that
    matches)."""
    for refusal in REFUSALS:
        if operation in refusal.operations and fnmatchcase(dataset_id, refusal.pattern):
            return refusal
    return None


__all__ = ["ALL", "REFUSALS", "Refusal", "expected_refusal"]
