#!/usr/bin/env bash
# `make test-slurm`: a sharded job through a real (one-node) Slurm cluster, end to end.
#
#   1. brings the cluster up (Tools/slurm/local-cluster.sh, as root);
#   2. plans a fixture job: 2 subjects × 2 ROIs (V1, V2) × 3 shards = 12 tasks over 96 images,
#      through the built-in pRF model given a second subject by a test registry folder (the
#      manifest of fmri-kay2013-css_prf with subjects 1 and 2, as slurm-test-css_prf);
#   3. submits it with sbatch;
#   4. cancels one task mid-way with scancel (one that is running; should it finish first,
#      another), waits for the array, checks that `berg status` names that task alone as
#      failed, and submits the sbatch line it prints; only that task runs again;
#   5. merges, and checks with h5diff that each (subject, ROI)'s responses and stimulus names
#      equal a single-process `berg encode` over all images (same batch size and threads);
#   6. tears the cluster down (also on failure; then the work folder is kept).
# Every wait has a deadline (BERG_SLURM_TEST_TIMEOUT, default 900 s in all).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
berg="$root/.build/release/berg"
cluster="$root/Tools/slurm/local-cluster.sh"
deadline=$((SECONDS + ${BERG_SLURM_TEST_TIMEOUT:-900}))
work=$(mktemp -d /tmp/berg-test-slurm.XXXXXX)
out="$work/out"

step() { echo "== test-slurm: $*"; }
fail() { echo "test-slurm: FAILED: $*" >&2; exit 1; }

finish() {
    local status=$?
    "$cluster" down || true
    if [ $status -eq 0 ]; then rm -rf "$work"; else echo "test-slurm: files kept in $work" >&2; fi
}
trap finish EXIT

# until_true DESCRIPTION COMMAND…: retries COMMAND every 0.2 s until it succeeds or the deadline passes.
until_true() {
    local what=$1
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || { squeue >&2 || true; fail "timed out waiting for $what"; }
        sleep 0.2
    done
}
queue_empty() { [ -z "$(squeue -h -o %i)" ]; }

[ -x "$berg" ] || fail "$berg is missing: make test-slurm builds it (swift build -c release --product berg)"

step "cluster up"
"$cluster" up
eval "$("$cluster" env)"

step "fixture: a two-subject pRF manifest, 96 images"
mkdir -p "$work/registry"
sed -e 's/^model_id: fmri-kay2013-css_prf$/model_id: slurm-test-css_prf/' \
    -e '/^  subject:/,/^  selection:/s/valid_values: \[1\]/valid_values: [1, 2]/' \
    registry/fmri-kay2013-css_prf.yaml >"$work/registry/slurm-test-css_prf.yaml"
grep -q 'valid_values: \[1, 2\]' "$work/registry/slurm-test-css_prf.yaml" || fail "could not give the test manifest two subjects"
"$berg" stimuli retinotopy --size 1024 --output "$work/retinotopy" >/dev/null
mkdir -p "$work/images"
for image in "$work"/retinotopy/*.png; do
    name=$(basename "$image" .png)
    for copy in a b c; do cp "$image" "$work/images/$name-$copy.png"; done
done
export BERG_HOME="$work/home" BERG_OFFLINE=1
model=(slurm-test-css_prf --registry "$work/registry")

step "plan"
"$berg" plan "${model[@]}" --subject 1 --subject 2 --roi V1 --roi V2 \
    --input "$work/images" --shards 3 --batch-size 8 --cpus-per-task 1 --output-dir "$out" \
    --sbatch-option --time=00:30:00
grep -q '^#SBATCH --array=0-11$' "$out/berg-array.sbatch" || fail "the sbatch script has no --array=0-11 line"

step "sbatch"
started=$SECONDS
job=$(sbatch --parsable "$out/berg-array.sbatch")
echo "job $job"

step "scancel one task mid-way"
victim=""
# A task's output name (such as 1_V1_2-of-3), from plan.json's task list.
task_name() { sed -n "/\"index\" : $1,/,/\"output\"/s/.*\"output\" : \"shards\/\(.*\)\.h5\".*/\1/p" "$out/plan.json"; }
task_gone() { [ -z "$(squeue -h -o %i -j "${job}_$1" 2>/dev/null)" ]; }
# scancel a running task (SIGCONT, SIGTERM, SIGKILL 10 s later); it counts when the task had
# not written its shard by the time it left the queue, else another one is tried.
stop_one() {
    local marker index
    for marker in "$out"/tasks/*.running; do
        [ -e "$marker" ] || continue
        index=$(basename "$marker" .running)
        scancel "${job}_${index}" 2>/dev/null || continue
        until_true "task $index to leave the queue" task_gone "$index"
        if [ ! -e "$out/shards/$(task_name "$index").h5" ]; then
            victim=$index
            return 0
        fi
        echo "task $index finished before scancel reached it; trying another"
    done
    return 1
}
stop_one_while_queued() {
    stop_one && return 0
    queue_empty && fail "every task finished before one could be stopped (a faster machine? more images would help)"
    return 1
}
until_true "a running task to stop" stop_one_while_queued
echo "cancelled task $victim ($(task_name "$victim")) mid-way"

step "wait for the array to finish"
until_true "job $job to leave the queue" queue_empty
first_run=$((SECONDS - started))
"$berg" status "$out" | tee "$work/status-1.txt"
grep -q '^done     11$' "$work/status-1.txt" || fail "expected 11 tasks done"
grep -q '^failed   1$' "$work/status-1.txt" || fail "expected 1 failed task"
grep -q "^  $victim .*SIGTERM" "$work/status-1.txt" || fail "expected task $victim to be failed by SIGTERM"
rerun=$(grep '^sbatch ' "$work/status-1.txt")
[ "$rerun" = "sbatch --array=$victim $out/berg-array.sbatch" ] || fail "unexpected rerun line: $rerun"

step "resubmit what berg status printed: $rerun"
before=$(stat -c '%n %Y' "$out"/shards/*.h5 | sort)
eval "$rerun"
until_true "the rerun to leave the queue" queue_empty
"$berg" status "$out" | tee "$work/status-2.txt"
grep -q '^all 12 tasks are done' "$work/status-2.txt" || fail "expected all 12 tasks done after the rerun"
after=$(stat -c '%n %Y' "$out"/shards/*.h5 | sort | grep -vF "$(task_name "$victim").h5")
[ "$(echo "$before")" = "$after" ] || fail "the rerun rewrote shards of tasks that were done"

step "merge, and compare with single-process runs"
"$berg" merge "$out"
mkdir -p "$work/single"
for subject in 1 2; do
    for roi in V1 V2; do
        single="$work/single/${subject}_$roi.h5"
        BERG_NUM_THREADS=1 "$berg" encode "${model[@]}" --subject "$subject" --roi "$roi" \
            --input "$work/images" --batch-size 8 --output "$single" 2>/dev/null
        for dataset in /responses /stimulus_names; do
            h5diff "$out/${subject}_$roi.h5" "$single" "$dataset" "$dataset" \
                || fail "$dataset of ${subject}_$roi differs between the merged shards and a single run"
        done
        echo "${subject}_$roi: responses and stimulus names equal to a single run"
    done
done

step "timings"
seconds=$(cat "$out"/logs/*.log | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' | sort -n | tr '\n' ' ')
echo "array of 12 tasks (one stopped) on $(nproc) cores: ${first_run} s; tasks per hour: $((12 * 3600 / (first_run > 0 ? first_run : 1)))"
echo "task wall times (s, sorted): $seconds"
step "passed"
