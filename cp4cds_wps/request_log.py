"""A small time series of the service's requests and health, for the dashboard.

Prometheus (``/metrics``) keeps only running totals; the dashboard (``/dashboard``) shows
request counts and times over the last hour, day or week without a Prometheus server. So
the metrics middleware adds every request to a per-minute row of an SQLite file in the var
dir (shared by gunicorn's workers in WAL mode; each process writes what it recorded once a
second, in one transaction), and the supervisor
(``cp4cds-wps start``) records twice a minute whether the service answers its health check
(:class:`Heartbeat`).
Rows older than :data:`KEEP_DAYS` days are removed. A week is at most ~10,000 heartbeat rows
plus one row per minute and operation: small enough to aggregate on each page view.

The metrics middleware also counts, per day, the datasets asked for (:class:`Usage`): those
named in the ``collection`` of each accepted Execute of the WPS, by process, and the
datasets of original files downloaded from ``/data``, by project, model, experiment and
variable, written with the requests. These rows are kept (one per day and combination asked
for).
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from cp4cds_wps.config import Settings

LOGGER = logging.getLogger(__name__)

#: Days of history kept.
KEEP_DAYS = 8
#: Endpoints that monitor the service; left out of the dashboard's request plots.
MONITORING = ("health", "metrics", "dashboard")
#: Seconds a process keeps requests before adding them to the file: a write a second per
#: process, not one per request (each taking the write lock that all processes share).
FLUSH_SECONDS = 1.0
#: Requests recorded and not yet written, by file, then (minute, endpoint, operation):
#: [requests, errors, seconds, max_seconds]; datasets asked for and not yet written, by
#: file, then (day, source, process, *USAGE_FACETS): count; files whose writing is scheduled.
_PENDING: dict[Path, dict[tuple[int, str, str], list]] = {}
_PENDING_USAGE: dict[Path, Counter] = {}
_SCHEDULED: set[Path] = set()
_LOCK = threading.Lock()


@atexit.register
def _flush_all() -> None:
    for path in {*_PENDING, *_PENDING_USAGE}:
        try:
            RequestLog(path).flush()
        except sqlite3.Error:
            LOGGER.exception("requests of this process not recorded for the dashboard")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    minute INTEGER NOT NULL, endpoint TEXT NOT NULL, operation TEXT NOT NULL,
    requests INTEGER NOT NULL, errors INTEGER NOT NULL,
    seconds REAL NOT NULL, max_seconds REAL NOT NULL,
    PRIMARY KEY (minute, endpoint, operation)
);
CREATE TABLE IF NOT EXISTS heartbeats (minute INTEGER PRIMARY KEY, healthy INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS starts (time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS usage (
    day INTEGER NOT NULL, source TEXT NOT NULL, process TEXT NOT NULL, project TEXT NOT NULL,
    model TEXT NOT NULL, experiment TEXT NOT NULL, variable TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (day, source, process, project, model, experiment, variable)
);
"""
#: Where data were asked for: a process of the WPS, or a download of an original file.
USAGE_SOURCES = ("process", "download")
#: The facets usage is counted by.
USAGE_FACETS = ("project", "model", "experiment", "variable")


@dataclass(frozen=True)
class Bucket:
    """Requests (monitoring endpoints left out) in one time bucket."""

    start: float
    requests: int
    errors: int
    seconds: float

    @property
    def mean_seconds(self) -> float | None:
        """Average request time, None without requests."""
        return self.seconds / self.requests if self.requests else None


@dataclass(frozen=True)
class OperationSummary:
    """Requests of one endpoint and operation over a period."""

    endpoint: str
    operation: str
    requests: int
    errors: int
    mean_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class Usage:
    """Datasets asked for on one day (UTC, days since 1970-01-01) by one source (``process``
    with the process's identifier, or ``download`` of original files), of one project,
    model, experiment and variable."""

    day: int
    source: str
    process: str
    project: str
    model: str
    experiment: str
    variable: str
    requests: int

    def to_dict(self) -> dict:
        """The row as JSON-ready data, its day as ``YYYY-MM-DD``."""
        return {**asdict(self), "day": time.strftime("%Y-%m-%d", time.gmtime(self.day * 86400))}


