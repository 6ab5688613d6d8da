"""Bearer tokens through the HTTP interface of a real service with ``[auth]`` enabled, against
a local OIDC issuer (a generated RSA key, its JWKS served on 127.0.0.1): Execute and Dismiss
need a valid token, everything else stays public, jobs belong to the token's user."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm
from owslib.wps import WebProcessingService

from tests.oidc_issuer import AUDIENCE, SCOPE, Issuer, rsa_key

from ..jobs.conftest import QUICK, SLOW
from ..processes.test_references import Site
from .test_jobs_http import Service, final_document, job_id, service

pytestmark = pytest.mark.realdata

NS = {
    "wps": "http://www.opengis.net/wps/2.0",
    "ows": "http://www.opengis.net/ows/2.0",
    "ows1": "http://www.opengis.net/ows/1.1",
}
WPS1_EXECUTE = (
    '<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0" '
    'xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Identifier>subset</ows:Identifier>'
    "</wps:Execute>"
)
WPS2_EXECUTE = (
    '<wps:Execute service="WPS" version="2.0.0" xmlns:wps="http://www.opengis.net/wps/2.0" '
    'xmlns:ows="http://www.opengis.net/ows/2.0" mode="async" response="document">'
    "<ows:Identifier>subset</ows:Identifier></wps:Execute>"
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


@pytest.fixture(scope="module")
def secured(settings_env, tmp_path_factory, issuer, inventory_db) -> Iterator[Service]:
    """A service asking for tokens of ``issuer``; one job runs at a time."""
    auth = {
        "CP4CDS_WPS_AUTH__ENABLED": "true",
        "CP4CDS_WPS_AUTH__ISSUER": issuer.url,
        "CP4CDS_WPS_AUTH__JWKS_URL": issuer.jwks_url,
        "CP4CDS_WPS_AUTH__AUDIENCE": AUDIENCE,
        "CP4CDS_WPS_AUTH__REQUIRED_SCOPE": SCOPE,
    }
    with service({**settings_env, **auth}, tmp_path_factory.mktemp("auth"),
                 inventory=inventory_db, max_running=1) as running:  # fmt: skip
        yield running


def owner(issuer: Issuer, user: str) -> str:
    """The owner a token of ``user`` (sub ``<user>-0000-uuid``) gives its jobs."""
    return json.dumps([issuer.url, f"{user}-0000-uuid"], separators=(",", ":"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def execute_kvp(wps_url: str, data_inputs: str, token: str | None = None) -> requests.Response:
    """WPS 1.0.0 KVP Execute of ``subset``, asynchronous."""
    query = {
        "service": "WPS",
        "version": "1.0.0",
        "request": "Execute",
        "identifier": "subset",
        "DataInputs": data_inputs,
        "storeExecuteResponse": "true",
        "status": "true",
    }
    headers = bearer(token) if token else {}
    return requests.get(f"{wps_url}?{urllib.parse.urlencode(query)}", headers=headers, timeout=60)


def submit(wps_url: str, data_inputs: str, token: str) -> str:
    """Submit an async job with ``token``; return its id."""
    response = execute_kvp(wps_url, data_inputs, token)
    assert response.status_code == 200, response.text
    location = ET.fromstring(response.content).get("statusLocation")
    assert location, response.text
    return job_id(location)


def dismiss(wps_url: str, job: str, token: str | None = None) -> requests.Response:
    """WPS 2.0 Dismiss (KVP) of ``job``."""
    query = {"service": "WPS", "version": "2.0.0", "request": "Dismiss", "jobId": job}
    headers = bearer(token) if token else {}
    return requests.get(wps_url, params=query, headers=headers, timeout=30)


def refusal(response: requests.Response, ows: str = "ows1") -> tuple[int, str, str]:
    """HTTP status, ``WWW-Authenticate`` header and exception text of a refused request."""
    exception = ET.fromstring(response.content).find(f"{ows}:Exception", NS)
    assert exception is not None, response.text
    assert exception.get("exceptionCode") == "NoApplicableCode"
    text = exception.findtext(f"{ows}:ExceptionText", "", NS)
    return response.status_code, response.headers.get("WWW-Authenticate", ""), text


def test_execute_without_a_token_is_401(secured):
    code, challenge, text = refusal(execute_kvp(secured.wps_url, QUICK))
    assert (code, challenge) == (401, 'Bearer realm="cp4cds-wps"')
    assert text == "Access denied: this request needs a bearer token"
    # XML Execute, WPS 1.0.0 and 2.0
    response = requests.post(secured.wps_url, data=WPS1_EXECUTE, timeout=30)
    assert refusal(response)[0] == 401
    response = requests.post(secured.wps_url, data=WPS2_EXECUTE, timeout=30)
    assert refusal(response, "ows")[0] == 401
    assert secured.store.counts()["accepted"] == 0


@pytest.mark.parametrize(
    ("token_of", "code", "reason"),
    [
        (lambda i: i.token(exp=int(time.time()) - 120), 401, "the token has expired"),
        (lambda i: i.token(aud="account", azp="other-client"), 401,
         f"the token is for audience account (azp other-client), not {AUDIENCE}"),
        (lambda i: i.token(scope="openid profile"), 403, f"the token lacks the scope {SCOPE}"),
        (lambda i: i.token(key=rsa_key()), 401, "the token's signature is invalid"),
        (lambda i: i.token(iss="http://127.0.0.1:1/realms/other"), 401,
         "the token is not issued by http://127.0.0.1"),
    ],
    ids=["expired", "wrong-audience", "missing-scope", "other-key", "other-issuer"],
)  # fmt: skip
def test_bad_tokens_are_refused_with_the_reason(secured, issuer, token_of, code, reason):
    token = token_of(issuer)
    status, challenge, text = refusal(execute_kvp(secured.wps_url, QUICK, token))
    assert status == code
    assert text.startswith(f"Access denied: {reason}")
    error = "insufficient_scope" if code == 403 else "invalid_token"
    assert challenge.startswith(f'Bearer realm="cp4cds-wps", error="{error}", ')
    assert f'error_description="{reason}' in challenge
    # the same for an XML Execute (as owslib and birdy send it)
    response = requests.post(secured.wps_url, data=WPS1_EXECUTE, headers=bearer(token), timeout=30)
    assert refusal(response)[:2] == (status, challenge)


def test_a_good_token_executes_and_owns_the_job(secured, issuer):
    job = submit(secured.wps_url, QUICK, issuer.token("alice"))
    assert secured.store.get(job).owner == owner(issuer, "alice")
    document = final_document(
        f"{secured.url}/outputs/{job}.xml", headers=bearer(issuer.token("alice"))
    )
    assert "ProcessSucceeded" in document
    # an XML Execute from owslib with the token in its headers
    wps = WebProcessingService(
        secured.wps_url, skip_caps=True, headers=bearer(issuer.token("carol"))
    )
    collection, time_range = (part.split("=", 1)[1] for part in QUICK.split(";"))
    execution = wps.execute(
        "subset",
        inputs=[("collection", collection), ("time", time_range)],
        output=[("output", True)],
        mode="async",
    )
    assert execution.statusLocation, [e.text for e in execution.errors]
    assert secured.store.get(job_id(execution.statusLocation)).owner == owner(issuer, "carol")


def test_capabilities_and_descriptions_stay_public(secured):
    public = [
        {"service": "WPS", "request": "GetCapabilities"},
        {"service": "WPS", "version": "2.0.0", "request": "GetCapabilities"},
        {"service": "WPS", "version": "1.0.0", "request": "DescribeProcess", "identifier": "all"},
    ]
    for query in public:
        response = requests.get(secured.wps_url, params=query, timeout=60)
        assert response.status_code == 200, (query, response.text)
        assert "WWW-Authenticate" not in response.headers


def assert_private(url: str, issuer: Issuer, params: dict | None = None) -> requests.Response:
    """``url`` is refused without a token (401) and to another user (403); the owner's answer."""
    anonymous = requests.get(url, params=params, timeout=60)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="cp4cds-wps"'
    other = requests.get(url, params=params, headers=bearer(issuer.token("bob")), timeout=60)
    assert other.status_code == 403, other.text
    assert "only the job's owner can read its status" in other.text
    mine = requests.get(url, params=params, headers=bearer(issuer.token("alice")), timeout=60)
    assert mine.status_code == 200, mine.text
    return mine


