#!/usr/bin/env bash
# Per-task overhead and per-image time of sharded encoding (`berg plan` + `berg run-task`) for
# fmri-nsd-fwrf on random full-size checkpoints (V1 1,350 voxels; lateral 7,799 in two splits),
# one thread per task as an array task with --cpus-per-task=1 runs (THREADS=N for N).
#
#   [THREADS=N] Tools/bench/shard_overhead.sh [SCRATCH_DIR [ROI ...]]   (default /tmp/fwrf-full; V1 lateral)
#
# For each ROI: 8 tasks of 1 image each (plan --shards 8 --batch-size 1) give the time of a task
# that is almost all overhead; 1 task of 256 images gives the time per image; then
#   per image = (T256 − T1) / 255,   overhead = T1 − per image
# (overhead = process start-up, reading the plan, checking the task's inputs, loading the model
# and writing the shard). Images: the 32 retinotopy stimuli at 425×425 (NSD's size), 8 copies.
# Run it through /work/quiet.sh (or on an idle machine); the checkpoints come from
# Tools/reference/make_fwrf_fixtures.py --full-dir (needs torch; never committed).
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch="${1:-/tmp/fwrf-full}"
shift || true
if [ $# -gt 0 ]; then rois=("$@"); else rois=(V1 lateral); fi
berg=.build/release/berg
[ -x "$berg" ] || swift build -c release --product berg
work=$(mktemp -d /tmp/berg-shard-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
threads="${THREADS:-1}"
export BERG_HOME="$work/home" BERG_OFFLINE=1 BERG_NUM_THREADS="$threads"

"$berg" stimuli retinotopy --size 425 --output "$work/retinotopy" >/dev/null
mkdir -p "$work/all" "$work/eight"
for image in "$work"/retinotopy/*.png; do
    for copy in a b c d e f g h; do cp "$image" "$work/all/$(basename "$image" .png)-$copy.png"; done
done
ls "$work/all" | head -8 | while read -r name; do cp "$work/all/$name" "$work/eight/"; done

seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }

for roi in "${rois[@]}"; do
    "$berg" plan fmri-nsd-fwrf --subject 1 --roi "$roi" --berg-dir "$scratch" --input "$work/eight" --shards 8 \
        --batch-size 1 --cpus-per-task "$threads" --output-dir "$work/one-$roi" >/dev/null
    "$berg" plan fmri-nsd-fwrf --subject 1 --roi "$roi" --berg-dir "$scratch" --input "$work/all" --shards 1 \
        --cpus-per-task "$threads" --output-dir "$work/many-$roi" >/dev/null
    ones=()
    for task in 0 1 2 3 4 5 6 7; do ones+=("$(seconds "$berg" run-task "$work/one-$roi" "$task")"); done
    t1=$(printf '%s\n' "${ones[@]}" | sort -n | sed -n 4p)    # the median of 8
    t256=$(seconds "$berg" run-task "$work/many-$roi" 0)
    per_image=$(echo "($t256 - $t1) / 255" | bc -l)
    overhead=$(echo "$t1 - $per_image" | bc -l)
    printf "fwrf %-8s $threads thread(s): task of 1 image %.2f s (median of 8), of 256 images %.1f s; per image %.3f s (%.1f images/s); per-task overhead %.2f s\n" \
        "$roi" "$t1" "$t256" "$per_image" "$(echo "1 / $per_image" | bc -l)" "$overhead"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
