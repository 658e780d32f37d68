#!/usr/bin/env python3
"""Times `berg encode img2fmri-bold5000 --space mni` (img2fmri's group-level MNI output) on 200
images, and the same steps in Python for one image (issue 20's benchmark).

    python3 Tools/bench/img2fmri_mni_bench.py --berg .build/release/berg [--images 200]

FSL and AFNI cannot be installed here, so img2fmri's own pipeline (3dresample, applywarp and
fslmaths per image and subject) is not timed; the Python stand-in of
Tools/reference/make_img2fmri_mni_fixtures.py (fslpy, NumPy, SciPy) is timed on one image
instead. Nothing is downloaded: `berg` gets a random-weight ResNet-18 in torchvision's layout
(`--artifact backbone=PATH`) and the wheel's files from an unpacked img2fmri 1.0 wheel
(`--artifact group=DIR`).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from img2fmri_compare import make_images, write_random_backbone  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berg", required=True, help="path to the built berg executable (release)")
    parser.add_argument("--wheel", default="/tmp/img2fmri/img2fmri-1.0-py3-none-any.whl")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="img2fmri-mni-bench-")
    images = os.path.join(work, "images")
    os.makedirs(images)
    make_images(images, args.images)
    backbone = os.path.join(work, "resnet18-random.pth")
    write_random_backbone(backbone)
    package = os.path.join(work, "wheel")
    with zipfile.ZipFile(args.wheel) as archive:
        archive.extractall(package)

    times = []
    for run in range(args.runs):
        out = os.path.join(work, "group.nii.gz")
        start = time.perf_counter()
        subprocess.run([args.berg, "encode", "img2fmri-bold5000", "--space", "mni", "--input", images, "--output", out,
                        "--artifact", f"backbone={backbone}", "--artifact", f"group={package}"],
                       check=True, env=dict(os.environ, BERG_OFFLINE="1"))
        times.append(time.perf_counter() - start)
    print(f"berg --space mni, {args.images} images 500×375 JPEG, all ROIs, σ = 1: "
          + ", ".join(f"{t:.1f} s" for t in times))

    import make_img2fmri_mni_fixtures as reference
    features = np.abs(np.random.default_rng(0).normal(size=(2, 512))).astype(np.float32)
    for n in range(2):
        start = time.perf_counter()
        reference.group_prediction(package, reference.ROIS, features[n], 1.0)
        print(f"Python stand-in for AFNI + FSL (fslpy, NumPy, SciPy), one image, three subjects: "
              f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
