#!/usr/bin/env python3
"""Fixtures for BERGAnalysis' RSA (issue 16), made by rsatoolbox, SciPy, scikit-learn, h5py and
nibabel.

Command line (from the repository root):

    Tools/reference/.venv/bin/python Tools/reference/make_rsa_fixtures.py

Made with: Python 3.11.7, numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1, rsatoolbox 0.3.2,
h5py 3.16.0 (HDF5 2.0.0), nibabel 5.4.2. Each run writes its versions to
Tests/BERGAnalysisTests/Fixtures/rsa/VERSIONS.txt. Re-running gives the same numbers (fixed
seeds); the .h5 and .nii.gz files may differ in bytes that hold no data (time stamps).

Writes into Tests/BERGAnalysisTests/Fixtures/rsa/:

- patterns.npy: float64 [12, 30] stimulus patterns, and patterns.<method>.npy, the condensed
  upper triangle (row-major, i < j) that each reference gives:
  rsatoolbox_correlation (calc_rdm 'correlation'), rsatoolbox_euclidean (calc_rdm 'euclidean',
  which is Σ(a−b)²/P: our sqeuclidean --per-unit), scipy_euclidean, scipy_sqeuclidean and
  scipy_cosine (scipy.spatial.distance.pdist). offset_patterns.npy is the same with a large
  positive offset (ReLU-like features), with the same five references.
- pca_wide.npy [15, 40] (K = 5) and pca_tall.npy [40, 8] (K = 3), float64, and for each
  sklearn's PCA(n_components=K, svd_solver='full'): <name>.scores.npy (fit_transform),
  .components.npy, .mean.npy, .explained_variance.npy, .singular_values.npy; and
  pca_wide.rsatoolbox_correlation.npy, rsatoolbox's correlation RDM of the scores (`--pca 5`).
- features.h5: what `berg features` writes (issue 14): one float32 dataset per layer at the
  root, named as PyTorch names the module (features.0 [12, 4, 3, 3], features.3 [12, 6, 2, 2],
  classifier.1 [12, 10]), stimulus_names, and root attributes; beside it
  features.<layer>.rsatoolbox_correlation.npy, from each layer flattened per stimulus (C order)
  and widened to float64.
- responses.h5 (root dataset responses [12, 25]) and hemispheres.h5 (responses/lh [12, 9],
  responses/rh [12, 11]), what `berg encode` writes, with <file>.<output>.rsatoolbox_correlation.npy.
- bold.nii.gz, an int16 4-D volume [5, 4, 3, 12] with scl_slope 0.5 and scl_inter 10 (stimuli
  on the last axis), mask.nii.gz, a float32 [5, 4, 3] mask with values -1, 0, 1, 2; and
  bold.rsatoolbox_correlation.npy from nibabel's get_fdata()[mask > 0].T.
- compare_<case>_a.npy / _b.npy: condensed RDMs (case continuous: 20 stimuli; case ties:
  40 stimuli with many tied values, B a two-category model RDM of 0s and 1s), the square
  forms <...>.square.npy, and compare.json: rsatoolbox.rdm.compare(A, B, method) for 'corr',
  'spearman', 'tau-a' and 'cosine'.
- resampling.json: for case continuous, fixed stimulus permutations and bootstrap samples,
  and rsatoolbox's value for each: compare(A reordered by perm, B) and
  compare(A.subsample_pattern('index', sample), B.subsample_pattern('index', sample)), which
  sets the pairs of a stimulus drawn twice to NaN and leaves them out.
- rsatoolbox_saved.h5: two RDMs saved by rsatoolbox's RDMs.save(file_type='hdf5'), with
  rdm_descriptors name and pattern_descriptors stimulus_names: the layout our .h5 copies.

CI does not run this script; the fixtures are committed.
"""
import json
import os
import sys
from copy import deepcopy

