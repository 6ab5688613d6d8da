"""Bearer-token check: which tokens pass and why others are refused, which requests need one,
and the ``[auth]`` settings. The issuer is a local one serving a generated key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import jwt
import pytest
from lxml import etree
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Response

from cp4cds_wps.auth import (
    JOB_READS,
    PUBLIC_OPERATIONS,
    AuthError,
    BearerAuth,
    TokenVerifier,
    needs_token,
    owner_of,
    protect,
)
from cp4cds_wps.config import AuthSettings, ConfigError, load_settings
from cp4cds_wps.wps2 import OWNER_KEY
from tests.oidc_issuer import AUDIENCE, SCOPE, Issuer, rsa_key


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


def auth_settings(issuer: Issuer, **overrides) -> AuthSettings:
    values = {
        "enabled": True,
        "issuer": issuer.url,
        "jwks_url": issuer.jwks_url,
        "audience": AUDIENCE,
        "required_scope": SCOPE,
        "leeway": 30,
    }
    return AuthSettings(**{**values, **overrides})


@pytest.fixture
def verifier(issuer) -> TokenVerifier:
    return TokenVerifier(auth_settings(issuer))


def refused(verifier: TokenVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    return caught.value


def owner(issuer: Issuer, sub: str) -> str:
    return json.dumps([issuer.url, sub], separators=(",", ":"))


def test_a_good_token_gives_its_claims_and_owner_its_issuer_and_sub(verifier, issuer):
    claims = verifier.verify(issuer.token("alice"))
    assert claims["preferred_username"] == "alice"
    assert owner_of(claims) == owner(issuer, "alice-0000-uuid")
    assert owner_of({"iss": "https://other.example.org", "sub": "alice-0000-uuid"}) != (
        owner_of(claims)
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://kc.example.org", "preferred_username": "bob"},
        {"iss": "https://kc.example.org", "sub": ""},
        {"sub": "bob"},
        {"iss": "https://kc.example.org", "sub": "b" * 300},
    ],
)
def test_only_an_issuer_and_sub_name_an_owner(claims):
    with pytest.raises(AuthError, match="the token"):
        owner_of(claims)


def test_keycloak_azp_or_a_single_aud_string_names_the_audience(verifier, issuer):
    assert verifier.verify(issuer.token(aud="account", azp=AUDIENCE))
    assert verifier.verify(issuer.token(aud=AUDIENCE))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": -60}, "the token has expired"),  # times: seconds from when the test runs
        ({"nbf": 600}, "the token is not valid yet"),
        ({"aud": "account", "azp": "other-client"}, f"for audience account (azp other-client), "
                                                    f"not {AUDIENCE}"),
        ({"iss": "https://elsewhere.example.org/realms/x"}, "the token is not issued by http"),
        ({"exp": None}, "the token has no 'exp' claim"),
        ({"sub": None, "preferred_username": None}, "the token has no 'sub' claim"),
        # a username equal to another user's sub named that user's jobs
        ({"sub": None, "preferred_username": "bob-0000-uuid"}, "the token has no 'sub' claim"),
        ({"sub": 42}, "the token is invalid: Subject must be a string"),
    ],
)  # fmt: skip
def test_invalid_claims_are_refused_with_the_reason(verifier, issuer, overrides, reason):
    now = int(time.time())
    claims = {
        k: now + v if k in ("exp", "nbf") and v is not None else v for k, v in overrides.items()
    }
    error = refused(verifier, issuer.token(**claims))
    assert reason in str(error)
    assert (error.status, error.error) == (401, "invalid_token")


def test_expiry_allows_the_leeway(verifier, issuer):
    assert verifier.verify(issuer.token(exp=int(time.time()) - 10))


def test_a_missing_scope_is_forbidden_not_unauthorised(verifier, issuer):
    error = refused(verifier, issuer.token(scope="openid profile"))
    assert str(error) == f"the token lacks the scope {SCOPE}"
    assert (error.status, error.error) == (403, "insufficient_scope")
    assert TokenVerifier(auth_settings(issuer, required_scope="")).verify(
        issuer.token(scope="openid")
    )


def test_a_token_signed_by_another_key_is_refused(verifier, issuer):
    error = refused(verifier, issuer.token(key=rsa_key()))
    assert str(error) == "the token's signature is invalid"


def test_tokens_that_are_no_rs256_jwt_are_refused(verifier, issuer):
    assert "not a JWT" in str(refused(verifier, "not-a-token"))
    hs256 = jwt.encode(
        issuer.claims(),
        "a shared secret of at least 32 bytes",
        algorithm="HS256",
        headers={"kid": "key-1"},
    )
    assert "signed with 'HS256', not RS256" in str(refused(verifier, hs256))
    unsigned = jwt.encode(issuer.claims(), None, algorithm="none")
    assert "signed with 'none'" in str(refused(verifier, unsigned))
    no_kid = jwt.encode(issuer.claims(), issuer.keys["key-1"], algorithm="RS256")
    assert "names no key (kid)" in str(refused(verifier, no_kid))


def test_keys_are_cached_and_fetched_again_for_an_unknown_kid():
    with Issuer() as issuer:
        verifier = TokenVerifier(
            auth_settings(issuer), jwt.PyJWKClient(issuer.jwks_url, cooldown_duration=0)
        )
        for _ in range(3):
            verifier.verify(issuer.token())
        assert issuer.fetches == 1
        issuer.keys["key-2"] = rsa_key()  # the issuer rotates its keys
        assert verifier.verify(issuer.token(kid="key-2"))
        assert issuer.fetches == 2
        error = refused(verifier, issuer.token(kid="made-up", key=rsa_key()))
        assert "signed by a key the issuer does not publish (kid 'made-up')" in str(error)


def age_key_cache(verifier: TokenVerifier, seconds: float) -> None:
    """Make the verifier's cached key set ``seconds`` older (as if that time had passed)."""
    verifier.jwks.jwk_set_cache.jwk_set_with_timestamp.timestamp -= seconds


