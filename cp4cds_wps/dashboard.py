"""``/dashboard``: uptime and request times over the last hour, day or week, as one HTML page.

The page is self-contained (inline CSS and SVG, no JavaScript, nothing fetched from
elsewhere), drawn by the server from the per-minute series of
:mod:`cp4cds_wps.request_log`. ``?period=hour|day|week`` chooses the period (default day).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from werkzeug.wrappers import Request, Response

from cp4cds_wps import __version__
from cp4cds_wps.config import Settings
from cp4cds_wps.request_log import MONITORING, Bucket, RequestLog

#: Periods offered: seconds covered, seconds per plotted bucket, time label format.
PERIODS = {
    "hour": (3600, 60, "%H:%M"),
    "day": (86400, 900, "%H:%M"),
    "week": (7 * 86400, 7200, "%a %H:%M"),
}
DEFAULT_PERIOD = "day"

_WIDTH, _HEIGHT, _LEFT, _RIGHT, _TOP, _BOTTOM = 1080, 220, 70, 20, 12, 28

_STYLE = """
body { font-family: sans-serif; margin: 24px; color: #1d2733; background: #f6f8fa; }
h1 { font-size: 22px; margin: 0 0 8px; }
nav a { margin-right: 12px; } nav a.current { font-weight: bold; color: #1d2733; }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 16px; }
.card .value { font-size: 22px; font-weight: bold; } .card .label { color: #57606a; }
h2 { font-size: 16px; margin: 18px 0 6px; }
svg { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
table { border-collapse: collapse; background: #fff; }
td, th { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
td:first-child, td:nth-child(2), th { text-align: left; }
.note { color: #57606a; font-size: 13px; }
"""


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"


def chart(
    buckets: Sequence[Bucket], values: Sequence[float | None], fmt: str, unit: str, colour: str
) -> str:
    """An SVG plot of one value per bucket: bars, or a line when ``unit`` is ``ms``."""
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    top = max((v for v in values if v is not None), default=0) or 1
    step = plot_w / max(len(buckets), 1)

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'role="img" aria-label="{escape(unit)} per bucket">'
    ]
    for fraction in (0, 0.5, 1):
        gy = y(top * fraction)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" '
            'stroke="#d0d7de"/>'
            f'<text x="{_LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{top * fraction:.4g} {escape(unit)}</text>'
        )
    for i in range(0, len(buckets), max(1, len(buckets) // 6)):
        label = datetime.fromtimestamp(buckets[i].start, UTC).strftime(fmt)
        parts.append(
            f'<text x="{_LEFT + i * step:.1f}" y="{_HEIGHT - 8}" font-size="11" '
            f'fill="#57606a">{label}</text>'
        )
    if unit == "ms":
        points = [
            f"{_LEFT + (i + 0.5) * step:.1f},{y(v):.1f}"
            for i, v in enumerate(values)
            if v is not None
        ]
        if points:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                'stroke-width="2"/>'
            )
            parts += [
                f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="4" fill="{colour}"/>'
                for p in points
            ]
    else:
        for i, v in enumerate(values):
            if v:
                parts.append(
                    f'<rect x="{_LEFT + i * step + step * 0.1:.1f}" y="{y(v):.1f}" '
                    f'width="{max(step * 0.8, 1):.1f}" height="{plot_h + _TOP - y(v):.1f}" '
                    f'fill="{colour}"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def render(log: RequestLog, period: str, now: float | None = None) -> str:
    """The dashboard page for ``period`` (one of :data:`PERIODS`)."""
    now = time.time() if now is None else now
    span, step, fmt = PERIODS[period]
    since = now - span
    buckets = log.buckets(since, now, step)
    operations = log.operations(since)
    requests = sum(b.requests for b in buckets)
    seconds = sum(b.seconds for b in buckets)
    errors = sum(b.errors for b in buckets)
    started = log.last_start()
    availability = log.availability(since, now)
    cards = [
        ("uptime", "–" if started is None else _duration(now - started)),
        ("availability", "no data" if availability is None else f"{availability:.2%}"),
        ("requests", str(requests)),
        ("average request time", _ms(seconds / requests if requests else None)),
        ("server errors (5xx)", str(errors)),
    ]
    nav = " ".join(
        f'<a href="?period={name}"{" class=current" if name == period else ""}>last {name}</a>'
        for name in PERIODS
    )
    rows = "".join(
        f"<tr><td>{escape(o.endpoint)}</td><td>{escape(o.operation)}</td><td>{o.requests}</td>"
        f"<td>{o.errors}</td><td>{_ms(o.mean_seconds)}</td><td>{_ms(o.max_seconds)}</td></tr>"
        for o in operations
    )
    started_at = (
        "never recorded"
        if started is None
        else datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cp4cds-wps dashboard</title>
<style>{_STYLE}</style></head><body>
<h1>cp4cds-wps {escape(__version__)}: the last {period}</h1>
<nav>{nav}</nav>
<div class="cards">{
        "".join(
            f'<div class="card"><div class="value">{escape(v)}</div>'
            f'<div class="label">{escape(k)}</div></div>'
            for k, v in cards
        )
    }</div>
<p class="note">Started {started_at}. Availability: share of minutes in which the service
answered its health check. Plots and totals leave out {", ".join(MONITORING)}; times are
until the response starts (file transfers not included); UTC.</p>
<h2>Requests per {_duration(step).removeprefix("0 h ")}</h2>
{chart(buckets, [b.requests for b in buckets], fmt, "requests", "#2f81f7")}
<h2>Average request time</h2>
{chart(buckets, [b.mean_seconds and b.mean_seconds * 1000 for b in buckets], fmt, "ms", "#d1242f")}
<h2>By endpoint and operation</h2>
<table><tr><th>endpoint</th><th>operation</th><th>requests</th><th>5xx</th>
<th>average</th><th>max</th></tr>{rows}</table>
</body></html>
"""


class Dashboard:
    """WSGI application of ``/dashboard``."""

    def __init__(self, settings: Settings):
        self.log = RequestLog.from_settings(settings)

    def __call__(self, environ, start_response):
        request = Request(environ)
        period = request.args.get("period", DEFAULT_PERIOD)
        if period not in PERIODS:
            response = Response(
                f"unknown period {period!r}; one of {', '.join(PERIODS)}\n",
                status=400,
                mimetype="text/plain",
            )
        else:
            response = Response(render(self.log, period), mimetype="text/html")
            response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)
