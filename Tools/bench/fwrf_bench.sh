#!/usr/bin/env bash
# fmri-nsd-fwrf throughput: BERG for Swift (`berg bench fmri-nsd-fwrf`) beside PyTorch
# (Tools/bench/torch_compare_fwrf.py), batch 100, all threads, on random full-size
# checkpoints in BERG's layout (V1 1,350 voxels; lateral 7,799 in two splits).
#
#   Tools/bench/fwrf_bench.sh [SCRATCH_DIR]     (default /tmp/fwrf-full)
#
# The checkpoints are made once with Tools/reference/make_fwrf_fixtures.py --full-dir
# (needs torch; about 40 MB per checkpoint, never committed). The two engines run one
# after the other per ROI, so that both see the same machine load.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch="${1:-/tmp/fwrf-full}"
if [ ! -f "$scratch/encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/encoding_models_weights/weights_sub-01_roi-V1.pt" ]; then
    python3 Tools/reference/make_fwrf_fixtures.py --out "$scratch/reduced" --full-dir "$scratch"
fi
swift build -c release --product berg
for roi in V1 lateral; do
    .build/release/berg bench fmri-nsd-fwrf --berg-dir "$scratch" --roi "$roi" --batch 100 --repeats 3
    python3 Tools/bench/torch_compare_fwrf.py --berg-dir "$scratch" --roi "$roi" --batch 100 --repeats 3
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
