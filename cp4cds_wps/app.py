"""The WSGI application: ``/wps``, ``/meta-wps``, ``/api``, ``/outputs``, ``/data``,
``/health``, ``/metrics``, ``/dashboard`` and ``/catalogue`` in one app.

``create_app()`` is what gunicorn runs (``cp4cds-wps start``); it reads the settings from
the defaults, ``CP4CDS_WPS_CONFIG`` and the environment.
"""

from __future__ import annotations

import configparser
import json
import os
from datetime import timedelta
from pathlib import Path

import dask
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.routing import Map, Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from cp4cds_wps import __version__
from cp4cds_wps.auth import TokenVerifier, protect
from cp4cds_wps.catalogue.web import Catalogue
from cp4cds_wps.config import Settings, get_settings
from cp4cds_wps.dashboard import Dashboard
from cp4cds_wps.errors import ArchiveFileChanged
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.jobs.pywps_job import load_pywps_config
from cp4cds_wps.jobs.store import JobStore, database_url
from cp4cds_wps.meta.api import ConstraintsApi
from cp4cds_wps.meta.links import InputMetadata, meta_url
from cp4cds_wps.meta.service import MetaWps
from cp4cds_wps.metrics import Metrics
from cp4cds_wps.ogcapi import OgcApi
from cp4cds_wps.output.space import has_room
from cp4cds_wps.private_outputs import PrivateOutputs
from cp4cds_wps.processes import processes
from cp4cds_wps.processes.references import ReferenceFetcher
from cp4cds_wps.processes.service import CheckedService
from cp4cds_wps.request_guard import MAX_BODY_MB, RequestGuard
from cp4cds_wps.routing import Routed
from cp4cds_wps.wps2 import Wps2Jobs
from cp4cds_wps.wps2_execute import Wps2Execute


def pywps_config(settings: Settings) -> configparser.ConfigParser:
    """PyWPS's configuration derived from ours (one source of truth)."""
    cfg = configparser.ConfigParser(interpolation=None)
    provider = settings.provider
    cfg["metadata:main"] = {
        "identification_title": "cp4cds-wps",
        "identification_abstract": "Subset, average and regrid climate model data of an "
        "ESGF archive (CMIP5, CMIP6, CORDEX, C3S) where it is stored.",
        "identification_keywords": "WPS,climate,CMIP6,CMIP5,CORDEX,C3S,subset",
        # the operator's contact details ([provider]); every field PyWPS would otherwise
        # fill with a placeholder is set, empty when not configured
        "provider_name": provider.name,
        "provider_url": provider.url or settings.url,
        "contact_name": provider.contact_name,
        "contact_position": provider.contact_position,
        "contact_address": provider.address,
        "deliveryPoint": provider.address,  # the key PyWPS 4.8's capabilities read
        "contact_city": provider.city,
        "contact_stateorprovince": "",
        "contact_postalcode": provider.postal_code,
        "contact_country": provider.country,
        "contact_phone": provider.contact_phone,
        "contact_fax": "",
        "contact_email": provider.contact_email,
        "contact_url": provider.url,
        "contact_hours": "",
        "contact_instructions": "",
        "contact_role": "pointOfContact",
    }
    cfg["server"] = {
        "url": settings.wps_url,
        "outputurl": settings.output_url,
        "outputpath": str(settings.output_dir),
        "workdir": str(settings.work_dir),
        # PyWPS's own queue is off: the job store limits and queues (cp4cds_wps.jobs)
        "parallelprocesses": "-1",
        "maxprocesses": "-1",
        "maxsingleinputsize": "10mb",
        "maxrequestsize": f"{MAX_BODY_MB}mb",
        "allowedinputpaths": "",
        "cleantempdir": "true",
    }
    cfg["processing"] = {"mode": "default"}
    cfg["logging"] = {
        "level": "INFO",
        "file": str(settings.var_dir / "log" / "pywps.log"),
        "database": database_url(settings.jobs.database),
    }
    return cfg


def prepare(settings: Settings) -> Path:
    """Create folders, write PyWPS's config file, create PyWPS's and our job tables.

    Call this once before worker processes start: concurrent first requests would otherwise
    race to create the database tables.

    Returns
    -------
    Path
        The PyWPS configuration file.
    """
    for folder in (settings.output_dir, settings.work_dir, settings.var_dir / "log"):
        folder.mkdir(parents=True, exist_ok=True)
    settings.jobs_db.parent.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / "pywps.cfg"
    # written aside and renamed: other processes of the service may be reading it right now
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    with partial.open("w") as fh:
        pywps_config(settings).write(fh)
    partial.replace(path)
    load_pywps_config(settings)  # creates PyWPS's tables and ours
    return path