def test_a_jobs_status_result_and_outputs_are_its_owners(secured, issuer):
    job = submit(secured.wps_url, QUICK, issuer.token("alice"))
    status = f"{secured.url}/outputs/{job}.xml"
    final_document(status, headers=bearer(issuer.token("alice")))
    assert "ProcessSucceeded" in assert_private(status, issuer).text
    for request in ("GetStatus", "GetResult"):
        query = {"service": "WPS", "version": "2.0.0", "request": request, "jobId": job}
        assert_private(secured.wps_url, issuer, query)
    folder = Path(secured.env["CP4CDS_WPS_PATHS__VAR_DIR"]) / "outputs" / job
    outputs = sorted(p for p in folder.iterdir() if p.is_file())
    assert outputs
    for path in outputs:
        mine = assert_private(f"{secured.url}/outputs/{job}/{path.name}", issuer)
        assert mine.content == path.read_bytes()


def test_the_outputs_of_a_synchronous_execute_are_its_requesters(secured, issuer):
    collection, time_range = (part.split("=", 1)[1] for part in QUICK.split(";"))
    query = {
        "service": "WPS",
        "version": "1.0.0",
        "request": "Execute",
        "identifier": "subset",
        "DataInputs": f"collection={collection};time={time_range}",
    }
    response = requests.get(
        secured.wps_url, params=query, headers=bearer(issuer.token("alice")), timeout=120
    )
    assert response.status_code == 200, response.text
    links = ET.fromstring(response.content).iterfind(".//{*}Reference")
    urls = [link.get("href") for link in links]
    assert urls
    for url in urls:
        assert_private(url, issuer)


