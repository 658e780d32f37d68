#!/usr/bin/env python3
"""Writes benchmark data of img2brain's size for `Tools/bench/fit_compare.py` (issue 14).

    Tools/reference/.venv/bin/python Tools/bench/fit_data.py DIR

DIR gets:
  acts.h5      float32 dataset `features.12` [8857, 256, 6, 6] (P = 9,216, AlexNet features.12's
               size) and `stimulus_names`, with `berg features`' attributes (network alexnet,
               torchvision's weights URL and SHA-256, its preprocessing) so that `berg fit`
               writes a full model package
  Y.npy        float32 [8857, 10000] responses
  Y2000.npy    float32 [8857, 2000]: the first 2,000 voxels (the Lasso benchmark's)

The features are non-negative like a ReLU layer's and have a decaying spectrum like real
network activations (ReLU of 400 latent factors with power-law scales plus noise), so that the
top principal components are well separated, as in AlexNet's features.12 of natural images.
The responses are a sparse linear model of the features plus noise. Seeded.
"""
import json
import os
import sys

import h5py
import numpy as np
import scipy.sparse as sp

N, P, V = 8857, 9216, 10000


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(2023)
    latent = 400
    scales = (np.arange(1, latent + 1) ** -0.6).astype(np.float32)
    z = rng.standard_normal((N, latent), dtype=np.float32) * scales
    mixing = rng.standard_normal((latent, P), dtype=np.float32) / np.float32(np.sqrt(latent))
    x = z @ mixing
    x += 0.05 * rng.standard_normal((N, P), dtype=np.float32)
    np.maximum(x, 0, out=x)
    assert x.dtype == np.float32
    x *= 10
    with h5py.File(os.path.join(folder, "acts.h5"), "w") as f:
        f.create_dataset("features.12", data=x.reshape(N, 256, 6, 6))
        f.create_dataset("stimulus_names", data=np.array([f"img{i:05d}.jpg" for i in range(N)], dtype=object),
                         dtype=h5py.string_dtype())
        f.attrs["network"] = "alexnet"
        f.attrs["layers"] = np.array(["features.12"], dtype=object)
        f.attrs["weights"] = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
        f.attrs["weights_sha256"] = "unknown: benchmark data, not made by berg features"
        f.attrs["preprocessing"] = json.dumps({"crop": 224, "mean": [0.485, 0.456, 0.406], "resize": "torchvision_bilinear",
                                               "shorter_side": 256, "std": [0.229, 0.224, 0.225]})
        f.attrs["berg_version"] = "bench"
    rows, cols, vals = [], [], []
    for v in range(V):
        chosen = rng.choice(P, 10, replace=False)
        rows += list(chosen); cols += [v] * 10; vals += list(rng.standard_normal(10))
    weights = sp.csc_matrix((vals, (rows, cols)), shape=(P, V), dtype=np.float32)
    signal = np.asarray((weights.T @ x.T).T, dtype=np.float32)
    signal /= signal.std(axis=0, keepdims=True) + 1e-6
    y = signal + 1.5 * rng.standard_normal((N, V), dtype=np.float32)
    np.save(os.path.join(folder, "Y.npy"), y)
    np.save(os.path.join(folder, "Y2000.npy"), np.ascontiguousarray(y[:, :2000]))


if __name__ == "__main__":
    main()
