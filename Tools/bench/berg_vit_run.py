#!/usr/bin/env python3
"""One whole-process run of BERG's Python package on a folder of images, for
Tools/bench/vit_bench.sh: import BERG, load the model for one subject (all outputs, no
selection), encode every image, save the responses with np.save.

    python3 Tools/bench/berg_vit_run.py --berg-repo-tree DIR --berg-dir DIR \
        --model eeg-things_eeg_2-vit_b_32 --images DIR --output OUT.npy

BERG loads its backbone with torchvision's vit_b_32(weights='DEFAULT'), which reads
$TORCH_HOME/hub/checkpoints/vit_b_32-d86f8d99.pth when it is there (the benchmark puts a
random full-size ViT-B/32 there; BERG's code runs unchanged). The images are decoded with
Pillow into one uint8 [N, 3, H, W] array, as BERG's tutorials do.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berg-repo-tree", required=True, help="a folder holding BERG's `berg` package")
    parser.add_argument("--berg-dir", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.berg_repo_tree)
    from berg import BERG  # noqa: E402  (imports torch, torchvision, scikit-learn)

    names = sorted(f for f in os.listdir(args.images) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    images = np.stack([np.asarray(Image.open(os.path.join(args.images, f)).convert("RGB")).transpose(2, 0, 1)
                       for f in names])
    berg = BERG(berg_dir=args.berg_dir)
    model = berg.get_encoding_model(args.model, subject=1, device="cpu")
    responses = berg.encode(model, images, show_progress=False)
    if isinstance(responses, tuple):  # fsaverage: (lh, rh)
        np.savez(args.output, lh=responses[0], rh=responses[1])
    else:
        np.save(args.output, responses)


if __name__ == "__main__":
    main()
