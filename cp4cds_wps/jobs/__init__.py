"""Asynchronous jobs: a store that holds them, a dispatcher that runs them on a backend.

Nothing lives only in memory: a job is a row of the job store from submission to removal,
and every process (web server, dispatcher, worker) reads and changes it there.
"""

from cp4cds_wps.jobs.store import (
    FINAL,
    STATES,
    JobRecord,
    JobStore,
    NoSuchJob,
    NotOwner,
    QueueFull,
)

__all__ = ["FINAL", "STATES", "JobRecord", "JobStore", "NoSuchJob", "NotOwner", "QueueFull"]
