"""Bearer-token check on WPS Execute and Dismiss: OIDC access tokens (e.g. Keycloak's).

WPS has no security of its own. :class:`BearerAuth` is a WSGI middleware in front of ``/wps``
that lets GetCapabilities and DescribeProcess pass (GetStatus and GetResult too when results
are not private) and asks every other request (Execute in WPS 1.0.0 KVP and XML and WPS 2.0,
Dismiss, and anything it cannot tell) for an ``Authorization: Bearer`` token.
:class:`TokenVerifier` checks the token: an RS256 JWT signed by a key of the issuer's JWKS
(cached a minute; fetched again when a token names an unknown ``kid``), issued by
``issuer``, for ``audience`` (``aud``, or Keycloak's ``azp``), valid now (``exp``, ``nbf``),
naming its user (``sub``) and holding ``required_scope`` in its space-separated ``scope``.
The token's owner, issuer and ``sub`` (:func:`owner_of`), goes into the WSGI environ as
:data:`cp4cds_wps.wps2.OWNER_KEY`: jobs record it as their owner; only the owner may dismiss
them and, with private results, read their status, result and outputs.

Rejections are HTTP 401 (403 for a missing scope, 503 when the issuer's keys cannot be
fetched) with an RFC 6750 ``WWW-Authenticate`` header and an OGC exception report whose text
says why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import jwt
from werkzeug.wrappers import Response

from cp4cds_wps.config import AuthSettings
from cp4cds_wps.ows import OwsException, buffered_body, exception_report, wps_version, xml_root
from cp4cds_wps.wps2 import OWNER_KEY

#: Signature algorithms accepted (Keycloak's default; never a symmetric one or "none").
ALGORITHMS = ["RS256"]
#: Operations anyone may call, by lower-case name.
PUBLIC_OPERATIONS = frozenset({"getcapabilities", "describeprocess"})
#: Operations reading a job: public unless results are private.
JOB_READS = frozenset({"getstatus", "getresult"})
#: Seconds the issuer's key set is cached: a token signed by a key the issuer withdrew (a key
#: rotation) is refused at most this long after the withdrawal.
JWKS_LIFESPAN = 60
#: Longest owner (issuer and ``sub``) a job can record.
MAX_OWNER = 255
#: Seconds at least between two fetches of the key set for tokens naming an unknown key (so
#: that tokens with made-up ``kid`` do not flood the issuer).
JWKS_REFRESH_COOLDOWN = 10
#: Seconds to wait for the issuer's key set.
JWKS_TIMEOUT = 10
#: The realm named in ``WWW-Authenticate``.
REALM = "cp4cds-wps"


class AuthError(Exception):
    """A request whose token is refused.

    Parameters
    ----------
    description
        Why, for the user (goes into ``error_description`` and the exception report).
    status
        HTTP status: 401, 403 (insufficient scope) or 503 (issuer's keys unreachable).
    error
        RFC 6750 error code (``invalid_token``, ``insufficient_scope``), or None when the
        request carries no token at all.
    """

    def __init__(self, description: str, status: int = 401, error: str | None = "invalid_token"):
        super().__init__(description)
        self.status = status
        self.error = error


class TokenVerifier:
    """Checks OIDC access tokens against one issuer's keys and this service's settings.

    Parameters
    ----------
    settings
        The ``[auth]`` settings.
    jwks
        The client fetching the issuer's key set; by default one for ``settings.jwks_url``.
    """

    def __init__(self, settings: AuthSettings, jwks: jwt.PyJWKClient | None = None):
        self.settings = settings
        self.jwks = jwks or jwt.PyJWKClient(
            settings.jwks_url,
            lifespan=JWKS_LIFESPAN,
            timeout=JWKS_TIMEOUT,
            cooldown_duration=JWKS_REFRESH_COOLDOWN,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token.

        Raises
        ------
        AuthError
            Naming why the token is refused: not a JWT, unknown key, bad signature,
            expired, not yet valid, other issuer, other audience, missing scope or user.
        """
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway,
                options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise AuthError("the token has expired") from err
        except jwt.ImmatureSignatureError as err:
            raise AuthError(f"the token is not valid yet: {err}") from err
        except jwt.InvalidIssuerError as err:
            raise AuthError(f"the token is not issued by {self.settings.issuer}") from err
        except jwt.InvalidSignatureError as err:
            raise AuthError("the token's signature is invalid") from err
        except jwt.MissingRequiredClaimError as err:
            raise AuthError(f"the token has no {err.claim!r} claim") from err
        except jwt.InvalidTokenError as err:
            raise AuthError(f"the token is invalid: {err}") from err
        self._check_audience(claims)
        self._check_scope(claims)
        owner_of(claims)
        return claims

    def owner(self, environ: Mapping[str, Any]) -> str:
        """The owner (:func:`owner_of`) of the request's bearer token.

        Raises
        ------
        AuthError
            When there is no token, or it is refused.
        """
        return owner_of(self.verify(bearer_token(environ)))

    def _signing_key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as err:
            raise AuthError(f"the token is not a JWT: {err}") from err
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(
                f"the token is signed with {header.get('alg')!r}, not {', '.join(ALGORITHMS)}"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token's header names no key (kid)")
        try:
            return self.jwks.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as err:
            raise AuthError(
                f"the issuer's keys at {self.settings.jwks_url} cannot be fetched: try again later",
                status=503,
                error=None,
            ) from err
        except jwt.PyJWKClientError as err:
            raise AuthError(
                f"the token is signed by a key the issuer does not publish (kid {kid!r})"
            ) from err

    def _check_audience(self, claims: Mapping[str, Any]) -> None:
        audience = claims.get("aud", [])
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.settings.audience in audiences or claims.get("azp") == self.settings.audience:
            return
        raise AuthError(
            f"the token is for audience {', '.join(map(str, audiences)) or 'none'}"
            f" (azp {claims.get('azp')}), not {self.settings.audience}"
        )

    def _check_scope(self, claims: Mapping[str, Any]) -> None:
        required = self.settings.required_scope
        scope = claims.get("scope", "")
        if not required or (isinstance(scope, str) and required in scope.split()):
            return
        raise AuthError(
            f"the token lacks the scope {required}", status=403, error="insufficient_scope"
        )


def owner_of(claims: Mapping[str, Any]) -> str:
    """The owner a token speaks for: its issuer and ``sub``, as one text (a JSON pair).

    ``sub`` is the one claim that names a user once and for all at its issuer;
    ``preferred_username`` and the like may be changed, reused, or equal another user's
    ``sub``, and are never used.

    Raises
    ------
    AuthError
        When the token has no ``iss`` and ``sub`` strings, or they are too long to record.
    """
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not (isinstance(issuer, str) and issuer and isinstance(subject, str) and subject):
        raise AuthError("the token names no user: it needs 'iss' and 'sub' claims")
    owner = json.dumps([issuer, subject], separators=(",", ":"))
    if len(owner) > MAX_OWNER:
        raise AuthError(f"the token's 'iss' and 'sub' are longer than {MAX_OWNER} characters")
    return owner


def bearer_token(environ: Mapping[str, Any]) -> str:
    """The token of the request's ``Authorization: Bearer`` header.

    Raises
    ------
    AuthError
        When there is none (no ``error`` code, as RFC 6750 asks).
    """
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError("this request needs a bearer token", error=None)
    if not token.strip():
        raise AuthError("the Authorization header holds no token")
    return token.strip()


def needs_token(environ: dict[str, Any], public: frozenset[str] = PUBLIC_OPERATIONS) -> bool:
    """Whether a request to the WPS needs a token: all but the ``public`` operations.

    A GET is public when each of its ``request`` parameters names a public operation; a POST
    when its body is XML whose root element is one. The POST body is read and put back.
    """
    operations = [
        value.lower()
        for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if key.lower() == "request"
    ]
    if any(operation not in public for operation in operations):
        return True
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if method == "GET":
        return not operations
    if method != "POST":
        return False  # PyWPS refuses other methods
    root = xml_root(buffered_body(environ))
    return root is None or root.localname.lower() not in public


def _header_value(text: str) -> str:
    """``text`` as an RFC 6750 quoted value (no quotes, backslashes or control characters)."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')


def challenge(error: AuthError, required_scope: str = "") -> str:
    """The ``WWW-Authenticate`` header of a refusal."""
    parts = [f'realm="{REALM}"']
    if error.error:
        parts += [f'error="{error.error}"', f'error_description="{_header_value(str(error))}"']
    if error.error == "insufficient_scope" and required_scope:
        parts.append(f'scope="{_header_value(required_scope)}"')
    return "Bearer " + ", ".join(parts)


def refusal(error: AuthError, environ: Mapping[str, Any], required_scope: str = "") -> Response:
    """The response refusing a request: its status, ``WWW-Authenticate`` and an OGC exception
    report (OWS 2.0 for WPS 2.0 requests, OWS 1.1 otherwise) with exception code
    NoApplicableCode (OGC defines none for access control) and the reason."""
    report = OwsException("NoApplicableCode", f"Access denied: {error}", error.status)
    body = exception_report(report, wps_version(environ))
    response = Response(body, status=error.status, content_type="text/xml; charset=utf-8")
    if error.status in (401, 403):
        response.headers["WWW-Authenticate"] = challenge(error, required_scope)
    return response


class BearerAuth:
    """WSGI middleware asking Execute, Dismiss and every non-public WPS request for a token.

    GetStatus and GetResult are public unless ``private_results`` is set.

    Parameters
    ----------
    app
        The WPS application behind (``Wps2Jobs`` before PyWPS).
    verifier
        Checks the tokens.
    """

    def __init__(self, app: Callable, verifier: TokenVerifier):
        self.app = app
        self.verifier = verifier
        private = verifier.settings.private_results
        self.public = PUBLIC_OPERATIONS if private else PUBLIC_OPERATIONS | JOB_READS

    def __call__(self, environ, start_response):
        environ.pop(OWNER_KEY, None)
        if not needs_token(environ, self.public):
            return self.app(environ, start_response)
        try:
            environ[OWNER_KEY] = self.verifier.owner(environ)
        except AuthError as err:
            response = refusal(err, environ, self.verifier.settings.required_scope)
            return response(environ, start_response)
        return self.app(environ, start_response)


def protect(app: Callable, settings: AuthSettings, verifier: TokenVerifier | None = None):
    """``app`` behind the token check when ``settings.enabled`` (with ``verifier``, by default
    one for ``settings``), else ``app`` itself."""
    if not settings.enabled:
        return app
    return BearerAuth(app, verifier or TokenVerifier(settings))
