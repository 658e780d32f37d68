#!/usr/bin/env python3
"""Reference fixtures for `berg fit` (issue 14): scikit-learn's cross-validated pipelines on
random features with responses from a sparse linear model plus noise.

Command line (run from the repository root):
    Tools/reference/.venv/bin/python Tools/reference/make_fit_fixtures.py

Made with Python 3.11, scikit-learn 1.9.1, NumPy 2.4.6, SciPy 1.17.1, h5py, nibabel 5.4.2.

Writes Tests/BERGAnalysisTests/Fixtures/fit/:

  A.X.npy, A.Y.npy     float32 [120, 300] features (ReLU of a rank-8 signal plus noise, so
                       that the PCA has structure) and float32 [120, 40] responses; voxel 7 is
                       constant (its correlation is NaN)
  A.acts.h5            A's features as a `berg features` file: dataset `features.12`
                       [120, 3, 10, 10] (flattened in C order it is A.X) and stimulus_names
  A.Y.h5               A's responses as dataset `betas/all` [120, 40]
  A.Y.nii.gz           A's responses in a 4-D volume [5, 6, 4, 120] (float32): voxel v of A.Y
                       is the v-th voxel of A.mask.nii.gz > 0 in NumPy's C order; the other
                       voxels hold noise
  A.mask.nii.gz        float32 [5, 6, 4]: 40 voxels > 0 (some 0.5, some 2), the rest 0 or < 0
  B.X.npy, B.Y.npy     float64 [150, 40] features and [150, 30] responses (more rows than units)
  C.X.npy, C.Y.npy     float64 [80, 200] features and [80, 25] responses (fewer rows than units)
  cases.json           each case: its data set, the `berg fit` flags, the estimator family
  <case>.scores.npy        float64 [V, folds]: Pearson r (or r2_score) per voxel and fold on the
                           held-out rows (r computed in float64 from the float32 predictions)
  <case>.predictions.npy   float32 [rows, V]: the held-out predictions (every row for KFold, the
                           validation rows for a hold-out split)
  <case>.coef.npy, <case>.intercept.npy   the pipeline refitted on all rows: the estimator's
                           coef_ [V, p] and intercept_ [V] (PLS: intercept at x = 0 of its input,
                           intercept_ − x_mean·coef_ᵀ)
  <case>.pca_mean.npy, <case>.pca_components.npy   the refit's PCA mean_ and components_
  <case>.alphas.npy        RidgeCV's alpha_ per voxel for the refit on all rows
  <case>.fold_alphas.npy   [V, folds]: alpha_ per voxel in each fold

Each fold fits `Pipeline([PCA(n_components=K, svd_solver='full'), estimator])` (or the estimator
alone) on the training rows, with scikit-learn's defaults: LinearRegression(), Ridge(alpha),
RidgeCV(alphas, alpha_per_target=True), Lasso(alpha), ElasticNet(alpha, l1_ratio),
PLSRegression(n_components). Folds are KFold(K) (contiguous, no shuffle) or
train_test_split(test_size=F, shuffle=False). `--zscore-features` is scipy.stats.zscore(X,
axis=1) before everything. Features keep their dtype (float32 A runs in float32 where
scikit-learn keeps it).
"""
import json
import os
import warnings

import h5py
import nibabel as nib
import numpy as np
from scipy import stats
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import Pipeline

OUT = os.path.join("Tests", "BERGAnalysisTests", "Fixtures", "fit")
rng = np.random.default_rng(1414)


def sparse_responses(x, voxels, noise, dtype):
    p = x.shape[1]
    weights = np.zeros((p, voxels))
    for v in range(voxels):
        chosen = rng.choice(p, 5, replace=False)
        weights[chosen, v] = rng.normal(0, 1, 5)
    signal = x.astype(np.float64) @ weights
    y = signal + noise * signal.std() * rng.normal(size=signal.shape)
    return y.astype(dtype)


def dataset_a():
    z = rng.normal(size=(120, 8))
    mixing = rng.normal(size=(8, 300))
    x = np.maximum(z @ mixing + 0.7 * rng.normal(size=(120, 300)), 0).astype(np.float32)
    y = sparse_responses(x, 40, 0.8, np.float32)
    y[:, 7] = 3.0
    return x, y


def dataset_b():
    x = rng.normal(size=(150, 40)) @ np.diag(np.linspace(2, 0.2, 40)) + 1.5
    return x, sparse_responses(x, 30, 1.0, np.float64)


