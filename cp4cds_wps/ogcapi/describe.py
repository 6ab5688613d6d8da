"""Process lists and descriptions (ogc-process-description) made from the registry.

Each input's JSON schema follows its declaration (:class:`cp4cds_wps.operations.base.Input`):
text is a string (several values either as a list or joined by commas, as in the WPS),
flags are booleans, choices an enum, JSON inputs an object (or its text).
"""

from __future__ import annotations

from typing import Any

from cp4cds_wps.operations.base import Input

#: Version of every process (the WPS processes').
VERSION = "1.0"


def input_schema(item: Input) -> dict[str, Any]:
    """The JSON schema of the values of ``item``."""
    if item.kind == "flag":
        schema: dict[str, Any] = {"type": "boolean"}
    elif item.kind == "choice":
        schema = {"type": "string", "enum": list(item.choices)}
    elif item.kind == "json":  # a document (or its text) of the media types it names
        return {"oneOf": [{"type": "object"}, {"type": "string"}]}
    else:
        schema = {"type": "string"}
    if item.default is not None:
        schema["default"] = item.default
    if item.max_occurs > 1:
        return {"oneOf": [schema, {"type": "array", "items": schema, "maxItems": item.max_occurs}]}
    return schema


def input_description(item: Input) -> dict[str, Any]:
    """The description of one input."""
    return {
        "title": item.title,
        "description": item.abstract,
        "minOccurs": 1 if item.required else 0,
        "maxOccurs": 1,
        "schema": input_schema(item),
    }


def output_description(output) -> dict[str, Any]:
    """The description of one output of a PyWPS process (a file given by reference)."""
    media = [f.mime_type for f in output.supported_formats]
    return {
        "title": output.title,
        "description": output.abstract or "",
        "schema": {"type": "string", "format": "uri"},
        "formats": media,
    }


def summary(process, base: str) -> dict[str, Any]:
    """The summary of a process in the process list, with links to its description."""
    url = f"{base}/processes/{process.identifier}"
    return {
        "id": process.identifier,
        "title": process.title,
        "description": process.abstract,
        "version": VERSION,
        "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
        "outputTransmission": ["reference"],
        "links": [
            {"href": url, "rel": "self", "type": "application/json", "title": process.title},
            {
                "href": f"{url}/execution",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                "type": "application/json",
                "title": f"Execute {process.identifier}",
            },
        ],
    }


def description(process, base: str) -> dict[str, Any]:
    """The ogc-process-description of a process: its summary, inputs and outputs."""
    return {
        **summary(process, base),
        "inputs": {item.identifier: input_description(item) for item in process.operation.inputs},
        "outputs": {output.identifier: output_description(output) for output in process.outputs},
    }
