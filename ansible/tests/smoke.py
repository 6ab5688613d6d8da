"""Smoke test of a deployment through nginx: health, GetCapabilities, one subset.

Usage: python smoke.py BASE_URL OUTPUT_DIR (e.g. http://127.0.0.1:8080 /var/lib/cp4cds-wps/outputs)
Exits non-zero with a message on the first failed check.
"""

import sys
import urllib.parse
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

WPS = "{http://www.opengis.net/wps/1.0.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
META4 = "{urn:ietf:params:xml:ns:metalink}"
COLLECTION = "cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas"


def get(url: str, timeout: float = 300):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


def check(ok: bool, what: str) -> None:
    print(f"smoke: {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        sys.exit(1)


def main(base: str, output_dir: Path) -> None:
    status, _, body = get(f"{base}/health")
    check(status == 200 and b'"ok"' in body, f"/health 200 ok: {body[:80]!r}")

    caps = f"{base}/wps?service=WPS&request=GetCapabilities"
    status, _, body = get(caps)
    names = [e.text for e in ElementTree.fromstring(body).iter(f"{OWS}Identifier")]
    check(status == 200 and "subset" in names, f"GetCapabilities 200 with {len(names)} processes")
    _, headers, _ = get(caps)
    check(headers.get("X-Cache-Status") == "HIT", "GetCapabilities again: nginx cache HIT")

    query = urllib.parse.urlencode({
        "service": "WPS", "version": "1.0.0", "request": "Execute", "identifier": "subset",
        "DataInputs": f"collection={COLLECTION};time=1900-01-01/1900-12-30;area=100,-10,200,60",
    })  # fmt: skip
    status, headers, body = get(f"{base}/wps?{query}")
    check(headers.get("X-Cache-Status") in (None, "BYPASS"), "Execute not cached")
    doc = ElementTree.fromstring(body)
    check(doc.find(f".//{WPS}ProcessSucceeded") is not None, "synchronous subset succeeded")
    refs = [r.get("href") for r in doc.iter(f"{WPS}Reference")]
    metalink = next((r for r in refs if r.endswith(".meta4")), None)
    check(metalink is not None and metalink.startswith(f"{base}/outputs/"),
          f"Metalink under {base}/outputs/: {metalink}")  # fmt: skip
    _, _, body = get(metalink)
    urls = [u.text for u in ElementTree.fromstring(body).iter(f"{META4}url")]
    check(len(urls) >= 1 and all(u.startswith(f"{base}/outputs/") for u in urls),
          f"Metalink lists {len(urls)} file(s) under /outputs")  # fmt: skip
    status, headers, data = get(urls[0])
    on_disk = output_dir / urllib.parse.unquote(urls[0][len(f"{base}/outputs/") :])
    check(status == 200 and data[:4] in (b"CDF\x01", b"CDF\x02", b"\x89HDF"),
          f"netCDF served: {urls[0]} ({len(data)} bytes, {headers.get('Content-Type')})")  # fmt: skip
    check(on_disk.is_file() and on_disk.stat().st_size == len(data),
          f"served by nginx from the output folder: {on_disk}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
