#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying `berg plan` job arrays and for
# `make test-slurm`: Debian's slurm-wlm and munge (Tools/install-deps.sh --slurm installs
# them), configured for localhost with this machine's cores and memory.
#
#   Tools/slurm/local-cluster.sh up       start munged, slurmctld and slurmd; wait until the node is idle
#   Tools/slurm/local-cluster.sh down     stop them (and munged, if this script started it)
#   Tools/slurm/local-cluster.sh status   sinfo and squeue
#   Tools/slurm/local-cluster.sh env      the SLURM_CONF line for a shell
#
# Made for a container or VM without systemd, as root (the daemons run as root; jobs run as
# the submitting user). Nothing uses cgroups: processes are tracked by their parent
# (proctrack/linuxproc), tasks are not bound (task/none), and --mem is a scheduling figure,
# not a limit. Everything lives in $BERG_SLURM_DIR (default /tmp/berg-slurm); /etc/slurm is
# left alone unless it has no slurm.conf, in which case a link to ours is made so that sbatch
# and squeue find the cluster without SLURM_CONF (and removed again by `down`).
# Every wait has a deadline: on a timeout the script prints the daemons' logs and exits 1.
set -euo pipefail

state="${BERG_SLURM_DIR:-/tmp/berg-slurm}"
conf="$state/slurm.conf"
system_conf=/etc/slurm/slurm.conf
timeout="${BERG_SLURM_TIMEOUT:-60}"
export SLURM_CONF="$conf"

say() { echo "local-cluster: $*" >&2; }
fail() { say "$*"; exit 1; }

show_logs() {
    for log in "$state"/log/*.log /var/log/munge/munged.log; do
        [ -f "$log" ] || continue
        echo "---- last lines of $log" >&2
        tail -n 25 "$log" >&2
    done
}

# wait_for SECONDS DESCRIPTION COMMAND…: retries COMMAND every half second until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            show_logs
            fail "timed out after ${seconds} s waiting for $what"
        fi
        sleep 0.5
    done
}

need_root() {
    [ "$(id -u)" -eq 0 ] || fail "run as root (it starts munged, slurmctld and slurmd): sudo $0 $*"
}

need_packages() {
    for tool in slurmctld slurmd sbatch munged munge; do
        command -v "$tool" >/dev/null || fail "$tool is missing: install Slurm and munge with Tools/install-deps.sh --slurm"
    done
}

munge_works() { munge -n | unmunge; }

start_munge() {
    if munge_works >/dev/null 2>&1; then
        say "munged is already running"
        return
    fi
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        say "creating the munge key $key"
        install -d -o munge -g munge -m 0700 /etc/munge
        if command -v mungekey >/dev/null; then mungekey --create --keyfile="$key"; else dd if=/dev/urandom of="$key" bs=1024 count=1 status=none; fi
    fi
    chown munge:munge "$key"
    chmod 0400 "$key"
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged
    touch "$state/munged.started-here"
    wait_for "$timeout" "munged to answer" munge_works
}

stop_munge() {
    [ -f "$state/munged.started-here" ] || return 0
    if [ -f /run/munge/munged.pid ]; then
        local pid
        pid=$(cat /run/munge/munged.pid)
        kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    fi
    rm -f "$state/munged.started-here"
}

write_config() {
    local host cpus memory
    host=$(hostname -s)
    # slurmd -C reports what this node has; keep its CPU and memory figures.
    cpus=$(slurmd -C | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
    memory=$(slurmd -C | sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p')
    [ -n "$cpus" ] && [ -n "$memory" ] || fail "slurmd -C did not report CPUs and RealMemory: $(slurmd -C)"
    mkdir -p "$state/spool" "$state/ctld" "$state/log"
    cat >"$conf" <<EOF
# Written by Tools/slurm/local-cluster.sh: a one-node cluster on $host.
ClusterName=berg-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
# No cgroups: plain process tracking, no binding, memory as a scheduling figure only.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# scancel: SIGTERM, then SIGKILL 10 s later; finished jobs stay visible for 5 minutes.
KillWait=10
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if [ ! -e "$system_conf" ]; then
        mkdir -p /etc/slurm
        ln -s "$conf" "$system_conf"
        touch "$state/conf-linked-here"
    fi
    say "$host: $cpus CPUs, $memory MB (config $conf)"
}

node_idle() { sinfo -h -N -o '%T' | grep -qx 'idle'; }

up() {
    need_root up
    need_packages
    mkdir -p "$state"
    if scontrol ping 2>/dev/null | grep -q 'is UP' && node_idle; then
        say "already up"
        sinfo >&2
        return
    fi
    write_config
    start_munge
    slurmctld -c   # a clean start: no jobs left from an earlier run
    wait_for "$timeout" "slurmctld to answer" sh -c "scontrol ping | grep -q 'is UP'"
    slurmd
    wait_for "$timeout" "the node to be idle" node_idle
    sinfo >&2
    say "up; sbatch, squeue and scancel need SLURM_CONF=$conf (set for you when /etc/slurm had no slurm.conf)"
}

down() {
    need_root down
    if [ -f "$conf" ]; then
        scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        scontrol shutdown 2>/dev/null || true
        for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid"; do
            [ -f "$pidfile" ] || continue
            pid=$(cat "$pidfile")
            deadline=$((SECONDS + 20))
            while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
            if kill -0 "$pid" 2>/dev/null; then
                say "$(basename "$pidfile" .pid) did not stop within 20 s: killing it"
                kill -9 "$pid" 2>/dev/null || true
            fi
        done
    fi
    stop_munge
    if [ -f "$state/conf-linked-here" ]; then
        [ -L "$system_conf" ] && rm -f "$system_conf"
        rm -f "$state/conf-linked-here"
    fi
    say "down"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) sinfo && squeue ;;
    env) echo "export SLURM_CONF=$conf" ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
