#!/usr/bin/env bash
# Peak memory of `berg encode` against the number of images (issue #22): 200 and 2,000 JPEGs
# of 425×425 (NSD's size), through fmri-kay2013-css_prf and fmri-nsd-fwrf V1, whole process,
# measured with /usr/bin/time; and the throughput of the 200-image fwRF run.
#
#   Tools/bench/stream_memory.sh [SCRATCH_DIR]      (default /tmp/berg-stream)
#
# The images are made once with the reference venv's Pillow (random smooth images, JPEG
# quality 90); the fwRF checkpoints are the full-size random ones of
# Tools/reference/make_fwrf_fixtures.py --full-dir (made once, never committed).
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch="${1:-/tmp/berg-stream}"
python=Tools/reference/.venv/bin/python
fwrf="${FWRF_DIR:-$scratch/fwrf-full}"   # or an existing --full-dir
mkdir -p "$scratch"
if [ ! -f "$scratch/images-2000/img-1999.jpg" ]; then
    "$python" - "$scratch" <<'PY'
import os, sys
import numpy as np
from PIL import Image
root = sys.argv[1]
rng = np.random.default_rng(0)
for n in (200, 2000):
    folder = os.path.join(root, f"images-{n}")
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        small = rng.integers(0, 256, size=(17, 17, 3), dtype=np.uint8)
        Image.fromarray(small).resize((425, 425), Image.BICUBIC).save(os.path.join(folder, f"img-{i:04d}.jpg"), quality=90)
PY
fi
if [ ! -f "$fwrf/encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/encoding_models_weights/weights_sub-01_roi-V1.pt" ]; then
    "$python" Tools/reference/make_fwrf_fixtures.py --out "$scratch/reduced" --full-dir "$fwrf"
fi
swift build -c release --product berg
berg=.build/release/berg
peak() {  # peak RSS in MB and wall seconds of a command
    /usr/bin/time -f "%M %e" -o "$scratch/time.txt" "$@" >/dev/null 2>"$scratch/stderr.txt" || { cat "$scratch/stderr.txt"; exit 1; }
    read -r kb seconds <"$scratch/time.txt"
    echo "$((kb / 1024)) MB, $seconds s"
}
echo "model                  images  peak RSS, wall"
for n in 200 2000; do
    echo "fmri-kay2013-css_prf   $n    $(peak $berg encode fmri-kay2013-css_prf --subject 1 --roi V1 --input "$scratch/images-$n" --output "$scratch/css.h5")"
    echo "fmri-nsd-fwrf V1       $n    $(peak env BERG_OFFLINE=1 $berg encode fmri-nsd-fwrf --subject 1 --roi V1 --berg-dir "$fwrf" --input "$scratch/images-$n" --output "$scratch/fwrf.h5" --volume "$scratch/fwrf.nii.gz")"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
