"""Execution: an OGC API execute request run as the WPS 1.0.0 Execute it stands for.

The JSON request is turned into a WPS 1.0.0 XML Execute and handed to the WSGI application
serving ``/wps`` (request guard, token check, WPS 2.0 layers, PyWPS): so an OGC API job is
parsed, checked against the limits, queued in the job store or run in a worker process of
its own exactly as a WPS job is, and refused with the same texts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from werkzeug.test import EnvironBuilder, run_wsgi_app

from cp4cds_wps.jobs.worker import output_urls
from cp4cds_wps.ogcapi.problems import Problem, from_report
from cp4cds_wps.operations.base import Input, Operation
from cp4cds_wps.ows import OWS11_NS, WPS1_NS

XLINK_NS = "http://www.w3.org/1999/xlink"
_NSMAP = {"wps": WPS1_NS, "ows": OWS11_NS, "xlink": XLINK_NS}
#: Media types of the JSON documents an input takes.
MEDIA_TYPES = {"geojson": "application/geo+json", "json": "application/json"}
#: Headers of the OGC API request passed on to the WPS.
_PASSED_HEADERS = ("Authorization", "X-Forwarded-For", "User-Agent")


@dataclass(frozen=True)
class Submitted:
    """What the WPS answered to an execute request.

    Attributes
    ----------
    job_id
        The job's id (PyWPS's uuid, the job store's id).
    outputs
        Of a synchronous execution: each output's URL, by output identifier.
    """

    job_id: str
    outputs: dict[str, str]


def request_body(data: bytes) -> dict:
    """The JSON object of an execute request.

    Raises
    ------
    Problem
        400 when it is not a JSON object.
    """
    try:
        body = json.loads(data or b"{}")
    except ValueError as err:
        raise Problem(400, f"the request body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise Problem(400, "the request body must be a JSON object")
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict):
        raise Problem(400, "'inputs' must be a JSON object of input values by input name")
    return body


def _values(item: Input | None, value: Any) -> list[Any]:
    """The WPS values of one OGC API input value (a list becomes repeated inputs)."""
    if isinstance(value, dict) and set(value) == {"value"}:
        value = value["value"]  # a qualified value
    if item is not None and item.kind == "json":
        return [value if isinstance(value, str) else json.dumps(value)]
    values = value if isinstance(value, list) else [value]
    return ["true" if v is True else "false" if v is False else str(v) for v in values]


def wps_execute(operation: Operation, inputs: Mapping[str, Any], *, asynchronous: bool) -> bytes:
    """The WPS 1.0.0 XML Execute of ``operation`` with the OGC API ``inputs``.

    Inputs the operation does not declare are passed on too: the WPS refuses them, naming
    them. Every output is asked for by reference.
    """
    declared = {item.identifier: item for item in operation.inputs}
    root = etree.Element(f"{{{WPS1_NS}}}Execute", service="WPS", version="1.0.0", nsmap=_NSMAP)
    etree.SubElement(root, f"{{{OWS11_NS}}}Identifier").text = operation.name
    data_inputs = etree.SubElement(root, f"{{{WPS1_NS}}}DataInputs")
    for name, value in inputs.items():
        item = declared.get(name)
        for text in _values(item, value):
            element = etree.SubElement(data_inputs, f"{{{WPS1_NS}}}Input")
            etree.SubElement(element, f"{{{OWS11_NS}}}Identifier").text = name
            data = etree.SubElement(element, f"{{{WPS1_NS}}}Data")
            if item is not None and item.kind == "json":
                media = MEDIA_TYPES[item.formats[0]]
                complex_ = etree.SubElement(data, f"{{{WPS1_NS}}}ComplexData", mimeType=media)
                complex_.text = text
            else:
                etree.SubElement(data, f"{{{WPS1_NS}}}LiteralData").text = text
    form = etree.SubElement(root, f"{{{WPS1_NS}}}ResponseForm")
    document = etree.SubElement(form, f"{{{WPS1_NS}}}ResponseDocument")
    if asynchronous:
        document.set("storeExecuteResponse", "true")
        document.set("status", "true")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def submit(wps: Callable, environ: Mapping[str, Any], body: bytes, *, wps_url: str) -> Submitted:
    """Hand a WPS Execute to the WPS application ``wps``; what it answered.

    Parameters
    ----------
    wps
        The WSGI application serving ``/wps``.
    environ
        The OGC API request's environ (its token and client address are passed on).
    body
        The WPS XML Execute.
    wps_url
        The URL the WPS is served at (PyWPS's status and output URLs follow its config).

    Raises
    ------
    Problem
        With the WPS exception's text and HTTP status when it refused or failed.
    """
    headers = {
        name: environ[key]
        for name in _PASSED_HEADERS
        if (key := f"HTTP_{name.upper().replace('-', '_')}") in environ
    }
    builder = EnvironBuilder(
        base_url=wps_url,
        method="POST",
        data=body,
        content_type="text/xml",
        headers=headers,
        environ_overrides={"REMOTE_ADDR": environ.get("REMOTE_ADDR", "127.0.0.1")},
    )
    answer, status, _headers = run_wsgi_app(wps, builder.get_environ(), buffered=True)
    content = b"".join(answer)
    code = int(status.split()[0])
    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError:
        root = None
    if code >= 400 or root is None or etree.QName(root).localname == "ExceptionReport":
        raise from_report(content, code)
    return _submitted(root)


def _submitted(root: etree._Element) -> Submitted:
    """The job id and outputs of a WPS 1.0.0 execute response."""
    location = root.get("statusLocation", "")  # only when the job is stored
    job_id = location.rsplit("/", 1)[-1].removesuffix(".xml")
    failed = root.find(f"{{{WPS1_NS}}}Status/{{{WPS1_NS}}}ProcessFailed")
    if failed is not None:
        text = " ".join(failed.itertext()).strip()
        raise Problem(500, text or "the process failed")
    return Submitted(job_id, output_urls(etree.tostring(root)))
