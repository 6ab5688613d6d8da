"""What is benchmarked: the operations, the methods doing them, and the CDO command lines.

Kept free of heavy imports: the parent process only starts the runs, each in a fresh child.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["METHODS", "OPERATIONS", "Job", "cdo_command"]

#: The operations: a mean over the whole time axis, and a time range plus area selection.
OPERATIONS = ("mean", "subset")
#: The methods benchmarked for each operation. ``ours`` is the service's stack with xarray's
#: plain ``mean("time")``; ``ours-average`` is the service's weighted time mean
#: (:func:`cp4cds_wps.ops.average.average_over_dims`); ``clisops`` is clisops called directly
#: with its defaults; ``cdo`` the Climate Data Operators.
METHODS = {
    "mean": ("ours", "ours-average", "clisops", "cdo"),
    "subset": ("ours", "clisops", "cdo"),
}
#: The area of the subset: west, south, east, north (Europe, across the 0..360 grid's seam).
AREA = (-10.0, 35.0, 40.0, 70.0)


@dataclass(frozen=True)
class Job:
    """One run: an operation done by one method on the dataset's files.

    Attributes
    ----------
    operation
        One of :data:`OPERATIONS`.
    method
        One of ``METHODS[operation]``.
    files
        The dataset's files in time order.
    glob
        A glob pattern matching exactly those files (clisops takes one string).
    out_dir
        Empty folder for the outputs.
    start, end
        First and last day (``YYYY-MM-DD``) of the subset.
    area
        West, south, east, north of the subset.
    """

    operation: str
    method: str
    files: tuple[str, ...]
    glob: str
    out_dir: str
    start: str
    end: str
    area: tuple[float, float, float, float] = AREA

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
        return f"{self.out_dir}/tas_{self.operation}_{self.method}.nc"

    def to_json(self) -> str:
        """The job as a JSON document (the child process's argument)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The job of a JSON document made by :meth:`to_json`."""
        fields = json.loads(text)
        return cls(**{**fields, "files": tuple(fields["files"]), "area": tuple(fields["area"])})


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
    if job.operation == "mean":
        chain = ["timmean"]
    else:
        chain = [
            f"sellonlatbox,{west},{east},{south},{north}",
            f"-seldate,{job.start}T00:00:00,{job.end}T23:59:59",
        ]
    return ["cdo", "-s", "-f", "nc4", "-z", "zip_1", *chain, "-mergetime", *job.files, job.output]
