#!/usr/bin/env python3
"""Times `berg rsa` against rsatoolbox 0.3.2 on issue 16's three sizes, side by side.

    swift build -c release --product berg
    /work/quiet.sh Tools/reference/.venv/bin/python Tools/bench/rsa_compare.py --task rdm
    /work/quiet.sh Tools/reference/.venv/bin/python Tools/bench/rsa_compare.py --task tau
    /work/quiet.sh Tools/reference/.venv/bin/python Tools/bench/rsa_compare.py --task permutations

Tasks (each under about two minutes, so one quiet.sh run each):

- rdm: the correlation RDM of 5,000 stimuli × 10,000 units (float64 normal):
  rsatoolbox `calc_rdm(Dataset(x), method='correlation')` against
  `berg rsa rdm x.npy --metric correlation --output rdm.h5`;
- tau: Kendall's τ-a of two 2,000-stimulus RDMs (1,999,000 pairs):
  `compare(a, b, method='tau-a')` against `berg rsa compare a.npy b.npy --method kendall-tau-a`;
- permutations: 1,000 permutations of a Spearman comparison of two 500-stimulus RDMs:
  rsatoolbox's `compare(a.reorder(p), b, method='spearman')` for 1,000 random p (a copy of a
  reordered each time, the way a user permutes with rsatoolbox) against
  `berg rsa compare a.npy b.npy --method spearman --permutations 1000`.

rsatoolbox is timed in this process with its inputs already in memory. berg is timed as the
whole command (process start, reading the .npy files, writing the output), best of
--repeats, so its number includes what rsatoolbox's leaves out. For tau, where that share is
large, the script also gives berg's computation alone: the whole command less the same
command with --method pearson, which starts, reads the same two files and does an O(pairs)
comparison. The inputs are written once into --scratch (default /tmp/berg-rsa-bench), never
committed.
"""
import argparse
import os
import subprocess
import time
from copy import deepcopy

import numpy as np
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import RDMs, calc_rdm, compare
from scipy.spatial.distance import squareform


def timed(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def berg_time(berg, arguments, repeats):
    return timed(lambda: subprocess.run([berg] + arguments, check=True, capture_output=True), repeats)


def random_rdm(n, rng):
    return calc_rdm(Dataset(rng.normal(size=(n, 20))), method="correlation").dissimilarities[0]


def prepare(scratch, name, make):
    path = os.path.join(scratch, name)
    if not os.path.exists(path):
        np.save(path, make())
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["rdm", "tau", "permutations"], required=True)
    ap.add_argument("--berg", default=".build/release/berg")
    ap.add_argument("--scratch", default="/tmp/berg-rsa-bench")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.scratch, exist_ok=True)
    rng = np.random.default_rng(0)

    if args.task == "rdm":
        path = prepare(args.scratch, "patterns_5000x10000.npy", lambda: rng.normal(size=(5000, 10000)))
        x = np.load(path)
        reference = timed(lambda: calc_rdm(Dataset(x), method="correlation"), 1)
        ours = berg_time(args.berg, ["rsa", "rdm", path, "--metric", "correlation",
                                     "--output", os.path.join(args.scratch, "rdm.h5")], args.repeats)
        label = "correlation RDM, 5,000 stimuli x 10,000 units"
    elif args.task == "tau":
        a = prepare(args.scratch, "rdm2000_a.npy", lambda: squareform(random_rdm(2000, rng)))
        b = prepare(args.scratch, "rdm2000_b.npy", lambda: squareform(random_rdm(2000, rng)))
        ra, rb = RDMs(squareform(np.load(a))[None]), RDMs(squareform(np.load(b))[None])
        reference = timed(lambda: compare(ra, rb, method="tau-a"), args.repeats)
        ours = berg_time(args.berg, ["rsa", "compare", a, b, "--method", "kendall-tau-a"], args.repeats)
        baseline = berg_time(args.berg, ["rsa", "compare", a, b, "--method", "pearson"], args.repeats)
        label = "Kendall tau-a, two 2,000-stimulus RDMs (1,999,000 pairs)"
        print(f"{label}: berg computation alone (whole command {ours:.3f} s less {baseline:.3f} s with "
              f"--method pearson) {ours - baseline:.3f} s, {reference / (ours - baseline):.1f}x faster than rsatoolbox")
    else:
        a = prepare(args.scratch, "rdm500_a.npy", lambda: squareform(random_rdm(500, rng)))
        b = prepare(args.scratch, "rdm500_b.npy", lambda: squareform(random_rdm(500, rng)))
        ra, rb = RDMs(squareform(np.load(a))[None]), RDMs(squareform(np.load(b))[None])
        orders = [rng.permutation(500) for _ in range(1000)]

        def permute_all():
            for order in orders:
                permuted = deepcopy(ra)
                permuted.reorder(order)
                compare(permuted, rb, method="spearman")
        reference = timed(permute_all, 1)
        ours = berg_time(args.berg, ["rsa", "compare", a, b, "--method", "spearman", "--permutations", "1000"], args.repeats)
        label = "1,000 permutations of Spearman, two 500-stimulus RDMs"
    print(f"{label}: rsatoolbox {reference:.3f} s, berg (whole command) {ours:.3f} s, "
          f"berg {reference / ours:.1f}x faster")
    print(f"load average: {' '.join(open('/proc/loadavg').read().split()[:3])} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