import h5py
import nibabel as nib
import numpy as np
import scipy
import sklearn
from importlib.metadata import version
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import RDMs, calc_rdm, compare, concat
from scipy.spatial.distance import pdist, squareform
from sklearn.decomposition import PCA

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "BERGAnalysisTests", "Fixtures", "rsa")
rng = np.random.default_rng(20261125)
METHODS = ["corr", "spearman", "tau-a", "cosine"]


def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array))


def rsa_rdm(x, method):
    """rsatoolbox's condensed RDM of the rows of x."""
    return calc_rdm(Dataset(np.asarray(x, dtype=np.float64)), method=method).dissimilarities[0]


def make_patterns():
    x = rng.normal(size=(12, 30))
    for name, data in [("patterns", x), ("offset_patterns", np.maximum(x, 0) * 3 + 50)]:
        save(f"{name}.npy", data)
        save(f"{name}.rsatoolbox_correlation.npy", rsa_rdm(data, "correlation"))
        save(f"{name}.rsatoolbox_euclidean.npy", rsa_rdm(data, "euclidean"))
        for metric in ["euclidean", "sqeuclidean", "cosine"]:
            save(f"{name}.scipy_{metric}.npy", pdist(data, metric))


def make_pca():
    for name, shape, k in [("pca_wide", (15, 40), 5), ("pca_tall", (40, 8), 3)]:
        # Correlated columns, so the components are well separated.
        x = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1])) + rng.normal(size=shape[1]) * 4
        save(f"{name}.npy", x)
        pca = PCA(n_components=k, svd_solver="full")
        scores = pca.fit_transform(x)
        save(f"{name}.scores.npy", scores)
        save(f"{name}.components.npy", pca.components_)
        save(f"{name}.mean.npy", pca.mean_)
        save(f"{name}.explained_variance.npy", pca.explained_variance_)
        save(f"{name}.singular_values.npy", pca.singular_values_)
        if name == "pca_wide":
            save(f"{name}.rsatoolbox_correlation.npy", rsa_rdm(scores, "correlation"))


def stimulus_names(n):
    return [f"img_{i:02d}.png" for i in range(n)]


def make_features_file():
    n = 12
    layers = {"features.0": (n, 4, 3, 3), "features.3": (n, 6, 2, 2), "classifier.1": (n, 10)}
    with h5py.File(os.path.join(OUT, "features.h5"), "w", track_order=True) as f:
        for layer, shape in layers.items():
            values = np.maximum(rng.normal(size=shape), 0).astype(np.float32)
            f[layer] = values
            save(f"features.{layer}.rsatoolbox_correlation.npy",
                 rsa_rdm(values.reshape(n, -1).astype(np.float64), "correlation"))
        f["stimulus_names"] = np.array(stimulus_names(n), dtype=h5py.string_dtype())
        f.attrs["network"] = "alexnet"
        f.attrs["weights_sha256"] = "0" * 64
        f.attrs["preprocessing"] = "resize 256, centre crop 224, ImageNet mean and std"
        f.attrs["berg_version"] = "0.1.0"


def make_response_files():
    n = 12
    names = np.array(stimulus_names(n), dtype=h5py.string_dtype())
    with h5py.File(os.path.join(OUT, "responses.h5"), "w") as f:
        values = rng.normal(size=(n, 25)).astype(np.float32)
        f["responses"] = values
        f["stimulus_names"] = names
        save("responses.responses.rsatoolbox_correlation.npy", rsa_rdm(values.astype(np.float64), "correlation"))
    with h5py.File(os.path.join(OUT, "hemispheres.h5"), "w") as f:
        for output, width in [("lh", 9), ("rh", 11)]:
            values = rng.normal(size=(n, width)).astype(np.float32)
            f[f"responses/{output}"] = values
            save(f"hemispheres.{output}.rsatoolbox_correlation.npy",
                 rsa_rdm(values.astype(np.float64), "correlation"))
        f["stimulus_names"] = names


