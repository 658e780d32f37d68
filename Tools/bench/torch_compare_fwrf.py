#!/usr/bin/env python3
"""PyTorch's CPU throughput on BERG's fwRF network, for comparison with `berg bench fmri-nsd-fwrf`.

Made with / run as:
    python3 Tools/bench/torch_compare_fwrf.py --berg-dir /tmp/fwrf-full --roi V1 --batch 100 --repeats 3
Library versions: Python 3.11, torch 2.15.0, torchvision 0.29.2, numpy 2.4.6.

It loads the same checkpoints (BERG's layout; the full-size ones that
Tools/reference/make_fwrf_fixtures.py --full-dir writes) into the PyTorch network of that
script (BERG's maths: tensordot readout over a [V, B, 768] intermediate), and times the
forward pass on uint8 images of 227x227 (resize + network), eval mode, no_grad, all threads.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from make_fwrf_fixtures import REL, FeatureNet, Readout, responses  # noqa: E402


def load(path, subject):
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    enc = checkpoint["best_params"]["enc"]
    fw = checkpoint["best_params"]["fwrfs"][subject]
    net = FeatureNet(enc["mu"].numpy().copy())
    net.load_state_dict(enc)
    readout = Readout(len(fw["b"]))
    readout.load_state_dict(fw)
    return net.eval(), readout.eval()


def roi_models(berg_dir, subject, roi):
    """(network, readout) per checkpoint of an ROI: two splits for lateral and ventral."""
    folder = os.path.join(berg_dir, REL, "encoding_models_weights")
    stem = f"weights_sub-{subject:02d}_roi-{roi}"
    names = [f"{stem}_split-{i}.pt" for i in (1, 2)] if roi in ("lateral", "ventral") else [f"{stem}.pt"]
    return [load(os.path.join(folder, n), subject) for n in names]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berg-dir", required=True)
    parser.add_argument("--roi", default="V1")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = roi_models(args.berg_dir, args.subject, args.roi)
    voxels = sum(len(r.b) for _, r in models)
    images = np.random.default_rng(0).integers(0, 256, size=(args.batch, 3, 227, 227), dtype=np.uint8)
    responses(models, images[:2])  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = responses(models, images)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"pytorch fwrf roi={args.roi} voxels={voxels} batch={args.batch} threads={args.threads}: "
          f"best {best:.3f} s, {args.batch / best:.1f} images/s (runs: {', '.join(f'{t:.3f}' for t in times)}); "
          f"output {tuple(out.shape)}")


if __name__ == "__main__":
    main()
