"""The landing page and the conformance declaration."""

from __future__ import annotations

from typing import Any

_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf"
#: The conformance classes this service implements (and its tests prove).
CONFORMANCE = tuple(
    f"{_CONF}/{name}"
    for name in ("core", "json", "html", "oas30", "ogc-process-description", "job-list", "dismiss")
)
_REL = "http://www.opengis.net/def/rel/ogc/1.0"


def landing_page(base: str, version: str) -> dict[str, Any]:
    """The landing page: what the service is and links to its resources."""
    return {
        "title": "cp4cds-wps OGC API - Processes",
        "description": "Subset, average and regrid climate model data of an ESGF archive "
        f"(cp4cds-wps {version}); the same processes and jobs as its WPS.",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json",
             "title": "this document"},
            {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html",
             "title": "this document as HTML"},
            {"href": f"{base}/api", "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.0",
             "title": "the API definition (OpenAPI 3.0)"},
            {"href": f"{base}/conformance", "rel": f"{_REL}/conformance",
             "type": "application/json", "title": "conformance classes"},
            {"href": f"{base}/processes", "rel": f"{_REL}/processes",
             "type": "application/json", "title": "processes"},
            {"href": f"{base}/jobs", "rel": f"{_REL}/job-list",
             "type": "application/json", "title": "jobs"},
        ],
    }  # fmt: skip


def conformance() -> dict[str, Any]:
    """The conformance declaration."""
    return {"conformsTo": list(CONFORMANCE)}
