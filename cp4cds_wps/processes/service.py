"""PyWPS's ``Service``, checking each request before PyWPS acts on it.

PyWPS 4.8 silently drops inputs a process does not have and repeats beyond an input's
``maxOccurs``, fetches inputs given by reference (``xlink:href``) from wherever they point,
runs a whole job before finding that a ``RawDataOutput`` names no output, ignores the inputs
of WPS 2.0.0 Execute requests (those in XML are rewritten before, by
:mod:`cp4cds_wps.wps2_execute`; KVP is left), and fails with HTTP 500 on some requests it
cannot read (an empty identifier, a reference header). :class:`CheckedService` refuses each
of these with an OGC exception report (HTTP 400) naming the parameter, before any work is
done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from pywps import ComplexInput, Process, Service
from pywps.app.WPSRequest import WPSRequest
from pywps.exceptions import InvalidParameterValue, MissingParameterValue, NoApplicableCode

LOGGER = logging.getLogger(__name__)

#: Fetches the text of a complex input given by reference: ``fetch(input name, url)``.
Fetcher = Callable[[str, str], str]


def _names(items: Sequence) -> str:
    return ", ".join(item.identifier for item in items)


def check_operation(wps_request: WPSRequest) -> None:
    """Refuse what PyWPS reads but cannot answer: missing identifiers, WPS 2.0.0 KVP Execute.

    Raises
    ------
    pywps.exceptions.NoApplicableCode
        MissingParameterValue or InvalidParameterValue naming the parameter.
    """
    operation = wps_request.operation
    if operation == "describeprocess":
        identifiers = wps_request.identifiers or []
        if not identifiers or not all(isinstance(i, str) and i.strip() for i in identifiers):
            raise MissingParameterValue(
                "identifier: name the process(es) to describe", "identifier"
            )
    if operation == "execute":
        if not isinstance(wps_request.identifier, str) or not wps_request.identifier.strip():
            raise MissingParameterValue("identifier: name the process to execute", "identifier")
        if wps_request.version == "2.0.0":
            # a WPS 2.0 Execute in XML reaches the service as its 1.0.0 equivalent
            # (cp4cds_wps.wps2_execute): this one came as KVP, which WPS 2.0 does not define
            raise InvalidParameterValue(
                "WPS 2.0.0 Execute is an XML request (POST); as KVP (GET) send Execute "
                "with version 1.0.0",
                "version",
            )


def check_inputs(process: Process, inputs: Mapping[str, list[dict]]) -> None:
    """Refuse inputs the process does not have, and more values than an input takes.

    Raises
    ------
    pywps.exceptions.InvalidParameterValue
        Naming the input, and the process's inputs or how many values the input takes.
    """
    known = {definition.identifier: definition for definition in process.inputs}
    for name, values in inputs.items():
        definition = known.get(name)
        if definition is None:
            raise InvalidParameterValue(
                f"{process.identifier} has no input {name!r}; its inputs are "
                f"{_names(process.inputs)}",
                name or "DataInputs",
            )
        if len(values) > definition.max_occurs:
            takes = (
                "one value"
                if definition.max_occurs == 1
                else f"at most {definition.max_occurs} values"
            )
            raise InvalidParameterValue(
                f"{name} is given {len(values)} times; it takes {takes}", name
            )


def check_outputs(process: Process, wps_request: WPSRequest) -> None:
    """Refuse a ``RawDataOutput`` or ``ResponseDocument`` naming outputs the process lacks.

    Raises
    ------
    pywps.exceptions.InvalidParameterValue
        Naming the parameter and the process's outputs.
    """
    known = {output.identifier for output in process.outputs}
    parameter = "RawDataOutput" if wps_request.raw else "ResponseDocument"
    requested = list(wps_request.outputs or {})
    for name in requested:
        if name not in known:
            raise InvalidParameterValue(
                f"{process.identifier} has no output {name!r}; its outputs are "
                f"{_names(process.outputs)}",
                parameter,
            )
    if wps_request.raw and len(requested) > 1:
        raise InvalidParameterValue(
            f"RawDataOutput names {len(requested)} outputs; it returns one", parameter
        )


def take_references(
    process: Process, inputs: Mapping[str, list[dict]], fetch: Fetcher | None
) -> dict[str, str]:
    """Replace each input given by reference by the text ``fetch`` gets for it, in place.

    Returns
    -------
    dict
        The URL of each input fetched, by input name (errors about these inputs must not
        show what was fetched: :func:`cp4cds_wps.processes.failures.wps_exception`).

    Raises
    ------
    pywps.exceptions.InvalidParameterValue
        Naming the input: a literal input given by reference, a reference other than a
        plain GET (``method="POST"``, a body or body reference), or any reference when no
        ``fetch`` is given (the service then fetches none).
    """
    complex_inputs = {i.identifier for i in process.inputs if isinstance(i, ComplexInput)}
    fetched = {}
    for name, values in inputs.items():
        for value in values:
            url = value.get("href")
            if url is None:
                continue
            if name not in complex_inputs:
                raise InvalidParameterValue(
                    f"{name} is given by reference; only complex inputs can be", name
                )
            if fetch is None:
                raise InvalidParameterValue(
                    f"{name} is given by reference ({url}): this service fetches no "
                    f"references; send the {name} itself in the request",
                    name,
                )
            if value.get("method", "GET").upper() != "GET" or {"body", "bodyreference"} & set(
                value
            ):
                raise InvalidParameterValue(
                    f"{name} is given by a {value.get('method')} reference: only GET "
                    "references are fetched",
                    name,
                )
            text = fetch(name, url)
            for key in ("href", "method", name):
                value.pop(key, None)
            value["data"] = text
            fetched[name] = url
    return fetched


class CheckedService(Service):
    """PyWPS's ``Service`` refusing requests it would misread, with an OGC exception report.

    Parameters
    ----------
    processes
        The processes offered.
    cfgfiles
        PyWPS configuration files.
    fetch
        Fetches complex inputs given by reference; None (the default) refuses references.
    """

    def __init__(
        self,
        processes: Sequence[Process],
        cfgfiles: list[str] | None = None,
        fetch: Fetcher | None = None,
    ):
        super().__init__(processes=processes, cfgfiles=cfgfiles)
        self.fetch = fetch

    def call(self, http_request):
        """Answer the request, unless PyWPS cannot read it or it asks for what PyWPS would
        not do."""
        try:
            check_operation(WPSRequest(http_request, self.preprocessors))
        except NoApplicableCode as err:
            return err
        except Exception as err:  # noqa: BLE001 - PyWPS fails on what it cannot read
            LOGGER.info("unreadable request: %r", err)
            return NoApplicableCode(
                f"the request cannot be read ({type(err).__name__}: {err})", code=400
            )
        return super().call(http_request)

    def _parse_and_execute(self, process, wps_request, uuid):
        try:
            check_inputs(process, wps_request.inputs)
            check_outputs(process, wps_request)
            wps_request.fetched = take_references(process, wps_request.inputs, self.fetch)
            return super()._parse_and_execute(process, wps_request, uuid)
        except Exception:
            # refused (or failed) before a job was accepted: PyWPS leaves its working folder
            process.clean()
            raise
