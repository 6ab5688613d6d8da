"""WPS 2.0.0 Execute, answered by the processes' WPS 1.0.0 Execute.

PyWPS 4.8 reads a WPS 2.0 Execute request but drops its inputs. :class:`Wps2Execute` is a
WSGI middleware in front of the WPS endpoint that rewrites a WPS 2.0 Execute (XML, as the
standard encodes it) into the equivalent WPS 1.0.0 Execute, passes that on (so that every
check of the 1.0.0 request applies: unknown and repeated inputs, references, limits, owners),
and rewrites the answer into WPS 2.0 terms:

- ``mode="sync"`` with ``response="document"``: a ``wps:Result`` with the outputs (values
  inline, files by reference);
- ``mode="sync"`` with ``response="raw"``: the one requested output itself;
- ``mode="async"`` (and ``"auto"``, for which the service queues the job): a
  ``wps:StatusInfo``; GetStatus, GetResult and Dismiss follow (:mod:`cp4cds_wps.wps2`);
- exception reports: OWS 2.0, with the same code, locator and text.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from urllib.parse import urlparse

from lxml import etree
from pywps import ComplexInput, Process
from werkzeug.test import run_wsgi_app
from werkzeug.wrappers import Request, Response

from cp4cds_wps.ows import (
    OWS2_NS,
    OWS11_NS,
    WPS1_NS,
    WPS2_NS,
    OwsException,
    buffered_body,
    exception_report,
    is_wps2_request,
    report_response,
)
from cp4cds_wps.wps2 import NSMAP, XLINK_NS

_NS1 = {"wps": WPS1_NS, "ows": OWS11_NS, "xlink": XLINK_NS}
_MODES = ("sync", "async", "auto")
_RESPONSES = ("document", "raw")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def _invalid(text: str, locator: str) -> OwsException:
    return OwsException("InvalidParameterValue", text, 400, locator)


def _w2(name: str) -> str:
    return f"{{{WPS2_NS}}}{name}"


def _w1(name: str) -> str:
    return f"{{{WPS1_NS}}}{name}"


def to_wps1(root: etree._Element, processes: Sequence[Process]) -> tuple[bytes, str, str]:
    """The WPS 1.0.0 Execute request equivalent to the WPS 2.0 Execute ``root``.

    Parameters
    ----------
    root
        The parsed ``wps:Execute`` element (WPS 2.0).
    processes
        The processes offered: their input definitions tell literal from complex inputs.

    Returns
    -------
    tuple
        The WPS 1.0.0 request's XML, the execution mode (``sync`` or ``async``) and the
        response form (``document`` or ``raw``).

    Raises
    ------
    OwsException
        InvalidParameterValue / MissingParameterValue naming what is wrong: version,
        mode, response, a nested or empty input, a raw response of more than one output.
    """
    if root.get("version") != "2.0.0":
        raise _invalid(
            f"version must be 2.0.0 in a WPS 2.0 Execute, not {root.get('version')}", "version"
        )
    mode = root.get("mode", "auto")
    response = root.get("response", "document")
    if mode not in _MODES:
        raise _invalid(f"mode must be one of {', '.join(_MODES)}, not {mode!r}", "mode")
    if response not in _RESPONSES:
        raise _invalid(f"response must be document or raw, not {response!r}", "response")
    identifier = (root.findtext("ows:Identifier", "", {"ows": OWS2_NS}) or "").strip()
    if not identifier:
        raise OwsException(
            "MissingParameterValue", "identifier: name the process to execute", 400, "identifier"
        )
    known = {p.identifier: p for p in processes}
    complex_inputs = {
        i.identifier
        for i in getattr(known.get(identifier), "inputs", [])
        if isinstance(i, ComplexInput)
    }
    request = etree.Element(_w1("Execute"), service="WPS", version="1.0.0", nsmap=_NS1)
    etree.SubElement(request, f"{{{OWS11_NS}}}Identifier").text = identifier
    data_inputs = etree.SubElement(request, _w1("DataInputs"))
    for given in root.iterfind("wps:Input", NSMAP):
        data_inputs.append(_input(given, given.get("id", "").strip() in complex_inputs))
    outputs = list(root.iterfind("wps:Output", NSMAP))
    asynchronous = mode != "sync"
    form = etree.SubElement(request, _w1("ResponseForm"))
    if response == "raw" and not asynchronous:
        if len(outputs) != 1:
            raise _invalid("a raw response names exactly one wps:Output", "response")
        raw = etree.SubElement(form, _w1("RawDataOutput"))
        etree.SubElement(raw, f"{{{OWS11_NS}}}Identifier").text = _output_id(outputs[0])
    else:
        document = etree.SubElement(form, _w1("ResponseDocument"))
        if asynchronous:
            document.set("storeExecuteResponse", "true")
            document.set("status", "true")
        for output in outputs:
            wanted = etree.SubElement(document, _w1("Output"))
            wanted.set("asReference", str(output.get("transmission") == "reference").lower())
            etree.SubElement(wanted, f"{{{OWS11_NS}}}Identifier").text = _output_id(output)
    body = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
    return body, "async" if asynchronous else "sync", response


def _output_id(output: etree._Element) -> str:
    identifier = output.get("id", "").strip()
    if not identifier:
        raise OwsException("MissingParameterValue", "wps:Output needs an id", 400, "Output")
    return identifier


def _input(given: etree._Element, is_complex: bool) -> etree._Element:
    """The WPS 1.0.0 ``wps:Input`` of a WPS 2.0 ``wps:Input``."""
    name = given.get("id", "").strip()
    if not name:
        raise OwsException("MissingParameterValue", "wps:Input needs an id", 400, "Input")
    if given.find("wps:Input", NSMAP) is not None:
        raise _invalid(f"{name}: nested inputs are not taken by these processes", name)
    made = etree.Element(_w1("Input"))
    etree.SubElement(made, f"{{{OWS11_NS}}}Identifier").text = name
    reference = given.find("wps:Reference", NSMAP)
    data = given.find("wps:Data", NSMAP)
    if reference is not None:  # refused or fetched as the 1.0.0 request's reference is
        ref = etree.SubElement(made, _w1("Reference"))
        ref.set(f"{{{XLINK_NS}}}href", reference.get(f"{{{XLINK_NS}}}href", ""))
        if reference.get("mimeType"):
            ref.set("mimeType", reference.get("mimeType"))
        return made
    if data is None:
        raise OwsException(
            "MissingParameterValue", f"{name}: give wps:Data or wps:Reference", 400, name
        )
    literal = data.find("wps:LiteralValue", NSMAP)
    text = (literal if literal is not None else data).text or ""
    if len(data) and literal is None:  # an XML document as the value
        text = "".join(etree.tostring(child, encoding="unicode") for child in data)
    holder = etree.SubElement(made, _w1("Data"))
    if is_complex:
        value = etree.SubElement(holder, _w1("ComplexData"))
        value.set("mimeType", data.get("mimeType") or "application/json")
    else:
        value = etree.SubElement(holder, _w1("LiteralData"))
    value.text = text
    return made


def result_document(answer: etree._Element) -> bytes:
    """The ``wps:Result`` of a WPS 1.0.0 ExecuteResponse of a finished synchronous run."""
    result = etree.Element(_w2("Result"), nsmap=NSMAP)
    location = answer.get("statusLocation")
    if location:
        etree.SubElement(result, _w2("JobID")).text = PurePosixPath(urlparse(location).path).stem
    for output in answer.iterfind("wps:ProcessOutputs/wps:Output", _NS1):
        made = etree.SubElement(
            result, _w2("Output"), id=output.findtext("ows:Identifier", "", _NS1)
        )
        reference = output.find("wps:Reference", _NS1)
        if reference is not None:
            href = reference.get("href") or reference.get(f"{{{XLINK_NS}}}href", "")
            ref = etree.SubElement(made, _w2("Reference"), {f"{{{XLINK_NS}}}href": href})
            if reference.get("mimeType"):
                ref.set("mimeType", reference.get("mimeType"))
            continue
        for value in output.iterfind("wps:Data/*", _NS1):
            data = etree.SubElement(made, _w2("Data"))
            if value.get("mimeType"):
                data.set("mimeType", value.get("mimeType"))
            data.text = value.text
            data.extend(list(value))
    return etree.tostring(result, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def ows2_report(body: bytes, http_status: int) -> bytes | None:
    """The OWS 2.0 exception report of an OWS 1.1 one (None if ``body`` is none)."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None
    exception = root.find("ows:Exception", {"ows": OWS11_NS})
    if etree.QName(root).localname != "ExceptionReport" or exception is None:
        return None
    text = exception.findtext("ows:ExceptionText", "", {"ows": OWS11_NS})
    error = OwsException(
        exception.get("exceptionCode", "NoApplicableCode"),
        text,
        http_status,
        exception.get("locator") or None,
    )
    return exception_report(error, "2.0.0")


