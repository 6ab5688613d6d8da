"""Jobs as OGC API - Processes shows them: statusInfo, the job list and results, read from
the job store (the WPS's jobs are the same records)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from cp4cds_wps.jobs.store import JobRecord
from cp4cds_wps.ogcapi.problems import NO_SUCH_JOB, RESULT_NOT_READY, Problem
from cp4cds_wps.wps2 import effective_state

#: OGC API status of the job store's states.
STATUS = {
    "accepted": "accepted",
    "running": "running",
    "succeeded": "successful",
    "failed": "failed",
    "dismissed": "dismissed",
}
#: Job store states of each OGC API status.
STATES = {status: state for state, status in STATUS.items()}
#: Media types of the outputs of the data processes, by identifier.
OUTPUT_TYPES = {
    "output": "application/metalink4+xml",
    "prov": "application/json",
    "prov_plot": "image/png",
}
#: Most and default number of jobs on one page of the job list.
MAX_LIMIT, DEFAULT_LIMIT = 1000, 100


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_info(record: JobRecord, base: str) -> dict[str, Any]:
    """The statusInfo document of a job, with links to itself, its WPS status document and,
    when it succeeded, its results."""
    status = STATUS[effective_state(record)]
    url = f"{base}/jobs/{record.id}"
    links = [
        {"href": url, "rel": "self", "type": "application/json", "title": "this document"},
        {"href": url, "rel": "alternate", "type": "text/html", "title": "this document as HTML"},
    ]
    if record.status_url:
        links.append(
            {
                "href": record.status_url,
                "rel": "status",
                "type": "text/xml",
                "title": "WPS 1.0.0 status document",
            }  # fmt: skip
        )
    if status == "successful":
        links.append(
            {
                "href": f"{url}/results",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                "type": "application/json",
                "title": "results",
            }  # fmt: skip
        )
    info = {
        "type": "process",
        "processID": record.process,
        "jobID": record.id,
        "status": status,
        "message": record.message,
        "progress": 100 if status == "successful" else max(0, min(100, record.progress)),
        "created": _time(record.created),
        "started": _time(record.started),
        "finished": _time(record.finished),
        "updated": _time(record.heartbeat or record.finished or record.started or record.created),
        "links": links,
    }
    return {key: value for key, value in info.items() if value is not None}


def parse_filters(args: MultiDict, statuses: Sequence[str]) -> dict[str, Any]:
    """The filters of a job list request: ``status`` and ``processID`` (lists, repeated or
    comma separated), ``datetime`` (an instant or an interval with ``..`` for an open end),
    ``limit`` and ``offset``.

    Raises
    ------
    Problem
        400 naming the parameter with a bad value.
    """
    status = _listed(args.getlist("status"))
    unknown = sorted(set(status) - set(statuses))
    if unknown:
        raise Problem(
            400, f"status: unknown status {', '.join(unknown)}; one of {', '.join(statuses)}"
        )
    process = _listed(args.getlist("processID"))
    return {
        "status": status,
        "process": process,
        "interval": _interval(args.get("datetime")),
        "limit": _integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        "offset": _integer(args, "offset", 0, 0, None),
    }


def _listed(values: Iterable[str | None]) -> list[str]:
    return [part.strip() for value in values if value for part in value.split(",") if part.strip()]


def _integer(args: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    text = args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise Problem(400, f"{name}: {text!r} is not an integer {bounds}")
    return value


def _instant(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise Problem(400, f"datetime: {text!r} is not an RFC 3339 date-time") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _interval(text: str | None) -> tuple[datetime | None, datetime | None] | None:
    if text is None:
        return None
    if "/" in text:
        start, _, end = text.partition("/")
        return _instant(start), _instant(end)
    moment = _instant(text)
    return moment, moment


def selected(records: Iterable[JobRecord], filters: Mapping[str, Any]) -> list[JobRecord]:
    """The jobs passing the ``status``, ``process`` and ``interval`` (of creation) filters,
    newest first."""
    found = []
    for record in records:
        if filters["status"] and STATUS[effective_state(record)] not in filters["status"]:
            continue
        if filters["process"] and record.process not in filters["process"]:
            continue
        if filters["interval"] is not None:
            start, end = filters["interval"]
            if (start and record.created < start) or (end and record.created > end):
                continue
        found.append(record)
    return sorted(found, key=lambda r: (r.created, r.id), reverse=True)


def results(record: JobRecord) -> dict[str, Any]:
    """The results document of a job: a link to each output.

    Raises
    ------
    Problem
        404 result-not-ready while the job is not done; 404 no-such-job when it was
        dismissed; 500 with the job's message when it failed.
    """
    state = effective_state(record)
    if state == "succeeded":
        return {
            name: {"href": url, "type": OUTPUT_TYPES.get(name, "application/octet-stream")}
            for name, url in record.outputs.items()
        }
    if state == "failed":
        raise Problem(500, record.message or "the job failed")
    if state == "dismissed":
        raise Problem(404, f"job {record.id} was dismissed: it has no result", NO_SUCH_JOB)
    raise Problem(
        404,
        f"job {record.id} is {state} ({record.progress}%): its result is not ready yet",
        RESULT_NOT_READY,
    )
