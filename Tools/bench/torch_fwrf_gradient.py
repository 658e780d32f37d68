#!/usr/bin/env python3
"""PyTorch autograd's input-gradient throughput on BERG's fwRF network, beside
`berg bench-gradient fmri-nsd-fwrf` (Tools/bench/fwrf_gradient_bench.sh runs both).

Run as:
    python3 Tools/bench/torch_fwrf_gradient.py --berg-dir /tmp/fwrf-full --roi V1 --batch 8 --repeats 5
Library versions: Python 3.11, torch 2.15.0, torchvision 0.29.2, numpy 2.4.6.

It loads the checkpoints (BERG's layout; the full-size random ones that
Tools/reference/make_fwrf_fixtures.py --full-dir writes) into that script's PyTorch network
(BERG's maths), freezes the weights, and times f(x).sum().backward() for float images x in
[0, 1] at 227 × 227, f = the mean response over the ROI's voxels: what `berg attribute` computes
at each step. All threads; the best of the runs is reported, with the process's peak memory.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from torch_compare_fwrf import roi_models  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berg-dir", required=True)
    parser.add_argument("--roi", default="V1")
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = roi_models(args.berg_dir, args.subject, args.roi)
    for net, readout in models:
        for p in list(net.parameters()) + list(readout.parameters()):
            p.requires_grad_(False)
    voxels = sum(len(r.b) for _, r in models)
    x0 = torch.from_numpy(np.random.default_rng(1).random((args.batch, 3, 227, 227), dtype=np.float32))

    def gradient():
        x = x0.clone().requires_grad_(True)
        f = torch.cat([readout(net(x)) for net, readout in models], 1).mean(dim=1)
        f.sum().backward()
        return x.grad

    gradient()  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        g = gradient()
        times.append(time.perf_counter() - start)
    best = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch input gradient fwrf roi={args.roi} voxels={voxels} batch={args.batch} threads={args.threads}: "
          f"best {best:.3f} s, {args.batch / best:.2f} images/s (runs: {', '.join(f'{t:.3f}' for t in times)}); "
          f"peak memory {peak:.0f} MB; gradient {tuple(g.shape)}")


if __name__ == "__main__":
    main()
