"""The attack campaign in the suite: a bounded fuzz over every endpoint and process of a real
server (a fixed seed, 200 generated requests drawing every kind of request and mutation, each
given a deadline), asserting no 5xx, no traceback text, no hang and no file left behind; and
the path, XML (XXE, entity expansion, XInclude) and large-body attacks as named cases."""

from __future__ import annotations

import json
import random
import re
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from cp4cds_wps.meta.processes import meta_processes
from cp4cds_wps.processes import processes

from .test_jobs_http import Service, service

pytestmark = pytest.mark.realdata

SEED = 20261203
#: Enough for the seed to draw every kind of request and mutation (the test checks it did).
REQUESTS = 200
#: Seconds the campaign may run: requests not sent by then are left out (and counted).
BUDGET = 120
#: Seconds each request may take (synchronous runs included) before it counts as a hang.
DEADLINE = 60
TINY = "CMIP6.CMIP.IPSL.IPSL-CM6A-LR.historical.r1i1p1f1.Amon.rlus.gr.v20180803"
BOX = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
WORKFLOW = {
    "inputs": {"rlus": [TINY]},
    "steps": {"sub": {"run": "subset", "in": {"collection": "inputs/rlus", "time": "1850/1850"}}},
    "outputs": {"output": "sub/output"},
}
#: Inputs of each process that make a cheap valid request (on a dataset of one time step).
VALID = {
    "subset": {"collection": TINY, "time": "1850/1850", "area": "0,0,10,10"},
    "average": {"collection": TINY, "dims": "time"},
    "average_time": {"collection": TINY, "freq": "year"},
    "average_shape": {"collection": TINY, "shape": json.dumps(BOX)},
    "regrid": {"collection": TINY, "method": "nearest_s2d", "grid": "2pt5deg"},
    "concat": {"collection": f"{TINY},{TINY}"},
    "plot": {"collection": TINY, "kind": "map"},
    "orchestrate": {"workflow": json.dumps(WORKFLOW)},
    "resolve": {"project": "cmip6", "variable": "rlus"},
    "estimate": {"process": "subset", "collection": TINY, "time": "1850/1850"},
    "availability": {"rows": "model", "columns": "variable", "project": "cmip6"},
}
NASTY = [
    "",
    " ",
    "\x00",
    "\x1b[2J",
    "%00",
    "A" * 3000,
    "../../../../etc/passwd",
    "/etc/passwd",
    "<x>&amp;</x>",
    "]]><!--",
    "'\"\\",
    "NaN",
    "-1",
    "1e999",
    "99999999999999999999",
    "1900-13-45/2000",
    "/",
    ",,,",
    ";;",
    "@@==",
    "\u202e\u00fc\u221e",
    "\ud7ff\ufffd",
    "[" * 3000,
    '{"type": "Polygon", "coordinates": "x"}',
    '{"type": "Polygon", "coordinates": [[["NaN", "NaN"], ["NaN", 1], [1, 1], ["NaN", "NaN"]]]}',
    '{"type": "Polygon", "coordinates": [[[NaN, 0], [1, 0], [1, 1], [NaN, 0]]]}',
    '{"inputs": {}, "steps": {}, "outputs": {}, "x": ' + "[" * 2000 + "]" * 2000 + "}",
    "{}",
    "null",
    "true",
    "@xlink:href=http://127.0.0.1:9/x",
    "file:///etc/passwd",
    "cmip6.*",
    TINY + "x",
]
WPS1 = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
WPS2 = 'xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0"'
#: Distinct variants of each kind of request or mutation the generator draws.
VARIANTS = {"mutation": 4, "xml": 6, "other": 6, "elsewhere": 5}
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"/[^\"]+\.py\", line \d+")


