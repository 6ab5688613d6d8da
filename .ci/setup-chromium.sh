#!/usr/bin/env bash
# CI: Debian's chromium and chromedriver for the headless browser tests (the dashboard's
# screenshot in tests/integration/test_operations_http.py, the catalogue's selenium tests in
# tests/integration/test_catalogue_browser.py). Idempotent: does nothing when installed.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromium --version
chromedriver --version
