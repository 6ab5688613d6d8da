"""Typed errors become OGC exceptions: the input as locator, HTTP 400, the reason, except for
inputs fetched by reference, whose content is never shown."""

from __future__ import annotations

import pytest
from pywps.app.exceptions import ProcessError
from pywps.exceptions import InvalidParameterValue, MissingParameterValue, NoApplicableCode

from cp4cds_wps import errors
from cp4cds_wps.processes.failures import (
    failed_as_process_error,
    rejected_as_wps_exception,
    sync_failure,
    wps_exception,
)


@pytest.mark.parametrize(
    ("error", "kind", "locator"),
    [
        (errors.MissingParameter("dims"), MissingParameterValue, "dims"),
        (errors.InvalidParameter("time", "1990/1980 ends before it starts"), InvalidParameterValue,
         "time"),
        (errors.NoDataSelected("area", "no cell"), InvalidParameterValue, "area"),
        (errors.ArchiveFileChanged("/a/b.nc", "its size is 1 byte"), NoApplicableCode, ""),
    ],
)  # fmt: skip
def test_typed_errors_are_400s_with_the_input_as_locator(error, kind, locator):
    exception = wps_exception(error)
    assert type(exception) is kind
    assert (exception.code, exception.locator, exception.description) == (400, locator, str(error))


def test_errors_of_fetched_inputs_do_not_show_what_was_fetched():
    error = errors.InvalidParameter("workflow", "unknown key(s) 'status', 'checks'")
    exception = wps_exception(error, {"workflow": "http://shapes.example.org/w.json"})
    assert exception.locator == "workflow"
    assert "http://shapes.example.org/w.json is no valid workflow" in exception.description
    assert "status" not in exception.description
    fetched = {"workflow": "http://x/w.json"}
    with pytest.raises(InvalidParameterValue) as refused, rejected_as_wps_exception(fetched):
        raise error
    assert "checks" not in refused.value.description


def test_a_synchronous_failure_is_answered_as_its_cause():
    cause = errors.InvalidParameter("dims", "on this curvilinear grid ...")
    with pytest.raises(ProcessError) as failed, failed_as_process_error():
        raise cause
    assert str(failed.value) == "InvalidParameterValue: dims: on this curvilinear grid ..."
    answer = sync_failure(failed.value)
    assert (type(answer), answer.locator, answer.code) == (InvalidParameterValue, "dims", 400)


def test_an_unexpected_synchronous_failure_is_a_500_without_details():
    answer = sync_failure(KeyError("/secret/path"))
    assert answer.code == 500
    assert answer.description == "the process failed; the service log has the details"
    assert sync_failure(None).code == 500
