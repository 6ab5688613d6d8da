"""``/outputs`` with private results: a job's status document and files go to its owner's
token only; files of requests without an owner stay public."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from cp4cds_wps.auth import TokenVerifier, owner_of
from cp4cds_wps.jobs.store import JobStore
from cp4cds_wps.private_outputs import PrivateOutputs, job_of
from tests.oidc_issuer import Issuer

from .test_auth import auth_settings


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


@pytest.fixture
def outputs(tmp_path, issuer) -> tuple[Client, JobStore]:
    folder = tmp_path / "outputs"
    for job in ("owned", "sync", "open"):
        (folder / job).mkdir(parents=True)
        (folder / job / "out.nc").write_bytes(b"netcdf of " + job.encode())
        (folder / f"{job}.xml").write_text(f"<status of='{job}'/>")
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    alice = owner_of(issuer.claims("alice"))
    store.submit("owned", "subset", "{}", status_url="", owner=alice, max_queued=10)
    store.record_done("sync", "subset", owner=alice, outputs={"output": "x"})
    store.submit("open", "subset", "{}", status_url="", owner=None, max_queued=10)

    def rest(environ, start_response):
        return Response("not an output", status=404)(environ, start_response)

    served = SharedDataMiddleware(rest, {"/outputs": str(folder)})
    verifier = TokenVerifier(auth_settings(issuer))
    return Client(PrivateOutputs(served, lambda: store, verifier)), store


def bearer(issuer: Issuer, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(user)}"}


@pytest.mark.parametrize("job", ["owned", "sync"])
@pytest.mark.parametrize("name", ["{}.xml", "{}/out.nc"])
def test_a_jobs_files_are_served_to_its_owner_only(outputs, issuer, job, name):
    client, _ = outputs
    path = f"/outputs/{name.format(job)}"
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cp4cds-wps"'
    response = client.get(path, headers=bearer(issuer, "bob"))
    assert response.status_code == 403
    assert "only the job's owner can read its status and outputs" in response.text
    response = client.get(path, headers=bearer(issuer, "alice"))
    assert response.status_code == 200
    assert job in response.text


def test_files_of_requests_without_owner_stay_public(outputs):
    client, _ = outputs
    assert client.get("/outputs/open/out.nc").text == "netcdf of open"
    assert client.get("/outputs/open.xml").status_code == 200
    assert client.get("/outputs/unrecorded/x.png").status_code == 404
    assert client.get("/health").text == "not an output"


@pytest.mark.parametrize(
    ("path", "job"),
    [
        ("/outputs/abc.xml", "abc"),
        ("/outputs/abc/x/y.nc", "abc"),
        ("/outputs/", None),
        ("/output/abc.xml", None),
        ("/data/outputs/abc", None),
    ],
)
def test_the_job_of_a_path(path, job):
    assert job_of(path) == job
