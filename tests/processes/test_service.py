"""The checked PyWPS service on a toy process: unknown inputs and outputs, repeats,
references, identifiers and WPS 2.0.0 Execute are refused before the handler runs."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from pywps import FORMATS, ComplexInput, ComplexOutput, LiteralInput, Process
from werkzeug.test import Client

from cp4cds_wps.processes.service import CheckedService

WPS1 = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'


class Echo(Process):
    """Answers the inputs it got, as JSON; counts its runs."""

    runs = 0

    def __init__(self):
        super().__init__(
            self._handler,
            identifier="echo",
            title="Echo",
            inputs=[
                LiteralInput("name", "Name", data_type="string", min_occurs=0, max_occurs=1),
                LiteralInput("dims", "Dims", data_type="string", min_occurs=0, max_occurs=3),
                ComplexInput("shape", "Shape", supported_formats=[FORMATS.JSON], min_occurs=0),
            ],
            outputs=[ComplexOutput("output", "Output", supported_formats=[FORMATS.JSON])],
        )

    def _handler(self, request, response):
        Echo.runs += 1
        given = {k: [str(v.data) for v in values] for k, values in request.inputs.items()}
        response.outputs["output"].data = json.dumps(given)
        return response


@pytest.fixture
def fetched() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def client(tmp_path, fetched, monkeypatch) -> Client:
    monkeypatch.chdir(tmp_path)  # PyWPS's default work and output folders

    def fetch(name: str, url: str) -> str:
        fetched.append((name, url))
        return '{"type": "Polygon"}'

    Echo.runs = 0
    return Client(CheckedService([Echo()], fetch=fetch))


def kvp(client: Client, data_inputs: str, **params):
    query = {"service": "WPS", "version": "1.0.0", "request": "Execute", "identifier": "echo"}
    return client.get("/", query_string={**query, "DataInputs": data_inputs, **params})


def refusal(response) -> tuple[int, str, str, str]:
    exception = etree.fromstring(response.get_data()).find("{*}Exception")
    text = exception.findtext("{*}ExceptionText")
    return response.status_code, exception.get("exceptionCode"), exception.get("locator"), text


def test_known_inputs_run_and_repeats_within_max_occurs_are_kept(client):
    response = kvp(client, "name=a;dims=x;dims=y", RawDataOutput="output")
    assert json.loads(response.get_data()) == {"name": ["a"], "dims": ["x", "y"]}


@pytest.mark.parametrize(
    ("data_inputs", "locator", "text"),
    [
        ("nom=a", "nom", "echo has no input 'nom'; its inputs are name, dims, shape"),
        ("name=a;name=b", "name", "name is given 2 times; it takes one value"),
        ("dims=a;dims=b;dims=c;dims=d", "dims", "dims is given 4 times; it takes at most 3 values"),
        ("name=@xlink:href=http://x/n", "name", "name is given by reference; only complex inputs"),
    ],
)
def test_bad_inputs_are_refused_before_the_handler_runs(client, data_inputs, locator, text):
    status, code, found, message = refusal(kvp(client, data_inputs))
    assert (status, code, found) == (400, "InvalidParameterValue", locator)
    assert message.startswith(text)
    assert Echo.runs == 0


def test_a_reference_is_fetched_by_the_fetcher_and_used(client, fetched):
    response = kvp(client, "shape=@xlink:href=http://x/s.json", RawDataOutput="output")
    assert json.loads(response.get_data()) == {"shape": ['{"type": "Polygon"}']}
    assert fetched == [("shape", "http://x/s.json")]


def test_without_fetcher_references_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = Client(CheckedService([Echo()]))
    status, _, locator, text = refusal(kvp(client, "shape=@xlink:href=http://x/s.json"))
    assert (status, locator) == (400, "shape")
    assert "this service fetches no references" in text


@pytest.mark.parametrize("extra", ['method="POST"', ""])
def test_post_references_and_their_parts_are_refused(client, fetched, extra):
    body = (
        f'<wps:Execute service="WPS" version="1.0.0" {WPS1} {XLINK}><ows:Identifier>echo'
        "</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>shape</ows:Identifier>"
        f'<wps:Reference xlink:href="http://x/s.json" {extra}><wps:Body>{{}}</wps:Body>'
        "</wps:Reference></wps:Input></wps:DataInputs></wps:Execute>"
    )
    status, code, locator, _ = refusal(client.post("/", data=body))
    assert (status, code, locator) == (400, "InvalidParameterValue", "shape")
    assert fetched == []


def test_a_reference_header_pywps_cannot_read_is_a_400(client):
    body = (
        f'<wps:Execute service="WPS" version="1.0.0" {WPS1} {XLINK}><ows:Identifier>echo'
        "</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>shape</ows:Identifier>"
        '<wps:Reference xlink:href="http://x/s.json"><wps:Header key="a" value="b"/>'
        "</wps:Reference></wps:Input></wps:DataInputs></wps:Execute>"
    )
    status, code, _, text = refusal(client.post("/", data=body))
    assert (status, code) == (400, "NoApplicableCode")
    assert text.startswith("the request cannot be read (")


@pytest.mark.parametrize(
    ("params", "locator"),
    [
        ({"RawDataOutput": "nope"}, "RawDataOutput"),
        ({"ResponseDocument": "nope="}, "ResponseDocument"),
    ],
)
def test_unknown_outputs_are_refused_before_the_handler_runs(client, params, locator):
    status, _, found, text = refusal(kvp(client, "name=a", **params))
    assert (status, found) == (400, locator)
    assert text == "echo has no output 'nope'; its outputs are output"
    assert Echo.runs == 0


def test_describe_process_without_identifier_is_missing_parameter_value(client):
    body = (
        f'<wps:DescribeProcess service="WPS" version="1.0.0" {WPS1}><ows:Identifier/>'
        "</wps:DescribeProcess>"
    )
    assert refusal(client.post("/", data=body))[:3] == (400, "MissingParameterValue", "identifier")


def test_wps2_execute_is_refused_naming_the_version(client):
    response = client.get("/?service=WPS&version=2.0.0&request=Execute&identifier=echo")
    assert refusal(response)[:3] == (400, "InvalidParameterValue", "version")
