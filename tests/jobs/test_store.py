"""The job store: records, queue limit, and state changes that only one caller can win."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from cp4cds_wps.jobs.store import STATES, JobStore, NoSuchJob, NotOwner, QueueFull, utcnow

from .conftest import set_columns


def add(store: JobStore, job_id: str, *, owner: str | None = None, max_queued: int = 100):
    return store.submit(
        job_id,
        "subset",
        '{"payload": 1}',
        status_url=f"http://wps/outputs/{job_id}.xml",
        owner=owner,
        max_queued=max_queued,
    )


def test_submit_records_an_accepted_job(store):
    before = datetime.now(UTC)
    job = add(store, "a", owner="alice")
    assert store.get("a") == job
    assert (job.id, job.process, job.state, job.progress, job.owner) == (
        "a", "subset", "accepted", 0, "alice"
    )  # fmt: skip
    assert job.payload == '{"payload": 1}'
    assert job.status_url == "http://wps/outputs/a.xml"
    assert before - timedelta(seconds=1) <= job.created <= datetime.now(UTC)
    assert job.created.tzinfo is not None
    assert (job.started, job.finished, job.heartbeat, job.backend_ref) == (None,) * 4
    assert (job.attempts, job.dismiss_requested, job.outputs) == (0, False, {})


def test_unknown_job(store):
    with pytest.raises(NoSuchJob, match="no job nope"):
        store.get("nope")
    with pytest.raises(NoSuchJob):
        store.finish("nope", "failed", "x")


def test_queue_full_names_the_limit(store):
    for i in range(2):
        add(store, f"j{i}", max_queued=2)
    with pytest.raises(QueueFull) as err:
        add(store, "j2", max_queued=2)
    assert str(err.value) == (
        "the queue is full: 2 jobs are waiting (max_queued=2); try again later"
    )
    # running jobs do not count as waiting
    store.claim_next("local")
    add(store, "j2", max_queued=2)
    assert store.counts() == dict.fromkeys(STATES, 0) | {"accepted": 2, "running": 1}


def test_claim_takes_the_oldest_waiting_job(store):
    for job_id in ("first", "second"):
        add(store, job_id)
    job = store.claim_next("local")
    assert (job.id, job.state, job.backend, job.attempts) == ("first", "running", "local", 1)
    assert job.backend_ref is None and job.started is not None
    assert store.claim_next("local").id == "second"
    assert store.claim_next("local") is None
    assert [j.id for j in store.list(["running"])] == ["first", "second"]
    assert store.list(["accepted"]) == []


def test_two_claimers_never_take_the_same_job(store):
    for i in range(30):
        add(store, f"job{i:02d}")
    claimed: list[list[str]] = [[], [], []]

    def claimer(mine: list[str]) -> None:
        other = JobStore(store.url)  # its own connections, as another dispatcher has
        while (job := other.claim_next("local")) is not None:
            mine.append(job.id)

    threads = [threading.Thread(target=claimer, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = sorted(claimed[0] + claimed[1] + claimed[2])
    assert everything == [f"job{i:02d}" for i in range(30)]
    assert all(job.attempts == 1 for job in store.list())


def test_progress_heartbeat_and_start_only_while_running(store):
    add(store, "a")
    store.set_progress("a", 50, "half")  # not running yet: ignored
    assert store.get("a").progress == 0
    store.claim_next("local")
    store.set_started("a", "4242")
    store.set_progress("a", 140, "over")
    job = store.get("a")
    assert (job.backend_ref, job.progress, job.message) == ("4242", 100, "over")
    assert job.heartbeat is not None
    store.finish("a", "succeeded", "done", {"output": "http://wps/outputs/a/x.meta4"})
    store.heartbeat("a")
    store.set_progress("a", 10, "late")
    job = store.get("a")
    assert (job.progress, job.message, job.heartbeat) == (100, "done", job.heartbeat)
    assert job.outputs == {"output": "http://wps/outputs/a/x.meta4"}


def test_finish_twice_keeps_the_first(store):
    add(store, "a")
    store.claim_next("local")
    assert store.finish("a", "succeeded", "done") is True
    assert store.finish("a", "failed", "worker died: too late") is False
    job = store.get("a")
    assert (job.state, job.message, job.progress) == ("succeeded", "done", 100)
    assert job.finished is not None
    with pytest.raises(ValueError, match="'running' is not a final state"):
        store.finish("a", "running", "x")


def test_finish_races_have_one_winner(store):
    for i in range(10):
        add(store, f"j{i}")
        store.claim_next("local")
    wins = {"succeeded": 0, "failed": 0}

    def finisher(state: str) -> None:
        other = JobStore(store.url)
        for i in range(10):
            wins[state] += other.finish(f"j{i}", state, state)

    threads = [threading.Thread(target=finisher, args=(s,)) for s in wins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins["succeeded"] + wins["failed"] == 10
    states = [j.state for j in store.list()]
    assert states.count("succeeded") == wins["succeeded"]


def test_dismiss_depends_on_the_state(store):
    for job_id in ("waiting", "running", "done"):
        add(store, job_id, owner="alice")
    store.claim_next("local")  # "waiting" is oldest: claim it, then reorder the names
    set_columns(store, "waiting", state="accepted", attempts=0)
    set_columns(store, "running", state="running")
    store.finish("done", "failed", "broken")

    waiting = store.request_dismiss("waiting", owner="alice")
    assert (waiting.state, waiting.finished is not None) == ("dismissed", True)
    running = store.request_dismiss("running", owner="alice")
    assert (running.state, running.dismiss_requested) == ("running", True)
    done = store.request_dismiss("done", owner="alice")
    assert (done.state, done.message, done.dismiss_requested) == ("failed", "broken", False)

    with pytest.raises(NotOwner):
        store.request_dismiss("running", owner="bob")
    with pytest.raises(NotOwner):
        store.request_dismiss("running")
    with pytest.raises(NoSuchJob):
        store.request_dismiss("nope")


def test_dismiss_of_a_job_without_owner_is_anyones(store):
    add(store, "a")
    assert store.request_dismiss("a", owner="bob").state == "dismissed"


def test_requeue_only_running_jobs(store):
    add(store, "a")
    store.claim_next("local")
    store.set_started("a", "99")
    store.requeue("a", "queued again: its worker was never started")
    job = store.get("a")
    assert (job.state, job.backend, job.backend_ref, job.started) == ("accepted", None, None, None)
    assert job.attempts == 1 and job.message.startswith("queued again")
    store.claim_next("local")
    store.finish("a", "failed", "x")
    store.requeue("a", "again")
    assert store.get("a").state == "failed"


def test_expired_and_delete(store):
    for job_id in ("old", "recent", "waiting"):
        add(store, job_id)
    store.finish("old", "succeeded", "done")
    store.finish("recent", "dismissed", "dismissed")
    set_columns(store, "old", finished=datetime(2020, 1, 1))
    assert [j.id for j in store.expired(utcnow() - timedelta(days=7))] == ["old"]
    assert {j.id for j in store.expired(utcnow() + timedelta(seconds=1))} == {"old", "recent"}
    store.delete("old")
    store.delete("old")
    assert [j.id for j in store.list()] == ["recent", "waiting"]


def test_tables_are_created_once_by_concurrent_stores(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'jobs.sqlite'}"
    errors: list[Exception] = []

    def open_store() -> None:
        try:
            JobStore(url).counts()
        except Exception as err:  # collected for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert JobStore(url).ping()


def test_a_synchronous_run_is_recorded_final_with_its_owner(store):
    job = store.record_done("s", "average", owner="alice", outputs={"output": "http://o/s.m4"})
    assert store.get("s") == job
    assert (job.state, job.progress, job.owner, job.outputs) == (
        "succeeded", 100, "alice", {"output": "http://o/s.m4"}
    )  # fmt: skip
    assert job.final and job.finished is not None
    assert store.claim_next("local") is None  # nothing to run
    assert [j.id for j in store.expired(utcnow() + timedelta(seconds=1))] == ["s"]


def test_ping_fails_when_the_database_file_is_gone(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(f"sqlite:///{path}")
    assert store.ping()
    path.rename(tmp_path / "aside.sqlite")
    path.mkdir()  # what stands at the path cannot serve as the database
    assert not store.ping()  # although the pooled connections still answer
    path.rmdir()
    (tmp_path / "aside.sqlite").rename(path)
    assert store.ping()
