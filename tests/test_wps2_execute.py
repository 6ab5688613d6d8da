"""WPS 2.0 Execute requests rewritten as WPS 1.0.0 ones, and the answers back."""

from __future__ import annotations

import pytest
from lxml import etree

from cp4cds_wps.ows import OWS2_NS, OWS11_NS, WPS1_NS, WPS2_NS, OwsException, is_wps2_request
from cp4cds_wps.processes import processes
from cp4cds_wps.wps2_execute import ows2_report, result_document, to_wps1

NS = {"wps": WPS1_NS, "ows": OWS11_NS, "xlink": "http://www.w3.org/1999/xlink"}
NS2 = {"wps": WPS2_NS, "ows": OWS2_NS, "xlink": "http://www.w3.org/1999/xlink"}
HEAD = f'xmlns:wps="{WPS2_NS}" xmlns:ows="{OWS2_NS}" xmlns:xlink="http://www.w3.org/1999/xlink"'


def execute(content: str, **attributes: str) -> etree._Element:
    attrs = {"service": "WPS", "version": "2.0.0", **attributes}
    given = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return etree.fromstring(f"<wps:Execute {given} {HEAD}>{content}</wps:Execute>")


def converted(content: str, **attributes: str) -> tuple[etree._Element, str, str]:
    body, mode, form = to_wps1(execute(content, **attributes), processes())
    return etree.fromstring(body), mode, form


def test_literal_complex_and_referenced_inputs_become_their_wps1_forms():
    request, mode, form = converted(
        "<ows:Identifier>subset</ows:Identifier>"
        '<wps:Input id="collection"><wps:Data>CMIP6.x</wps:Data></wps:Input>'
        '<wps:Input id="time"><wps:Data><wps:LiteralValue>2000/2001</wps:LiteralValue>'
        "</wps:Data></wps:Input>"
        '<wps:Input id="area"><wps:Reference xlink:href="http://example.org/a.txt"/></wps:Input>'
        '<wps:Output id="output" transmission="reference"/>',
        mode="sync",
    )
    assert (mode, form) == ("sync", "document")
    assert request.get("version") == "1.0.0"
    assert request.findtext("ows:Identifier", None, NS) == "subset"
    inputs = {
        i.findtext("ows:Identifier", None, NS): i for i in request.iterfind(".//wps:Input", NS)
    }
    assert inputs["collection"].findtext("wps:Data/wps:LiteralData", None, NS) == "CMIP6.x"
    assert inputs["time"].findtext("wps:Data/wps:LiteralData", None, NS) == "2000/2001"
    reference = inputs["area"].find("wps:Reference", NS)
    assert reference.get(f"{{{NS['xlink']}}}href") == "http://example.org/a.txt"
    (output,) = request.iterfind("wps:ResponseForm/wps:ResponseDocument/wps:Output", NS)
    assert output.get("asReference") == "true"
    assert output.findtext("ows:Identifier", None, NS) == "output"


def test_a_complex_input_given_as_data_is_complex_data():
    shape = '{"type": "Point", "coordinates": [1, 2]}'
    request, _, _ = converted(
        f'<ows:Identifier>average_shape</ows:Identifier><wps:Input id="shape"><wps:Data '
        f'mimeType="application/geo+json">{shape}</wps:Data></wps:Input>',
        mode="sync",
    )
    data = request.find(".//wps:Input/wps:Data/wps:ComplexData", NS)
    assert (data.get("mimeType"), data.text) == ("application/geo+json", shape)


@pytest.mark.parametrize("mode", ["async", "auto"])
def test_async_and_auto_executions_are_queued_with_a_status(mode):
    request, got, _ = converted("<ows:Identifier>subset</ows:Identifier>", mode=mode)
    document = request.find("wps:ResponseForm/wps:ResponseDocument", NS)
    assert got == "async"
    assert (document.get("storeExecuteResponse"), document.get("status")) == ("true", "true")


def test_a_raw_response_is_raw_data_output_of_its_one_output():
    request, _, form = converted(
        '<ows:Identifier>subset</ows:Identifier><wps:Output id="prov"/>',
        mode="sync",
        response="raw",
    )
    assert form == "raw"
    assert request.findtext("wps:ResponseForm/wps:RawDataOutput/ows:Identifier", None, NS) == "prov"


