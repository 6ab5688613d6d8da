"""``python -m cp4cds_wps.qc [--after-start]``: quality control of the configured inventory,
at a lower priority. ``cp4cds-wps start`` runs it in the background with ``--after-start``:
it begins once the service answers its health check (or after two minutes), so that it
does not slow the start."""

from __future__ import annotations

import os
import sys
import time
import urllib.request

from cp4cds_wps.config import load_settings

#: Seconds to wait for the service to answer before checking anyway.
START_WAIT = 120


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)


def main(argv: list[str]) -> int:
    """Run quality control once; print what it did."""
    os.nice(10)  # the service's requests go first
    settings = load_settings()
    if "--after-start" in argv:
        _wait_for(f"{settings.url}/health", START_WAIT)
    from cp4cds_wps.inventory import Inventory  # imported after the wait: the start goes first
    from cp4cds_wps.qc.run import run_qc

    report = run_qc(Inventory.from_settings(settings), settings.qc, progress=print)
    print(report.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