class RequestLog:
    """The per-minute request and heartbeat series in one SQLite file.

    Parameters
    ----------
    path
        The SQLite file (created with its folder on first use).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLog:
        """The log of a service: ``requests.sqlite`` in its var dir."""
        return cls(settings.var_dir / "requests.sqlite")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                self._ready = True
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:
                yield conn

    def record(
        self, endpoint: str, operation: str, seconds: float, error: bool, now: float | None = None
    ) -> None:
        """Add one request to its minute (``error``: answered with a 5xx status).

        Requests are added to the file :data:`FLUSH_SECONDS` after the first one not yet
        written (and when the process exits), all of them in one transaction.
        """
        minute = int((time.time() if now is None else now) // 60)
        with _LOCK:
            pending = _PENDING.setdefault(self.path, {})
            row = pending.setdefault((minute, endpoint, operation), [0, 0, 0.0, 0.0])
            row[0] += 1
            row[1] += int(error)
            row[2] += seconds
            row[3] = max(row[3], seconds)
            self._schedule()

    def _schedule(self) -> None:
        """Write what is pending :data:`FLUSH_SECONDS` from now, unless already scheduled
        (called holding ``_LOCK``)."""
        if self.path in _SCHEDULED:
            return
        _SCHEDULED.add(self.path)
        timer = threading.Timer(FLUSH_SECONDS, self.flush)
        timer.daemon = True
        timer.start()

    def flush(self) -> None:
        """Add the requests and usage counts this process recorded, not yet written, to
        the file, in one transaction."""
        with _LOCK:
            rows = _PENDING.pop(self.path, {})
            usage = _PENDING_USAGE.pop(self.path, Counter())
            _SCHEDULED.discard(self.path)
        if not rows and not usage:
            return
        with self._connect() as conn:
            conn.executemany(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (minute, endpoint, operation) DO UPDATE SET "
                "requests = requests + excluded.requests, errors = errors + excluded.errors, "
                "seconds = seconds + excluded.seconds, "
                "max_seconds = max(max_seconds, excluded.max_seconds)",
                [(*key, *values) for key, values in rows.items()],
            )
            conn.executemany(
                "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                "(day, source, process, project, model, experiment, variable) "
                "DO UPDATE SET requests = requests + excluded.requests",
                [(*key, count) for key, count in usage.items()],
            )

    def record_usage(
        self,
        source: str,
        process: str,
        datasets: Iterable[Mapping[str, str]],
        now: float | None = None,
    ) -> None:
        """Count datasets asked for today, each by its facets (:data:`USAGE_FACETS`).

        Counts are written with the requests (:meth:`record`): within :data:`FLUSH_SECONDS`,
        in one transaction, not a write per request on the request's own thread.

        Parameters
        ----------
        source
            One of :data:`USAGE_SOURCES`.
        process
            The process's identifier (empty for downloads).
        datasets
            The facets of each dataset asked for (missing facets count as empty).
        """
        day = int((time.time() if now is None else now) // 86400)
        keys = [
            (day, source, process, *(facets.get(name, "") for name in USAGE_FACETS))
            for facets in datasets
        ]
        with _LOCK:
            _PENDING_USAGE.setdefault(self.path, Counter()).update(keys)
            self._schedule()

    def usage(self, since: float, until: float | None = None) -> list[Usage]:
        """The usage rows of the days from ``since`` to ``until`` (Unix times), by day."""
        last = int((time.time() if until is None else until) // 86400)
        self.flush()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM usage WHERE day >= ? AND day <= ? ORDER BY day, source, "
                "process, project, model, experiment, variable",
                (int(since // 86400), last),
            )
            return [Usage(*row) for row in rows]

    def heartbeat(self, healthy: bool, now: float | None = None) -> None:
        """Record that the service ran this minute and whether it was healthy; prune."""
        now = time.time() if now is None else now
        minute = int(now // 60)
        oldest = minute - KEEP_DAYS * 24 * 60
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO heartbeats VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET "
                "healthy = min(healthy, excluded.healthy)",
                (minute, int(healthy)),
            )
            conn.execute("DELETE FROM heartbeats WHERE minute < ?", (oldest,))
            conn.execute("DELETE FROM requests WHERE minute < ?", (oldest,))
            conn.execute("DELETE FROM starts WHERE time < ?", (oldest * 60,))

    def started(self, now: float | None = None) -> None:
        """Record that the service (re)started."""
        with self._connect() as conn:
            conn.execute("INSERT INTO starts VALUES (?)", (time.time() if now is None else now,))

    def last_start(self) -> float | None:
        """When the service last started (Unix time), None when never recorded."""
        with self._connect() as conn:
            return conn.execute("SELECT max(time) FROM starts").fetchone()[0]

    def buckets(self, since: float, until: float, step: int) -> list[Bucket]:
        """Requests per ``step`` seconds from ``since`` to ``until`` (empty buckets too)."""
        self.flush()
        first = int(since // step)
        count = int(-(-(until - first * step) // step))
        totals = {i: [0, 0, 0.0] for i in range(count)}
        monitoring = ",".join("?" * len(MONITORING))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT (minute * 60) / ? - ?, sum(requests), sum(errors), sum(seconds) "
                f"FROM requests WHERE minute >= ? AND minute < ? "
                f"AND endpoint NOT IN ({monitoring}) GROUP BY 1",
                (step, first, int(first * step // 60), int(-(-until // 60)), *MONITORING),
            )
            for index, requests, errors, seconds in rows:
                if index in totals:
                    totals[index] = [requests, errors, seconds]
        return [Bucket((first + i) * step, *totals[i]) for i in range(count)]

    def operations(self, since: float) -> list[OperationSummary]:
        """Requests per endpoint and operation since ``since``, most requested first."""
        self.flush()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT endpoint, operation, sum(requests), sum(errors), "
                "sum(seconds) / sum(requests), max(max_seconds) FROM requests "
                "WHERE minute >= ? GROUP BY endpoint, operation ORDER BY 3 DESC, 1, 2",
                (int(since // 60),),
            )
            return [OperationSummary(*row) for row in rows]

    def availability(self, since: float, until: float) -> float | None:
        """Share of the minutes with a healthy heartbeat, from ``since`` or the first record.

        Returns
        -------
        float or None
            0..1; None when no heartbeat was recorded in the period.
        """
        with self._connect() as conn:
            first, last, healthy = conn.execute(
                "SELECT min(minute), max(minute), sum(healthy) FROM heartbeats "
                "WHERE minute >= ? AND minute <= ?",
                (int(since // 60), int(until // 60)),
            ).fetchone()
        if first is None:
            return None
        # up to the last whole minute: the current one may not have its heartbeat yet
        minutes = max(int(until // 60) - 1, last) - first + 1
        return min(1.0, healthy / minutes)


class Heartbeat:
    """Records every ``interval`` seconds whether the service is healthy, for its uptime.

    Records start once the service first answers (or ``grace`` seconds after this object
    was made, when it never does): a service booting is not counted as down.

    Parameters
    ----------
    log
        Where to record.
    check
        Returns whether the service is healthy (e.g. asks its ``/health``).
    """

    def __init__(
        self,
        log: RequestLog,
        check: Callable[[], bool],
        interval: float = 30,
        grace: float = 120,
        poll: float = 1,
    ):
        self.log = log
        self.check = check
        self.interval = interval
        self.grace = grace
        self.poll = poll
        self.began = time.monotonic()
        self.due = self.began
        self.recording = False

    def tick(self) -> None:
        """Check and record when due; call this often (e.g. in a supervisor's loop)."""
        if time.monotonic() < self.due:
            return
        healthy = self.check()
        self.recording = self.recording or healthy or time.monotonic() - self.began > self.grace
        if self.recording:
            try:
                self.log.heartbeat(healthy)
            except sqlite3.Error as err:
                LOGGER.warning("cannot record the heartbeat: %s", err)
        self.due = time.monotonic() + (self.interval if self.recording else self.poll)
