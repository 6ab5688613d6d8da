"""The frame of the catalogue's pages: one self-contained HTML document per page.

Inline CSS, links between the pages, the operator's name and contact from ``[provider]``;
nothing is loaded from elsewhere. Pages work without JavaScript; the request builder adds
one small script served by the service itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from urllib.parse import quote, urlencode

from cp4cds_wps import __version__
from cp4cds_wps.config import Settings

#: The catalogue's base path below the service URL.
BASE = "/catalogue"

STYLE = """
body { font-family: sans-serif; margin: 0; color: #1d2733; background: #f6f8fa; }
header { background: #1d2733; color: #fff; padding: 10px 24px; }
header a { color: #fff; margin-right: 16px; text-decoration: none; }
header a.current { font-weight: bold; text-decoration: underline; }
header .brand { font-weight: bold; margin-right: 28px; }
main { padding: 16px 24px; }
h1 { font-size: 20px; margin: 4px 0 12px; word-break: break-all; }
h2 { font-size: 16px; margin: 18px 0 6px; }
a { color: #0b5cad; }
.layout { display: flex; gap: 20px; align-items: flex-start; }
.facets { width: 270px; flex: none; }
.facet { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin-bottom: 10px;
  padding: 6px 10px; }
.facet h3 { font-size: 13px; margin: 2px 0 4px; text-transform: uppercase; color: #57606a; }
.facet ul { list-style: none; margin: 0; padding: 0; font-size: 13px; }
.facet li { display: flex; justify-content: space-between; gap: 6px; }
.facet li a { overflow-wrap: anywhere; } .facet li.selected a { font-weight: bold; }
.count { color: #57606a; font-variant-numeric: tabular-nums; }
.results { flex: 1; min-width: 0; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
td, th { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ids td:first-child { overflow-wrap: anywhere; }
.chips a { display: inline-block; background: #ddf4ff; border: 1px solid #54aeff;
  border-radius: 12px; padding: 1px 10px; margin: 2px 4px 2px 0; font-size: 13px;
  text-decoration: none; }
.status { border-radius: 10px; padding: 1px 8px; font-size: 12px; color: #fff; }
.status-passed { background: #1a7f37; } .status-warnings { background: #bf8700; }
.status-failed { background: #cf222e; } .status-pending { background: #6e7781; }
.note { color: #57606a; font-size: 13px; } .error { color: #cf222e; }
form.inline { display: inline; }
fieldset { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 10px; }
label { display: inline-block; min-width: 130px; }
.field { margin: 6px 0; } .field .note { margin-left: 134px; }
pre { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px;
  overflow-x: auto; font-size: 12px; }
.matrix td { text-align: center; min-width: 22px; } .matrix td.zero { background: #f6f8fa; }
.matrix td a { text-decoration: none; display: block; }
.pager a, .pager span { margin-right: 10px; }
footer { padding: 12px 24px; color: #57606a; font-size: 12px; }
"""

#: The pages in the header: (path below BASE, title).
PAGES = (
    ("/", "Search"),
    ("/availability", "Availability"),
    ("/request", "Request"),
    ("/usage", "Usage"),
    ("/exports", "Exports"),
)


def query(params: Mapping[str, Sequence[str] | str]) -> str:
    """A query string of parameters (several values of one repeat it), empty ones left out."""
    pairs = []
    for name, values in params.items():
        for value in [values] if isinstance(values, str) else values:
            if value not in ("", None):
                pairs.append((name, value))
    return f"?{urlencode(pairs)}" if pairs else ""


def dataset_url(dataset_id: str) -> str:
    """The path of a dataset's page."""
    return f"{BASE}/dataset/{quote(dataset_id, safe='')}"


def link(href: str, text: str, **attributes: str) -> str:
    """An ``<a>`` element (text and attributes escaped)."""
    extra = "".join(f' {k.rstrip("_")}="{escape(v)}"' for k, v in attributes.items())
    return f'<a href="{escape(href)}"{extra}>{escape(text)}</a>'


def table(header: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """A table of header texts (escaped) and rows of cells (HTML, not escaped)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><tr>{head}</tr>{body}</table>'


def status_badge(status: str) -> str:
    """A dataset's quality status as a coloured badge."""
    return f'<span class="status status-{escape(status)}">{escape(status)}</span>'


def _footer(settings: Settings) -> str:
    provider = settings.provider
    who = escape(provider.name)
    if provider.url:
        who = link(provider.url, provider.name)
    contact = ", ".join(
        escape(part) for part in (provider.contact_name, provider.contact_email) if part
    )
    return (
        f"<footer>cp4cds-wps {escape(__version__)}, run by {who}"
        f"{f' (contact: {contact})' if contact else ''}. "
        f"{link('/wps?service=WPS&request=GetCapabilities&version=1.0.0', 'WPS capabilities')}"
        f" · {link('/meta-wps?service=WPS&request=GetCapabilities&version=1.0.0', 'meta-WPS')}"
        f" · {link('/dashboard', 'dashboard')}</footer>"
    )


def document(title: str, body: str, settings: Settings, current: str = "", script: str = "") -> str:
    """A whole page: header with the catalogue's pages, ``body`` (HTML), footer.

    Parameters
    ----------
    title
        The page title (escaped).
    body
        The page's content (HTML).
    settings
        The service settings (the provider shown in the footer).
    current
        The path below :data:`BASE` of the header entry to mark.
    script
        Path of a script of the service to load (deferred), or empty.
    """
    nav = "".join(
        link(f"{BASE}{path}", name, class_="current" if path == current else "")
        for path, name in PAGES
    )
    tag = f'<script src="{escape(script)}" defer></script>' if script else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,">'
        f"<title>{escape(title)} – cp4cds-wps catalogue</title><style>{STYLE}</style>{tag}"
        f'</head><body><header><span class="brand">cp4cds-wps catalogue</span>{nav}</header>'
        f"<main>{body}</main>{_footer(settings)}</body></html>\n"
    )
