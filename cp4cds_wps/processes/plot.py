"""WPS process ``plot``: a quick look at a dataset as a PNG, with the plotted numbers as CSV."""

from __future__ import annotations

from pathlib import Path

from pywps import FORMATS, ComplexOutput, Format, LiteralInput
from pywps.inout.storage import STORE_TYPE, StorageAbstract
from pywps.validator.mode import MODE

from cp4cds_wps.ops.params import parse_area, parse_level, parse_time
from cp4cds_wps.ops.plot import KINDS, parse_kind, parse_timestep
from cp4cds_wps.processes.common import (
    DataProcess,
    area_input,
    collection_input,
    level_input,
    literal,
    result_outputs,
    text_input,
    time_input,
)
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.plot import PlotRequest, plan_plot, run_plot


def _request(wps_request) -> PlotRequest:
    return PlotRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        kind=parse_kind(literal(wps_request, "kind")),
        timestep=parse_timestep(literal(wps_request, "timestep")),
        time=parse_time(literal(wps_request, "time")),
        area=parse_area(literal(wps_request, "area")),
        level=parse_level(literal(wps_request, "level")),
    )


class Plot(DataProcess):
    """Plot a dataset of the archive: an area-mean time series or a map of one time step."""

    def __init__(self):
        super().__init__(
            identifier="plot",
            title="Plot",
            abstract="A quick look at one dataset of the archive, given by its ESGF dataset "
            "id: the area-weighted mean over the grid (or a part of it) at each time step, or "
            "a longitude/latitude map of one time step, on regular, curvilinear and "
            "rotated-pole grids. Of data with levels the first selected level is shown. "
            "Returns the plot as PNG, the plotted values as CSV, and the provenance.",
            inputs=[
                collection_input(),
                LiteralInput(
                    "kind",
                    "Kind of plot",
                    abstract="map: the values on the grid at one time step; timeseries: "
                    "the area-weighted mean over the grid at each time step.",
                    data_type="string",
                    min_occurs=0,
                    max_occurs=1,
                    default=KINDS[0],
                    allowed_values=list(KINDS),
                    # checked by parse_kind, which names the input; PyWPS's check does not
                    mode=MODE.NONE,
                ),
                text_input(
                    "timestep",
                    "Time step",
                    "The time step of a map: its index (0 the first, the default; -1 the "
                    "last) or a date with at least year and month, which selects the first "
                    "step within it. Example: 2015-07",
                ),
                time_input(),
                area_input(),
                level_input(),
            ],
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

    parse = staticmethod(_request)
    plan = staticmethod(plan_plot)

    def run(self, request, plan, *, max_file_mb, **options):
        """Plot (one PNG and one CSV, never split)."""
        return run_plot(request, plan, **options)

    def write(self, response, result, out_dir, out_url):
        """The PNG and CSV are served where they were written; the provenance as JSON."""
        for name, path in (("output", result.image), ("data", result.table)):
            response.outputs[name].storage = ServedInPlace(out_dir, out_url)
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
