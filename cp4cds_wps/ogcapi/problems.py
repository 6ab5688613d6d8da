"""RFC 7807 problem details: the errors of the OGC API, with the WPS exceptions' texts."""

from __future__ import annotations

import json

from lxml import etree
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from cp4cds_wps.ows import OWS2_NS, OWS11_NS

#: The exception types of OGC API - Processes, by HTTP status.
TYPES = {
    404: "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-process",
    400: "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/invalid-parameter-value",
}
NO_SUCH_JOB = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job"
RESULT_NOT_READY = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/result-not-ready"


class Problem(HTTPException):
    """An error answered as ``application/problem+json``.

    Parameters
    ----------
    status
        The HTTP status.
    detail
        What is wrong, for the user (the WPS exception's text for the same input).
    type_
        The URI of the kind of problem; by default one of :data:`TYPES` for the status.
    title
        A short summary; by default the HTTP status phrase.
    """

    def __init__(self, status: int, detail: str, type_: str | None = None, title: str = ""):
        super().__init__(detail)
        self.code = status
        self.detail = detail
        self.type_ = type_ or TYPES.get(status, "about:blank")
        self.title = title

    def get_response(self, environ=None, scope=None) -> Response:
        """The problem details document with this status."""
        from werkzeug.http import HTTP_STATUS_CODES

        body = {
            "type": self.type_,
            "title": self.title or HTTP_STATUS_CODES.get(self.code, "Error"),
            "status": self.code,
            "detail": self.detail,
        }
        return Response(json.dumps(body), status=self.code, mimetype="application/problem+json")


def from_report(body: bytes, status: int) -> Problem:
    """The problem of an OGC exception report (OWS 1.1 or 2.0) the WPS answered.

    The detail is the exception's text (with its locator when the text does not name it).
    """
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return Problem(status or 500, body.decode(errors="replace")[:2000])
    for ows in (OWS11_NS, OWS2_NS):
        exception = root.find(f"{{{ows}}}Exception")
        if exception is not None:
            text = exception.findtext(f"{{{ows}}}ExceptionText") or ""
            code = exception.get("exceptionCode", "")
            return Problem(status if status >= 400 else 400, text.strip(), title=code)
    return Problem(status or 500, "the WPS answered with an unexpected document")