def test_a_key_the_issuer_withdrew_is_refused_within_a_minute():
    with Issuer() as issuer:
        verifier = TokenVerifier(auth_settings(issuer))
        old = issuer.token()
        assert verifier.verify(old)
        issuer.keys = {"key-2": rsa_key()}  # rotation: key-1 is withdrawn
        assert verifier.verify(old)  # the key set is cached...
        assert issuer.fetches == 1
        age_key_cache(verifier, 61)  # ... for a minute at most
        error = refused(verifier, old)
        assert "signed by a key the issuer does not publish (kid 'key-1')" in str(error)
        assert verifier.verify(issuer.token(kid="key-2"))
        assert issuer.fetches == 2


def test_made_up_kids_do_not_flood_the_issuer():
    with Issuer() as issuer:
        verifier = TokenVerifier(auth_settings(issuer))
        verifier.verify(issuer.token())
        for i in range(5):
            refused(verifier, issuer.token(kid=f"made-up-{i}", key=rsa_key()))
        assert issuer.fetches == 1


def test_an_unreachable_issuer_is_a_503_naming_its_keys(issuer):
    settings = auth_settings(issuer, jwks_url="http://127.0.0.1:9/certs")
    error = refused(TokenVerifier(settings), issuer.token())
    assert error.status == 503
    assert "issuer's keys at http://127.0.0.1:9/certs cannot be fetched" in str(error)


# which requests need a token ------------------------------------------------------------


def environ(query: str = "", body: bytes | None = None) -> dict:
    method = "GET" if body is None else "POST"
    return EnvironBuilder(path="/", method=method, query_string=query, data=body).get_environ()


@pytest.mark.parametrize(
    ("query", "needed"),
    [
        ("service=WPS&request=GetCapabilities", False),
        ("service=WPS&version=1.0.0&request=DescribeProcess&identifier=subset", False),
        ("service=WPS&version=2.0.0&request=GetStatus&jobId=x", False),
        ("SERVICE=wps&REQUEST=getresult&jobid=x", False),
        ("service=WPS&version=1.0.0&request=Execute&identifier=subset", True),
        ("service=WPS&version=2.0.0&REQUEST=dismiss&jobId=x", True),
        ("service=WPS&request=GetCapabilities&Request=Execute", True),
        ("service=WPS", True),  # PyWPS's REST-like paths execute without a request parameter
    ],
)
def test_get_requests_need_a_token_unless_public(query, needed):
    assert needs_token(environ(query), PUBLIC_OPERATIONS | JOB_READS) is needed


@pytest.mark.parametrize(
    "query",
    [
        "service=WPS&version=2.0.0&request=GetStatus&jobId=x",
        "SERVICE=wps&REQUEST=getresult&jobid=x",
    ],
)
def test_job_reads_need_a_token_when_results_are_private(query):
    assert needs_token(environ(query))  # the default: private
    assert not needs_token(environ("service=WPS&request=GetCapabilities"))


@pytest.mark.parametrize(
    ("body", "needed"),
    [
        (b'<wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS"/>',
         False),
        (b'<DescribeProcess xmlns="http://www.opengis.net/wps/2.0" service="WPS"/>', False),
        (b'<wps:Execute xmlns:wps="http://www.opengis.net/wps/1.0.0" service="WPS"/>', True),
        (b'<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" service="WPS"/>', True),
        (b'<wps:Dismiss xmlns:wps="http://www.opengis.net/wps/2.0" service="WPS"/>', True),
        (b'{"inputs": {}}', True),
        (b"", True),
        (b'<?xml version="1.0"?><wps:Execu', True),  # was ValueError: Invalid tag name
    ],
)  # fmt: skip
def test_post_requests_need_a_token_unless_public_and_keep_their_body(body, needed):
    env = environ(body=body)
    assert needs_token(env, PUBLIC_OPERATIONS | JOB_READS) is needed
    assert env["wsgi.input"].read() == body


