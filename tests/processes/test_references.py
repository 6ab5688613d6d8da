"""Inputs given by reference are fetched only under the allowed prefixes, from addresses that
are public or listed, within the time and size limits, without showing what was fetched;
tried against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pywps.exceptions import InvalidParameterValue

from cp4cds_wps.config import ReferenceSettings
from cp4cds_wps.processes.references import ReferenceFetcher

SHAPE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
SECRET = "internal-secret-4711"


class Site:
    """A local web server, running while used as a context manager; ``hits`` lists the paths
    asked for."""

    def __init__(self):
        self.hits: list[str] = []
        self.pages: dict[str, bytes] = {}  # more pages: path -> JSON body
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                site.hits.append(self.path)
                site.answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Site:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path in self.pages:
            self._send(handler, 200, self.pages[path])
        elif path == "/shapes/box.json":
            self._send(handler, 200, json.dumps(SHAPE).encode())
        elif path == "/shapes/big.json":
            self._send(handler, 200, b" " * (2 << 20))
        elif path == "/shapes/unannounced.json":  # no Content-Length: read until closed
            handler.send_response(200)
            handler.end_headers()
            handler.wfile.write(b" " * (2 << 20))
            handler.close_connection = True
        elif path == "/shapes/drip.json":  # a byte every 0.2 s, for ever
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            try:
                for _ in range(100):
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif path == "/shapes/silent.json":  # accepts, never answers
            time.sleep(5)
        elif path == "/shapes/moved.json":
            self._redirect(handler, "/shapes/box.json")
        elif path == "/shapes/away.json":
            self._redirect(handler, f"http://localhost:{self.port}/shapes/box.json")
        elif path == "/shapes/out.json":
            self._redirect(handler, "/private/secret.json")
        elif path == "/shapes/loop.json":
            self._redirect(handler, "/shapes/loop.json")
        elif path == "/shapes/probe.json":  # JSON, but no shape or workflow
            self._send(handler, 200, json.dumps({"status": SECRET, "checks": {}}).encode())
        elif path == "/shapes/latin1.json":
            self._send(handler, 200, "d\xe9j\xe0".encode("latin-1"))
        else:
            self._send(handler, 404, SECRET.encode())

    @staticmethod
    def _send(handler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _redirect(self, handler, location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def fetcher(*prefixes: str, timeout: int = 2, max_mb: int = 1) -> ReferenceFetcher:
    return ReferenceFetcher(
        ReferenceSettings(allowed_prefixes=prefixes, timeout=timeout, max_mb=max_mb)
    )


def refusal(fetch: ReferenceFetcher, url: str) -> str:
    with pytest.raises(InvalidParameterValue) as refused:
        fetch("shape", url)
    assert refused.value.locator == "shape"
    text = refused.value.description
    assert text.startswith(f"shape: the reference {url.split('?')[0]}")
    assert SECRET not in text
    return text


def test_a_reference_under_a_listed_address_is_fetched(site):
    fetch = fetcher(f"{site.url}/shapes/")
    assert json.loads(fetch("shape", f"{site.url}/shapes/box.json")) == SHAPE


def test_redirects_are_followed_on_the_same_host_under_a_prefix(site):
    fetch = fetcher(f"{site.url}/shapes/")
    assert json.loads(fetch("shape", f"{site.url}/shapes/moved.json")) == SHAPE


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/private/secret.json", "fetches references only from URLs starting with"),
        ("/shapes/away.json", "it redirects to another host"),
        ("/shapes/out.json", "fetches references only from URLs starting with"),
        ("/shapes/loop.json", "it redirects more than 3 times"),
        ("/shapes/none.json", "it answers HTTP 404"),
        ("/shapes/big.json", "it is larger than 1 MB"),
        ("/shapes/unannounced.json", "it is larger than 1 MB"),
        ("/shapes/latin1.json", "it is not UTF-8 text"),
    ],
)
def test_what_is_not_fetched_says_why_and_never_what_the_server_answered(site, path, reason):
    assert reason in refusal(fetcher(f"{site.url}/shapes/"), f"{site.url}{path}")


@pytest.mark.parametrize("path", ["/shapes/drip.json", "/shapes/silent.json"])
def test_a_slow_server_is_given_up_after_the_timeout(site, path):
    started = time.monotonic()
    text = refusal(fetcher(f"{site.url}/shapes/", timeout=1), f"{site.url}{path}")
    assert time.monotonic() - started < 2.5
    assert "it took longer than 1 s" in text


def test_a_hostname_on_a_loopback_address_is_refused_unless_the_address_is_listed(site):
    hits = len(site.hits)
    fetch = fetcher(f"http://localhost:{site.port}/shapes/")
    text = refusal(fetch, f"http://localhost:{site.port}/shapes/box.json")
    assert "has the address 127.0.0.1, which is loopback, private or otherwise not public" in (text)
    assert len(site.hits) == hits  # not even asked


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.nip.io/shapes/box.json",
        "http://user@127.0.0.1/shapes/box.json",
        "file:///etc/passwd",
        "ftp://127.0.0.1/shapes/box.json",
        "http://[::1/shapes/box.json",
    ],
)
def test_urls_not_under_a_prefix_are_refused_before_any_connection(site, url):
    hits = len(site.hits)
    refusal(fetcher(f"{site.url}/shapes/", "http://127.0.0.1/shapes/"), url)
    assert len(site.hits) == hits
