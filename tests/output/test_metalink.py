"""Metalink 4 documents listing output files, and file digests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from cp4cds_wps.output.metalink import LinkedFile, file_digest, metalink4

NS = {"ml": "urn:ietf:params:xml:ns:metalink"}
FILES = [
    LinkedFile(
        name="tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-186912.nc",
        url="http://localhost:5000/outputs/1234/tas_Amon_HadGEM2-ES_historical_r1i1p1_186001-186912.nc",
        size=21492,
        md5="0123456789abcdef0123456789abcdef",
        sha256="ab" * 32,
    ),
    LinkedFile(
        name="provenance.json", url="http://localhost:5000/outputs/1234/provenance.json", size=7
    ),
]


def parse(document: str) -> etree._Element:
    return etree.fromstring(document.encode())


def test_files_listed_with_size_hashes_and_links():
    root = parse(metalink4(FILES, generator="cp4cds-wps/0.1.0"))
    assert root.tag == "{urn:ietf:params:xml:ns:metalink}metalink"
    assert root.findtext("ml:generator", namespaces=NS) == "cp4cds-wps/0.1.0"
    files = root.findall("ml:file", NS)
    assert [f.get("name") for f in files] == [f.name for f in FILES]
    for element, expected in zip(files, FILES, strict=True):
        assert int(element.findtext("ml:size", namespaces=NS)) == expected.size
        hashes = {h.get("type"): h.text for h in element.findall("ml:hash", NS)}
        assert hashes == {
            k: v for k, v in (("md5", expected.md5), ("sha-256", expected.sha256)) if v
        }
        assert [u.text for u in element.findall("ml:url", NS)] == [expected.url]
        metaurls = element.findall("ml:metaurl", NS)
        assert [(m.text, m.get("mediatype")) for m in metaurls] == [
            (expected.url, "application/x-netcdf")
        ]


def test_links_readable_the_way_rooki_reads_them():
    """rooki collects the text of all ``metaurl`` elements (BeautifulSoup ``find_all``)."""
    root = parse(metalink4(FILES, generator="g"))
    assert [e.text for e in root.iter("{*}metaurl")] == [f.url for f in FILES]


def test_published_date_in_utc():
    cet = timezone(timedelta(hours=1))
    root = parse(
        metalink4(FILES, published=datetime(2024, 3, 1, 12, 30, tzinfo=cet), generator="g")
    )
    assert root.findtext("ml:published", namespaces=NS) == "2024-03-01T11:30:00Z"
    before = datetime.now(UTC).replace(microsecond=0)
    published = parse(metalink4(FILES, generator="g")).findtext("ml:published", namespaces=NS)
    assert before <= datetime.fromisoformat(published) <= datetime.now(UTC)


def test_special_characters_are_escaped():
    name = "a&b <c>.nc"
    url = "http://host/out?file=a&b"
    root = parse(metalink4([LinkedFile(name, url, 1)], generator="g"))
    assert root.find("ml:file", NS).get("name") == name
    assert root.findtext("ml:file/ml:url", namespaces=NS) == url


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([LinkedFile("../etc/passwd", "http://h/x", 1)], "not a relative file name"),
        ([LinkedFile("/abs.nc", "http://h/x", 1)], "not a relative file name"),
        ([LinkedFile("", "http://h/x", 1)], "not a relative file name"),
        ([FILES[0], FILES[0]], "given twice"),
        ([LinkedFile("a.nc", "http://h/x", -1)], "negative size"),
    ],
)
def test_invalid_files_rejected(files, message):
    with pytest.raises(ValueError, match=message):
        metalink4(files, generator="g")


def test_file_digest_matches_hashlib(tmp_path):
    path = tmp_path / "data.bin"
    content = bytes(range(256)) * 10_000  # several read blocks
    path.write_bytes(content)
    assert file_digest(path) == (
        hashlib.md5(content).hexdigest(),
        hashlib.sha256(content).hexdigest(),
    )


def test_file_digest_matches_archive_md5(archive_dir):
    path = archive_dir / "pool/data/c3s-cica-atlas/E-OBS/t_E-OBS_mon_195001.nc"
    md5 = path.with_name(path.name + ".md5").read_text().split()[0]
    assert file_digest(path)[0] == md5
