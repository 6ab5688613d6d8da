"""The job store: every asynchronous job, its state, progress and outputs, in one database.

SQLAlchemy Core on a SQLite file (WAL, busy timeout, immediate transactions) or PostgreSQL.
Every state change is one transaction guarded by ``WHERE state = <expected>``, so two
dispatchers, or a dispatcher and a worker, can never both win the same change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

STATES = ("accepted", "running", "succeeded", "failed", "dismissed")
FINAL = frozenset({"succeeded", "failed", "dismissed"})
ACTIVE = ("accepted", "running")

#: Seconds a SQLite connection waits for a lock another process holds.
SQLITE_TIMEOUT = 60
#: Execution option of connections that only read.
_READING = "cp4cds_reading"
#: Identifies the lock that serialises submissions on PostgreSQL (any constant will do).
_SUBMIT_LOCK = 0x63703463

_metadata = sa.MetaData()
jobs_table = sa.Table(
    "cp4cds_jobs",
    _metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("process", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("owner", sa.String(255)),
    sa.Column("created", sa.DateTime, nullable=False, index=True),
    sa.Column("started", sa.DateTime),
    sa.Column("finished", sa.DateTime),
    sa.Column("heartbeat", sa.DateTime),
    sa.Column("backend", sa.String(32)),
    sa.Column("backend_ref", sa.String(255)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("dismiss_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("status_url", sa.Text, nullable=False, default=""),
    sa.Column("outputs", sa.Text, nullable=False, default="{}"),
)


@dataclass(frozen=True)
class JobRecord:
    """One job as stored; all times are timezone-aware UTC."""

    id: str
    process: str
    state: str
    progress: int
    message: str
    payload: str
    owner: str | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    heartbeat: datetime | None
    backend: str | None
    backend_ref: str | None
    attempts: int
    dismiss_requested: bool
    status_url: str
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """Whether the job has ended (succeeded, failed or dismissed)."""
        return self.state in FINAL


class QueueFull(Exception):
    """More jobs are waiting than ``max_queued`` allows."""


class NoSuchJob(KeyError):
    """No job with this id is stored."""

    def __str__(self) -> str:
        return f"no job {self.args[0]}"


class NotOwner(PermissionError):
    """The job belongs to someone else."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _to_db(moment: datetime) -> datetime:
    """Stored form of a time: naive UTC (the same on SQLite and PostgreSQL)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _from_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def database_url(url: str) -> str:
    """SQLAlchemy URL with the driver this service uses (psycopg 3 for PostgreSQL).

    Parameters
    ----------
    url
        ``sqlite:///...`` or ``postgresql://...``, with or without a driver.

    Returns
    -------
    str
        The URL, with ``postgresql://`` written as ``postgresql+psycopg://``.
    """
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@cache
def _engine(url: str) -> Engine:
    """The engine of ``url``: one per process, its connections shared by the process's
    stores."""
    url = database_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    _make_folder(url)
    # Connections are kept open (pooled): closing the last one to a WAL database
    # checkpoints it, 5 ms and more each time, several times per request.
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_TIMEOUT, "check_same_thread": False}
    )
    sa.event.listen(engine, "connect", _sqlite_connect)

    @sa.event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        # Writers take the write lock up front: a read-then-write transaction on a stale
        # WAL snapshot would fail with "database is locked" instead of waiting. Readers
        # need no lock at all.
        reading = connection.get_execution_options().get(_READING, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


@cache
def request_log_engine(url: str) -> Engine:
    """An engine for PyWPS's request log, which lives in the job database.

    Unlike PyWPS's own, it keeps its connections, and on SQLite each statement commits at
    once (PyWPS leaves some sessions open: they hold no lock), the WAL is synced only at
    checkpoints, and locks held by other processes are waited for as long as the job store
    waits (PyWPS's engine answered HTTP 500 after 5 s).
    """
    url = database_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, max_overflow=20)
    _make_folder(url)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_TIMEOUT, "check_same_thread": False},
        max_overflow=20,
    )
    sa.event.listen(engine, "connect", _sqlite_connect)
    return engine


def _make_folder(url: str) -> None:
    path = url[len("sqlite:///") :]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_connect(dbapi_connection, _record) -> None:
    # The sqlite3 module issues no BEGIN of its own (the job store's engine does).
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT * 1000}")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _record(row: sa.Row) -> JobRecord:
    values = row._asdict()
    for key in ("created", "started", "finished", "heartbeat"):
        values[key] = _from_db(values[key])
    values["outputs"] = json.loads(values["outputs"] or "{}")
    values["dismiss_requested"] = bool(values["dismiss_requested"])
    return JobRecord(**values)


class JobStore:
    """The jobs of one service, in a database given by an SQLAlchemy URL.

    Parameters
    ----------
    url
        ``sqlite:///<path>`` or ``postgresql://user:password@host/db``. Tables are
        created when missing (idempotent, safe when several processes start at once).
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._create_tables()

    @classmethod
    def from_settings(cls, settings) -> JobStore:
        """The store named by ``settings.jobs.database``."""
        return cls(settings.jobs.database)

    def _create_tables(self) -> None:
        for attempt in range(5):
            try:
                _metadata.create_all(self.engine, checkfirst=True)
                return
            except sa.exc.DBAPIError:
                # another process created the table between our check and our CREATE
                if sa.inspect(self.engine).has_table(jobs_table.name):
                    return
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads only (on SQLite: no write lock)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_READING: True})
            yield conn

    def ping(self) -> bool:
        """Whether the database answers; on SQLite, also whether its file is still there
        (the pooled connections would answer from a file deleted or replaced)."""
        path = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if path and path != ":memory:" and not Path(path).is_file():
            return False
        try:
            with self._reading() as conn:
                conn.execute(sa.select(sa.func.count()).select_from(jobs_table))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    # reading

    def _get(self, conn: Connection, job_id: str) -> JobRecord:
        row = conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise NoSuchJob(job_id)
        return _record(row)

    def get(self, job_id: str) -> JobRecord:
        """The job ``job_id``.

        Raises
        ------
        NoSuchJob
            When no such job is stored.
        """
        with self._reading() as conn:
            return self._get(conn, job_id)

    def list(
        self, states: Iterable[str] | None = None, finished_after: datetime | None = None
    ) -> list[JobRecord]:
        """Jobs in any of ``states`` (all when None), oldest first; with ``finished_after``
        only those that ended after that moment."""
        query = sa.select(jobs_table).order_by(jobs_table.c.created, jobs_table.c.id)
        if states is not None:
            query = query.where(jobs_table.c.state.in_(_checked(states)))
        if finished_after is not None:
            query = query.where(jobs_table.c.finished > _to_db(finished_after))
        with self._reading() as conn:
            return [_record(row) for row in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        """Number of jobs per state; every state is a key."""
        query = sa.select(jobs_table.c.state, sa.func.count()).group_by(jobs_table.c.state)
        counts = dict.fromkeys(STATES, 0)
        with self._reading() as conn:
            counts.update({state: n for state, n in conn.execute(query)})
        return counts

    def expired(self, older_than: datetime) -> list[JobRecord]:
        """Final jobs that finished before ``older_than``."""
        query = (
            sa.select(jobs_table)
            .where(jobs_table.c.state.in_(FINAL), jobs_table.c.finished < _to_db(older_than))
            .order_by(jobs_table.c.finished)
        )
        with self._reading() as conn:
            return [_record(row) for row in conn.execute(query)]

    # changing

    def _update(self, conn: Connection, job_id: str, states: Iterable[str], **values) -> bool:
        """Change the job when it is in one of ``states``; whether it was."""
        result = conn.execute(
            jobs_table.update()
            .where(jobs_table.c.id == job_id, jobs_table.c.state.in_(tuple(states)))
            .values(**values)
        )
        return result.rowcount == 1

    def submit(
        self,
        job_id: str,
        process: str,
        payload: str,
        *,
        status_url: str,
        owner: str | None = None,
        max_queued: int,
    ) -> JobRecord:
        """Store a new job as ``accepted``.

        Raises
        ------
        QueueFull
            When ``max_queued`` jobs are already waiting.
        """
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SUBMIT_LOCK)))
            waiting = conn.execute(
                sa.select(sa.func.count()).where(jobs_table.c.state == "accepted")
            ).scalar_one()
            if waiting >= max_queued:
                raise QueueFull(
                    f"the queue is full: {waiting} jobs are waiting (max_queued={max_queued}); "
                    "try again later"
                )
            conn.execute(
                jobs_table.insert().values(
                    id=job_id,
                    process=process,
                    state="accepted",
                    progress=0,
                    message="queued",
                    payload=payload,
                    owner=owner,
                    created=_to_db(utcnow()),
                    attempts=0,
                    dismiss_requested=False,
                    status_url=status_url,
                    outputs="{}",
                )
            )
            return self._get(conn, job_id)

    def record_done(
        self, job_id: str, process: str, *, owner: str, outputs: Mapping[str, str]
    ) -> JobRecord:
        """Store a job that ran synchronously and succeeded, as ``succeeded``: its owner
        is then known for its outputs, which are removed with it after the retention."""
        now = _to_db(utcnow())
        with self.engine.begin() as conn:
            conn.execute(
                jobs_table.insert().values(
                    id=job_id,
                    process=process,
                    state="succeeded",
                    progress=100,
                    message="ran synchronously",
                    payload="{}",
                    owner=owner,
                    created=now,
                    started=now,
                    finished=now,
                    attempts=1,
                    dismiss_requested=False,
                    status_url="",
                    outputs=json.dumps(dict(outputs)),
                )
            )
            return self._get(conn, job_id)

    def claim_next(self, backend: str) -> JobRecord | None:
        """Take the oldest accepted job for ``backend``: it becomes ``running``, not started.

        Returns
        -------
        JobRecord or None
            The claimed job (``attempts`` counted up), or None when none is waiting.
        """
        oldest = (
            sa.select(jobs_table.c.id)
            .where(jobs_table.c.state == "accepted")
            .order_by(jobs_table.c.created, jobs_table.c.id)
            .limit(1)
        )
        while True:
            with self.engine.begin() as conn:
                job_id = conn.execute(oldest).scalar()
                if job_id is None:
                    return None
                claimed = self._update(
                    conn,
                    job_id,
                    ["accepted"],
                    state="running",
                    backend=backend,
                    backend_ref=None,
                    started=_to_db(utcnow()),
                    heartbeat=None,
                    message="starting",
                    attempts=jobs_table.c.attempts + 1,
                )
                if claimed:
                    return self._get(conn, job_id)
            # another dispatcher took it between our SELECT and UPDATE: try the next one

    def set_started(self, job_id: str, backend_ref: str) -> None:
        """Record where a running job's worker runs (pid, Slurm job id, dask key)."""
        with self.engine.begin() as conn:
            self._update(
                conn, job_id, ["running"], backend_ref=backend_ref, started=_to_db(utcnow())
            )

    def heartbeat(self, job_id: str) -> None:
        """Note that the worker of a running job is alive."""
        with self.engine.begin() as conn:
            self._update(conn, job_id, ["running"], heartbeat=_to_db(utcnow()))

    def set_progress(self, job_id: str, percent: int, message: str) -> None:
        """Record the progress (0..100, clamped) of a running job; also a heartbeat."""
        percent = max(0, min(100, int(percent)))
        with self.engine.begin() as conn:
            self._update(
                conn,
                job_id,
                ["running"],
                progress=percent,
                message=message,
                heartbeat=_to_db(utcnow()),
            )

    def finish(
        self,
        job_id: str,
        state: str,
        message: str,
        outputs: Mapping[str, str] | None = None,
    ) -> bool:
        """End a job in ``state`` (one of the final states).

        Returns
        -------
        bool
            True when this call ended the job; False when it had already ended.

        Raises
        ------
        NoSuchJob
            When no such job is stored.
        """
        if state not in FINAL:
            raise ValueError(f"{state!r} is not a final state; one of {sorted(FINAL)}")
        values = {"state": state, "message": message, "finished": _to_db(utcnow())}
        if state == "succeeded":
            values["progress"] = 100
        if outputs is not None:
            values["outputs"] = json.dumps(dict(outputs))
        with self.engine.begin() as conn:
            if self._update(conn, job_id, ACTIVE, **values):
                return True
            self._get(conn, job_id)  # raises NoSuchJob
            return False

    def request_dismiss(self, job_id: str, owner: str | None = None) -> JobRecord:
        """Ask for a job to be dismissed.

        An accepted job is dismissed at once; a running one is marked
        ``dismiss_requested`` for the dispatcher to stop; a final one is left unchanged.

        Raises
        ------
        NoSuchJob
            When no such job is stored.
        NotOwner
            When the job has an owner and ``owner`` is someone else.
        """
        with self.engine.begin() as conn:
            job = self._get(conn, job_id)
            if job.owner is not None and owner != job.owner:
                raise NotOwner(f"job {job_id} belongs to another user")
            if job.state == "accepted":
                self._update(
                    conn,
                    job_id,
                    ["accepted"],
                    state="dismissed",
                    message="dismissed before it started",
                    finished=_to_db(utcnow()),
                )
            elif job.state == "running":
                self._update(conn, job_id, ["running"], dismiss_requested=True)
            return self._get(conn, job_id)

    def requeue(self, job_id: str, message: str) -> None:
        """Put a running job back into the queue (its worker never started)."""
        with self.engine.begin() as conn:
            self._update(
                conn,
                job_id,
                ["running"],
                state="accepted",
                message=message,
                progress=0,
                backend=None,
                backend_ref=None,
                started=None,
                heartbeat=None,
            )

    def delete(self, job_id: str) -> None:
        """Remove the job's record (nothing happens when there is none)."""
        with self.engine.begin() as conn:
            conn.execute(jobs_table.delete().where(jobs_table.c.id == job_id))


def _checked(states: Iterable[str]) -> tuple[str, ...]:
    states = tuple(states)
    unknown = set(states) - set(STATES)
    if unknown:
        raise ValueError(f"unknown job states {sorted(unknown)}; one of {STATES}")
    return states
