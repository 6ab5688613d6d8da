"""WPS process ``regrid``: regrid datasets by id onto a regular latitude-longitude grid."""

from __future__ import annotations

from pywps import LiteralInput
from pywps.validator.mode import MODE

from cp4cds_wps.ops.regrid import (
    DEFAULT_GRID,
    DEFAULT_METHOD,
    GRIDS,
    METHODS,
    parse_grid,
    parse_method,
)
from cp4cds_wps.processes.common import (
    DataProcess,
    collection_input,
    literal,
    text_input,
)
from cp4cds_wps.tasks.collection import parse_collection
from cp4cds_wps.tasks.regrid import RegridRequest, plan_regrid, run_regrid


def _choice_input(
    identifier: str, title: str, abstract: str, choices: list[str], default: str
) -> LiteralInput:
    return LiteralInput(
        identifier,
        title,
        abstract=abstract,
        data_type="string",
        min_occurs=0,
        max_occurs=1,
        allowed_values=choices,
        default=default,
        # checked by the parsers, which name the input; PyWPS's own check does not
        mode=MODE.NONE,
    )


def _request(wps_request) -> RegridRequest:
    return RegridRequest(
        collection=parse_collection(literal(wps_request, "collection")),
        method=parse_method(literal(wps_request, "method")),
        grid=parse_grid(literal(wps_request, "grid"), literal(wps_request, "custom_grid")),
    )


class Regrid(DataProcess):
    """Regrid datasets of the archive onto a regular latitude-longitude grid
    (rook-compatible)."""

    def __init__(self):
        super().__init__(
            identifier="regrid",
            title="Regrid",
            abstract="Regrid datasets of the archive, given by ESGF dataset ids, onto a "
            "regular latitude-longitude grid: from regular, curvilinear, rotated-pole or "
            "unstructured grids, by nearest neighbour, bilinear interpolation or "
            "conservative remapping. Missing values (e.g. land of ocean data) are left out "
            "and the weights of the valid cells renormalised; nothing is extrapolated beyond "
            "the source grid. Returns a Metalink document listing the resulting netCDF "
            "files, and the provenance of the result.",
            inputs=[
                collection_input(),
                _choice_input(
                    "method",
                    "Regridding Method",
                    "nearest_s2d: the value of the nearest source cell; bilinear: bilinear "
                    "interpolation; conservative: area-weighted means of the overlapping "
                    "source cells, which keep the area mean (needs cell bounds on "
                    "curvilinear grids).",
                    list(METHODS),
                    DEFAULT_METHOD,
                ),
                _choice_input(
                    "grid",
                    "Target Grid",
                    "A global grid with cells of 0.25, 0.5, 1, 1.25 or 2.5 degrees, edges "
                    "from -90 to 90 N and 0 to 360 E; auto: the one closest to the "
                    "dataset's resolution; custom: the grid given by custom_grid.",
                    list(GRIDS),
                    DEFAULT_GRID,
                ),
                text_input(
                    "custom_grid",
                    "Custom Grid",
                    "With grid custom only: 'dlon dlat' for a global grid of those steps, or "
                    "'lon0 lon1 dlon lat0 lat1 dlat' for the cells between those edges, in "
                    "degrees. The steps must divide the spans. Example: -30 50 0.5 30 75 0.5",
                ),
            ],
        )

    parse = staticmethod(_request)
    plan = staticmethod(plan_regrid)
    run = staticmethod(run_regrid)