def make_nifti():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-4, -3, -2]
    stored = rng.integers(-300, 300, size=(5, 4, 3, 12)).astype(np.int16)
    bold = nib.Nifti1Image(stored, affine)
    bold.header.set_data_dtype(np.int16)
    bold.header.set_slope_inter(0.5, 10.0)
    nib.save(bold, os.path.join(OUT, "bold.nii.gz"))
    mask = rng.choice(np.array([-1, 0, 1, 2], dtype=np.float32), size=(5, 4, 3))
    nib.save(nib.Nifti1Image(mask, affine), os.path.join(OUT, "mask.nii.gz"))
    data = nib.load(os.path.join(OUT, "bold.nii.gz")).get_fdata()
    selected = data[nib.load(os.path.join(OUT, "mask.nii.gz")).get_fdata() > 0]  # [V, T]
    save("bold.rsatoolbox_correlation.npy", rsa_rdm(selected.T, "correlation"))


def rdm_pair(case):
    if case == "continuous":
        n = 20
        a = rng.normal(size=(n, 15))
        b = a + rng.normal(size=(n, 15)) * 1.5
        return rsa_rdm(a, "correlation"), rsa_rdm(b, "correlation")
    n = 40
    a = np.round(rsa_rdm(rng.normal(size=(n, 6)), "euclidean") * 2) / 2  # a few levels: many ties
    category = np.arange(n) % 2
    b = pdist(category[:, None], lambda u, v: float(u[0] != v[0]))
    return a, b


def make_comparisons():
    results = {}
    for case in ["continuous", "ties"]:
        a, b = rdm_pair(case)
        for side, v in [("a", a), ("b", b)]:
            save(f"compare_{case}_{side}.npy", v)
            save(f"compare_{case}_{side}.square.npy", squareform(v))
        results[case] = {m: float(compare(RDMs(a[None]), RDMs(b[None]), method=m)[0, 0]) for m in METHODS}
        if case == "continuous":
            make_resampling(a, b)
    with open(os.path.join(OUT, "compare.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)


def make_resampling(a, b):
    n = squareform(a).shape[0]
    rdm_a, rdm_b = RDMs(a[None]), RDMs(b[None])
    permutations = [rng.permutation(n).tolist() for _ in range(3)]
    samples = [sorted(rng.integers(0, n, size=n).tolist()) for _ in range(3)]
    out = {"permutations": permutations, "samples": samples, "permuted": {}, "bootstrapped": {}}
    reordered = []
    for p in permutations:
        copy = deepcopy(rdm_a)
        copy.reorder(np.array(p))  # in place: entry (i, j) becomes A[p[i], p[j]]
        reordered.append(copy)
    for m in METHODS:
        out["permuted"][m] = [float(compare(r, rdm_b, method=m)[0, 0]) for r in reordered]
        out["bootstrapped"][m] = [
            float(compare(rdm_a.subsample_pattern("index", s), rdm_b.subsample_pattern("index", s), method=m)[0, 0])
            for s in samples]
    with open(os.path.join(OUT, "resampling.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


def make_saved_rdms():
    path = os.path.join(OUT, "rsatoolbox_saved.h5")
    if os.path.exists(path):
        os.remove(path)
    names = stimulus_names(6)
    rdms = [calc_rdm(Dataset(rng.normal(size=(6, 5)), descriptors={"name": layer},
                             obs_descriptors={"stimulus_names": names}), method="correlation")
            for layer in ["features.0", "features.3"]]
    concat(rdms).save(path, file_type="hdf5")


def main():
    os.makedirs(OUT, exist_ok=True)
    make_patterns()
    make_pca()
    make_features_file()
    make_response_files()
    make_nifti()
    make_comparisons()
    make_saved_rdms()
    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write(f"python {sys.version.split()[0]}\nnumpy {np.__version__}\nscipy {scipy.__version__}\n"
                f"scikit-learn {sklearn.__version__}\nrsatoolbox {version('rsatoolbox')}\n"
                f"h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version})\nnibabel {nib.__version__}\n")


if __name__ == "__main__":
    main()
