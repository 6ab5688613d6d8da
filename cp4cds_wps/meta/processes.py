"""The meta-WPS processes: ``resolve``, ``estimate`` and ``availability``.

They answer at once with JSON, so that birdy turns each into a Python function returning a
``dict`` (``result.get(asobj=True)``). Each computes its answer before PyWPS runs it, so that
bad input is an OGC exception report (HTTP 400) naming the input, as the main WPS answers
it. Outputs may be stored (birdy asks for references) and asynchronous requests are answered
at once too, with the finished response (birdy's ``progress=True`` clients).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pywps import FORMATS, ComplexOutput, Format, LiteralInput, Process

from cp4cds_wps.config import Settings
from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.inventory.facet_index import FACET_ORDER
from cp4cds_wps.meta.availability import availability
from cp4cds_wps.meta.estimate import estimate
from cp4cds_wps.meta.resolve import resolve
from cp4cds_wps.meta.selection import OPTIONS, parse_selection
from cp4cds_wps.operations.registry import OPERATIONS, all_inputs
from cp4cds_wps.ops.params import parse_json
from cp4cds_wps.processes.failures import rejected_as_wps_exception

#: Inputs of the main WPS's processes that ``estimate`` takes by name.
REQUEST_INPUTS = (
    "collection",
    "time",
    "time_components",
    "area",
    "level",
    "original_files",
    "dims",
    "freq",
    "method",
    "grid",
    "custom_grid",
)
#: How many values of one facet may be given as repeated inputs.
FACET_VALUES = 100
_OPTION_ABSTRACTS = {
    "time": "Time range start/end to check against the chosen dataset. Example: 1990/2000",
    "area": "Area west,south,east,north (degrees) to check against the chosen dataset.",
    "level": "Level range first/last to check against the chosen dataset. Example: 1000/500",
    "process": "The main-WPS process the selection is for (e.g. subset): with one dataset "
    "chosen, the answer estimates that request and checks the service's limits.",
}


def _text(identifier: str, abstract: str, *, required: bool = False, max_occurs: int = 1):
    return LiteralInput(
        identifier,
        identifier.replace("_", " ").capitalize(),
        abstract=abstract,
        data_type="string",
        min_occurs=1 if required else 0,
        max_occurs=max_occurs,
    )


def _facet_inputs() -> list[LiteralInput]:
    facets = [
        _text(
            name,
            f"Selected {name} value(s): several values (repeated input or comma separated) "
            "match any of them.",
            max_occurs=FACET_VALUES,
        )
        for name in FACET_ORDER
    ]
    collection = _text("collection", "A dataset id (version optional): selects all of its facets.")
    return [*facets, collection]


def _json_output(identifier: str, title: str, abstract: str) -> ComplexOutput:
    return ComplexOutput(
        identifier, title, abstract=abstract, as_reference=False, supported_formats=[FORMATS.JSON]
    )


def _values(request) -> dict[str, list[str]]:
    """The given inputs as lists of text."""
    return {name: [str(i.data) for i in items] for name, items in request.inputs.items() if items}


def _json_object(text: str | None) -> dict[str, str | None]:
    if not text:
        return {}
    value = parse_json(text, "inputs")
    if not isinstance(value, dict):
        raise InvalidParameter("inputs", "must be a JSON object of input names to values")
    return {str(k): None if v is None else str(v) for k, v in value.items()}


def main_inputs() -> dict[str, tuple[str, ...]]:
    """The inputs of each process of the main WPS, by process."""
    return {name: op.input_names for name, op in OPERATIONS.items()}


class MetaProcess(Process):
    """A process whose answer (the data of its outputs) is computed before PyWPS runs it."""

    #: The settings of the service (its archive); set by :func:`meta_processes`.
    settings: Settings | None = None

    def answer(self, values: dict[str, list[str]]) -> dict[str, str | Path]:
        """The outputs' data (text, or a file's path) for the given inputs."""
        raise NotImplementedError

    def execute(self, wps_request, uuid):
        """Compute the answer first, turning errors of the inputs into OGC exceptions."""
        with rejected_as_wps_exception():
            self._answer = self.answer(_values(wps_request))
        wps_request.status = "false"  # finished at once: no status updates to follow
        return super().execute(wps_request, uuid)

    def _handler(self, request, response):
        for name, data in self._answer.items():
            if isinstance(data, Path):
                response.outputs[name].file = str(data)
            else:
                response.outputs[name].data = data
        return response


class Resolve(MetaProcess):
    """Resolve a partial selection: valid values of the other facets, then the dataset."""

    def __init__(self, processes: Sequence[str] = ()):
        self.main_processes = tuple(processes)
        super().__init__(
            self._handler,
            identifier="resolve",
            title="Resolve a selection",
            abstract="Give the facets chosen so far (project, experiment, model, variable, ...);"
            " get for every other facet its valid values with dataset counts, the chosen values"
            " that match nothing with the reason, and once one dataset is selected its time "
            "range and calendar, grid and extent, levels, variables, size and files, and "
            "whether the given time, area and level select data of it.",
            version="1.0",
            store_supported=True,
            status_supported=True,
            inputs=[
                *_facet_inputs(),
                *(_text(name, _OPTION_ABSTRACTS[name]) for name in OPTIONS),
            ],
            outputs=[
                _json_output(
                    "constraints",
                    "Constraints",
                    "JSON: selection, matches, facets (value -> datasets), invalid, datasets, "
                    "dataset, checks, estimate.",
                )
            ],
        )

    def answer(self, values: dict[str, list[str]]) -> dict[str, str | Path]:
        """The constraints of the selection the inputs make."""
        settings = self.settings
        selection = parse_selection(values)
        found = resolve(Inventory.from_settings(settings), selection, settings, self.main_processes)
        return {"constraints": json.dumps(found)}


class Estimate(MetaProcess):
    """Estimate the bytes read and written by a request of the main WPS, against the limits."""

    def __init__(self, processes: Sequence[str] = ()):
        self.main_processes = tuple(processes)
        super().__init__(
            self._handler,
            identifier="estimate",
            title="Estimate a request",
            abstract="Give a main-WPS process (subset, average, average_time, regrid, ...) and "
            "its inputs; get the bytes it would read and write, the number of files, and "
            "whether it is within the service's limits (the main WPS refuses it with the same "
            "reason otherwise). Invalid inputs are answered as the main WPS answers them.",
            version="1.0",
            store_supported=True,
            status_supported=True,
            inputs=[
                _text("process", "The main-WPS process, e.g. subset.", required=True),
                *(
                    _text(
                        name,
                        f"The {name} input of the process.",
                        max_occurs=all_inputs()[name].max_occurs,
                    )
                    for name in REQUEST_INPUTS
                ),
                _text(
                    "inputs",
                    'Other inputs of the process as a JSON object, e.g. {"dims": "time"}.',
                ),
            ],
            outputs=[
                _json_output(
                    "estimate",
                    "Estimate",
                    "JSON: read_bytes, write_bytes, files, outputs, datasets, limits, "
                    "within_limits, reason.",
                )
            ],
        )

    def answer(self, values: dict[str, list[str]]) -> dict[str, str | Path]:
        """The estimate of the request the inputs describe."""
        settings = self.settings
        given = {k: ",".join(v) for k, v in values.items()}
        process = given.pop("process")
        if self.main_processes and process not in self.main_processes:
            offered = ", ".join(self.main_processes)
            raise InvalidParameter(
                "process", f"unknown process {process!r}; the main WPS offers {offered}"
            )
        inputs = {**_json_object(given.pop("inputs", None)), **given}
        known = main_inputs().get(process)
        unknown = [name for name in inputs if known is not None and name not in known]
        if unknown:  # as the main WPS refuses them
            raise InvalidParameter(
                unknown[0],
                f"{process} has no input {unknown[0]!r}; its inputs are {', '.join(known)}",
            )
        found = estimate(
            process,
            inputs,
            Inventory.from_settings(settings),
            max_file_mb=settings.max_file_mb,
        )
        return {"estimate": json.dumps(found.to_dict(settings.limits))}


class Availability(MetaProcess):
    """The data availability matrix of two facets under a selection."""

    def __init__(self):
        super().__init__(
            self._handler,
            identifier="availability",
            title="Data availability",
            abstract="Number of datasets per pair of values of two facets (rows x columns, "
            "e.g. model x variable) among the datasets with the selected facet values (e.g. "
            "experiment=historical); as JSON, CSV and a PNG heatmap.",
            version="1.0",
            store_supported=True,
            status_supported=True,
            inputs=[
                _text("rows", "The facet along the rows (default: model)."),
                _text("columns", "The facet along the columns (default: variable)."),
                *_facet_inputs(),
            ],
            outputs=[
                _json_output(
                    "matrix",
                    "Availability matrix",
                    "JSON: rows, columns, row_values, column_values, counts.",
                ),
                ComplexOutput(
                    "csv",
                    "Availability table",
                    abstract="CSV: one line per row value, one column per column value.",
                    as_reference=False,
                    supported_formats=[FORMATS.CSV],
                ),
                ComplexOutput(
                    "heatmap",
                    "Availability heatmap",
                    abstract="PNG heatmap of the matrix.",
                    as_reference=True,
                    supported_formats=[Format("image/png", extension=".png", encoding="base64")],
                ),
            ],
        )

    def answer(self, values: dict[str, list[str]]) -> dict[str, str | Path]:
        """The matrix of the facets and selection the inputs give, in three forms."""
        rows = values.pop("rows", ["model"])[0]
        columns = values.pop("columns", ["variable"])[0]
        inventory = Inventory.from_settings(self.settings)
        self._matrix = availability(inventory, rows, columns, parse_selection(values))
        return {"matrix": json.dumps(self._matrix.to_dict()), "csv": self._matrix.to_csv()}

    def _handler(self, request, response):
        self._answer["heatmap"] = self._matrix.plot(Path(self.workdir) / "availability.png")
        return super()._handler(request, response)


def meta_processes(
    main_processes: Sequence[str] = (), settings: Settings | None = None
) -> list[Process]:
    """Fresh instances of the meta-WPS processes.

    Parameters
    ----------
    main_processes
        Identifiers of the main WPS's processes (``process`` must be one of them).
    settings
        The settings of the service they answer about (None: described only).
    """
    found = [Resolve(main_processes), Estimate(main_processes), Availability()]
    for process in found:
        process.settings = settings
    return found