class Frontend(Routed):
    """Everything beside the WPS itself: landing page, health, archive files."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.inventory = Inventory.from_settings(settings)
        self.jobs = JobStore.from_settings(settings)
        self.urls = Map(
            [
                Rule("/", endpoint="index"),
                Rule("/health", endpoint="health"),
                Rule("/data/<root>/<path:relpath>", endpoint="data"),
            ]
        )

    def index(self, request: Request) -> Response:
        links = {
            "wps": self.settings.wps_url,
            "meta-wps": meta_url(self.settings.url),
            "constraints": f"{self.settings.url}/api/constraints",
            "outputs": self.settings.output_url,
            "health": f"{self.settings.url}/health",
            "metrics": f"{self.settings.url}/metrics",
            "dashboard": f"{self.settings.url}/dashboard",
            "catalogue": f"{self.settings.url}/catalogue/",
            "ogcapi": f"{self.settings.url}/ogcapi/",
            "stac": f"{self.settings.url}/catalogue/stac/catalog.json",
        }
        return _json({"service": "cp4cds-wps", "version": __version__, "links": links})

    def health(self, request: Request) -> Response:
        """For load balancers: HTTP 200 when the service can serve, else 503 naming why.

        Cheap: one query to each database and a look at the output folder (a writable
        folder with room, see :func:`cp4cds_wps.output.space.has_room`); nothing is
        scanned, no data read.
        """
        outputs = self.settings.output_dir
        checks = {
            "inventory": _passes(lambda: self.inventory.count() > 0),
            "outputs": _passes(lambda: has_room(outputs)),
            "jobs_db": _passes(self.jobs.ping),
        }
        failing = [name for name, ok in checks.items() if not ok]
        body = {"status": "fail" if failing else "ok", "checks": checks}
        if failing:
            body["failing"] = failing
        response = _json(body, 503 if failing else 200)
        response.headers["Cache-Control"] = "no-store"
        return response

    def data(self, request: Request, root: str, relpath: str) -> Response:
        """An archive file recorded in the inventory, if it is still the file recorded."""
        record = self.inventory.file(root, relpath)
        if record is None:
            raise NotFound(f"no archive file {root}/{relpath}")
        try:
            path = record.verified_path()
        except ArchiveFileChanged as err:
            raise NotFound(f"archive file {root}/{relpath} is not available") from err
        return send_file(path, request.environ, mimetype="application/x-netcdf")


def _passes(check) -> bool:
    """Whether ``check()`` returns true without raising."""
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - any failure of a health check means unhealthy
        return False


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2), status=status, mimetype="application/json")


def create_app(settings: Settings | None = None):
    """Build the WSGI application of the service."""
    settings = settings or get_settings()
    cfg_file = prepare(settings)
    # Requests run in threads of the web server processes. Data are read and written on the
    # request's own thread (cp4cds_wps.tasks.runner): no dask thread pools in the server,
    # and dask's setting is process-wide, so each request must find this value already.
    dask.config.set(scheduler="synchronous")
    main = processes(settings)
    fetch = ReferenceFetcher(settings.references) if settings.references.allowed_prefixes else None
    service = CheckedService(main, cfgfiles=[str(cfg_file)], fetch=fetch)
    verifier = TokenVerifier(settings.auth) if settings.auth.enabled else None
    private = verifier is not None and settings.auth.private_results
    jobs = Wps2Jobs(
        InputMetadata(service, main),
        lambda: JobStore.from_settings(settings),
        retention=timedelta(days=settings.jobs.retention_days),
        private=private,
    )
    wps = Wps2Execute(jobs, main, status=jobs.status_document)
    names = [p.identifier for p in main]
    meta = MetaWps(settings, names)
    wps_app = RequestGuard(protect(wps, settings.auth, verifier))
    mounts = {
        "/wps": wps_app,
        "/ogcapi": OgcApi(settings, main, wps_app, verifier=verifier),
        "/meta-wps": RequestGuard(Wps2Execute(meta, meta.processes)),
        "/api": ConstraintsApi(settings, names),
        "/dashboard": Dashboard(settings),
        "/catalogue": Catalogue(settings, main),
    }
    frontend = Frontend(settings)
    app = DispatcherMiddleware(frontend, mounts)
    app = SharedDataMiddleware(app, {"/outputs": str(settings.output_dir)})
    if private:
        app = PrivateOutputs(app, lambda: frontend.jobs, verifier)
    return Metrics(app, settings, frontend.jobs)
