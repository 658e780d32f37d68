#!/usr/bin/env bash
# Input-gradient throughput of fmri-nsd-fwrf's mean ROI response, batch 8 at 227 × 227:
# BERG for Swift (`berg bench-gradient`) beside PyTorch autograd (torch_fwrf_gradient.py),
# all threads, on random full-size checkpoints in BERG's layout (V1: 1,350 voxels).
#
#   Tools/bench/fwrf_gradient_bench.sh [SCRATCH_DIR] [ROI...]     (default /tmp/fwrf-full V1)
#
# The checkpoints are made once with Tools/reference/make_fwrf_fixtures.py --full-dir (needs
# torch; never committed). Run it through /work/quiet.sh on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch="${1:-/tmp/fwrf-full}"
shift || true
rois=("${@:-V1}")
# The reference venv (torch), else the python3 on PATH.
python="${PYTHON:-$( [ -x Tools/reference/.venv/bin/python ] && echo Tools/reference/.venv/bin/python || echo python3 )}"
if [ ! -f "$scratch/encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/encoding_models_weights/weights_sub-01_roi-V1.pt" ]; then
    "$python" Tools/reference/make_fwrf_fixtures.py --out "$scratch/reduced" --full-dir "$scratch"
fi
swift build -c release --product berg
for roi in "${rois[@]}"; do
    .build/release/berg bench-gradient fmri-nsd-fwrf --subject 1 --roi "$roi" --berg-dir "$scratch" --batch 8 --repeats 5
    "$python" Tools/bench/torch_fwrf_gradient.py --berg-dir "$scratch" --roi "$roi" --batch 8 --repeats 5
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
