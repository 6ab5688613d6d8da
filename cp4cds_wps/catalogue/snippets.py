"""The code that runs a request of the main WPS: birdy, rooki, and curl with WPS 1.0.0 KVP.

Every snippet runs the request as the request builder submits it (asynchronously, the
status polled), with the inputs given as text, as the WPS takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

#: Characters that separate inputs, names from values and values from attributes in KVP
#: ``DataInputs``: values holding them must be sent in an XML Execute instead.
KVP_SEPARATORS = (";", "=", "@")


def data_inputs(inputs: Mapping[str, str]) -> str:
    """The KVP ``DataInputs`` of the inputs: ``name=value;name=value``."""
    return ";".join(f"{name}={value}" for name, value in inputs.items())


def kvp_safe(inputs: Mapping[str, str]) -> bool:
    """Whether every value can be written in KVP ``DataInputs``."""
    return not any(sep in value for value in inputs.values() for sep in KVP_SEPARATORS)


def execute_url(wps_url: str, process: str, inputs: Mapping[str, str]) -> str:
    """The KVP Execute URL of an asynchronous request (the status document is polled)."""
    params = {
        "service": "WPS",
        "version": "1.0.0",
        "request": "Execute",
        "identifier": process,
        "DataInputs": data_inputs(inputs),
        "storeExecuteResponse": "true",
        "status": "true",
    }
    return f"{wps_url}?{urlencode(params, quote_via=quote, safe='/,:')}"


def _arguments(inputs: Mapping[str, str]) -> str:
    return "".join(f"    {name}={value!r},\n" for name, value in inputs.items())


def birdy(wps_url: str, process: str, inputs: Mapping[str, str], token: bool = False) -> str:
    """birdy: the process as a Python function, run asynchronously with a progress bar."""
    headers = ', headers={"Authorization": f"Bearer {token}"}' if token else ""
    setup = "token = os.environ['ACCESS_TOKEN']\n" if token else ""
    imports = "import os\n\n" if token else ""
    return (
        f"{imports}from birdy import WPSClient\n\n{setup}"
        f"wps = WPSClient({wps_url!r}, progress=True{headers})\n"
        f"result = wps.{process}(\n{_arguments(inputs)})\n"
        "print(result.get())  # the outputs' URLs; result.get(asobj=True) opens them\n"
    )


def rooki(wps_url: str, process: str, inputs: Mapping[str, str], token: bool = False) -> str:
    """rooki (the Climate Data Store's client of rook-like services)."""
    note = (
        "# rooki sends no access token: with authentication on, use birdy or curl\n"
        if token
        else ""
    )
    return (
        f"{note}import os\n\nos.environ['ROOK_URL'] = {wps_url!r}  # before importing rooki\n"
        "from rooki import rooki\n\n"
        f"response = rooki.{process}(\n{_arguments(inputs)})\n"
        "print(response.ok, response.download_urls())\n"
    )


def curl(wps_url: str, process: str, inputs: Mapping[str, str], token: bool = False) -> str:
    """curl: the KVP Execute, then the status document it names, polled."""
    header = ' -H "Authorization: Bearer $ACCESS_TOKEN"' if token else ""
    return (
        f"status=$(curl -s{header} '{execute_url(wps_url, process, inputs)}' \\\n"
        "  | grep -o 'statusLocation=\"[^\"]*\"' | cut -d'\"' -f2)\n"
        f'until curl -s{header} "$status" | grep -qE "ProcessSucceeded|ProcessFailed"; '
        "do sleep 2; done\n"
        f'curl -s{header} "$status"  # the outputs: wps:Reference href=...\n'
    )
