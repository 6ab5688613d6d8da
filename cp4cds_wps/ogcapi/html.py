"""A minimal HTML rendering of the API's JSON documents (the ``html`` conformance class)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from werkzeug.wrappers import Request


def wants_html(request: Request) -> bool:
    """Whether the client asks for HTML: ``f=html``, or an Accept header preferring
    ``text/html`` to JSON (a browser's)."""
    f = request.args.get("f")
    if f is not None:
        return f.lower() == "html"
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def render(document: Any, title: str) -> str:
    """``document`` as an HTML page: its links as anchors, the rest as formatted JSON."""
    links = document.get("links", []) if isinstance(document, dict) else []
    items = "".join(
        f'<li><a href="{escape(link["href"])}" rel="{escape(link.get("rel", ""))}">'
        f"{escape(link.get('title') or link['href'])}</a></li>"
        for link in links
    )
    body = {k: v for k, v in document.items() if k != "links"} if links else document
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
        f"{'<ul>' + items + '</ul>' if items else ''}"
        f"<pre>{escape(json.dumps(body, indent=2))}</pre></body></html>\n"
    )
