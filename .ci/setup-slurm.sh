#!/usr/bin/env bash
# Install and start a one-node Slurm cluster (Debian slurm-wlm + munge) for the slurm backend
# tests. Idempotent, needs no input, runs as root, no systemd: the daemons are started by hand.
# Ends when `sinfo` shows the node idle.
set -euo pipefail

NODE=$(hostname -s)
CONF=/etc/slurm/slurm.conf

log() { echo "setup-slurm: $*"; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
}

start_munge() {
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating the munge key"
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    # munged needs its socket folder; clients (running as any user) need to reach it
    install -d -o munge -g munge -m 755 /run/munge
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "setup-slurm: munged does not answer" >&2
    exit 1
}

# slurm.conf for this machine: one node with the CPUs and memory `slurmd -C` measures.
write_config() {
    local node_line
    node_line=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$NODE/")
    install -d /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
    cat >"$CONF.new" <<EOF
# Written by .ci/setup-slurm.sh: a one-node cluster for tests, no accounting.
ClusterName=cp4cds
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
MinJobAge=60
SlurmctldTimeout=30
SlurmdTimeout=30
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if cmp -s "$CONF.new" "$CONF"; then
        rm "$CONF.new"
        return
    fi
    log "writing $CONF: $node_line"
    mv "$CONF.new" "$CONF"
    stop_daemon slurmd
    stop_daemon slurmctld
}

running() { kill -0 "$(cat "/run/$1.pid" 2>/dev/null)" 2>/dev/null; }

stop_daemon() {
    if running "$1"; then
        log "stopping $1 (configuration changed)"
        kill "$(cat "/run/$1.pid")"
        while running "$1"; do sleep 0.2; done
    fi
}

start_daemons() {
    if ! running slurmctld; then
        log "starting slurmctld"
        slurmctld
    fi
    if ! running slurmd; then
        log "starting slurmd"
        slurmd
    fi
}

wait_idle() {
    local state=""
    for _ in $(seq 120); do
        state=$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null || true)
        case "$state" in
            idle | mixed | allocated) log "node $NODE is $state"; return ;;
            down* | drain*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    echo "setup-slurm: node $NODE did not become idle (state: ${state:-unknown})" >&2
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    exit 1
}

install_packages
start_munge
write_config
start_daemons
wait_idle