@pytest.mark.parametrize(
    ("content", "attributes", "locator", "text"),
    [
        (
            "<ows:Identifier>subset</ows:Identifier>",
            {"mode": "soon"},
            "mode",
            "mode must be one of",
        ),
        (
            "<ows:Identifier>subset</ows:Identifier>",
            {"response": "zip"},
            "response",
            "response must",
        ),
        (
            "<ows:Identifier>subset</ows:Identifier>",
            {"version": "1.0.0"},
            "version",
            "version must",
        ),
        ("", {}, "identifier", "identifier: name the process"),
        (
            '<ows:Identifier>subset</ows:Identifier><wps:Input id="area"><wps:Input id="x">'
            "<wps:Data>1</wps:Data></wps:Input></wps:Input>",
            {},
            "area",
            "area: nested inputs",
        ),
        (
            '<ows:Identifier>subset</ows:Identifier><wps:Input id="time"/>',
            {},
            "time",
            "time: give wps:Data or wps:Reference",
        ),
        (
            "<ows:Identifier>subset</ows:Identifier>",
            {"mode": "sync", "response": "raw"},
            "response",
            "a raw response names exactly one wps:Output",
        ),
    ],
)
def test_what_cannot_be_rewritten_is_refused_naming_it(content, attributes, locator, text):
    with pytest.raises(OwsException) as raised:
        to_wps1(execute(content, **attributes), processes())
    assert raised.value.locator == locator
    assert str(raised.value).startswith(text) or text in raised.value.text


def test_a_wps1_execute_response_becomes_a_wps2_result():
    answer = etree.fromstring(
        f'<wps:ExecuteResponse xmlns:wps="{WPS1_NS}" xmlns:ows="{OWS11_NS}" '
        'statusLocation="http://h/outputs/1234-abcd.xml"><wps:ProcessOutputs>'
        "<wps:Output><ows:Identifier>output</ows:Identifier>"
        '<wps:Reference href="http://h/outputs/1234-abcd/x.meta4" '
        'mimeType="application/metalink+xml; version=4.0"/>'
        "</wps:Output><wps:Output><ows:Identifier>prov</ows:Identifier><wps:Data>"
        '<wps:ComplexData mimeType="application/json">{"a": 1}</wps:ComplexData></wps:Data>'
        "</wps:Output></wps:ProcessOutputs></wps:ExecuteResponse>"
    )
    result = etree.fromstring(result_document(answer))
    assert result.tag == f"{{{WPS2_NS}}}Result"
    assert result.findtext("wps:JobID", None, NS2) == "1234-abcd"
    reference = result.find("wps:Output[@id='output']/wps:Reference", NS2)
    assert reference.get(f"{{{NS2['xlink']}}}href") == "http://h/outputs/1234-abcd/x.meta4"
    data = result.find("wps:Output[@id='prov']/wps:Data", NS2)
    assert (data.get("mimeType"), data.text) == ("application/json", '{"a": 1}')


def test_an_ows11_exception_report_becomes_an_ows2_one():
    report = (
        f'<ows:ExceptionReport xmlns:ows="{OWS11_NS}" version="1.0.0"><ows:Exception '
        'exceptionCode="InvalidParameterValue" locator="time"><ows:ExceptionText>time: bad'
        "</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"
    ).encode()
    converted_report = etree.fromstring(ows2_report(report, 400))
    exception = converted_report.find("ows:Exception", NS2)
    assert exception.get("exceptionCode") == "InvalidParameterValue"
    assert exception.get("locator") == "time"
    assert exception.findtext("ows:ExceptionText", None, NS2) == "time: bad"
    assert ows2_report(b"<not-a-report/>", 400) is None


def is_wps2_execute(body: bytes) -> bool:
    return is_wps2_request(body, ("Execute",))


def test_only_wps2_executes_are_taken():
    assert is_wps2_execute(etree.tostring(execute("")))
    assert not is_wps2_execute(f'<wps:Execute xmlns:wps="{WPS1_NS}"/>'.encode())
    assert not is_wps2_execute(f'<wps:GetStatus xmlns:wps="{WPS2_NS}"/>'.encode())