@dataclass
class Request:
    """One generated request."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        query = urllib.parse.urlencode(self.params)[:300]
        body = (self.body or b"")[:300]
        return f"{self.method} {self.path}?{query} {body!r}"


def _escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # XML 1.0 cannot carry most control characters at all: send them as the client would
    return "".join(c if c >= " " or c in "\t\n\r" else f"&#{ord(c)};" for c in text)


class Generator:
    """Requests made from valid ones by a seeded sequence of mutations."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.main = [p.identifier for p in processes()]
        self.meta = [p.identifier for p in meta_processes(self.main)]
        self.job_ids: list[str] = []
        #: The kinds of request and mutation drawn so far.
        self.kinds: set[str] = set()

    def kind(self, name: str, choices: int) -> int:
        """Draw one of ``choices`` variants of ``name`` (those from ``VARIANTS[name] - 1``
        on are the same variant, drawn more often), remembering which."""
        drawn = self.rng.randrange(choices)
        self.kinds.add(f"{name}{min(drawn, VARIANTS[name] - 1)}")
        return drawn

    def value(self) -> str:
        return self.rng.choice(NASTY)

    def inputs(self, identifier: str) -> list[tuple[str, str]]:
        """The process's valid inputs with one to three mutations."""
        inputs = list(VALID[identifier].items())
        for _ in range(self.rng.randint(1, 3)):
            kind = self.kind("mutation", 7)
            if kind == 0 or not inputs:
                inputs.append((self.rng.choice(["bogus", "Collection", "time", ""]), self.value()))
            elif kind == 1:
                inputs.pop(self.rng.randrange(len(inputs)))
            elif kind == 2:
                inputs.append(self.rng.choice(inputs))
            else:
                i = self.rng.randrange(len(inputs))
                inputs[i] = (inputs[i][0], self.value())
        return inputs

    def execute(self, identifier: str, path: str) -> Request:
        inputs = self.inputs(identifier)
        if self.rng.random() < 0.5:
            data = ";".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in inputs)
            if self.rng.random() < 0.2:
                data = ";".join(f"{k}={v}" for k, v in inputs)  # unquoted separators
            params = [("service", "WPS"), ("version", "1.0.0"), ("request", "Execute"),
                      ("identifier", identifier), ("DataInputs", data)]  # fmt: skip
            if self.rng.random() < 0.3:
                params.append(self.rng.choice(
                    [("RawDataOutput", self.rng.choice(["output", "nope", "output;prov"])),
                     ("ResponseDocument", "output=@asReference=true;x=@y"),
                     ("storeExecuteResponse", "true"), ("status", self.value()),
                     ("lineage", "true"), ("version", "2.0.0")]
                ))  # fmt: skip
            return Request("GET", path, params)
        parts = "".join(
            f"<wps:Input><ows:Identifier>{_escape(k)}</ows:Identifier><wps:Data>"
            f"<wps:LiteralData>{_escape(v)}</wps:LiteralData></wps:Data></wps:Input>"
            for k, v in inputs
        )
        body = (
            f'<?xml version="1.0"?><wps:Execute service="WPS" version="1.0.0" {WPS1}>'
            f"<ows:Identifier>{identifier}</ows:Identifier><wps:DataInputs>{parts}"
            "</wps:DataInputs></wps:Execute>"
        ).encode()
        return Request("POST", path, body=self.broken(body))

    def broken(self, body: bytes) -> bytes:
        """``body``, or in two cases of five an XML document broken in one of several ways."""
        kind = self.kind("xml", 12)
        if kind == 0:  # cut short, most often within the root's start tag
            return body[
                : self.rng.randrange(min(len(body), 60) if self.rng.random() < 0.5 else len(body))
            ]
        if kind == 1:  # an internal entity standing for the process
            doctype = '<!DOCTYPE d [<!ENTITY e "subset">]>'
            body = re.sub(rb"<ows:Identifier>[^<]*", b"<ows:Identifier>&e;", body, count=1)
            return body.replace(b"?>", f"?>{doctype}".encode(), 1)
        if kind == 2:  # an empty identifier
            return re.sub(rb"<ows:Identifier>[^<]*", b"<ows:Identifier>", body, count=1)
        if kind == 3:  # prefixes without namespaces
            return re.sub(rb' xmlns:\w+="[^"]*"', b"", body)
        if kind == 4:  # WPS 2.0
            return body.replace(b"/wps/1.0.0", b"/wps/2.0").replace(b"/ows/1.1", b"/ows/2.0")
        return body

    def job_request(self) -> Request:
        operation = self.rng.choice(["GetStatus", "GetResult", "Dismiss"])
        self.kinds.add(operation)
        job_id = self.rng.choice(
            [*self.job_ids, self.value(), "00000000-0000-0000-0000-0", "\x00", "a\x01b", "x" * 80]
        )
        if self.rng.random() < 0.5:
            params = [("service", "WPS"), ("version", self.rng.choice(["2.0.0", "1.0.0", ""])),
                      ("request", operation), ("jobId", job_id)]  # fmt: skip
            return Request("GET", "/wps", params)
        body = (
            f'<wps:{operation} service="WPS" version="2.0.0" {WPS2}>'
            f"<wps:JobID>{_escape(job_id)}</wps:JobID></wps:{operation}>"
        )
        return Request("POST", "/wps", body=self.broken(body.encode()))

    def other(self) -> Request:
        path = self.rng.choice(["/wps", "/meta-wps"])
        kind = self.kind("other", 6)
        if kind == 0:
            return Request(
                "GET",
                path,
                [
                    ("service", "WPS"),
                    ("request", "GetCapabilities"),
                    ("version", self.rng.choice(["1.0.0", "2.0.0", "3"])),
                ],
            )
        if kind == 1:
            names = self.main if path == "/wps" else self.meta
            identifier = self.rng.choice([*names, "all", self.value()])
            return Request("GET", path, [("service", "WPS"), ("version", "1.0.0"),
                                         ("request", "DescribeProcess"),
                                         ("identifier", identifier)])  # fmt: skip
        if kind == 2:
            identifier = _escape(self.rng.choice([*self.main, self.value()]))
            body = (
                f'<wps:DescribeProcess service="WPS" version="1.0.0" {WPS1}>'
                f"<ows:Identifier>{identifier}</ows:Identifier></wps:DescribeProcess>"
            )
            return Request("POST", path, body=self.broken(body.encode()))
        if kind == 3:
            return Request("GET", path, [(self.value(), self.value()), ("request", self.value())])
        if kind == 4:
            return Request("POST", path, body=self.value().encode(),
                           headers={"Content-Type": self.rng.choice(
                               ["text/xml", "application/json", "application/x-www-form-urlencoded"]
                           )})  # fmt: skip
        return Request(self.rng.choice(["PUT", "DELETE", "OPTIONS", "HEAD"]), path)

    def elsewhere(self) -> Request:
        kind = self.kind("elsewhere", 5)
        if kind == 0:
            params = [(self.rng.choice(["project", "model", "collection", "time", "area",
                                        "process", self.value()]), self.value())]  # fmt: skip
            return Request("GET", "/api/constraints", params)
        if kind == 1:
            body = json.dumps({self.value(): self.rng.choice([self.value(), [self.value()], {}])})
            if self.rng.random() < 0.5:
                body = self.value()
            return Request("POST", "/api/constraints", body=body.encode(),
                           headers={"Content-Type": "application/json"})  # fmt: skip
        if kind == 2:
            tail = urllib.parse.quote(self.value(), safe="/%")
            return Request("GET", self.rng.choice(["/outputs/", "/data/cmip6/", "/data/"]) + tail)
        if kind == 3:
            return Request("GET", "/dashboard", [("period", self.value())])
        return Request("GET", self.rng.choice(["/", "/health", "/metrics", "/nothing"]))

    def requests(self, count: int) -> Iterator[Request]:
        for _ in range(count):
            roll = self.rng.random()
            if roll < 0.45:
                identifier = self.rng.choice(self.main)
                self.kinds.add(identifier)
                yield self.execute(identifier, "/wps")
            elif roll < 0.55:
                identifier = self.rng.choice(self.meta)
                self.kinds.add(identifier)
                yield self.execute(identifier, "/meta-wps")
            elif roll < 0.65:
                yield self.job_request()
            elif roll < 0.85:
                yield self.other()
            else:
                yield self.elsewhere()


