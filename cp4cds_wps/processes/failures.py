"""Errors become WPS exceptions here, in one place: before a job is accepted (an OGC exception
report, HTTP 400), when a synchronous run fails (the same, with the reason) and while a job
runs (its failure message).

The typed errors of :mod:`cp4cds_wps.errors` name the input at fault; it becomes the
exception's locator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pywps.app.exceptions import ProcessError
from pywps.exceptions import InvalidParameterValue, MissingParameterValue, NoApplicableCode

from cp4cds_wps import errors

#: Characters kept in messages of errors raised while a job runs (PyWPS drops all others).
MESSAGE_CHARS = ".:!?=,;-_/'()[]+*<>@"


#: The OGC exception of each kind of typed error with an input at fault.
_INPUT_EXCEPTIONS = (
    (errors.MissingParameter, MissingParameterValue),
    (errors.InvalidParameter, InvalidParameterValue),
)


def _exception_class(err: errors.ServiceError) -> type[NoApplicableCode]:
    return next((cls for kind, cls in _INPUT_EXCEPTIONS if isinstance(err, kind)), NoApplicableCode)


def fetched_inputs(wps_request) -> Mapping[str, str]:
    """The inputs of ``wps_request`` the server fetched by reference: name -> URL."""
    return getattr(wps_request, "fetched", None) or {}


def wps_exception(
    err: errors.ServiceError, fetched: Mapping[str, str] | None = None
) -> NoApplicableCode:
    """The OGC exception (HTTP 400) of a typed error: MissingParameterValue or
    InvalidParameterValue with the input as locator, else NoApplicableCode with the reason.

    HTTP 400 also for failures that are no fault of the request (e.g. an archive file
    changed since the scan): OWSLib and birdy show the text of a 400 answer, not of a 500.
    An error about an input the server fetched by reference (``fetched``: name -> URL) does
    not show the reason, which may quote what was fetched.
    """
    name = getattr(err, "name", None)
    if fetched and name in fetched:
        return InvalidParameterValue(
            f"{name}: the document at {fetched[name]} is no valid {name} (what it holds is "
            f"not shown: send the {name} itself in the request to see what is wrong)",
            locator=name,
        )
    exception = _exception_class(err)
    if exception is NoApplicableCode:
        return NoApplicableCode(str(err), code=400)
    return exception(str(err), locator=err.name)


@contextmanager
def rejected_as_wps_exception(fetched: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn errors found before a job is accepted into OGC exception reports (HTTP 400)."""
    try:
        yield
    except errors.ServiceError as err:
        raise wps_exception(err, fetched) from err


def sync_failure(
    err: BaseException | None, fetched: Mapping[str, str] | None = None
) -> NoApplicableCode:
    """The OGC exception answering a synchronous execution that failed with ``err``.

    Typed errors (also as the cause of the ``ProcessError`` PyWPS reports) are answered as
    :func:`wps_exception` answers them; anything else is NoApplicableCode (HTTP 500) without
    details, which go to the service log.
    """
    cause = err.__cause__ if isinstance(err, ProcessError) else err
    if isinstance(cause, errors.ServiceError):
        return wps_exception(cause, fetched)
    if isinstance(err, ProcessError):
        return NoApplicableCode(str(err), code=500)
    return NoApplicableCode("the process failed; the service log has the details", code=500)


@contextmanager
def failed_as_process_error() -> Iterator[None]:
    """Turn errors found while a job runs into a readable failure message of its status."""
    try:
        yield
    except errors.ServiceError as err:
        raise ProcessError(
            f"{_exception_class(err).__name__}: {err}",
            max_length=2000,
            allowed_chars=MESSAGE_CHARS,
        ) from err