def dataset_c():
    z = rng.normal(size=(80, 5))
    x = z @ rng.normal(size=(5, 200)) + rng.normal(size=(80, 200)) + 0.5
    return x, sparse_responses(x, 25, 1.0, np.float64)


CASES = [
    # name, data set, flags
    ("pca_linear_A", "A", ["--pca", "20", "--estimator", "linear", "--cv", "5"]),
    ("linear_B", "B", ["--estimator", "linear", "--cv", "5"]),
    ("linear_C", "C", ["--estimator", "linear", "--cv", "4"]),
    ("pca_ridge_A", "A", ["--pca", "15", "--estimator", "ridge", "--alpha", "10", "--cv", "5"]),
    ("ridge_B", "B", ["--estimator", "ridge", "--alpha", "3", "--cv", "3"]),
    ("ridge_C", "C", ["--estimator", "ridge", "--alpha", "50", "--cv", "4"]),
    ("pca_ridgecv_A", "A", ["--pca", "25", "--estimator", "ridge", "--alphas", "0.1,1,10,100,1000", "--cv", "5"]),
    ("ridgecv_B", "B", ["--estimator", "ridge", "--alphas", "0.01,0.1,1,10,100,1000", "--cv", "5"]),
    ("ridgecv_C", "C", ["--estimator", "ridge", "--alphas", "0.01,0.1,1,10,100,1000,10000,100000",
                         "--val-fraction", "0.2"]),
    ("pca_lasso_A", "A", ["--pca", "30", "--estimator", "lasso", "--alpha", "0.01", "--val-fraction", "0.2"]),
    ("lasso_B", "B", ["--estimator", "lasso", "--alpha", "0.05", "--cv", "3"]),
    ("lasso_C", "C", ["--estimator", "lasso", "--alpha", "0.3", "--cv", "4"]),
    ("pca_elasticnet_A", "A", ["--pca", "20", "--estimator", "elasticnet", "--alpha", "0.02", "--l1-ratio", "0.3", "--cv", "4"]),
    ("elasticnet_B", "B", ["--estimator", "elasticnet", "--alpha", "0.1", "--cv", "5"]),
    ("pls_B", "B", ["--estimator", "pls", "--components", "10", "--cv", "10"]),
    ("pca_pls_A", "A", ["--pca", "30", "--estimator", "pls", "--components", "5", "--cv", "5"]),
    ("pls_C", "C", ["--estimator", "pls", "--components", "3", "--cv", "4"]),
    ("zscore_pca_linear_A_r2", "A", ["--zscore-features", "--pca", "10", "--estimator", "linear", "--cv", "5",
                                     "--score", "r2"]),
]


def flag(flags, name, default=None):
    return flags[flags.index(name) + 1] if name in flags else default


def estimator(flags):
    kind = flag(flags, "--estimator")
    alpha = float(flag(flags, "--alpha", 1.0))
    if kind == "linear":
        return LinearRegression()
    if kind == "ridge":
        if "--alphas" in flags:
            return RidgeCV(alphas=[float(a) for a in flag(flags, "--alphas").split(",")], alpha_per_target=True)
        return Ridge(alpha=alpha)
    if kind == "lasso":
        return Lasso(alpha=alpha)
    if kind == "elasticnet":
        return ElasticNet(alpha=alpha, l1_ratio=float(flag(flags, "--l1-ratio", 0.5)))
    if kind == "pls":
        return PLSRegression(n_components=int(flag(flags, "--components", 2)))
    raise ValueError(kind)


def pipeline(flags):
    steps = []
    if "--pca" in flags:
        steps.append(("pca", PCA(n_components=int(flag(flags, "--pca")), svd_solver="full")))
    steps.append(("estimator", estimator(flags)))
    return Pipeline(steps)


def pearson(a, b):
    a = a.astype(np.float64) - a.astype(np.float64).mean()
    b = b.astype(np.float64) - b.astype(np.float64).mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return np.nan if den == 0 else (a * b).sum() / den


def splits(flags, n):
    if "--val-fraction" in flags:
        rows = np.arange(n)
        train, test = train_test_split(rows, test_size=float(flag(flags, "--val-fraction")), shuffle=False)
        return [(train, test)]
    return list(KFold(int(flag(flags, "--cv", 5))).split(np.arange(n)))


