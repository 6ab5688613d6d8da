#!/usr/bin/env bash
# CI: Debian's chromium for the dashboard's headless screenshot test
# (tests/integration/test_operations_http.py). Idempotent: does nothing when installed.
set -euo pipefail
if ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version