@pytest.fixture(scope="module")
def target(settings_env, tmp_path_factory, inventory_db) -> Iterator[Service]:
    """A service of its own, so that its work and output folders hold only the campaign's."""
    with service(
        settings_env, tmp_path_factory.mktemp("campaign"), inventory=inventory_db
    ) as running:
        yield running


def folders(target: Service) -> tuple[Path, Path]:
    var_dir = Path(target.env["CP4CDS_WPS_PATHS__VAR_DIR"])
    return var_dir / "work", var_dir / "outputs"


def send(target: Service, request: Request) -> requests.Response:
    return requests.request(
        request.method,
        f"{target.url}{request.path}",
        params=request.params or None,
        data=request.body,
        headers=request.headers,
        timeout=DEADLINE,
    )


def job_ids_in(text: str) -> set[str]:
    """Ids of the jobs whose outputs or status documents a response links to."""
    return set(re.findall(r"/outputs/([0-9a-f-]{36})", text))


def test_fuzz_campaign(target):
    work, outputs = folders(target)
    work_before, outputs_before = set(work.iterdir()), set(outputs.iterdir())
    generator = Generator(SEED)
    started = time.monotonic()
    problems, made, codes = [], set(), {}
    sent = 0
    for request in generator.requests(REQUESTS):
        if time.monotonic() - started > BUDGET:
            break
        sent += 1
        try:
            response = send(target, request)
        except requests.Timeout:
            problems.append(f"no answer within {DEADLINE} s: {request}")
            continue
        except requests.ConnectionError as err:
            problems.append(f"connection failed ({err}): {request}")
            continue
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
        text = response.content.decode("utf-8", "replace")
        if response.status_code >= 500:
            problems.append(f"HTTP {response.status_code}: {request}\n{text[:500]}")
        if TRACEBACK.search(text):
            problems.append(f"traceback in the answer: {request}\n{text[:500]}")
        wps = request.path in ("/wps", "/meta-wps") and request.method in ("GET", "POST")
        refused = 400 <= response.status_code < 500 and response.status_code not in (414, 431)
        if wps and refused and not re.search(r"<(ows:)?ExceptionReport\b", text):
            problems.append(f"no exception report: {request}\n{text[:300]}")
        if response.status_code == 200:
            ids = job_ids_in(text)
            made |= ids
            if request.params and ("storeExecuteResponse", "true") in request.params:
                generator.job_ids.extend(ids)
    elapsed = time.monotonic() - started
    print(f"{sent} requests in {elapsed:.0f} s; HTTP status codes: {sorted(codes.items())}")
    assert not problems, "\n\n".join(problems[:20])
    every_kind = {
        *generator.main, *generator.meta, "GetStatus", "GetResult", "Dismiss",
        *(f"{name}{i}" for name, count in VARIANTS.items() for i in range(count)),
    }  # fmt: skip
    assert every_kind <= generator.kinds, sorted(every_kind - generator.kinds)
    target.wait_active_jobs()
    left_in_work = set(work.iterdir()) - work_before
    assert not left_in_work, sorted(p.name for p in left_in_work)
    unexplained = {
        p.name
        for p in set(outputs.iterdir()) - outputs_before
        if p.name.removesuffix(".xml") not in made
    }
    assert not unexplained, sorted(unexplained)


