"""Fetching complex inputs given by reference, where the operator allows it.

A WPS client may give an input as a URL for the server to fetch (``wps:Reference
xlink:href``). Left to PyWPS, the server would fetch any URL, with no timeout, from any
address, including its own loopback interface and the private network it sits in. The
:class:`ReferenceFetcher` fetches only URLs under one of the ``[references]
allowed_prefixes``, connects to the address it checked (so that a second DNS answer cannot
point elsewhere), refuses loopback, private, link-local and other non-global addresses unless
a prefix names that address itself, follows redirects only on the same host and under an
allowed prefix, and bounds the time and size of every fetch. Its errors name the input and
the URL, never what was fetched.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from pywps.exceptions import InvalidParameterValue

from cp4cds_wps.config import ReferenceSettings

#: Redirects followed at most (each on the same host, under an allowed prefix).
MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _Target:
    """A URL taken apart: scheme, host (lower case, IPv6 without brackets), port, path."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def of(cls, url: str) -> _Target | None:
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            return None
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            return None
        if parts.username is not None or parts.password is not None:
            return None
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        return cls(parts.scheme.lower(), parts.hostname.lower(), port, path)

    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    def under(self, prefix: _Target) -> bool:
        return self.origin() == prefix.origin() and self.path.startswith(prefix.path)


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is a global one (not loopback, private, link-local, reserved...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class ReferenceFetcher:
    """Fetches the text of inputs given by reference, within the ``[references]`` settings.

    Call it as ``fetch(input_name, url)``; it returns the document as text.

    Parameters
    ----------
    settings
        The allowed URL prefixes, the timeout and the size limit.
    """

    def __init__(self, settings: ReferenceSettings):
        self.settings = settings
        self.prefixes: Sequence[_Target] = [
            target
            for target in (_Target.of(prefix) for prefix in settings.allowed_prefixes)
            if target is not None
        ]

    def __call__(self, name: str, url: str) -> str:
        """The document at ``url`` (given for input ``name``), as text.

        Raises
        ------
        pywps.exceptions.InvalidParameterValue
            Naming the input and the URL and why it was not fetched; never showing what
            the URL answered.
        """
        deadline = time.monotonic() + self.settings.timeout
        target = self._allowed(name, url, url)
        here = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._get(name, url, target, deadline)
            if response.status not in _REDIRECTS:
                return self._text(name, url, response, deadline)
            location = response.headers.get("Location", "")
            response.release_conn()
            here = urljoin(here, location)
            moved = _Target.of(here)
            if moved is None or moved.origin() != target.origin():
                raise self._refusal(name, url, f"it redirects to another host ({here})")
            target = self._allowed(name, url, here)
        raise self._refusal(name, url, f"it redirects more than {MAX_REDIRECTS} times")

    def _refusal(self, name: str, url: str, reason: str) -> InvalidParameterValue:
        return InvalidParameterValue(f"{name}: the reference {url} is not fetched: {reason}", name)

    def _allowed(self, name: str, url: str, here: str) -> _Target:
        """``here`` (``url`` or where it redirects to), checked to be under a prefix."""
        target = _Target.of(here)
        if target is None:
            raise self._refusal(name, url, "it is no http:// or https:// URL of a host")
        if not any(target.under(prefix) for prefix in self.prefixes):
            moved = "" if here == url else f"it redirects to {here}, but "
            raise self._refusal(
                name,
                url,
                f"{moved}this service fetches references only from URLs starting with "
                + ", ".join(self.settings.allowed_prefixes),
            )
        return target

    def _address(self, name: str, url: str, target: _Target) -> str:
        """The address to connect to: the host's, checked to be public unless listed."""
        literal = _literal_address(target.host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            except OSError as err:
                raise self._refusal(name, url, f"its host is not found ({err})") from err
            addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        listed = {
            address
            for prefix in self.prefixes
            if prefix.origin() == target.origin()
            and (address := _literal_address(prefix.host)) is not None
        }
        for address in addresses:
            if not (_public(address) or address in listed):
                raise self._refusal(
                    name,
                    url,
                    f"its host has the address {address}, which is loopback, private or "
                    "otherwise not public",
                )
        return str(addresses[0])

    def _get(self, name: str, url: str, target: _Target, deadline: float):
        address = self._address(name, url, target)
        remaining = max(0.1, deadline - time.monotonic())
        timeout = urllib3.Timeout(connect=remaining, read=min(remaining, self.settings.timeout))
        options = {"timeout": timeout, "retries": False, "maxsize": 1}
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
                **options,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, **options)
        default_port = target.port == _DEFAULT_PORTS[target.scheme]
        host = f"[{target.host}]" if ":" in target.host else target.host
        headers = {"Host": host if default_port else f"{host}:{target.port}"}
        try:
            return pool.urlopen(
                "GET", target.path, headers=headers, redirect=False, preload_content=False
            )
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unread(name, url, err, deadline) from err

    def _text(self, name: str, url: str, response, deadline: float) -> str:
        limit = self.settings.max_mb << 20
        too_large = self._refusal(name, url, f"it is larger than {self.settings.max_mb} MB")
        # a server sending a byte now and then would keep each read waiting: at the deadline
        # the connection is shut, whatever is still to come
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), response.shutdown)
        watchdog.start()
        try:
            if response.status != 200:
                raise self._refusal(name, url, f"it answers HTTP {response.status}")
            if int(response.headers.get("Content-Length") or 0) > limit:
                raise too_large
            parts, size = [], 0
            while chunk := response.read1(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise too_large
                parts.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unread(name, url, err, deadline) from err
        except ValueError as err:  # a Content-Length that is no number
            raise self._refusal(name, url, "its answer is malformed") from err
        finally:
            watchdog.cancel()
            response.release_conn()
        try:
            return b"".join(parts).decode("utf-8")
        except UnicodeDecodeError as err:
            raise self._refusal(name, url, "it is not UTF-8 text") from err

    def _unread(
        self, name: str, url: str, err: Exception, deadline: float
    ) -> InvalidParameterValue:
        """The refusal of a fetch that failed with ``err``: too slow, or unreachable."""
        if time.monotonic() >= deadline or isinstance(err, urllib3.exceptions.TimeoutError):
            return self._refusal(name, url, f"it took longer than {self.settings.timeout} s")
        return self._refusal(name, url, f"it cannot be fetched ({type(err).__name__})")
