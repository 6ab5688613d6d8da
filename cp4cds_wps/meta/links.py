"""Links from the main WPS's inputs to the meta-WPS process that resolves their values.

:func:`meta_links` gives the ``ows:Metadata`` of one input (PyWPS ``Metadata`` objects for
``LiteralInput(metadata=...)``): a title saying what the meta-WPS does for the input, the
URL of the meta-WPS process's DescribeProcess, and a role naming that process
(``urn:cp4cds-wps:meta-wps:<process>``). PyWPS 4.8 keeps input metadata but leaves it out of
its WPS 1.0.0 DescribeProcess documents; :class:`InputMetadata` puts it in.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping

from lxml import etree
from pywps import Process
from pywps.app.Common import Metadata
from werkzeug.wrappers import Request, Response

from cp4cds_wps.config import get_settings

#: Prefix of the ``xlink:role`` of the links; the meta-WPS process name follows.
ROLE = "urn:cp4cds-wps:meta-wps:"
#: Path of the meta-WPS below the service URL.
META_PATH = "/meta-wps"
#: For each main-WPS input: the meta-WPS processes that help to fill it, and how.
INPUT_LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    "collection": (
        ("resolve", "Choose dataset ids facet by facet, seeing only valid values"),
        ("availability", "Which datasets exist, e.g. model x variable for an experiment"),
        ("estimate", "Bytes read and written by a request, and the service's limits"),
    ),
    "time": (("resolve", "Time range and calendar of the chosen dataset; check a range"),),
    "time_components": (("resolve", "Time range of the chosen dataset"),),
    "area": (("resolve", "Grid type and extent of the chosen dataset; check an area"),),
    "level": (("resolve", "Levels and their units of the chosen dataset; check a range"),),
    "dims": (("resolve", "Axes (time, levels, grid) of the chosen dataset"),),
    "freq": (("resolve", "Time steps and calendar of the chosen dataset"),),
}

_OWS = "http://www.opengis.net/ows/1.1"
_XLINK = "http://www.w3.org/1999/xlink"
_WPS = "http://www.opengis.net/wps/1.0.0"


def meta_url(base_url: str | None = None) -> str:
    """The meta-WPS endpoint of the service at ``base_url`` (default: the configured URL)."""
    return f"{(base_url or get_settings().url).rstrip('/')}{META_PATH}"


def meta_links(input_name: str, base_url: str | None = None) -> list[Metadata]:
    """The ``ows:Metadata`` links of one main-WPS input to the meta-WPS.

    Parameters
    ----------
    input_name
        The input's identifier, e.g. ``collection``, ``time``, ``area``.
    base_url
        The service's public URL; default: the configured ``[server] url``.

    Returns
    -------
    list of pywps.Metadata
        Empty for inputs the meta-WPS does not help with.
    """
    url = meta_url(base_url)
    links = []
    for process, title in INPUT_LINKS.get(input_name, ()):
        describe = {"service": "WPS", "version": "1.0.0", "request": "DescribeProcess"}
        query = urllib.parse.urlencode({**describe, "identifier": process})
        links.append(Metadata(f"meta-WPS {process}: {title}", f"{url}?{query}", f"{ROLE}{process}"))
    return links


class InputMetadata:
    """WSGI middleware adding each input's ``ows:Metadata`` to WPS 1.0.0 DescribeProcess.

    Parameters
    ----------
    app
        The WPS application (PyWPS's ``Service``, possibly wrapped).
    processes
        The processes it serves (their inputs' ``metadata`` are written).
    """

    def __init__(self, app, processes: Iterable[Process]):
        self.app = app
        self.inputs: dict[str, dict[str, list[Metadata]]] = {
            p.identifier: {i.identifier: list(i.metadata) for i in p.inputs if i.metadata}
            for p in processes
        }

    def __call__(self, environ, start_response):
        request = Request(environ)
        args = {k.lower(): v for k, v in request.args.items()}
        if request.method != "GET" or args.get("request", "").lower() != "describeprocess":
            return self.app(environ, start_response)
        response = Response.from_app(self.app, environ)
        if response.status_code == 200 and any(self.inputs.values()):
            response.set_data(self._with_links(response.get_data()))
        return response(environ, start_response)

    def _with_links(self, body: bytes) -> bytes:
        root = etree.fromstring(body)
        for description in root.iter("ProcessDescription", f"{{{_WPS}}}ProcessDescription"):
            identifier = description.findtext(f"{{{_OWS}}}Identifier")
            links = self.inputs.get(identifier or "", {})
            for put in description.iter("Input"):
                _insert(put, links.get(put.findtext(f"{{{_OWS}}}Identifier") or "", []))
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _insert(put: etree._Element, links: list[Metadata]) -> None:
    """Add ``ows:Metadata`` elements after the input's title and abstract."""
    anchor = put.find(f"{{{_OWS}}}Abstract")
    if anchor is None:
        anchor = put.find(f"{{{_OWS}}}Title")
    position = list(put).index(anchor) + 1
    for offset, link in enumerate(links):
        element = etree.Element(f"{{{_OWS}}}Metadata", nsmap={"ows": _OWS, "xlink": _XLINK})
        attributes: Mapping[str, str | None] = {
            "title": link.title,
            "href": link.href,
            "role": link.role,
            "type": link.type,
        }
        for name, value in attributes.items():
            if value is not None:
                element.set(f"{{{_XLINK}}}{name}", value)
        put.insert(position + offset, element)
