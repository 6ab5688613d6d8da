"""A dataset's page: what the meta-WPS tells of it, its files with checksums and download
links, its quality control, errata and fixes.

The facts come from :func:`cp4cds_wps.meta.resolve.describe_dataset` (the ``dataset`` of
the meta-WPS ``resolve`` answer) and, per file, from the inventory's records and quality
control results (MD5 of the archive's ``.md5`` file or computed, SHA-256 computed).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from urllib.parse import quote

from cp4cds_wps.catalogue.html import BASE, link, query, status_badge, table
from cp4cds_wps.inventory import Dataset
from cp4cds_wps.inventory.report import human_size


def data_path(root: str, relpath: str) -> str:
    """The path below the service URL at which an archive file is served."""
    return f"/data/{quote(root)}/{quote(relpath)}"


def _facts(described: dict, dataset: Dataset) -> str:
    time = described["time"]
    grid = described["grid"]
    levels = described["levels"]
    rows = [
        ("version", escape(dataset.version)),
        ("variable", escape(dataset.variable or "–")),
        (
            "time",
            f"{escape(time['start'])} to {escape(time['end'])} ({time['steps']:,} steps)"
            if time
            else "no time axis",
        ),
        ("calendar", escape((time or {}).get("calendar") or "–")),
    ]
    if grid:
        dims = ", ".join(f"{escape(d)}: {n}" for d, n in grid["dims"].items())
        extent = ", ".join(f"{escape(k)} {v:g}" for k, v in (grid["extent"] or {}).items())
        rows.append(("grid", f"{escape(grid['type'])} ({dims}){'; ' + extent if extent else ''}"))
    else:
        rows.append(("grid", "unknown (the first file cannot be read)"))
    if levels:
        positive = f", positive {escape(levels['positive'])}" if levels["positive"] else ""
        values = ", ".join(f"{v:g}" for v in levels["values"][:40])
        more = " …" if len(levels["values"]) > 40 else ""
        rows.append(
            (
                "levels",
                f"{len(levels['values'])} of {escape(levels['name'])} "
                f"({escape(levels['units'] or 'no units')}{positive}): "
                f"{values}{more}",
            )
        )
    else:
        rows.append(("levels", "none"))
    rows.append(("size", f"{human_size(dataset.size)} in {len(dataset.files)} file(s)"))
    names = ", ".join(
        f"{escape(v['name'])} ({escape(v['units'] or '–')})"
        for v in described["variables"]
        if v["role"] == "data"
    )
    if names:
        rows.append(("data variables", names))
    return table(("", ""), [(f"<strong>{k}</strong>", v) for k, v in rows], "facts")


def _files(dataset: Dataset, checks: Mapping[str, dict]) -> str:
    rows = []
    for record in dataset.files:
        name = record.path.name
        found = checks.get(name, {})
        span = f"{record.start} – {record.end}" if record.start else "no time axis"
        rows.append(
            (
                link(data_path(record.root, record.relpath), name, download=name),
                escape(span),
                f'<span class="num">{record.n_times}</span>',
                f'<span class="num" title="{record.size:,} bytes">{human_size(record.size)}</span>',
                f"<code>{escape(record.md5 or found.get('md5') or '–')}</code>",
                f"<code>{escape(found.get('sha256') or '–')}</code>",
            )
        )
    return table(("file", "time", "steps", "size", "MD5", "SHA-256"), rows, "files")


def _quality(described: dict, dataset: Dataset) -> str:
    quality = described["quality"]
    parts = [f"<p>Quality control: {status_badge(quality['status'])}</p>"]
    if not quality["served"]:
        parts.append(f'<p class="error">Not served: {escape(quality["reason"] or "")}</p>')
    findings = [
        (
            escape(f["check"]),
            escape(f["severity"]),
            escape(f["message"]),
            escape(", ".join(f["files"])),
        )
        for f in quality["findings"]
    ]
    parts.append(
        table(("check", "severity", "finding", "files"), findings, "findings")
        if findings
        else '<p class="note">No findings.</p>'
    )
    if dataset.issues:
        parts.append("<h3>Issues between files</h3><ul>")
        parts += [f"<li>{escape(issue)}</li>" for issue in dataset.issues]
        parts.append("</ul>")
    parts.append("<h2>Errata and fixes</h2>")
    if not quality["errata"]:
        parts.append('<p class="note">The known-issues register names no erratum.</p>')
    for erratum in quality["errata"]:
        urls = " ".join(link(u, u) for u in erratum.get("urls", []))
        fixes = "".join(f"<li>{escape(str(f))}</li>" for f in erratum.get("fixes", []))
        parts.append(
            f'<div class="erratum"><p><strong>{escape(erratum.get("title") or erratum["uid"])}'
            f"</strong> ({escape(erratum['severity'])}, {escape(erratum.get('status') or '')}) "
            f"<code>{escape(erratum['uid'])}</code></p>"
            f"<p>{escape(erratum.get('description') or '')}</p><p>{urls}</p>"
            f"{f'<p>Fixes:</p><ul>{fixes}</ul>' if fixes else ''}</div>"
        )
    if quality["fixes"]:
        applied = "".join(f"<li>{escape(f)}</li>" for f in quality["fixes"])
        parts.append(f"<p>Applied whenever the dataset is opened:</p><ul>{applied}</ul>")
    return "".join(parts)


def dataset_body(described: dict, dataset: Dataset, checks: Mapping[str, dict]) -> str:
    """The dataset page's content.

    Parameters
    ----------
    described
        :func:`cp4cds_wps.meta.resolve.describe_dataset` of the dataset.
    dataset
        The dataset as the inventory records it.
    checks
        Quality control results of its files by file name (``md5``, ``sha256``).
    """
    facets = [
        (escape(name), link(f"{BASE}/{query({name: value})}", value))
        for name, value in dataset.facets.items()
    ]
    project = dataset.project
    links = " · ".join(
        (
            link(f"{BASE}/request{query({'collection': dataset.id})}", "request data of it"),
            link(f"/api/constraints{query({'collection': dataset.id})}", "meta-WPS answer (JSON)"),
            link(f"{BASE}/stac/{quote(project)}/{quote(dataset.id, safe='')}.json", "STAC item"),
            link(f"{BASE}/intake-esm/{quote(project)}.json", "intake-esm catalog"),
        )
    )
    return (
        f"<h1>{escape(dataset.id)}</h1><p>{status_badge(dataset.status)} {links}</p>"
        f'<div class="layout"><section>{_facts(described, dataset)}</section>'
        f"<section>{table(('facet', 'value'), facets, 'facet-table')}</section></div>"
        f"<h2>Files</h2>{_files(dataset, checks)}"
        f"<h2>Quality</h2>{_quality(described, dataset)}"
    )