def test_a_token_without_sub_is_refused_and_cannot_take_a_users_jobs(secured, issuer):
    job = submit(secured.wps_url, SLOW, issuer.token("alice"))
    # bob's username is alice's sub: that once dismissed alice's job
    impostor = issuer.token("bob", sub=None, preferred_username="alice-0000-uuid")
    code, challenge, text = refusal(dismiss(secured.wps_url, job, impostor), "ows")
    assert code == 401
    assert text == "Access denied: the token has no 'sub' claim"
    assert "error_description=\"the token has no 'sub' claim\"" in challenge
    code, _, _ = refusal(execute_kvp(secured.wps_url, QUICK, impostor))
    assert code == 401
    assert dismiss(secured.wps_url, job, issuer.token("alice")).status_code == 200


def test_only_the_owner_dismisses_a_job(secured, issuer):
    alice = issuer.token("alice")
    running = submit(secured.wps_url, SLOW, alice)
    queued = submit(secured.wps_url, QUICK, alice)  # one job runs at a time: this one waits

    code, challenge, _ = refusal(dismiss(secured.wps_url, queued), "ows")
    assert (code, challenge) == (401, 'Bearer realm="cp4cds-wps"')
    refused = dismiss(secured.wps_url, queued, issuer.token("bob"))
    assert refusal(refused, "ows") == (403, "", "only the job's owner can dismiss it")
    assert secured.store.get(queued).state == "accepted"

    for job in (queued, running):
        answer = dismiss(secured.wps_url, job, alice)
        assert answer.status_code == 200, answer.text
        assert ET.fromstring(answer.content).findtext("wps:Status", None, NS) == "Dismissed"
    assert secured.store.get(queued).state == "dismissed"


