"""OGC exception reports (OWS 1.1 for WPS 1.0.0, OWS 2.0 for WPS 2.0.0) and a safe look at
the root element of an XML request, for the layers in front of PyWPS."""

from __future__ import annotations

import contextlib
import io
import unicodedata
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree
from werkzeug.wrappers import Request, Response

WPS1_NS = "http://www.opengis.net/wps/1.0.0"
WPS2_NS = "http://www.opengis.net/wps/2.0"
OWS11_NS = "http://www.opengis.net/ows/1.1"
OWS2_NS = "http://www.opengis.net/ows/2.0"


class OwsException(Exception):
    """An OGC exception, answered as an exception report with an HTTP status.

    Parameters
    ----------
    code
        The OWS exception code (``InvalidParameterValue``, ``NoApplicableCode``, ...).
    text
        What is wrong, for the user.
    http_status
        The HTTP status of the answer.
    locator
        The parameter concerned, if any.
    """

    def __init__(self, code: str, text: str, http_status: int, locator: str | None = None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.http_status = http_status
        self.locator = locator


def is_control(char: str) -> bool:
    """Whether ``char`` is a control character other than tab and line breaks."""
    return unicodedata.category(char) == "Cc" and char not in "\t\n\r"


def printable(text: str) -> str:
    """``text`` fit for XML: control characters (but tab and line breaks) shown as ``\\xNN``."""
    return "".join(f"\\x{ord(c):02x}" if is_control(c) else c for c in text)


def exception_report(error: OwsException, version: str = "2.0.0") -> bytes:
    """The ``ows:ExceptionReport`` of ``error``: OWS 2.0 for WPS ``version`` 2.0.0, else OWS 1.1.

    Texts and locators holding control characters (which XML cannot hold) are shown escaped.
    """
    ows = OWS2_NS if version == "2.0.0" else OWS11_NS
    attributes = {"version": version}
    if version == "2.0.0":
        attributes["{http://www.w3.org/XML/1998/namespace}lang"] = "en"
    root = etree.Element(f"{{{ows}}}ExceptionReport", attributes, nsmap={"ows": ows})
    exception = etree.SubElement(root, f"{{{ows}}}Exception", exceptionCode=error.code)
    if error.locator:
        exception.set("locator", printable(error.locator))
    etree.SubElement(exception, f"{{{ows}}}ExceptionText").text = printable(error.text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def report_response(error: OwsException, version: str = "2.0.0") -> Response:
    """The HTTP response of ``error``: its exception report (:func:`exception_report`) with
    its HTTP status."""
    return Response(
        exception_report(error, version),
        status=error.http_status,
        content_type="text/xml; charset=utf-8",
    )


def xml_root(body: bytes) -> etree.QName | None:
    """Name of the root element of ``body`` (reads only its start), or None when ``body``
    does not start as XML (empty, not XML, a broken or truncated start tag, a prefix
    without namespace).

    A pull parser is fed the body: the start of the root counts even when a later part of
    the body is not well-formed (how far lxml's ``iterparse`` reads ahead before it fails
    differs between its versions)."""
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True)
    with contextlib.suppress(etree.XMLSyntaxError):  # the events before an error are kept
        parser.feed(body)
    for _event, root in parser.read_events():
        try:
            return etree.QName(root)
        except ValueError:  # a tag with an undeclared prefix (e.g. cut short: "<wps:Execu")
            return None
    return None


def is_wps2_request(body: bytes, operations: Collection[str]) -> bool:
    """Whether the root element of ``body`` is a WPS 2.0 request of one of ``operations``
    (reads only its start)."""
    root = xml_root(body)
    return root is not None and root.namespace == WPS2_NS and root.localname in operations


def buffered_body(environ: dict[str, Any]) -> bytes:
    """The request body, read whole; ``environ`` is left so that whoever comes next reads
    it again."""
    body = Request(environ, populate_request=False).get_data()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def wps_version(environ: Mapping[str, Any]) -> str:
    """WPS version of a request, for its exception report: 2.0.0 for WPS 2.0 requests (KVP
    ``version``, or the namespace of an XML body already buffered), else 1.0.0."""
    query = parse_qsl(environ.get("QUERY_STRING", ""))
    if any(key.lower() == "version" and value == "2.0.0" for key, value in query):
        return "2.0.0"
    body = environ.get("wsgi.input")
    if environ.get("REQUEST_METHOD") == "POST" and isinstance(body, io.BytesIO):
        root = xml_root(body.getvalue())
        if root is not None and root.namespace == WPS2_NS:
            return "2.0.0"
    return "1.0.0"
