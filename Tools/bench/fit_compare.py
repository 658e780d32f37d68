#!/usr/bin/env python3
"""Times `berg fit` against scikit-learn on img2brain's size (issue 14's benchmark), whole
process, side by side on the data `Tools/bench/fit_data.py` writes.

    Tools/reference/.venv/bin/python Tools/bench/fit_compare.py --data DIR --task lasso \\
        --side berg --berg .build/release/berg
    Tools/reference/.venv/bin/python Tools/bench/fit_compare.py --data DIR --task lasso \\
        --side sklearn [--pieces 0-2,3-5,6-9,refit]

Tasks (N = 8,857 stimuli, P = 9,216 features):
  lasso    PCA(100, svd_solver='full') + Lasso(0.01), 10-fold KFold, the first 2,000 voxels
  ridgecv  RidgeCV(10 alphas from 1 to 1e9, alpha_per_target=True), no PCA, 20 % held out,
           10,000 voxels (or --voxels V)
Both sides then refit the pipeline on all rows and write scores, predictions and the model.

Each side runs as its own process; its wall time and peak RSS (ru_maxrss of the child) are
printed. scikit-learn's full-SVD folds take over a minute each, so its side can run in pieces
(`--pieces`, each a separate process of at most a few minutes, for /work/quiet.sh): each piece
loads the data again, and the script reports the sum of the pieces' compute times plus one
load, which is what one process would take, and the largest peak RSS. Threads: whatever the
environment gives both (2 cores here; OPENBLAS_* left alone).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ALPHAS = [float(a) for a in np.logspace(0, 9, 10)]


def berg_command(args, out):
    data = args.data
    if args.task == "lasso":
        return [args.berg, "fit", "--features", f"{data}/acts.h5", "--layer", "features.12", "--responses", f"{data}/Y2000.npy",
                "--pca", "100", "--estimator", "lasso", "--alpha", "0.01", "--cv", "10", "--output-dir", out]
    responses = f"{data}/Y.npy" if args.voxels is None else f"{data}/Y{args.voxels}.npy"
    return [args.berg, "fit", "--features", f"{data}/acts.h5", "--layer", "features.12", "--responses", responses,
            "--estimator", "ridge", "--alphas", ",".join(repr(a) for a in ALPHAS), "--val-fraction", "0.2", "--output-dir", out]


def run_child(command):
    start = time.time()
    completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB
    return completed, wall, peak


def sklearn_worker(args):
    """One process: load, the folds in `--piece`, optionally the refit; prints JSON timings."""
    import h5py
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Lasso, RidgeCV
    from sklearn.model_selection import KFold, train_test_split
    from sklearn.pipeline import Pipeline

    t0 = time.time()
    with h5py.File(f"{args.data}/acts.h5") as f:
        x = f["features.12"][()].reshape(8857, -1)
    if args.task == "lasso":
        y = np.load(f"{args.data}/Y2000.npy")
        folds = list(KFold(10).split(x))
        make = lambda: Pipeline([("pca", PCA(n_components=100, svd_solver="full")), ("lasso", Lasso(alpha=0.01))])
    else:
        y = np.load(f"{args.data}/Y.npy" if args.voxels is None else f"{args.data}/Y{args.voxels}.npy")
        train, test = train_test_split(np.arange(len(x)), test_size=0.2, shuffle=False)
        folds = [(train, test)]
        make = lambda: RidgeCV(alphas=ALPHAS, alpha_per_target=True)
    load = time.time() - t0
    timings = {"load": load, "folds": {}, "refit": None}
    out = tempfile.mkdtemp()
    piece = args.piece
    if piece != "refit":
        first, last = (int(p) for p in piece.split("-"))
        for index in range(first, last + 1):
            t = time.time()
            tr, te = folds[index]
            model = make().fit(x[tr], y[tr])
            predicted = model.predict(x[te]).astype(np.float32)
            a = predicted - predicted.mean(0)
            b = y[te] - y[te].mean(0)
            scores = (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))
            np.save(f"{out}/predictions{index}.npy", predicted)
            np.save(f"{out}/scores{index}.npy", scores)
            timings["folds"][index] = time.time() - t
    else:
        t = time.time()
        model = make().fit(x, y)
        np.savez(f"{out}/model.npz", coef=getattr(model, "coef_", None) if args.task == "ridgecv" else model[-1].coef_)
        timings["refit"] = time.time() - t
    print(json.dumps(timings))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--task", choices=["lasso", "ridgecv"], required=True)
    parser.add_argument("--side", choices=["berg", "sklearn"], required=True)
    parser.add_argument("--berg", default=".build/release/berg")
    parser.add_argument("--pieces", help="sklearn: comma-separated fold ranges (0-2) and 'refit'")
    parser.add_argument("--voxels", type=int, help="ridgecv: read Y<V>.npy instead of Y.npy")
    parser.add_argument("--piece", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.piece:
        return sklearn_worker(args)
    if args.side == "berg":
        out = tempfile.mkdtemp()
        completed, wall, peak = run_child(berg_command(args, out))
        if completed.returncode != 0:
            sys.exit(completed.stderr)
        print(completed.stderr.strip())
        print(f"berg fit {args.task}: {wall:.1f} s wall, peak RSS {peak:.0f} MiB")
        return
    default = "0-9,refit" if args.task == "lasso" else "0-0,refit"
    total, peak_max, load = 0.0, 0.0, None
    for piece in (args.pieces or default).split(","):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        command = [sys.executable, __file__, "--data", args.data, "--task", args.task, "--side", "sklearn", "--piece", piece]
        if args.voxels:
            command += ["--voxels", str(args.voxels)]
        completed, wall, peak = run_child(command)
        if completed.returncode != 0:
            sys.exit(completed.stderr)
        timings = json.loads(completed.stdout.strip().splitlines()[-1])
        compute = sum(timings["folds"].values()) + (timings["refit"] or 0)
        total += compute
        load = timings["load"] if load is None else min(load, timings["load"])
        peak_max = max(peak_max, peak)
        print(f"scikit-learn piece {piece}: {wall:.1f} s wall (load {timings['load']:.1f} s, compute {compute:.1f} s), "
              f"peak RSS so far {peak:.0f} MiB; folds {timings['folds']}", flush=True)
    print(f"scikit-learn {args.task}: {total + load:.1f} s (one load + every piece's compute), peak RSS {peak_max:.0f} MiB")


if __name__ == "__main__":
    main()