# the middleware ------------------------------------------------------------------------


def echo_owner(environ, start_response):
    return Response(f"owner={environ.get(OWNER_KEY)}")(environ, start_response)


@pytest.fixture
def client(verifier) -> Client:
    return Client(BearerAuth(echo_owner, verifier))


EXECUTE = "service=WPS&version=1.0.0&request=Execute&identifier=subset"


def exception_text(body: bytes) -> str:
    root = etree.fromstring(body)
    (exception,) = root.findall("{*}Exception")
    assert exception.get("exceptionCode") == "NoApplicableCode"
    return exception.findtext("{*}ExceptionText")


def test_no_token_is_401_with_a_bare_challenge(client):
    response = client.get(f"/?{EXECUTE}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cp4cds-wps"'
    assert exception_text(response.data) == "Access denied: this request needs a bearer token"
    assert etree.fromstring(response.data).tag == "{http://www.opengis.net/ows/1.1}ExceptionReport"


def test_a_truncated_xml_request_without_token_is_401(client):
    response = client.post("/", data=b'<?xml version="1.0"?><wps:Execu')
    assert response.status_code == 401
    assert exception_text(response.data) == "Access denied: this request needs a bearer token"


def test_a_bad_token_is_401_naming_the_reason(client, issuer):
    token = issuer.token(exp=int(time.time()) - 60)
    response = client.get(f"/?{EXECUTE}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="cp4cds-wps", error="invalid_token", '
        'error_description="the token has expired"'
    )
    assert exception_text(response.data) == "Access denied: the token has expired"


def test_a_missing_scope_is_403_naming_it(client, issuer):
    token = issuer.token(scope="openid")
    response = client.get(
        "/?service=WPS&version=2.0.0&request=Dismiss&jobId=x",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert f'scope="{SCOPE}"' in response.headers["WWW-Authenticate"]
    # a WPS 2.0 request gets an OWS 2.0 report
    assert etree.fromstring(response.data).tag == "{http://www.opengis.net/ows/2.0}ExceptionReport"


def test_a_good_token_passes_with_its_user_and_public_requests_without(client, issuer):
    token = issuer.token("bob")
    response = client.get(f"/?{EXECUTE}", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.text) == (200, f"owner={owner(issuer, 'bob-0000-uuid')}")
    response = client.get("/?service=WPS&request=GetCapabilities")
    assert (response.status_code, response.text) == (200, "owner=None")


def test_with_private_results_getstatus_needs_a_token(verifier, issuer):
    query = "/?service=WPS&version=2.0.0&request=GetStatus&jobId=x"
    private = Client(BearerAuth(echo_owner, verifier))
    assert private.get(query).status_code == 401
    token = {"Authorization": f"Bearer {issuer.token('bob')}"}
    assert private.get(query, headers=token).text == f"owner={owner(issuer, 'bob-0000-uuid')}"
    public = TokenVerifier(auth_settings(issuer, private_results=False))
    assert Client(BearerAuth(echo_owner, public)).get(query).text == "owner=None"


def test_protect_leaves_the_app_alone_when_disabled():
    assert protect(echo_owner, AuthSettings()) is echo_owner


# settings ------------------------------------------------------------------------------


def test_auth_is_off_by_default():
    assert load_settings(env={}).auth == AuthSettings()


def test_auth_settings_come_from_the_environment():
    env = {
        "CP4CDS_WPS_AUTH__ENABLED": "true",
        "CP4CDS_WPS_AUTH__ISSUER": "https://kc.example.org/realms/c",
        "CP4CDS_WPS_AUTH__JWKS_URL": "https://kc.example.org/realms/c/protocol/openid-connect/certs",
        "CP4CDS_WPS_AUTH__AUDIENCE": "wps",
        "CP4CDS_WPS_AUTH__LEEWAY": "0",
    }
    auth = load_settings(env=env).auth
    assert (auth.enabled, auth.audience, auth.leeway, auth.required_scope) == (True, "wps", 0, "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[auth]\nenabled = 'yes'\n", r"\[auth\] enabled must be true or false"),
        ("[auth]\nleeway = -1\n", r"\[auth\] leeway must not be negative"),
        ("[auth]\nenabled = true\n", r"\[auth\] issuer must be set when auth is enabled"),
        (
            "[auth]\nenabled = true\nissuer = 'https://kc'\njwks_url = 'file:///etc/keys'\n"
            "audience = 'wps'\n",
            r"\[auth\] jwks_url must start with http",
        ),
    ],
)
def test_invalid_auth_settings_name_the_key(tmp_path, text, message):
    config = tmp_path / "site.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={})
