"""The first check of every request to ``/wps`` and ``/meta-wps``, before anything parses it.

PyWPS and the layers in front of it (token check, WPS 2.0 job operations) each read the
request. :class:`RequestGuard` refuses, with an OGC exception report, what none of them
should have to deal with:

- a body larger than ``max_body_bytes`` (HTTP 413; read no further than that, also when
  sent in chunks without a length);
- a POST body that is not well-formed XML, or that has a document type declaration
  (``<!DOCTYPE``): WPS requests need none, and it is where external entities (XXE) and
  entity expansion ("billion laughs") come from;
- a JSON body (PyWPS's undocumented JSON encoding: the service speaks WPS XML and KVP);
- a query parameter holding control characters (NUL, ...), which no WPS value needs and
  XML cannot carry.

Requests that pass reach the application with their body in memory (``wsgi.input`` a
``BytesIO``, ``Content-Length`` set), so the layers behind read it again cheaply.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import parse_qsl

from lxml import etree

from cp4cds_wps.ows import (
    OwsException,
    is_control,
    printable,
    report_response,
    wps_version,
)

#: Largest request body accepted by default (PyWPS's ``maxrequestsize``).
MAX_BODY_MB = 20

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_CHUNK = 1 << 16


def _bad_request(text: str, locator: str | None = None, code: str = "NoApplicableCode"):
    return OwsException(code, text, 400, locator)


def check_query(query: str) -> None:
    """Refuse query parameters (names or values) holding control characters (tab and line
    breaks are fine).

    Raises
    ------
    OwsException
        InvalidParameterValue naming the parameter.
    """
    for name, value in parse_qsl(query, keep_blank_values=True):
        if any(is_control(c) for c in name + value):
            raise _bad_request(
                f"parameter {printable(name)} holds a control character: "
                f"{printable(value)[:200]!r}",
                printable(name),
                "InvalidParameterValue",
            )


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes; put back into ``environ`` for later readers.

    Raises
    ------
    OwsException
        FileSizeExceeded (HTTP 413) when the body is larger.
    """
    too_large = OwsException(
        "FileSizeExceeded",
        f"the request body is larger than {limit // (1 << 20)} MB, the most this service accepts",
        413,
    )
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.strip():
        try:
            size = int(length)
        except ValueError:
            raise _bad_request(f"Content-Length {printable(length)!r} is no number") from None
        if size > limit:
            raise too_large
        body = stream.read(size) if size > 0 else b""
    elif environ.get("wsgi.input_terminated"):  # chunked: read until the end, but no further
        parts, size = [], 0
        while chunk := stream.read(_CHUNK):
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise too_large
        body = b"".join(parts)
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def check_xml(body: bytes, content_type: str) -> None:
    """Refuse a POST body that is not a WPS XML request.

    Raises
    ------
    OwsException
        NoApplicableCode (HTTP 400) saying why: empty, JSON, not well-formed, or with a
        document type declaration.
    """
    if "json" in content_type.lower():
        raise _bad_request(
            "JSON requests are not supported: POST a WPS 1.0.0 or 2.0.0 XML request, or use "
            "GET with key-value pairs"
        )
    if not body.strip():
        raise _bad_request("the request body is empty: POST a WPS XML request")
    try:
        tree = etree.fromstring(body, _PARSER).getroottree()
    except (etree.XMLSyntaxError, ValueError) as err:
        raise _bad_request(f"the request body is not well-formed XML: {err}") from err
    if tree.docinfo.doctype:
        raise _bad_request(
            "the request has a document type declaration (<!DOCTYPE ...>): WPS requests "
            "need none, and none is accepted (no entities are expanded or fetched)"
        )


class RequestGuard:
    """WSGI middleware refusing oversized, malformed and dangerous WPS requests.

    Parameters
    ----------
    app
        The WPS application behind.
    max_body_bytes
        Largest request body accepted.
    """

    def __init__(self, app: Callable, max_body_bytes: int = MAX_BODY_MB << 20):
        self.app = app
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ, start_response):
        try:
            check_query(environ.get("QUERY_STRING", ""))
            if environ.get("REQUEST_METHOD", "GET").upper() == "POST":
                body = read_body(environ, self.max_body_bytes)
                check_xml(body, environ.get("CONTENT_TYPE", ""))
        except OwsException as err:
            response = report_response(err, wps_version(environ))
            if err.http_status == 413:
                response.headers["Connection"] = "close"  # the rest of the body is not read
            return response(environ, start_response)
        return self.app(environ, start_response)
