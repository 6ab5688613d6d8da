"""A local OIDC issuer for tests: RSA keys generated here, their JWKS served over HTTP on
127.0.0.1 (as Keycloak serves ``/protocol/openid-connect/certs``), and access tokens signed
with them."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "cp4cds-wps"
SCOPE = "wps:execute"


def rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """An issuer publishing the public halves of ``keys`` (kid -> private key) at
    ``jwks_url`` while running (a context manager); ``fetches`` counts the JWKS requests."""

    def __init__(self, kid: str = "key-1"):
        self.keys: dict[str, rsa.RSAPrivateKey] = {kid: rsa_key()}
        self.kid = kid
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/realms/test"
        self.jwks_url = f"{self.url}/protocol/openid-connect/certs"

    def __enter__(self) -> Issuer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict[str, Any]:
        """The published key set."""
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def claims(self, user: str = "alice", **overrides: Any) -> dict[str, Any]:
        """Claims of a Keycloak-like access token of ``user``, valid for five minutes;
        ``overrides`` replace claims (None removes one)."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": ["account", AUDIENCE],
            "azp": "birdy-notebook",
            "sub": f"{user}-0000-uuid",
            "preferred_username": user,
            "scope": f"openid profile {SCOPE}",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def token(
        self,
        user: str = "alice",
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        """An RS256 access token of ``user`` signed by this issuer's key ``kid`` (or by
        ``key``, under the kid ``kid``), with ``claims(user, **overrides)``."""
        kid = kid or self.kid
        signing_key = key if key is not None else self.keys[kid]
        return jwt.encode(
            self.claims(user, **overrides), signing_key, algorithm="RS256", headers={"kid": kid}
        )
