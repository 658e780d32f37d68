#!/usr/bin/env bash
# BERG's ViT-B/32 models, whole process: BERG for Swift's `berg encode` beside BERG's Python
# package (Tools/bench/berg_vit_run.py) on the same 50 JPEG images (500×375), one subject, all
# outputs, no selection. Prints wall time (s) and peak resident memory (MB) of each process
# (/usr/bin/time), run after run, alternating the two engines so that both see the same load.
#
#   Tools/bench/vit_bench.sh [SCRATCH_DIR] [REPEATS]     (default /tmp/vit-full, 3)
#
# Run it through /work/quiet.sh on a shared machine. The scratch files are made once with
# Tools/reference/make_vit_fixtures.py --full-dir (a random full-size ViT-B/32, random weights
# in BERG's layout: EEG with 250 PCA components, 0.5 GB; fsaverage with 16, 62 MB; never
# committed). BERG's own code loads the same backbone from $TORCH_HOME's hub cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch="${1:-/tmp/vit-full}"
repeats="${2:-3}"
# The reference venv (torch, torchvision, scikit-learn), else the python3 on PATH.
python="${PYTHON:-$( [ -x Tools/reference/.venv/bin/python ] && echo Tools/reference/.venv/bin/python || echo python3 )}"
if [ ! -f "$scratch/backbone.pth" ]; then
    "$python" Tools/reference/make_vit_fixtures.py --full-dir "$scratch"
fi
mkdir -p "$scratch/torch_home/hub/checkpoints"
ln -sf "$scratch/backbone.pth" "$scratch/torch_home/hub/checkpoints/vit_b_32-d86f8d99.pth"
swift build -c release --product berg >/dev/null

# "seconds peak-MB" of one command, its output discarded.
measure() {
    if ! /usr/bin/time -f "%e %M" -o "$scratch/time.txt" "$@" >/dev/null 2>"$scratch/stderr.txt"; then
        cat "$scratch/stderr.txt" >&2
        exit 1
    fi
    awk '{ printf "%6.2f s %7.0f MB", $1, $2 / 1024 }' "$scratch/time.txt"
}

printf "%-28s %-6s %s\n" model engine "wall, peak RSS"
for model in eeg-things_eeg_2-vit_b_32 fmri-nsd_fsaverage-vit_b_32; do
    extension=$([ "$model" = eeg-things_eeg_2-vit_b_32 ] && echo npy || echo npz)
    for _ in $(seq "$repeats"); do
        printf "%-28s %-6s %s\n" "$model" swift "$(measure .build/release/berg encode "$model" --subject 1 \
            --berg-dir "$scratch/berg_dir" --artifact "backbone=$scratch/backbone.pth" \
            --input "$scratch/images" --output "$scratch/swift.$extension")"
        printf "%-28s %-6s %s\n" "$model" berg "$(TORCH_HOME="$scratch/torch_home" measure "$python" Tools/bench/berg_vit_run.py \
            --berg-repo-tree "$scratch/bergpkg" --berg-dir "$scratch/berg_dir" --model "$model" \
            --images "$scratch/images" --output "$scratch/berg.$extension")"
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
