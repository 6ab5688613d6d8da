#!/usr/bin/env bash
# CI of the Ansible deployment: ansible-lint and --syntax-check, then converge the playbook
# on this machine (inventory single: nginx on 127.0.0.1:8080, service on 127.0.0.1:5080,
# the test archive, the code of this checkout), converge again and require changed=0, and
# smoke-test through nginx. Ansible lives in its own venv, apart from the project's.
# Stops the service and nginx at the end, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
venv=${CP4CDS_CI_ANSIBLE_VENV:-/opt/cp4cds-ci/ansible-venv}
if [ ! -x "$venv/bin/ansible-playbook" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip 2>/dev/null || true
fi
"$venv/bin/pip" install --quiet "ansible-core>=2.19,<2.20" "ansible-lint>=26.10,<27" \
    2>/tmp/cp4cds-ci-pip.log || { cat /tmp/cp4cds-ci-pip.log; exit 1; }
export PATH="$venv/bin:$PATH" ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
log=$(mktemp -d)

stop_all() {
    local rc=$?
    if [ "$rc" != 0 ]; then
        for f in /var/lib/cp4cds-wps/log/service.log /var/lib/cp4cds-wps/log/gunicorn.log \
                 /var/log/nginx/error.log; do
            [ -f "$f" ] && { echo "--- end of $f"; tail -n 30 "$f"; }
        done
    fi
    if [ -x /opt/cp4cds-wps/venv/bin/cp4cds-wps ] && id cp4cds-wps >/dev/null 2>&1; then
        (cd /var/lib/cp4cds-wps && HOME=/var/lib/cp4cds-wps runuser -u cp4cds-wps -- \
            /opt/cp4cds-wps/venv/bin/cp4cds-wps stop --config /etc/cp4cds-wps/config.toml) || true
    fi
    if pgrep -x nginx >/dev/null; then nginx -s quit || true; fi
    exit "$rc"
}
trap stop_all EXIT

cd ansible
echo "ansible: lint"
ansible-lint --offline -q
ansible-playbook --syntax-check site.yml

recap() {  # "changed=N" of the PLAY RECAP of log $1
    grep -A1 '^PLAY RECAP' "$1" | grep -o 'changed=[0-9]*' | cut -d= -f2
}
echo "ansible: converge"
ansible-playbook site.yml >"$log/converge.log" 2>&1 || { cat "$log/converge.log"; exit 1; }
grep -B2 -E '^changed:' "$log/converge.log" | grep -E '^(TASK|RUNNING HANDLER)' || true
grep -A1 '^PLAY RECAP' "$log/converge.log"
grep -o 'cp4cds-wps service manager: [a-z]*' "$log/converge.log" | head -1 | sed 's/^/ansible: /'

echo "ansible: converge again (idempotence)"
ansible-playbook site.yml >"$log/idempotence.log" 2>&1 || { cat "$log/idempotence.log"; exit 1; }
grep -A1 '^PLAY RECAP' "$log/idempotence.log"
changed=$(recap "$log/idempotence.log")
if [ "$changed" != 0 ]; then
    echo "ansible: second run changed $changed tasks:"
    grep -B3 '^changed' "$log/idempotence.log"
    exit 1
fi
echo "ansible: idempotent (changed=0)"

echo "ansible: smoke test through nginx"
python3 tests/smoke.py http://127.0.0.1:8080 /var/lib/cp4cds-wps/outputs
echo "ansible: passed in $((SECONDS - start)) s"
