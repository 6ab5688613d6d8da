"""``/catalogue``: the archive's catalogue for people and tools, as one WSGI application.

Pages (HTML, readable without JavaScript):

- ``/catalogue/``: faceted search (see :mod:`cp4cds_wps.catalogue.search`);
- ``/catalogue/dataset/<id>``: a dataset's page;
- ``/catalogue/availability``: the availability matrix (``.csv`` too);
- ``/catalogue/request``: the request builder;
- ``/catalogue/usage``: usage statistics (``.csv`` and ``.json`` too);
- ``/catalogue/exports``: what follows.

Exports (stable URLs; documents of a whole project are written once per inventory
generation below ``<var_dir>/catalogue`` and served from there):

- ``/catalogue/intake-esm/<project>.json`` and ``.csv``: an intake-esm catalog;
- ``/catalogue/stac/catalog.json``, ``/catalogue/stac/<project>/collection.json`` and
  ``/catalogue/stac/<project>/<dataset id>.json``: a STAC catalog.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from pywps import Process
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from cp4cds_wps.catalogue import builder, intake_esm, stac, usage
from cp4cds_wps.catalogue.browse import availability_body, search_body, selection_of
from cp4cds_wps.catalogue.dataset_page import dataset_body
from cp4cds_wps.catalogue.exports import Assets, project_facets, projects
from cp4cds_wps.catalogue.html import BASE, document, link, table
from cp4cds_wps.catalogue.search import PER_PAGE, search
from cp4cds_wps.config import Settings
from cp4cds_wps.errors import InvalidParameter, UnknownDataset
from cp4cds_wps.inventory import Inventory, quality
from cp4cds_wps.meta.availability import availability
from cp4cds_wps.meta.resolve import describe_dataset
from cp4cds_wps.meta.selection import Selection
from cp4cds_wps.request_log import RequestLog
from cp4cds_wps.routing import Routed

_SCRIPT = Path(__file__).with_name("builder.js")


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError as err:
        raise BadRequest(f"{name} must be a whole number") from err


class Catalogue(Routed):
    """WSGI application of the catalogue (mounted at ``/catalogue``).

    Parameters
    ----------
    settings
        The service settings.
    processes
        The main WPS's processes (offered by the request builder).
    """

    def __init__(self, settings: Settings, processes: Sequence[Process]):
        self.settings = settings
        self.processes = list(processes)
        self.inventory = Inventory.from_settings(settings)
        self.log = RequestLog.from_settings(settings)
        self.assets = Assets("url", settings.data_url)
        self.stac_base = f"{settings.url}{BASE}/stac"
        self.cache_dir = settings.var_dir / "catalogue"
        rules = [
            ("/", "search"),
            ("/dataset/<path:dataset_id>", "dataset"),
            ("/availability", "availability"),
            ("/availability.csv", "availability_csv"),
            ("/request", "request"),
            ("/builder.js", "script"),
            ("/usage", "usage"),
            ("/usage.<any(csv, json):kind>", "usage_data"),
            ("/exports", "exports"),
            ("/intake-esm/<project>.<any(json, csv):kind>", "intake"),
            ("/stac/catalog.json", "stac_catalog"),
            ("/stac/<project>/collection.json", "stac_collection"),
            ("/stac/<project>/<path:dataset_id>.json", "stac_item"),
        ]
        self.urls = Map([Rule(path, endpoint=name) for path, name in rules], strict_slashes=False)

    def _page(self, title: str, body: str, current: str = "", script: str = "") -> Response:
        html = document(title, body, self.settings, current, script)
        response = Response(html, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- pages -----------------------------------------------------------------------------

    def search(self, request: Request) -> Response:
        """The faceted search."""
        index = self.inventory.facet_index()
        result = search(
            index,
            selection_of(request.args.to_dict(flat=False)),
            request.args.get("q", ""),
            _int(request, "page", 1),
            _int(request, "per_page", PER_PAGE),
        )
        datasets = self.inventory.get_many(result.ids)
        body = search_body(result, datasets, request.args.get("expand", ""))
        return self._page("Search", body, "/")

    def dataset(self, request: Request, dataset_id: str) -> Response:
        """A dataset's page."""
        try:
            found = self.inventory.get(dataset_id)
        except UnknownDataset as err:
            close = "".join(f"<li>{link(f'{BASE}/dataset/{s}', s)}</li>" for s in err.suggestions)
            body = f'<p class="error">{escape(err.reason)}</p><ul>{close}</ul>'
            response = self._page("Unknown dataset", body)
            response.status_code = 404
            return response
        described = describe_dataset(found, self.inventory.geometry(found))
        checks = quality.file_results(self.inventory, found.id)
        return self._page(found.id, dataset_body(described, found, checks))

    def _matrix(self, request: Request):
        args = request.args.to_dict(flat=False)
        rows, columns = request.args.get("rows", "model"), request.args.get("columns", "variable")
        try:
            return availability(self.inventory, rows, columns, Selection(facets=selection_of(args)))
        except InvalidParameter as err:
            raise BadRequest(str(err)) from err

    def availability(self, request: Request) -> Response:
        """The availability matrix as a table of links."""
        names = self.inventory.facet_index().names
        body = availability_body(self._matrix(request), names)
        return self._page("Availability", f"<h1>Availability</h1>{body}", "/availability")

    def availability_csv(self, request: Request) -> Response:
        """The availability matrix as CSV."""
        return Response(self._matrix(request).to_csv(), mimetype="text/csv")

    def request(self, request: Request) -> Response:
        """The request builder."""
        built = builder.build(
            self.inventory, self.settings, self.processes, request.args.to_dict(flat=False)
        )
        body = (
            "<h1>Request data</h1>"
            + "".join(built.parts)
            + builder.submit_html(built, self.settings)
        )
        return self._page("Request", body, "/request", script=f"{BASE}/builder.js")

    def script(self, request: Request) -> Response:
        """The request builder's script."""
        return Response(_SCRIPT.read_text(), mimetype="text/javascript")

    def _usage_rows(self, request: Request):
        days = min(max(_int(request, "days", usage.DAYS), 1), usage.MAX_DAYS)
        until = int(time.time() // 86400)
        since = until - days + 1
        return self.log.usage(since * 86400, until * 86400), since, until

    def usage(self, request: Request) -> Response:
        """Usage statistics with plots."""
        rows, since, until = self._usage_rows(request)
        return self._page("Usage", usage.render_body(rows, since, until), "/usage")

    def usage_data(self, request: Request, kind: str) -> Response:
        """Usage rows as CSV or JSON."""
        rows, since, until = self._usage_rows(request)
        if kind == "csv":
            return Response(usage.to_csv(rows), mimetype="text/csv")
        return Response(json.dumps(usage.to_json(rows, since, until)), mimetype="application/json")

    def exports(self, request: Request) -> Response:
        """The export URLs, per project."""
        rows = [
            (
                escape(project),
                link(f"{BASE}/intake-esm/{project}.json", f"{project}.json")
                + " + "
                + link(f"{BASE}/intake-esm/{project}.csv", "CSV"),
                link(f"{BASE}/stac/{project}/collection.json", "collection"),
            )
            for project in projects(self.inventory)
        ]
        stac_root = link(f"{BASE}/stac/catalog.json", "catalog.json")
        example = f"{self.settings.url}{BASE}/intake-esm/cmip6.json"
        body = (
            "<h1>Exports</h1><p>The inventory as catalogs that pangeo tools read; asset URLs "
            f"point at this service's /data. STAC root: {stac_root}. The same files for a "
            "local tool: <code>cp4cds-wps inventory export --paths local DIR</code>.</p>"
            f"{table(('project', 'intake-esm', 'STAC'), rows)}"
            "<pre>import intake\n"
            f"cat = intake.open_esm_datastore({example!r})\n"
            "# over HTTP xarray reads file objects: h5netcdf for netCDF-4 files, scipy for\n"
            "# netCDF-3 (the default engine, netcdf4, reads local paths only)\n"
            'datasets = cat.search(variable="tas").to_dataset_dict(\n'
            '    xarray_open_kwargs={"engine": "h5netcdf"})</pre>'
        )
        return self._page("Exports", body, "/exports")

    # -- exports ---------------------------------------------------------------------------

    def _cached(self, name: str, write: Callable[[Path], None]) -> Path:
        """A document of the current generation, written once (aside, then renamed)."""
        generation = self.inventory.generation()
        path = self.cache_dir / f"g{generation}" / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{time.monotonic_ns()}")
            write(partial)
            partial.replace(path)
            for old in self.cache_dir.glob("g*"):
                if old.name[1:].isdigit() and int(old.name[1:]) < generation:
                    shutil.rmtree(old, ignore_errors=True)
        return path

    def _project(self, project: str) -> str:
        if project not in projects(self.inventory):
            raise NotFound(f"no project {project!r} in the inventory")
        return project

    def intake(self, request: Request, project: str, kind: str) -> Response:
        """A project's intake-esm catalog: the JSON description or the CSV."""
        project = self._project(project)
        if kind == "json":
            facets, every = project_facets(self.inventory, project)
            csv_url = f"{self.settings.url}{BASE}/intake-esm/{project}.csv"
            body = intake_esm.description(project, csv_url, facets, every)
            return Response(json.dumps(body, indent=2), mimetype="application/json")

        def write(path: Path) -> None:
            with path.open("w", newline="") as out:
                intake_esm.write_csv(self.inventory, project, self.assets, out)

        path = self._cached(f"{project}.csv", write)
        return send_file(path, request.environ, mimetype="text/csv")

    def stac_catalog(self, request: Request) -> Response:
        """The STAC root catalog."""
        body = stac.root_catalog(projects(self.inventory), self.stac_base)
        return Response(json.dumps(body, indent=1), mimetype="application/json")

    def stac_collection(self, request: Request, project: str) -> Response:
        """A project's STAC collection."""
        project = self._project(project)

        def write(path: Path) -> None:
            path.write_text(json.dumps(stac.collection(self.inventory, project, self.stac_base)))

        path = self._cached(f"{project}.collection.json", write)
        return send_file(path, request.environ, mimetype="application/json")

    def stac_item(self, request: Request, project: str, dataset_id: str) -> Response:
        """A dataset's STAC item."""
        try:
            found = self.inventory.get(dataset_id)
        except UnknownDataset as err:
            raise NotFound(err.reason) from err
        if found.id != dataset_id or found.project != project:
            raise NotFound(f"no dataset {dataset_id!r} in project {project!r}")
        body = stac.item(found, self.inventory.geometry(found), self.assets, self.stac_base)
        return Response(json.dumps(body, indent=1), mimetype="application/geo+json")
