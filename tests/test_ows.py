"""Exception reports and the look at an XML request's root element."""

from __future__ import annotations

import pytest
from lxml import etree

from cp4cds_wps.ows import OwsException, exception_report, printable, xml_root

TRUNCATED = b'<?xml version="1.0"?><wps:Execu'


@pytest.mark.parametrize(
    "body",
    [
        TRUNCATED,  # lxml: ValueError "Invalid tag name" (was an HTTP 500)
        b'<wps:Execute service="WPS"/>',  # a prefix without namespace
        b"",
        b"not xml",
    ],
)
def test_xml_root_is_none_for_what_does_not_start_as_xml(body):
    assert xml_root(body) is None


def test_xml_root_names_the_root_element_of_a_request():
    root = xml_root(b'<wps:GetStatus xmlns:wps="http://www.opengis.net/wps/2.0"><unclosed>')
    assert (root.namespace, root.localname) == ("http://www.opengis.net/wps/2.0", "GetStatus")


@pytest.mark.parametrize(("version", "ows"), [("2.0.0", "2.0"), ("1.0.0", "1.1")])
def test_exception_reports_show_control_characters_escaped(version, ows):
    error = OwsException("InvalidParameterValue", "job a\x00b\x01 is unknown", 400, "job\x02Id")
    doc = etree.fromstring(exception_report(error, version))
    assert doc.tag == f"{{http://www.opengis.net/ows/{ows}}}ExceptionReport"
    exception = doc.find("{*}Exception")
    assert exception.get("locator") == "job\\x02Id"
    assert exception.findtext("{*}ExceptionText") == "job a\\x00b\\x01 is unknown"


def test_printable_keeps_text_tabs_and_line_breaks():
    assert printable("données\tA\nB\r\x7f") == "données\tA\nB\r\\x7f"