# named attacks -------------------------------------------------------------------------

PASSWD = "root:x:0:0"


def raw_get(server: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` exactly as typed (no client normalises it): status, headers, body."""
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split(" ", 2)[1]), headers, body


@pytest.mark.parametrize(
    "path",
    [
        "/data/cmip6/../../../../../../etc/passwd",
        "/data/cmip6/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/data/cmip6/%252e%252e/%252e%252e/etc/passwd",
        "/data/cmip6/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/data/cmip6//etc/passwd",
        "/data/cmip6/\\..\\..\\..\\etc\\passwd",
        "/data/%2fetc/passwd",
        "/outputs/../../../../etc/passwd",
        "/outputs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/outputs//etc/passwd",
        "/outputs/..%2f..%2f..%2fetc%2fpasswd",
        "/outputs/%2fetc%2fpasswd",
    ],
)
def test_paths_outside_the_served_folders_are_not_found(server, path):
    status, headers, body = raw_get(server, path)
    if status in (301, 308):  # werkzeug merges slashes: the redirect stays where it was
        location = urllib.parse.urlsplit(headers["Location"]).path
        assert location.startswith(path[: path.index("/", 1)])
        status, _, body = raw_get(server, location)
    assert status in (400, 404), body[:300]
    assert PASSWD.encode() not in body


XXE_BODIES = {
    "external-entity": (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<wps:Execute service="WPS" version="1.0.0" {WPS1}><ows:Identifier>subset'
        "</ows:Identifier><wps:DataInputs><wps:Input><ows:Identifier>collection"
        "</ows:Identifier><wps:Data><wps:LiteralData>&x;</wps:LiteralData></wps:Data>"
        "</wps:Input></wps:DataInputs></wps:Execute>"
    ),
    "parameter-entity": (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
        f'<wps:GetCapabilities service="WPS" {WPS1}/>'
    ),
    "external-dtd": (
        '<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd">'
        f'<wps:GetCapabilities service="WPS" {WPS1}/>'
    ),
    "billion-laughs": (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + "".join(
            f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + f']><wps:DescribeProcess service="WPS" version="1.0.0" {WPS1}>'
        "<ows:Identifier>&i;</ows:Identifier></wps:DescribeProcess>"
    ),
    "xinclude": (
        f'<?xml version="1.0"?><wps:DescribeProcess service="WPS" version="1.0.0" {WPS1} '
        'xmlns:xi="http://www.w3.org/2001/XInclude"><ows:Identifier>'
        '<xi:include href="file:///etc/passwd" parse="text"/></ows:Identifier>'
        "</wps:DescribeProcess>"
    ),
}


@pytest.mark.parametrize("attack", sorted(XXE_BODIES))
@pytest.mark.parametrize("path", ["/wps", "/meta-wps"])
def test_xml_attacks_are_refused_and_read_nothing(server, path, attack):
    started = time.monotonic()
    response = requests.post(f"{server}{path}", data=XXE_BODIES[attack], timeout=30)
    assert time.monotonic() - started < 5
    assert 400 <= response.status_code < 500, response.text
    assert ET.fromstring(response.content).tag.endswith("ExceptionReport")
    assert PASSWD not in response.text


def test_a_100_mb_body_is_refused_before_it_is_read(server):
    """Announced as 100 MB, 64 KiB sent: the answer comes at once, the rest is never read."""
    port = int(server.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            "POST /wps HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {100 << 20}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"<" * (1 << 16))
        answer = b""
        while b"</ows:ExceptionReport>" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    assert time.monotonic() - started < 10
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"FileSizeExceeded" in answer


def test_a_100_mb_chunked_body_is_refused_and_the_service_keeps_serving(server):
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"<" * (1 << 20)

    try:
        response = requests.post(f"{server}/wps", data=chunks(), timeout=60)
        assert response.status_code == 413, response.text[:300]
    except requests.ConnectionError:
        pass  # the service answered 413 and closed the connection while the body was sent
    health = requests.get(f"{server}/health", timeout=30)
    assert health.status_code == 200
    capabilities = requests.get(
        f"{server}/wps", params={"service": "WPS", "request": "GetCapabilities"}, timeout=30
    )
    assert capabilities.status_code == 200