def run_case(name, x, y, flags):
    if "--zscore-features" in flags:
        x = stats.zscore(x, axis=1)
    folds = splits(flags, len(x))
    v = y.shape[1]
    scores = np.zeros((v, len(folds)))
    predictions, fold_alphas = [], np.zeros((v, len(folds)))
    for f, (train, test) in enumerate(folds):
        model = pipeline(flags).fit(x[train], y[train])
        predicted = model.predict(x[test]).astype(np.float32)
        predictions.append(predicted)
        for j in range(v):
            if flag(flags, "--score", "correlation") == "r2":
                scores[j, f] = r2_score(y[test][:, j], predicted[:, j])
            else:
                scores[j, f] = pearson(predicted[:, j], y[test][:, j])
        last = model.steps[-1][1]
        if isinstance(last, RidgeCV):
            fold_alphas[:, f] = last.alpha_
    np.save(os.path.join(OUT, f"{name}.scores.npy"), scores)
    np.save(os.path.join(OUT, f"{name}.predictions.npy"), np.concatenate(predictions))
    if "--alphas" in flags:
        np.save(os.path.join(OUT, f"{name}.fold_alphas.npy"), fold_alphas)
    # The refit on all rows.
    model = pipeline(flags).fit(x, y)
    last = model.steps[-1][1]
    coef = np.asarray(last.coef_, dtype=np.float64).reshape(v, -1)
    intercept = np.asarray(last.intercept_, dtype=np.float64).reshape(v)
    if isinstance(last, PLSRegression):
        intercept = intercept - coef @ last._x_mean
    np.save(os.path.join(OUT, f"{name}.coef.npy"), coef)
    np.save(os.path.join(OUT, f"{name}.intercept.npy"), intercept)
    if "--pca" in flags:
        pca = model.steps[0][1]
        np.save(os.path.join(OUT, f"{name}.pca_mean.npy"), pca.mean_.astype(np.float64))
        np.save(os.path.join(OUT, f"{name}.pca_components.npy"), pca.components_.astype(np.float64))
    if isinstance(last, RidgeCV):
        np.save(os.path.join(OUT, f"{name}.alphas.npy"), np.asarray(last.alpha_, dtype=np.float64))


def main():
    os.makedirs(OUT, exist_ok=True)
    data = {"A": dataset_a(), "B": dataset_b(), "C": dataset_c()}
    for key, (x, y) in data.items():
        np.save(os.path.join(OUT, f"{key}.X.npy"), x)
        np.save(os.path.join(OUT, f"{key}.Y.npy"), y)
    x, y = data["A"]
    with h5py.File(os.path.join(OUT, "A.acts.h5"), "w") as f:
        f.create_dataset("features.12", data=x.reshape(120, 3, 10, 10))
        f.create_dataset("stimulus_names", data=np.array([f"img{i:03d}.png" for i in range(120)], dtype=object),
                         dtype=h5py.string_dtype())
    with h5py.File(os.path.join(OUT, "A.Y.h5"), "w") as f:
        f.create_dataset("betas/all", data=y)
    # A 4-D volume whose masked voxels, in C order, are A's responses.
    mask = np.zeros((5, 6, 4), dtype=np.float32)
    flat = rng.permutation(120)[:60]
    mask.reshape(-1)[flat[:40]] = rng.choice([0.5, 2.0], 40)
    mask.reshape(-1)[flat[40:]] = -1.0
    volume = rng.normal(size=(5, 6, 4, 120)).astype(np.float32)
    volume[mask > 0] = y.T
    affine = np.array([[2.0, 0, 0, -10], [0, 2.0, 0, -12], [0, 0, 2.5, -5], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(volume, affine), os.path.join(OUT, "A.Y.nii.gz"))
    nib.save(nib.Nifti1Image(mask, affine), os.path.join(OUT, "A.mask.nii.gz"))
    assert np.array_equal(nib.load(os.path.join(OUT, "A.Y.nii.gz")).get_fdata()[nib.load(os.path.join(OUT, "A.mask.nii.gz")).get_fdata() > 0].T, y)

    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant-voxel and convergence notes
        for name, key, flags in CASES:
            x, y = data[key]
            run_case(name, x, y, flags)
            cases.append({"name": name, "data": key, "flags": flags, "estimator": flag(flags, "--estimator")})
    with open(os.path.join(OUT, "cases.json"), "w") as fh:
        json.dump(cases, fh, indent=1)


if __name__ == "__main__":
    main()
