"""What is benchmarked: the operations, the methods doing them, and the CDO command lines.

Kept free of heavy imports: the parent process only starts the runs, each in a fresh child.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = [
    "ARCHIVE_OPERATIONS",
    "AREA",
    "CLISOPS_REGRID_NA",
    "METHODS",
    "OPERATIONS",
    "QUICK_ARCHIVE_METHODS",
    "QUICK_ARCHIVE_OPERATIONS",
    "QUICK_DAYS",
    "QUICK_OPERATIONS",
    "REGRID_METHODS",
    "SYNTHETIC",
    "TARGET_GRID",
    "TIME_FREQS",
    "Job",
    "cdo_command",
    "cdo_grid_description",
]

#: The operations: a mean over the whole time axis; a time range plus area selection; the
#: area-weighted mean over the horizontal grid (field mean); yearly and monthly means;
#: bilinear and conservative regridding to :data:`TARGET_GRID`.
OPERATIONS = ("mean", "subset", "fldmean", "yearmean", "monmean", "remapbil", "remapcon")
#: The operations also run on the real archive (the others only on synthetic data), by the
#: datasets of :data:`benchmarks.archive.CASES` they run on: the means on each grid type's
#: dataset, the remaps on its smaller one (a global 1-degree grid's output grows with every
#: time step: CDO takes 5 minutes and writes 6 GB for the 58,000 days of the regular one).
ARCHIVE_OPERATIONS = {
    "pattern": ("fldmean", "yearmean", "monmean"),
    "small_pattern": ("remapbil", "remapcon"),
}
#: A quick run (``--quick``, the smoke test's): these operations (unless ``--operation``
#: says otherwise) on synthetic files of January only; on the archive only the field mean
#: (area weights on each grid type) on the smaller datasets, by ours and CDO.
QUICK_OPERATIONS = ("fldmean", "yearmean", "monmean", "remapbil", "remapcon")
QUICK_ARCHIVE_OPERATIONS = {"small_pattern": ("fldmean",)}
QUICK_ARCHIVE_METHODS = ("ours", "cdo")
QUICK_DAYS = 31
#: The methods benchmarked for each operation. ``ours`` is the service's own path: the
#: averaging tasks of :mod:`cp4cds_wps.operations.average` (planning, one-thread computing,
#: writing, checksums, provenance), :func:`cp4cds_wps.ops.subset` and
#: :func:`cp4cds_wps.ops.regrid.regrid` written with the service's netCDF writer;
#: ``ours-plain`` is xarray's plain ``mean("time")`` on the service's opening and writer (the
#: floor of our stack); ``clisops`` is clisops called directly with its defaults; ``cdo`` the
#: Climate Data Operators.
METHODS = {
    "mean": ("ours", "ours-plain", "clisops", "cdo"),
    "subset": ("ours", "clisops", "cdo"),
    "fldmean": ("ours", "clisops", "cdo"),
    "yearmean": ("ours", "clisops", "cdo"),
    "monmean": ("ours", "clisops", "cdo"),
    "remapbil": ("ours", "clisops", "cdo"),
    "remapcon": ("ours", "clisops", "cdo"),
}
#: The period of each time mean, as the averaging task and clisops name it.
TIME_FREQS = {"yearmean": "year", "monmean": "month"}
#: The regridding method of each remap operation, as ours and clisops name it.
REGRID_METHODS = {"remapbil": "bilinear", "remapcon": "conservative"}
#: The target grid of the remap operations (a global grid of 1 degree cells).
TARGET_GRID = "1deg"
#: Why clisops' regrid is not run.
CLISOPS_REGRID_NA = (
    "clisops.ops.regrid needs xESMF and its ESMF library (esmpy): on neither PyPI nor Debian"
)
#: The area of the subset: west, south, east, north (Europe, across the 0..360 grid's seam).
AREA = (-10.0, 35.0, 40.0, 70.0)
#: The ``data`` label of the synthetic dataset.
SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class Job:
    """One run: an operation done by one method on one dataset's files.

    Attributes
    ----------
    operation
        One of :data:`OPERATIONS`.
    method
        One of ``METHODS[operation]``.
    data
        Which dataset: :data:`SYNTHETIC` or the label of an archive dataset.
    variable
        The dataset's data variable.
    files
        The dataset's files in time order.
    glob
        A glob pattern matching exactly those files (clisops takes one string).
    out_dir
        Empty folder for the outputs.
    start, end
        First and last day (``YYYY-MM-DD``) of the subset.
    dataset_id
        The archive dataset's id (None for synthetic data): ours plans it with the inventory.
    area
        West, south, east, north of the subset.
    grid_file
        CDO grid description of :data:`TARGET_GRID` (remap operations).
    """

    operation: str
    method: str
    data: str
    variable: str
    files: tuple[str, ...]
    glob: str
    out_dir: str
    start: str = ""
    end: str = ""
    dataset_id: str | None = None
    area: tuple[float, float, float, float] = AREA
    grid_file: str = ""

    @property
    def area_text(self) -> str:
        """The area as ``"W,S,E,N"``."""
        return ",".join(f"{v:g}" for v in self.area)

    @property
    def time_text(self) -> str:
        """The time range as ``"start/end"``."""
        return f"{self.start}/{self.end}"

    @property
    def output(self) -> str:
        """The output file of methods that name their own output."""
        return f"{self.out_dir}/{self.variable}_{self.operation}_{self.method}.nc"

    def to_json(self) -> str:
        """The job as a JSON document (the child process's argument)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The job of a JSON document made by :meth:`to_json`."""
        fields = json.loads(text)
        return cls(**{**fields, "files": tuple(fields["files"]), "area": tuple(fields["area"])})


def cdo_grid_description() -> str:
    """:data:`TARGET_GRID` as a CDO grid description, the cells of ours: edges on whole degrees
    from 0 east and -90 north."""
    return (
        "gridtype = lonlat\nxsize = 360\nysize = 180\n"
        "xfirst = 0.5\nxinc = 1\nyfirst = -89.5\nyinc = 1\n"
    )


def cdo_command(job: Job) -> list[str]:
    """The CDO command line doing ``job`` (zlib level 1 netCDF4 output, as our writer).

    Parameters
    ----------
    job
        A job whose method is ``cdo``.

    Returns
    -------
    list of str
        The command and its arguments.
    """
    west, south, east, north = (f"{v:g}" for v in job.area)
    chains = {
        "mean": ["timmean"],
        "subset": [
            f"sellonlatbox,{west},{east},{south},{north}",
            f"-seldate,{job.start}T00:00:00,{job.end}T23:59:59",
        ],
        "fldmean": ["fldmean"],
        "yearmean": ["yearmean"],
        "monmean": ["monmean"],
        "remapbil": [f"remapbil,{job.grid_file}"],
        "remapcon": [f"remapcon,{job.grid_file}"],
    }
    return [
        *("cdo", "-s", "-f", "nc4", "-z", "zip_1"),
        *chains[job.operation],
        *("-mergetime", *job.files, job.output),
    ]