# token attacks ---------------------------------------------------------------------------


def forged_claims(issuer: Issuer) -> str:
    """alice's valid token with its claims replaced by bob's (the signature left as it was)."""
    header, _, signature = issuer.token("alice").split(".")
    payload = jwt.utils.base64url_encode(json.dumps(issuer.claims("bob")).encode()).decode()
    return f"{header}.{payload}.{signature}"


def hs256_with_public_key(issuer: Issuer) -> str:
    """A token HMAC-signed with the issuer's public key: the algorithm confusion attack."""
    pem = (
        issuer.keys["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    parts = [
        jwt.utils.base64url_encode(json.dumps(part).encode()).decode()
        for part in ({"alg": "HS256", "typ": "JWT", "kid": "key-1"}, issuer.claims())
    ]
    signing_input = ".".join(parts).encode()
    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{jwt.utils.base64url_encode(signature).decode()}"


def with_header(issuer: Issuer, **header) -> str:
    """A token signed by a key of the attacker's, naming it in the header as ``header`` says."""
    return jwt.encode(issuer.claims(), rsa_key(), algorithm="RS256", headers=header)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: jwt.encode(i.claims(), None, algorithm="none"), "signed with 'none'"),
        (hs256_with_public_key, "signed with 'HS256', not RS256"),
        (lambda i: with_header(i, kid="../../../../dev/null"), "does not publish"),
        (lambda i: with_header(i, kid="key-1' OR '1'='1"), "does not publish"),
        (forged_claims, "the token's signature is invalid"),
        (lambda i: i.token(sub=None), "the token has no 'sub' claim"),
        (lambda i: i.token(iss=i.url + "/"), "not issued by"),
        (lambda i: "a.b.c", "not a JWT"),
        (lambda i: "", "the Authorization header holds no token"),
    ],
    ids=["alg-none", "hs256-confusion", "kid-path", "kid-sql", "forged-claims", "no-sub",
         "issuer-lookalike", "garbage", "empty"],
)  # fmt: skip
def test_token_attacks_are_refused_with_the_reason(secured, issuer, make, reason):
    accepted = secured.store.counts()["accepted"]
    code, _, text = refusal(execute_kvp(secured.wps_url, QUICK, make(issuer) or " "))
    assert code == 401
    assert reason in text
    assert secured.store.counts()["accepted"] == accepted


@pytest.mark.parametrize("claim", ["jku", "x5u", "jwk"])
def test_keys_named_by_the_token_itself_are_never_fetched_nor_used(secured, issuer, claim):
    attacker = rsa_key()
    with Site() as site:
        public = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
        where = {"jwk": {**public, "kid": "key-1"}}.get(claim, f"{site.url}/keys")
        token = jwt.encode(
            issuer.claims(), attacker, algorithm="RS256", headers={"kid": "key-1", claim: where}
        )
        code, _, text = refusal(execute_kvp(secured.wps_url, QUICK, token))
        assert (code, text) == (401, "Access denied: the token's signature is invalid")
        assert site.hits == []


def test_a_token_elsewhere_than_the_authorization_header_is_no_token(secured, issuer):
    token = issuer.token("alice")
    query = {
        "service": "WPS",
        "version": "1.0.0",
        "request": "Execute",
        "identifier": "subset",
        "DataInputs": QUICK,
        "access_token": token,
    }
    response = requests.get(secured.wps_url, params=query, cookies={"token": token}, timeout=60)
    assert refusal(response)[:2] == (401, 'Bearer realm="cp4cds-wps"')


def test_a_huge_token_is_refused_not_a_500(secured):
    response = execute_kvp(secured.wps_url, QUICK, "x" * 20000)
    assert 400 <= response.status_code < 500
