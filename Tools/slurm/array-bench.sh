#!/usr/bin/env bash
# Tasks per hour through the local one-node Slurm cluster: a plan of TASKS tasks of IMAGES
# images each (fmri-nsd-fwrf V1 on random full-size checkpoints, one CPU per task), submitted
# with sbatch; the wall time from sbatch until the queue is empty, against the tasks' own
# time (their logs), gives what Slurm adds per task.
#
#   Tools/slurm/array-bench.sh [SCRATCH_DIR [TASKS [IMAGES]]]   (default /tmp/fwrf-full 64 1)
#
# Brings the cluster up when it is down, and down again after (root). The checkpoints come
# from Tools/reference/make_fwrf_fixtures.py --full-dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch="${1:-/tmp/fwrf-full}"
tasks="${2:-64}"
images="${3:-1}"
berg="$PWD/.build/release/berg"
cluster="$PWD/Tools/slurm/local-cluster.sh"
[ -x "$berg" ] || swift build -c release --product berg
work=$(mktemp -d /tmp/berg-array-bench.XXXXXX)
started_cluster=""
finish() {
    rm -rf "$work"
    [ -z "$started_cluster" ] || "$cluster" down >/dev/null 2>&1 || true
}
trap finish EXIT
eval "$("$cluster" env)"
if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then "$cluster" up >/dev/null 2>&1; started_cluster=1; fi

"$berg" stimuli retinotopy --size 425 --output "$work/retinotopy" >/dev/null
mkdir -p "$work/images"
count=$((tasks * images))
n=0
while [ $n -lt $count ]; do
    for image in "$work"/retinotopy/*.png; do
        [ $n -lt $count ] || break
        cp "$image" "$work/images/$(printf '%05d' $n).png"
        n=$((n + 1))
    done
done
export BERG_HOME="$work/home" BERG_OFFLINE=1
"$berg" plan fmri-nsd-fwrf --subject 1 --roi V1 --berg-dir "$scratch" --input "$work/images" --shards "$tasks" \
    --batch-size "$images" --cpus-per-task 1 --output-dir "$work/out" >/dev/null
slots=$(sinfo -h -o %c | head -1)
start=$(date +%s.%N)
sbatch --parsable "$work/out/berg-array.sbatch" >/dev/null
deadline=$((SECONDS + 1800))
until [ -z "$(squeue -h -o %i)" ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out" >&2; exit 1; }
    sleep 0.2
done
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
"$berg" status "$work/out" | grep -q "all $tasks tasks are done" || { "$berg" status "$work/out"; exit 1; }
own=$(cat "$work"/out/logs/*.log | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' | paste -sd+ | bc -l)
printf 'slurm array: %d tasks of %d image(s) on %d slots: %.1f s wall, %.0f tasks per hour; tasks themselves %.2f s each on average; Slurm adds %.2f s per task per slot\n' \
    "$tasks" "$images" "$slots" "$wall" "$(echo "$tasks * 3600 / $wall" | bc -l)" "$(echo "$own / $tasks" | bc -l)" \
    "$(echo "($wall * $slots - $own) / $tasks" | bc -l)"