class Wps2Execute:
    """WSGI middleware answering WPS 2.0.0 Execute requests through the WPS 1.0.0 ones.

    Parameters
    ----------
    app
        The WPS endpoint behind: gets the rewritten request and every other one.
    processes
        The processes ``app`` offers.
    status
        The ``wps:StatusInfo`` document of a job by its id (see
        :meth:`cp4cds_wps.wps2.Wps2Jobs.status_document`); without it, asynchronous
        execution is refused.
    """

    def __init__(
        self,
        app: Callable,
        processes: Sequence[Process],
        status: Callable[[str], bytes] | None = None,
    ):
        self.app = app
        self.processes = list(processes)
        self.status = status

    def __call__(self, environ, start_response):
        request = Request(environ, populate_request=False)
        if request.method != "POST":
            return self.app(environ, start_response)
        body = buffered_body(environ)
        if not is_wps2_request(body, ("Execute",)):
            return self.app(environ, start_response)
        try:
            response = self._execute(body, environ)
        except OwsException as err:
            response = report_response(err)
        return response(environ, start_response)

    def _execute(self, body: bytes, environ: dict) -> Response:
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as err:
            raise OwsException("InvalidParameterValue", f"invalid XML: {err}", 400) from err
        wps1, mode, form = to_wps1(root, self.processes)
        if mode == "async" and self.status is None:
            raise _invalid('these processes run synchronously only: use mode="sync"', "mode")
        inner = {
            **environ,
            "wsgi.input": io.BytesIO(wps1),
            "CONTENT_LENGTH": str(len(wps1)),
            "CONTENT_TYPE": "text/xml",
        }
        chunks, status, headers = run_wsgi_app(self.app, inner, buffered=True)
        answer = b"".join(chunks)
        code = int(status.split()[0])
        content_type = headers.get("Content-Type", "text/xml")
        if code >= 400:
            return Response(
                ows2_report(answer, code) or answer, status=code, content_type=content_type
            )
        if form == "raw" and mode == "sync":
            return Response(answer, status=code, content_type=content_type)
        response = etree.fromstring(answer, _PARSER)
        if etree.QName(response).localname == "ExceptionReport":
            return Response(ows2_report(answer, 400), status=400, content_type=content_type)
        if mode == "async":
            job_id = PurePosixPath(urlparse(response.get("statusLocation", "")).path).stem
            document = self.status(job_id)
        else:
            document = result_document(response)
        return Response(document, content_type="text/xml; charset=utf-8")
