"""The first check of WPS requests: body size, XML without DOCTYPE, no JSON, no control
characters; what passes reaches the application with its body."""

from __future__ import annotations

import io
import json
import time

import pytest
from lxml import etree
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from cp4cds_wps.request_guard import RequestGuard

GETCAPABILITIES = (
    b'<wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS"/>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<wps:DescribeProcess xmlns:wps="http://www.opengis.net/wps/1.0.0" '
    b'xmlns:ows="http://www.opengis.net/ows/1.1" service="WPS" version="1.0.0">'
    b"<ows:Identifier>&x;</ows:Identifier></wps:DescribeProcess>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/1.0.0">&lol9;'
    b"</wps:GetCapabilities>"
)


@Request.application
def echo(request: Request) -> Response:
    """Stands for the WPS: shows what reached it."""
    return Response(json.dumps({"body": request.get_data().decode()}), mimetype="application/json")


@pytest.fixture
def client() -> Client:
    return Client(RequestGuard(echo, max_body_bytes=1000))


def refusal(response) -> tuple[int, str, str | None, str]:
    doc = etree.fromstring(response.get_data())
    assert doc.tag.endswith("ExceptionReport")
    exception = doc.find("{*}Exception")
    text = exception.findtext("{*}ExceptionText")
    return response.status_code, exception.get("exceptionCode"), exception.get("locator"), text


def test_good_requests_pass_with_their_body(client):
    assert client.post("/", data=GETCAPABILITIES).json == {"body": GETCAPABILITIES.decode()}
    query = "service=WPS&request=Execute&DataInputs=shape=%7B%0A%22type%22%09%7D"
    assert client.get(f"/?{query}").json == {"body": ""}  # tabs and line breaks are fine


def test_a_doctype_is_refused_so_no_entity_is_fetched(client):
    status, code, _, text = refusal(client.post("/", data=XXE))
    assert (status, code) == (400, "NoApplicableCode")
    assert "document type declaration" in text
    assert "root:" not in text


def test_entity_expansion_is_refused_at_once(client):
    client.application.max_body_bytes = 1 << 20
    started = time.monotonic()
    status, code, _, text = refusal(client.post("/", data=LAUGHS))
    assert time.monotonic() - started < 1
    assert (status, code) == (400, "NoApplicableCode")
    assert "lol" not in text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<?xml version="1.0"?><wps:Execu', "not well-formed XML"),
        (b"<a>&#1;</a>", "not well-formed XML"),
        (b"<a>&undefined;</a>", "not well-formed XML"),
        (b"", "the request body is empty"),
    ],
)
def test_bodies_that_are_no_xml_request_are_refused(client, body, reason):
    status, code, _, text = refusal(client.post("/", data=body))
    assert (status, code) == (400, "NoApplicableCode")
    assert reason in text


def test_json_requests_are_refused(client):
    response = client.post("/", data="[" * 900, content_type="application/json")
    status, _, _, text = refusal(response)
    assert status == 400
    assert text.startswith("JSON requests are not supported")


def test_a_body_over_the_limit_is_413_without_being_read(client):
    environ = EnvironBuilder(method="POST", data=b"<a/>").get_environ()
    environ["CONTENT_LENGTH"] = str(100 << 20)  # announced, never sent
    response = Response.from_app(client.application, environ)
    status, code, _, text = refusal(response)
    assert (status, code) == (413, "FileSizeExceeded")
    assert "larger than" in text


class Endless(io.RawIOBase):
    """A chunked body that never ends; counts what was read."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = b"<" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def test_a_chunked_body_is_read_no_further_than_the_limit(client):
    stream = Endless()
    environ = EnvironBuilder(method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    response = Response.from_app(client.application, environ)
    assert refusal(response)[:2] == (413, "FileSizeExceeded")
    assert stream.read_bytes <= 1000 + (1 << 16)


def test_a_chunked_body_within_the_limit_passes(client):
    environ = EnvironBuilder(method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BytesIO(GETCAPABILITIES), "wsgi.input_terminated": True})
    assert Response.from_app(client.application, environ).json == {"body": GETCAPABILITIES.decode()}


@pytest.mark.parametrize(
    ("query", "locator"),
    [
        ("service=WPS&version=2.0.0&request=GetStatus&jobId=%00", "jobId"),
        ("service=WPS&request=Execute&DataInputs=time%3D1990%01", "DataInputs"),
        ("service=WPS&ide%1Bntifier=subset", "ide\\x1bntifier"),
    ],
)
def test_control_characters_in_the_query_are_refused_naming_the_parameter(client, query, locator):
    status, code, found, text = refusal(client.get(f"/?{query}"))
    assert (status, code, found) == (400, "InvalidParameterValue", locator)
    assert "control character" in text


def test_refusals_of_wps2_requests_are_ows2_reports(client):
    response = client.get("/?service=WPS&version=2.0.0&request=GetStatus&jobId=a%00")
    assert etree.fromstring(response.get_data()).tag == (
        "{http://www.opengis.net/ows/2.0}ExceptionReport"
    )
