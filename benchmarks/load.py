"""``python -m benchmarks.load``: many asynchronous submissions at once against a real service.

Starts the service (``cp4cds-wps start --daemon``, local backend, the test archive unless
``CP4CDS_WPS_ARCHIVE__BASE_DIR`` says otherwise) in a fresh var dir on a free port of
127.0.0.1, with ``--max-running`` jobs at once and room for all submissions in the queue.
Then it

1. submits ``--sequential`` jobs one at a time, for the latency of a submission alone, and
   waits for them;
2. submits ``--jobs`` asynchronous ``subset`` Executes (a year of monthly tas) at once, from
   as many client threads released together, and times each answer (submit latency);
3. asks GetCapabilities every ``--poll`` seconds while the jobs run, timing each;
4. waits until every job has ended and checks that all succeeded;

and prints the figures: submit latency p50/p95/p99 (goal: p95 <= 100 ms), GetCapabilities
latency p50/p95/p99 while the jobs run (goal: p95 <= 200 ms), and how long the jobs took.
The exit status is 0 when every job succeeded (whether or not the goals are met).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

from cp4cds_wps.config import load_settings
from cp4cds_wps.jobs.store import JobStore

#: One year of monthly tas: about a second of work per job.
DATA_INPUTS = (
    "collection=cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.latest.tas;"
    "time=1900-01-01/1900-12-30"
)
SUBMIT_GOAL = 0.100
CAPABILITIES_GOAL = 0.200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cp4cds_wps.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"cp4cds-wps {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def percentiles(seconds: list[float]) -> str:
    """``p50 / p95 / p99 / max`` in milliseconds."""
    values = np.percentile(seconds, [50, 95, 99, 100]) * 1000
    return " / ".join(f"{v:.0f}" for v in values) + " ms"


def submit(wps_url: str, start: threading.Barrier) -> tuple[float, str]:
    """Wait for the others, submit one job; its latency and status document URL."""
    query = urllib.parse.urlencode({
        "service": "WPS", "version": "1.0.0", "request": "Execute", "identifier": "subset",
        "DataInputs": DATA_INPUTS, "storeExecuteResponse": "true", "status": "true",
    })  # fmt: skip
    start.wait()
    began = time.perf_counter()
    response = requests.get(f"{wps_url}?{query}", timeout=600)
    took = time.perf_counter() - began
    location = re.search(r'statusLocation="([^"]+)"', response.text)
    if response.status_code != 200 or location is None:
        raise RuntimeError(f"submission refused ({response.status_code}): {response.text}")
    return took, location.group(1)


def run(jobs: int, max_running: int, poll: float, var_dir: Path, sequential: int = 10) -> int:
    """Start the service, submit, measure, print; 0 when every job succeeded."""
    port = _free_port()
    env = {
        **os.environ,
        "CP4CDS_WPS_PATHS__VAR_DIR": str(var_dir),
        "CP4CDS_WPS_SERVER__BIND": "127.0.0.1",
        "CP4CDS_WPS_SERVER__PORT": str(port),
        "CP4CDS_WPS_JOBS__MAX_RUNNING": str(max_running),
        "CP4CDS_WPS_JOBS__MAX_QUEUED": str(jobs + 10),
    }
    store = JobStore.from_settings(load_settings(env=env))
    url = f"http://127.0.0.1:{port}"
    capabilities = f"{url}/wps?service=WPS&request=GetCapabilities"
    _cli(env, "start", "--daemon")
    try:
        requests.get(capabilities, timeout=60)  # the first answer of each process is slower
        alone = [submit(f"{url}/wps", threading.Barrier(1)) for _ in range(sequential)]
        _wait_for_jobs(store)
        start = threading.Barrier(jobs)
        began = time.perf_counter()
        with ThreadPoolExecutor(jobs) as pool:
            submitted = list(pool.map(lambda _: submit(f"{url}/wps", start), range(jobs)))
        submitting = time.perf_counter() - began
        latencies = [took for took, _ in submitted]
        asked = []
        while (counts := store.counts())["accepted"] + counts["running"]:
            asked_at = time.perf_counter()
            requests.get(capabilities, timeout=60).raise_for_status()
            asked.append(time.perf_counter() - asked_at)
            time.sleep(poll)
        done = time.perf_counter() - began
        states = [store.get(location.rsplit("/", 1)[1].removesuffix(".xml")).state
                  for _, location in [*alone, *submitted]]  # fmt: skip
    finally:
        _cli(env, "stop")
    succeeded = states.count("succeeded")
    print(f"{jobs} asynchronous submissions at once, max_running={max_running}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    if alone:
        print(f"  one at a time before ({len(alone)}), submit latency p50 / p95 / p99 / max: "
              f"{percentiles([took for took, _ in alone])}")  # fmt: skip
    print(f"  all answered after {submitting:.1f} s ({submitting / jobs * 1000:.0f} ms each); "
          f"every job ended after {done:.1f} s ({jobs / done:.1f} jobs/s); "
          f"{succeeded} of {len(states)} succeeded")  # fmt: skip
    print(f"  submit latency p50 / p95 / p99 / max: {percentiles(latencies)} "
          f"(goal p95 <= {SUBMIT_GOAL * 1000:.0f} ms: "
          f"{'met' if np.percentile(latencies, 95) <= SUBMIT_GOAL else 'not met'})")  # fmt: skip
    if asked:
        met = np.percentile(asked, 95) <= CAPABILITIES_GOAL
        print(f"  GetCapabilities while the jobs ran ({len(asked)} requests) p50 / p95 / p99 / "
              f"max: {percentiles(asked)} (goal p95 <= {CAPABILITIES_GOAL * 1000:.0f} ms: "
              f"{'met' if met else 'not met'})")  # fmt: skip
    return 0 if succeeded == len(states) else 1


def _wait_for_jobs(store: JobStore) -> None:
    while (counts := store.counts())["accepted"] + counts["running"]:
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.load``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--jobs", type=int, default=200, help="submissions at once (200)")
    parser.add_argument("--max-running", type=int, default=2, help="jobs at once (2)")
    parser.add_argument(
        "--sequential", type=int, default=10, help="submissions one at a time before (10)"
    )
    parser.add_argument(
        "--poll", type=float, default=0.25, help="seconds between GetCapabilities (0.25)"
    )
    parser.add_argument(
        "--var-dir", type=Path, help="the service's var dir (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    var_dir = args.var_dir or Path(tempfile.mkdtemp(prefix="cp4cds-load-"))
    try:
        return run(args.jobs, args.max_running, args.poll, var_dir, args.sequential)
    finally:
        if args.var_dir is None:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
