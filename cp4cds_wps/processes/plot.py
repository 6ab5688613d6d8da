"""WPS process ``plot``: a quick look at a dataset as a PNG, with the plotted numbers as CSV."""

from __future__ import annotations

from pathlib import Path

from pywps import FORMATS, ComplexOutput, Format
from pywps.inout.storage import STORE_TYPE, StorageAbstract

from cp4cds_wps.config import Settings
from cp4cds_wps.operations.plot import PLOT
from cp4cds_wps.processes.common import DataProcess, result_outputs
from cp4cds_wps.tasks.runner import RunContext


class Plot(DataProcess):
    """Plot a dataset of the archive: an area-mean time series or a map of one time step."""

    operation_name = PLOT.name

    def __init__(self, settings: Settings | None = None):
        super().__init__(
            PLOT,
            settings=settings,
            outputs=[
                ComplexOutput(
                    "output",
                    "Plot",
                    abstract="The plot as PNG image.",
                    as_reference=True,
                    supported_formats=[Format("image/png", extension=".png", encoding="base64")],
                ),
                ComplexOutput(
                    "data",
                    "Plotted values",
                    abstract="The plotted values as CSV: columns time,value for a time "
                    "series, lat,lon,value (one row per grid cell with data) for a map.",
                    as_reference=True,
                    supported_formats=[FORMATS.CSV],
                ),
                next(o for o in result_outputs() if o.identifier == "prov"),
            ],
        )

    def write(self, response, result, context: RunContext):
        """The PNG and CSV are served where they were written; the provenance as JSON."""
        for name, path in (("output", result.image), ("data", result.table)):
            response.outputs[name].storage = ServedInPlace(context.out_dir, context.out_url)
            response.outputs[name].file = str(path)
        response.outputs["prov"].data = result.provenance.json()


class ServedInPlace(StorageAbstract):
    """PyWPS storage of output files written where they are served: nothing is copied.

    PyWPS would copy them from its working folder, which it removes before answering a
    ``RawDataOutput`` request with the file's content.
    """

    def __init__(self, folder: Path, url: str):
        self.folder = folder
        self.base_url = url

    def store(self, output):
        """The file of ``output`` as it is, and its URL."""
        return STORE_TYPE.PATH, output.file, self.url(output.file)

    def url(self, destination) -> str:
        """URL of a file in the folder."""
        return f"{self.base_url}/{Path(destination).relative_to(self.folder)}"

    def location(self, destination) -> str:
        """Path of a file in the folder."""
        return str(self.folder / destination)

    def write(self, data, destination, data_format=None) -> str:
        """Not used: the files are written by the task."""
        raise NotImplementedError("ServedInPlace only serves files written beforehand")
