#!/usr/bin/env python3
"""Runs ResNet-18, AlexNet and ViT-B/32 (random weights, 224×224, eval, inference mode) in
PyTorch and through `berg bench` on the same machine, side by side, and prints the ratio
berg / PyTorch of images per second.

    swift build -c release --product berg
    python3 Tools/bench/torch_compare.py [--berg .build/release/berg] [--batch 1 64] [--threads 1 2]

Each configuration: one warm-up pass, then the best of --repeats timed passes, for both.
The machine may be shared with other work: rerun when numbers look noisy.
"""
import argparse
import os
import re
import subprocess
import time

import torch
import torchvision

NETWORKS = {"resnet18": torchvision.models.resnet18, "alexnet": torchvision.models.alexnet,
            "vit_b_32": torchvision.models.vit_b_32}


def torch_images_per_second(name, batch, threads, repeats):
    torch.set_num_threads(threads)
    model = NETWORKS[name](weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        model(x)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - start)
    return batch / best


def berg_images_per_second(berg, name, batch, threads, repeats):
    out = subprocess.run([berg, "bench", "--network", name, "--batch", str(batch), "--threads", str(threads),
                          "--repeats", str(repeats)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            return float(fields[3]), float(fields[-1])
    raise RuntimeError(f"no result line for {name} in:\n{out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--berg", default=".build/release/berg")
    ap.add_argument("--network", nargs="+", default=list(NETWORKS))
    ap.add_argument("--batch", nargs="+", type=int, default=[1, 64])
    ap.add_argument("--threads", nargs="+", type=int, default=sorted({1, os.cpu_count()}))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {os.cpu_count()} cores")
    print(f"{'network':10} {'batch':>5} {'threads':>7} {'torch img/s':>12} {'berg img/s':>11} {'ratio':>6} {'berg RSS MB':>11}")
    for name in args.network:
        for batch in args.batch:
            for threads in args.threads:
                t = torch_images_per_second(name, batch, threads, args.repeats)
                b, rss = berg_images_per_second(args.berg, name, batch, threads, args.repeats)
                print(f"{name:10} {batch:5d} {threads:7d} {t:12.2f} {b:11.2f} {b / t:6.2f} {rss:11.0f}", flush=True)


if __name__ == "__main__":
    main()
