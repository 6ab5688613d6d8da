"""Plain WPS requests, as the Climate Data Store sends them."""

from __future__ import annotations

import urllib.parse

import requests


def execute_kvp(wps_url: str, identifier: str, inputs: dict[str, str], **params: str):
    """A WPS 1.0.0 KVP GET Execute of process ``identifier``; ``params`` are added to the
    query (e.g. ``ResponseDocument``, ``storeExecuteResponse``)."""
    data_inputs = ";".join(f"{k}={urllib.parse.quote(v, safe='/,:')}" for k, v in inputs.items())
    query = {"service": "WPS", "version": "1.0.0", "request": "Execute", "identifier": identifier}
    return requests.get(wps_url, params={**query, "DataInputs": data_inputs, **params}, timeout=120)
