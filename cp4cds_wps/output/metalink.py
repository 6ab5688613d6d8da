"""Metalink 4 documents (RFC 5854) listing the output files of a request.

Each file gets its download link twice: as ``<url>``, the RFC's download element, and as
``<metaurl mediatype="application/x-netcdf">``, where the Climate Data Store client ``rooki``
(like PyWPS's own metalink output) reads the links from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from lxml import etree

#: XML namespace of Metalink 4.
NAMESPACE = "urn:ietf:params:xml:ns:metalink"
#: Media type given to the ``metaurl`` links.
NETCDF_MEDIATYPE = "application/x-netcdf"
#: Bytes read at a time when computing digests.
BLOCK_SIZE = 2**20


@dataclass(frozen=True)
class LinkedFile:
    """A file listed in a Metalink document.

    Attributes
    ----------
    name
        File name offered to the user (a relative path without ``..``).
    url
        Where to download it.
    size
        Size in bytes.
    md5, sha256
        Hexadecimal digests, when known.
    """

    name: str
    url: str
    size: int
    md5: str | None = None
    sha256: str | None = None


def metalink4(
    files: Sequence[LinkedFile], *, published: datetime | None = None, generator: str
) -> str:
    """A Metalink 4 XML document listing ``files``.

    Parameters
    ----------
    files
        The files, in the order to list them; names must be distinct.
    published
        When the files were published (timezone-aware; naive values are taken as UTC);
        now when not given.
    generator
        Name and version of the software writing the document, e.g. ``"cp4cds-wps/0.1.0"``.

    Returns
    -------
    str
        The document, with an XML declaration.

    Raises
    ------
    ValueError
        If a name is empty, absolute, contains ``..``, or is given twice, or a size is
        negative.
    """
    names = [f.name for f in files]
    for f in files:
        parts = PurePosixPath(f.name).parts
        if not parts or f.name.startswith("/") or ".." in parts:
            raise ValueError(f"not a relative file name: {f.name!r}")
        if names.count(f.name) > 1:
            raise ValueError(f"file name given twice: {f.name!r}")
        if f.size < 0:
            raise ValueError(f"negative size of {f.name!r}: {f.size}")
    published = published or datetime.now(UTC)
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)

    root = etree.Element(_tag("metalink"), nsmap={None: NAMESPACE})
    _sub(root, "published", published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(root, "generator", generator)
    for f in files:
        element = _sub(root, "file", None, name=f.name)
        _sub(element, "size", str(f.size))
        for hash_type, value in (("md5", f.md5), ("sha-256", f.sha256)):
            if value:
                _sub(element, "hash", value.lower(), type=hash_type)
        _sub(element, "url", f.url)
        _sub(element, "metaurl", f.url, mediatype=NETCDF_MEDIATYPE)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()


def file_digest(path: Path) -> tuple[str, str]:
    """MD5 and SHA-256 digests of a file, computed in one read.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple of str
        The hexadecimal MD5 and SHA-256 digests.
    """
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(BLOCK_SIZE):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, /, **attrib: str):
    """Append a Metalink element ``tag`` with ``text`` and attributes to ``parent``."""
    element = etree.SubElement(parent, _tag(tag), attrib)
    element.text = text
    return element
