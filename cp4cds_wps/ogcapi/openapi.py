"""The OpenAPI 3.0 document of the API: every path, and each process's inputs as the
request body of its execution."""

from __future__ import annotations

from typing import Any

from cp4cds_wps.ogcapi.describe import input_schema

_JSON = "application/json"
_PROBLEM = {
    "description": "A problem (RFC 7807)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/exception"}}},
}


def _ok(description: str, schema: str | None = None, status: str = "200") -> dict[str, Any]:
    content = {"schema": {"$ref": f"#/components/schemas/{schema}"}} if schema else {}
    return {status: {"description": description, "content": {_JSON: content}}}


def _parameter(name: str, where: str, description: str, schema: dict, required=False) -> dict:
    return {
        "name": name,
        "in": where,
        "description": description,
        "required": required or where == "path",
        "schema": schema,
    }


_JOB_ID = _parameter("jobId", "path", "The job's id", {"type": "string"})
_F = _parameter(
    "f", "query", "The format of the answer", {"type": "string", "enum": ["json", "html"]}
)


def _get(summary: str, responses: dict, parameters=(), **more) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": [_F, *parameters],
                    "responses": {**responses, "default": _PROBLEM}, **more}}  # fmt: skip


def _execution(process) -> dict[str, Any]:
    """The path of one process's execution: its inputs as the request body's schema."""
    inputs = process.operation.inputs
    body = {
        "type": "object",
        "properties": {
            "inputs": {
                "type": "object",
                "properties": {
                    item.identifier: {**input_schema(item), "description": item.abstract}
                    for item in inputs
                },
                "required": [item.identifier for item in inputs if item.required],
                "additionalProperties": False,
            },
            "outputs": {"type": "object"},
            "response": {"type": "string", "enum": ["document", "raw"], "default": "document"},
        },
        "required": ["inputs"],
    }
    return {
        "post": {
            "summary": f"Execute {process.identifier}: {process.title}",
            "operationId": f"execute_{process.identifier}",
            "parameters": [
                _parameter(
                    "Prefer",
                    "header",
                    "respond-async for a job",
                    {"type": "string", "enum": ["respond-async", "respond-sync"]},
                ),
            ],  # fmt: skip
            "requestBody": {"required": True, "content": {_JSON: {"schema": body}}},
            "responses": {
                **_ok("The results (synchronous execution)", "results"),
                **_ok("The job's status (asynchronous execution)", "statusInfo", "201"),
                "204": {"description": "Results by reference in Link headers (response=raw)"},
                "default": _PROBLEM,
            },
        }
    }


def openapi(base: str, processes: list, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the API at ``base`` offering ``processes``."""
    paths: dict[str, Any] = {
        "/": _get("The landing page", _ok("Links to the API's resources", "landingPage")),
        "/conformance": _get("The conformance classes", _ok("Classes", "confClasses")),
        "/api": _get("This document", {"200": {"description": "The OpenAPI document"}}),
        "/processes": _get("The processes", _ok("The process list", "processList")),
        "/jobs": _get(
            "The jobs (the caller's when authentication is on), newest first",
            _ok("The job list", "jobList"),
            [
                _parameter(
                    "status",
                    "query",
                    "Only jobs of these statuses",
                    {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "enum": ["accepted", "running", "successful", "failed", "dismissed"],
                        },
                    },
                ),
                _parameter(
                    "processID",
                    "query",
                    "Only jobs of these processes",
                    {"type": "array", "items": {"type": "string"}},
                ),
                _parameter(
                    "datetime",
                    "query",
                    "Created at, or in the interval (.. open)",
                    {"type": "string"},
                ),
                _parameter(
                    "limit",
                    "query",
                    "Jobs per page",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                ),
                _parameter(
                    "offset",
                    "query",
                    "Jobs skipped (the next link's)",
                    {"type": "integer", "minimum": 0, "default": 0},
                ),
            ],
        ),  # fmt: skip
        "/jobs/{jobId}": {
            **_get("A job's status", _ok("Its statusInfo", "statusInfo"), [_JOB_ID]),
            "delete": {
                "summary": "Dismiss a job (its worker is stopped)",
                "parameters": [_JOB_ID],
                "responses": {**_ok("Its statusInfo", "statusInfo"), "default": _PROBLEM},
            },
        },
        "/jobs/{jobId}/results": _get("A job's results", _ok("Its results", "results"), [_JOB_ID]),
    }
    for process in processes:
        paths[f"/processes/{process.identifier}"] = _get(
            f"Description of {process.identifier}", _ok("The process description", "process")
        )
        paths[f"/processes/{process.identifier}/execution"] = _execution(process)
    link = {"type": "object", "required": ["href"],
            "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                           "type": {"type": "string"}, "title": {"type": "string"}}}  # fmt: skip
    links = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cp4cds-wps OGC API - Processes",
            "version": version,
            "description": "The processes and jobs of the cp4cds-wps WPS as OGC API - Processes",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "schemas": {
                "link": link,
                "exception": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {k: {"type": "string"} for k in ("type", "title", "detail")}
                    | {"status": {"type": "integer"}},
                },
                "landingPage": {
                    "type": "object",
                    "required": ["links"],
                    "properties": {"title": {"type": "string"}, "links": links},
                },
                "confClasses": {
                    "type": "object",
                    "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
                },
                "processList": {
                    "type": "object",
                    "required": ["processes", "links"],
                    "properties": {
                        "processes": {"type": "array", "items": {"type": "object"}},
                        "links": links,
                    },
                },
                "process": {
                    "type": "object",
                    "required": ["id", "version"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {"type": "object"},
                        "outputs": {"type": "object"},
                        "links": links,
                    },
                },
                "statusInfo": {
                    "type": "object",
                    "required": ["jobID", "status", "type"],
                    "properties": {
                        "jobID": {"type": "string"},
                        "status": {"type": "string"},
                        "progress": {"type": "integer"},
                        "links": links,
                    },
                },
                "jobList": {
                    "type": "object",
                    "required": ["jobs", "links"],
                    "properties": {
                        "jobs": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/statusInfo"},
                        },
                        "links": links,
                    },
                },
                "results": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/components/schemas/link"},
                },
            }  # fmt: skip
        },
    }
