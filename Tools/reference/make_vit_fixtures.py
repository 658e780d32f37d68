#!/usr/bin/env python3
"""Test fixtures for the `feature-linear` encoder kind: BERG's two ViT-B/32 models
(`fmri-nsd_fsaverage-vit_b_32`, `eeg-things_eeg_2-vit_b_32`) run through BERG's own model
classes, and a third feature-linear model with AlexNet features (`test-alexnet_linear`).

Made with:
    Tools/reference/.venv/bin/python Tools/reference/make_vit_fixtures.py \
        --berg-repo /work/.mirror/gifale95+BERG/repo --out Tests/BERGModelsTests/Fixtures/vit
Library versions: Python 3.11, torch 2.15.0, torchvision 0.29.2, numpy 2.4.6,
scikit-learn 1.9.1, nibabel 5.4.2 (the script prints the versions it ran with).

The backbone: ViT-B/32's structure at a reduced width
-----------------------------------------------------
ViT-B/32 has 88 M parameters (352 MB). The committed fixtures use torchvision's own
`VisionTransformer` class with ViT-B/32's depth (12 encoder layers, the node names
`encoder.layers.encoder_layer_{0..11}.add_1` BERG asks for), patch (32), image size (224) and
token count (50), but hidden width 16, one head and an MLP of 32: 0.07 M parameters, so
every code path of the real model runs (patching, class token, position embedding,
attention, MLP, the 12 block outputs flattened token-major and concatenated layer-major)
on 12 × 50 × 16 = 9,600 features instead of 460,800. The head count is not stored in a
state_dict; BERG for Swift takes hidden / 64 (at least 1), which is 1 here as it is 12 for
ViT-B. The weights are random multiples of powers of two (a few bits each) so that the
archive stays small; the file keeps the 2022 checkpoint's `mlp.linear_1` / `mlp.linear_2`
key spelling (torchvision renames them on load; BERG for Swift reads both spellings).
A random backbone regenerated on both sides was the other choice; it would need the same
generator in Python and Swift and still 88 M parameters of compute in every test run.
The full-size path is checked in scratch with `--full-dir` (below).

How BERG's code is run
----------------------
BERG's package is imported from the fetched repository (`--berg-repo`, read with git).
`torchvision.models.vit_b_32` is replaced by a function that returns the backbone above
(BERG calls `torchvision.models.vit_b_32(weights='DEFAULT')`, which would download
ImageNet weights). Everything else is BERG's: its preprocessing
(`ViT_B_32_Weights.IMAGENET1K_V1.transforms()`), its feature extractor, its scaler/PCA/
LinearRegression objects and its `generate_response`. Two things need a change:
- THINGS-EEG2: BERG hard-codes 250 PCA components in its reshape of the readouts; the
  module's source is loaded with `n_components = 250` replaced by the fixture's count.
- BERG supports neither the per-repetition PCA of newer files nor the `OVWFA` spelling
  (its card says OVWFA, its metadata says OWFA, and it fails on both). For per-repetition
  PCA the same calls BERG makes (StandardScaler.transform, PCA.transform, float32,
  LinearRegression.predict, reshape) are made here with one PCA per repetition; for OWFA,
  BERG is given the ROI's vertices as lh/rh vertex masks.
BERG squeezes axes of length one; the fixtures keep [N, 4, channels, times] (a one-channel
case is unsqueezed here explicitly).

What it writes (under --out)
----------------------------
berg_dir.tar.xz, a BERG directory in BERG's layout plus inputs:
    encoding_models/modality-fmri/train_dataset-nsd_fsaverage/model-vit_b_32/
        encoding_models_weights/weights_subject-01.npy   163,842 vertices per hemisphere, C = 3
                                                          (rh coef_ Fortran-ordered, as LinearRegression leaves it)
        metadata/metadata_subject-01.npy                  31 ROIs (OWFA spelling), some empty in lh
    encoding_models/modality-eeg/train_dataset-things_eeg_2/model-vit_b_32/
        encoding_models_weights/weights_subject-01.npy   one PCA (pca_param dict), C = 3
        encoding_models_weights/weights_subject-02.npy   pca_param['rep-k'] -> dict, float64 readouts
        encoding_models_weights/weights_subject-03.npy   pca_param['rep-k'] -> sklearn PCA object,
                                                          Fortran-ordered coef_
        metadata/metadata_subject-0{1,2,3}.npy            63 ch_names, 140 times
    backbone.pth                 the reduced ViT-B/32 above (state_dict, torch.save)
    images_256.npy, images_227.npy, images_320.npy        uint8 [2, 3, S, S]
    images_240x300.npy                                    uint8 [2, 3, 240, 300] (non-square)
                                 (smooth random images, grey levels in steps of 8)
    lh_mask.npy, rh_mask.npy     uint8 [163842] vertex masks; short_mask.npy (wrong length)
    time_mask.npy                bool [140] time-point mask
    alexnet_model/               a feature-linear model package (test-alexnet_linear.yaml,
                                 weights.npz, backbone.pth: AlexNet at reduced width)
expected/*.npy: float32 responses from BERG's code (see CASES below; fsaverage runs without
a selection are kept at every 127th vertex only, `*_stride127.npy`, and the EEG run without
one at every 4th channel and 5th time point).
expected/surface_check.json: what nibabel reads back is checked by the Swift tests' GIfTI
round trip instead (nibabel is run by `--check-gifti FILE`, used by the CLI test notes).

Scratch (never committed), with --full-dir DIR: full-size files for the benchmark and a
full-size fidelity check: a random full-size ViT-B/32 (torchvision init) as
DIR/backbone.pth, the EEG weights at C = 250 (0.46 GB) and the fsaverage weights at
C = 16, in BERG's layout under DIR/berg_dir, 50 JPEG images in DIR/images, and BERG's own
responses to them (DIR/berg_responses_*.npy).
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types

import numpy as np
import sklearn
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.models.vision_transformer import VisionTransformer

FMRI = "encoding_models/modality-fmri/train_dataset-nsd_fsaverage/model-vit_b_32"
EEG = "encoding_models/modality-eeg/train_dataset-things_eeg_2/model-vit_b_32"
VERTICES = 163842
CHANNELS = ['Fp1', 'F3', 'F7', 'FT9', 'FC5', 'FC1', 'C3', 'T7', 'TP9', 'CP5', 'CP1', 'Pz', 'P3',
            'P7', 'O1', 'Oz', 'O2', 'P4', 'P8', 'TP10', 'CP6', 'CP2', 'Cz', 'C4', 'T8', 'FT10',
            'FC6', 'FC2', 'F4', 'F8', 'Fp2', 'AF7', 'AF3', 'AFz', 'F1', 'F5', 'FT7', 'FC3', 'FCz',
            'C1', 'C5', 'TP7', 'CP3', 'P1', 'P5', 'PO7', 'PO3', 'POz', 'PO4', 'PO8', 'P6', 'P2',
            'CPz', 'CP4', 'TP8', 'C6', 'C2', 'FC4', 'FT8', 'F6', 'F2', 'AF4', 'AF8']
TIMES = np.round(np.arange(-0.1, 0.6, 0.005), 3)[:140]
# BERG's card's ROI names, with the metadata's spelling OWFA for the card's OVWFA.
ROIS = ["V1d", "V1v", "V2d", "V2v", "V3d", "V3v", "hV4", "OFA", "FFA-1", "FFA-2", "mTL-faces",
        "aTL-faces", "OWFA", "VWFA-1", "VWFA-2", "mfs-words", "mTL-words", "OPA", "PPA", "RSC",
        "EBA", "FBA-1", "FBA-2", "mTL-bodies", "early", "midventral", "midlateral",
        "midparietal", "parietal", "lateral", "ventral"]
EMPTY_IN_LH = ["mTL-faces", "aTL-faces", "mTL-words"]
COMPONENTS = 3


# ------------------------------------------------------------------ random values
def bits(rng, shape, levels, step, offset=0.0, dtype=np.float32):
    """Random multiples of `step` (a power of two) in [-levels, levels], plus `offset`:
    exact in float32 and a few bits of entropy each, so the archive compresses."""
    return (offset + rng.integers(-levels, levels + 1, size=shape) * step).astype(dtype)


def pow2_step(std, levels):
    """The power-of-two step that makes uniform multiples in [-levels, levels] have about `std`."""
    return float(2.0 ** np.round(np.log2(std * np.sqrt(3.0) / levels)))


def randomise(module, rng, levels=7):
    """Every parameter of a network replaced by few-bit random values of a sensible size."""
    sd = module.state_dict()
    for key, value in sd.items():
        if not value.is_floating_point():
            continue
        shape = tuple(value.shape)
        if key.endswith("ln_1.weight") or key.endswith("ln_2.weight") or key.endswith("ln.weight"):
            new = bits(rng, shape, levels, 1 / 64, offset=1.0)
        elif key.endswith("bias") or key in ("class_token", "encoder.pos_embedding"):
            new = bits(rng, shape, levels, 1 / 32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            new = bits(rng, shape, levels, pow2_step((1.0 / fan_in) ** 0.5, levels))
        sd[key] = torch.from_numpy(new)
    module.load_state_dict(sd)
    return module.eval()


# ------------------------------------------------------------------ backbones
def reduced_vit(rng):
    """torchvision's VisionTransformer with ViT-B/32's depth, patch and image size, width 16."""
    torch.manual_seed(0)
    net = VisionTransformer(image_size=224, patch_size=32, num_layers=12, num_heads=1,
                            hidden_dim=16, mlp_dim=32, num_classes=10)
    return randomise(net, rng)


def save_with_2022_mlp_names(net, path):
    """torch.save of the state_dict with the 2022 checkpoint's MLP key spelling."""
    sd = {}
    for key, value in net.state_dict().items():
        key = key.replace(".mlp.0.", ".mlp.linear_1.").replace(".mlp.3.", ".mlp.linear_2.")
        sd[key] = value.clone()
    torch.save(sd, path)


class ReducedAlexNet(nn.Module):
    """torchvision's AlexNet layout (module names features.N, avgpool) at a reduced width."""

    def __init__(self, widths=(8, 16, 16, 16, 16)):
        super().__init__()
        a, b, c, d, e = widths
        self.features = nn.Sequential(
            nn.Conv2d(3, a, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(a, b, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(b, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c, d, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(d, e, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))

    def forward(self, x):
        return self.avgpool(self.features(x))


# ------------------------------------------------------------------ BERG's package
def import_berg(repo, scratch, backbone):
    """BERG's package from the fetched repository, with vit_b_32 returning `backbone`."""
    tree = os.path.join(scratch, "bergpkg")
    os.makedirs(tree, exist_ok=True)
    archive = subprocess.run(["git", "-C", repo, "archive", "HEAD", "berg"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree)
    sys.path.insert(0, tree)
    import berg.models.fmri.nsd_fsaverage_vit_b_32 as fsaverage  # noqa: E402
    import berg.models.eeg.things_eeg as eeg  # noqa: E402
    set_backbone(backbone)
    return fsaverage, eeg, tree


def set_backbone(backbone):
    torchvision.models.vit_b_32 = lambda weights=None, **kwargs: backbone


def eeg_module_with_components(tree, components):
    """BERG's things_eeg module, its hard-coded 250 components replaced by `components`."""
    path = os.path.join(tree, "berg", "models", "eeg", "things_eeg.py")
    source = open(path).read()
    assert source.count("n_components = 250") == 1
    module = types.ModuleType("berg_things_eeg_reduced")
    module.__file__ = path
    exec(compile(source.replace("n_components = 250", f"n_components = {components}"), path, "exec"), module.__dict__)
    return module


# ------------------------------------------------------------------ files in BERG's layout
def scaler_param(rng, features, full=False):
    if full:
        mean = rng.normal(0, 0.5, features)
        scale = rng.uniform(0.5, 2.0, features)
    else:
        mean = bits(rng, features, 3, 1 / 8, dtype=np.float64)
        scale = bits(rng, features, 3, 1 / 8, offset=1.0, dtype=np.float64)
    return {"scale_": scale, "mean_": mean, "var_": scale ** 2, "n_features_in_": features,
            "n_samples_seen_": 9000}


def pca_dict(rng, components, features, full=False):
    if full:
        comps = (rng.standard_normal((components, features)) / np.sqrt(features)).astype(np.float32)
        mean = rng.normal(0, 0.1, features).astype(np.float32)
    else:
        comps = bits(rng, (components, features), 2, pow2_step(1 / np.sqrt(features), 2))
        mean = bits(rng, features, 2, 1 / 16)
    variance = np.sort(rng.uniform(1, 10, components))[::-1].astype(np.float32)
    return {"components_": comps, "explained_variance_": variance,
            "explained_variance_ratio_": variance / 100, "singular_values_": np.sqrt(variance * 9000),
            "mean_": mean, "n_components_": components, "n_samples_": 9000,
            "noise_variance_": np.float32(0.5), "n_features_in_": features}


def sklearn_pca(param):
    pca = PCA(n_components=param["n_components_"], random_state=20200220)
    for key, value in param.items():
        setattr(pca, key, value)
    return pca


def readout(rng, outputs, components, dtype=np.float32, dense=None, full=False, fortran=False):
    """LinearRegression parameters; with `dense`, only those rows get non-zero weights. With
    `fortran`, coef_ is Fortran-ordered, as LinearRegression leaves it (a transpose), which
    NumPy pickles in Fortran order."""
    if full:
        coef = rng.normal(0, 0.5, (outputs, components)).astype(dtype)
        intercept = rng.normal(0, 0.5, outputs).astype(dtype)
    else:
        coef = np.zeros((outputs, components), dtype=dtype)
        rows = np.arange(outputs) if dense is None else dense
        coef[rows] = bits(rng, (len(rows), components), 4, 1 / 4, dtype=dtype)
        intercept = bits(rng, outputs, 2, 1 / 2, dtype=dtype)
    if fortran:
        coef = np.asfortranarray(coef)
    return {"coef_": coef, "intercept_": intercept, "n_features_in_": components}


def fsaverage_rois(rng):
    """ROI name -> ascending int64 vertex indices, per hemisphere; some empty in lh."""
    lh, rh = {}, {}
    for name in ROIS:
        for side, table in (("lh", lh), ("rh", rh)):
            if side == "lh" and name in EMPTY_IN_LH:
                table[name] = np.array([], dtype=np.int64)
            else:
                count = int(rng.integers(20, 120))
                table[name] = np.sort(rng.choice(VERTICES, size=count, replace=False)).astype(np.int64)
    return lh, rh


def fsaverage_files(root, rng, components, full=False):
    features = 460800 if full else 12 * 50 * 16
    lh_rois, rh_rois = fsaverage_rois(rng)
    # Rows with weights: the first 1,000 vertices and every ROI vertex (the rest: intercepts).
    dense = {side: np.unique(np.concatenate([np.arange(1000)] + list(rois.values())))
             for side, rois in (("lh", lh_rois), ("rh", rh_rois))}
    weights = {"scaler_param": scaler_param(rng, features, full),
               "pca_param": pca_dict(rng, components, features, full),
               "lh_reg_param": readout(rng, VERTICES, components, dense=dense["lh"], full=full),
               "rh_reg_param": readout(rng, VERTICES, components, dense=dense["rh"], full=full, fortran=True)}
    # ncsnr: a random pattern of 2,048 values repeated (metadata only; it compresses).
    metadata = {"fmri": {"lh_ncsnr": np.resize(bits(rng, 2048, 3, 1 / 8, offset=0.5), VERTICES),
                         "rh_ncsnr": np.resize(bits(rng, 2048, 3, 1 / 8, offset=0.5), VERTICES),
                         "lh_fsaverage_rois": lh_rois, "rh_fsaverage_rois": rh_rois},
                "encoding_models": {"train_img_num": np.arange(1, 9001, dtype=np.int64)[:50],
                                    "val_img_num": np.arange(9001, 9051, dtype=np.int64),
                                    "test_img_num": np.arange(9051, 9101, dtype=np.int64)}}
    for folder, name, value in ((f"{FMRI}/encoding_models_weights", "weights_subject-01.npy", weights),
                                (f"{FMRI}/metadata", "metadata_subject-01.npy", metadata)):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        np.save(os.path.join(root, folder, name), value)
    return metadata


def eeg_files(root, rng, subject, components, pca_form, dtype=np.float32, full=False, fortran=False):
    """pca_form: 'shared' (BERG 2.0), 'rep-dict' or 'rep-sklearn' (newer files)."""
    features = 460800 if full else 12 * 50 * 16
    units = len(CHANNELS) * len(TIMES)
    weights = {"scaler_param": scaler_param(rng, features, full)}
    if pca_form == "shared":
        weights["pca_param"] = pca_dict(rng, components, features, full)
    else:
        per_rep = {f"rep-{r}": pca_dict(rng, components, features, full) for r in range(1, 5)}
        weights["pca_param"] = per_rep if pca_form == "rep-dict" else {k: sklearn_pca(v) for k, v in per_rep.items()}
    weights["reg_param"] = {f"rep-{r}": readout(rng, units, components, dtype=dtype, full=full, fortran=fortran)
                            for r in range(1, 5)}
    metadata = {"eeg": {"ch_names": list(CHANNELS), "times": TIMES.copy(),
                        "ncsnr": bits(rng, (len(CHANNELS), len(TIMES)), 3, 1 / 8, offset=0.5)},
                "encoding_models": {"correlation": bits(rng, (len(CHANNELS), len(TIMES)), 7, 1 / 16)}}
    for folder, name, value in ((f"{EEG}/encoding_models_weights", f"weights_subject-{subject:02d}.npy", weights),
                                (f"{EEG}/metadata", f"metadata_subject-{subject:02d}.npy", metadata)):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        np.save(os.path.join(root, folder, name), value)
    return weights


def smooth_images(rng, n, height, width, step=1):
    """Random smooth colour images (bicubic blow-ups of 10x10 colour grids); with `step`,
    grey levels are multiples of it (committed fixtures: they compress)."""
    coarse = rng.uniform(0, 255, size=(n, 3, 10, 10)).astype(np.float32)
    up = F.interpolate(torch.from_numpy(coarse), size=(height, width), mode="bicubic", align_corners=False)
    return (np.clip(np.rint(up.numpy() / step), 0, 255 // step) * step).astype(np.uint8)


# ------------------------------------------------------------------ BERG's responses
def fsaverage_run(module, berg_dir, images, selection=None):
    model = module.FMRIEncodingModel(subject=1, selection=selection, device="cpu", berg_dir=berg_dir)
    model.load_model()
    lh, rh = model.generate_response(images, show_progress=False)
    return lh.astype(np.float32), rh.astype(np.float32)


def eeg_run(module, berg_dir, images, subject, selection=None, unsqueeze_channel=False):
    model = module.EEGEncodingModel(subject=subject, device="cpu", selection=selection, berg_dir=berg_dir)
    model.load_model()
    out = model.generate_response(images, show_progress=False).astype(np.float32)
    if unsqueeze_channel:  # BERG squeezes a single channel away: [N, 4, T] -> [N, 4, 1, T]
        out = out[:, :, None, :]
    assert out.ndim == 4, out.shape
    return out


def eeg_per_rep_pca_run(module, berg_dir, images, subject, weights, selection=None):
    """BERG's calls with one PCA per repetition: its transform, feature extractor, scaler,
    then for each repetition that repetition's PCA and LinearRegression, as in its
    generate_response (float32 casts included)."""
    # BERG's load_model reads pca_param['components_'], which per-repetition files lack: it
    # runs on a copy of the file whose pca_param is repetition 1's (unused below), so that its
    # scaler, feature extractor, transform, channel/time indices and readouts are BERG's own.
    path = os.path.join(berg_dir, EEG, "encoding_models_weights", f"weights_subject-{subject:02d}.npy")
    original = open(path, "rb").read()
    rep1 = weights["pca_param"]["rep-1"]
    np.save(path, {**weights, "pca_param": dict(rep1.__dict__) if isinstance(rep1, PCA) else rep1})
    try:
        model = module.EEGEncodingModel(subject=subject, device="cpu", selection=selection, berg_dir=berg_dir)
        model.load_model()
    finally:
        with open(path, "wb") as f:
            f.write(original)
    reps = []
    with torch.no_grad():
        features = model.feature_extractor(model.transform(torch.from_numpy(images)))
        features = torch.hstack([torch.flatten(l, start_dim=1) for l in features.values()]).numpy()
    features = model.scaler.transform(features)
    for r, reg in enumerate(model.regression_weights):
        param = weights["pca_param"][f"rep-{r + 1}"]
        pca = param if isinstance(param, PCA) else sklearn_pca(param)
        x = pca.transform(features).astype(np.float32)
        y = reg.predict(x).astype(np.float32)
        reps.append(y.reshape(len(y), len(model.channel_indices), len(model.selected_timepoints)))
    return np.stack(reps, axis=1).astype(np.float32)


def binary(indices, length):
    mask = np.zeros(length, dtype=np.int64)
    mask[indices] = 1
    return mask


# ------------------------------------------------------------------ the third model
ALEXNET_MANIFEST = """model_id: test-alexnet_linear
version: "1.0"
modality: fmri
training_dataset: test
species: human
stimuli: images
model_type: AlexNet features + z-score + scaler + PCA + linear readout (test fixture)
creator: Tools/reference/make_vit_fixtures.py
license: CC0
description: >-
  A feature-linear model that no encoder kind was written for: AlexNet (reduced width)
  features of two layers, z-scored per image, scaled, reduced by PCA and read out linearly.
references:
  - citation: "Test fixture."
parameters:
  subject:
    type: int
    valid_values: [1]
  selection:
    required: false
    properties: {}
input:
  name: images
  shape: [images, 3, height, width]
  dtype: uint8
output:
  - name: responses
    shape: [images, voxels]
    dtype: float32
encoder:
  kind: feature-linear
  preprocessing:
    resize: torchvision_bilinear
    shorter_side: 256
    crop: 224
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
  settings:
    network: alexnet
    layers: [features.2, avgpool]
    zscore_features: true
    scaler:
      mean: scaler_mean
      scale: scaler_scale
    pca:
      components: pca_components
      mean: pca_mean
    readouts:
      - output: responses
        coef: coef
        intercept: intercept
artifacts:
  - name: weights
    source: local
    path: weights.npz
  - name: backbone
    source: local
    path: backbone.pth
"""


def alexnet_model(folder, rng, images):
    """A berg-fit-style package with AlexNet features; returns PyTorch + NumPy's responses."""
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(1)
    net = randomise(ReducedAlexNet(), rng)
    torch.save(net.state_dict(), os.path.join(folder, "backbone.pth"))
    extractor = create_feature_extractor(net, return_nodes=["features.2", "avgpool"])
    transform = torchvision.transforms.Compose([
        torchvision.transforms.Resize(256), torchvision.transforms.CenterCrop(224),
        torchvision.transforms.ConvertImageDtype(torch.float32),
        torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    with torch.no_grad():
        out = extractor(transform(torch.from_numpy(images)))
        x = torch.hstack([torch.flatten(v, start_dim=1) for v in out.values()]).numpy()
    features = x.shape[1]
    w = {"scaler_mean": bits(rng, features, 3, 1 / 16),
         "scaler_scale": bits(rng, features, 3, 1 / 8, offset=1.0),
         "pca_components": bits(rng, (5, features), 2, pow2_step(1 / np.sqrt(features), 2)),
         "pca_mean": bits(rng, features, 2, 1 / 16),
         "coef": rng.normal(0, 1, (7, 5)).astype(np.float64),
         "intercept": rng.normal(0, 1, 7).astype(np.float64)}
    np.savez(os.path.join(folder, "weights.npz"), **w)
    with open(os.path.join(folder, "test-alexnet_linear.yaml"), "w") as f:
        f.write(ALEXNET_MANIFEST)
    z = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    z = ((z - w["scaler_mean"]) / w["scaler_scale"]).astype(np.float32)
    pcs = z @ w["pca_components"].T - w["pca_mean"] @ w["pca_components"].T
    return (pcs.astype(np.float32) @ w["coef"].T + w["intercept"]).astype(np.float32)


# ------------------------------------------------------------------ committed fixtures
def write_fixtures(args):
    rng = np.random.default_rng(20251126)
    out = os.path.abspath(args.out)
    expected = os.path.join(out, "expected")
    os.makedirs(expected, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="vit-fixtures-")
    tree = os.path.join(scratch, "berg_dir")
    os.makedirs(tree)

    backbone = reduced_vit(rng)
    save_with_2022_mlp_names(backbone, os.path.join(tree, "backbone.pth"))
    fsaverage, eeg, pkg = import_berg(args.berg_repo, scratch, backbone)
    eeg_reduced = eeg_module_with_components(pkg, COMPONENTS)

    metadata = fsaverage_files(tree, rng, COMPONENTS)
    eeg_weights = {1: eeg_files(tree, rng, 1, COMPONENTS, "shared"),
                   2: eeg_files(tree, rng, 2, COMPONENTS, "rep-dict", dtype=np.float64),
                   3: eeg_files(tree, rng, 3, COMPONENTS, "rep-sklearn", fortran=True)}

    images = {"256": smooth_images(rng, 2, 256, 256, 8), "227": smooth_images(rng, 2, 227, 227, 8),
              "320": smooth_images(rng, 2, 320, 320, 8), "240x300": smooth_images(rng, 2, 240, 300, 8)}
    for name, imgs in images.items():
        np.save(os.path.join(tree, f"images_{name}.npy"), imgs)
    lh_mask = binary(rng.choice(VERTICES, 150, replace=False), VERTICES).astype(np.uint8)
    rh_mask = binary(rng.choice(VERTICES, 90, replace=False), VERTICES).astype(np.uint8)
    np.save(os.path.join(tree, "lh_mask.npy"), lh_mask)
    np.save(os.path.join(tree, "rh_mask.npy"), rh_mask)
    np.save(os.path.join(tree, "short_mask.npy"), np.ones(VERTICES - 1, dtype=np.uint8))
    time_mask = np.zeros(140, dtype=bool)
    time_mask[[3, 4, 5, 70, 139]] = True
    np.save(os.path.join(tree, "time_mask.npy"), time_mask)

    def save(name, array):
        np.save(os.path.join(expected, name + ".npy"), np.ascontiguousarray(array, dtype=np.float32))

    # fsaverage: every stimulus size without a selection (every 127th vertex kept).
    for name, imgs in images.items():
        lh, rh = fsaverage_run(fsaverage, tree, imgs)
        save(f"fsaverage_all_{name}_lh_stride127", lh[:, ::127])
        save(f"fsaverage_all_{name}_rh_stride127", rh[:, ::127])
    lh, rh = fsaverage_run(fsaverage, tree, images["256"], {"roi": "V1v"})
    save("fsaverage_V1v_lh", lh); save("fsaverage_V1v_rh", rh)
    lh, rh = fsaverage_run(fsaverage, tree, images["240x300"], {"roi": "mTL-faces"})
    assert lh.shape == (2, 0), lh.shape
    save("fsaverage_mTL-faces_lh", lh); save("fsaverage_mTL-faces_rh", rh)
    owfa = {"lh_vertices": binary(metadata["fmri"]["lh_fsaverage_rois"]["OWFA"], VERTICES),
            "rh_vertices": binary(metadata["fmri"]["rh_fsaverage_rois"]["OWFA"], VERTICES)}
    lh, rh = fsaverage_run(fsaverage, tree, images["227"], owfa)
    save("fsaverage_OWFA_lh", lh); save("fsaverage_OWFA_rh", rh)
    masks = {"lh_vertices": lh_mask.astype(np.int64), "rh_vertices": rh_mask.astype(np.int64)}
    lh, rh = fsaverage_run(fsaverage, tree, images["320"], masks)
    save("fsaverage_masks_lh", lh); save("fsaverage_masks_rh", rh)
    lh, rh = fsaverage_run(fsaverage, tree, images["256"], {"roi": "hV4", **masks})  # roi wins
    save("fsaverage_hV4_with_masks_lh", lh); save("fsaverage_hV4_with_masks_rh", rh)
    lh, rh = fsaverage_run(fsaverage, tree, images["256"], {"lh_vertices": masks["lh_vertices"]})
    save("fsaverage_lh_mask_only_lh", lh); save("fsaverage_lh_mask_only_rh_stride127", rh[:, ::127])

    # THINGS-EEG2.
    all_eeg = eeg_run(eeg_reduced, tree, images["227"], 1)
    assert all_eeg.shape == (2, 4, 63, 140), all_eeg.shape
    save("eeg_sub1_all_227_every4ch_every5t", all_eeg[:, :, ::4, ::5])
    selection = {"channels": ["Oz", "Cz", "Fp1"], "timepoints": binary(np.arange(20, 60), 140)}
    save("eeg_sub1_Oz,Cz,Fp1_20-60_240x300", eeg_run(eeg_reduced, tree, images["240x300"], 1, selection))
    save("eeg_sub1_Pz_timemask_320",
         eeg_run(eeg_reduced, tree, images["320"], 1, {"channels": ["Pz"], "timepoints": time_mask.astype(np.int64)},
                 unsqueeze_channel=True))
    save("eeg_sub1_tail_256", eeg_run(eeg_reduced, tree, images["256"], 1,
                                      {"timepoints": binary(np.arange(130, 140), 140)}))
    for subject in (2, 3):
        save(f"eeg_sub{subject}_O2,P8_100-140_256",
             eeg_per_rep_pca_run(eeg_reduced, tree, images["256"], subject, eeg_weights[subject],
                                 {"channels": ["O2", "P8"], "timepoints": binary(np.arange(100, 140), 140)}))

    # The third model: AlexNet features, one output, no kind-specific code.
    save("alexnet_linear_320", alexnet_model(os.path.join(tree, "alexnet_model"), rng, images["320"]))

    with tarfile.open(os.path.join(out, "berg_dir.tar.xz"), "w:xz", preset=9) as tar:
        tar.add(tree, arcname="berg_dir")
    shutil.rmtree(scratch)
    sizes = {name: os.path.getsize(os.path.join(out, name)) for name in ["berg_dir.tar.xz"]}
    print("wrote", out, sizes)


# ------------------------------------------------------------------ scratch, full size
def write_full(args):
    """Full-size files for the benchmark and a full-size fidelity check."""
    from PIL import Image
    rng = np.random.default_rng(7)
    root = os.path.abspath(args.full_dir)
    tree = os.path.join(root, "berg_dir")
    os.makedirs(tree, exist_ok=True)
    torch.manual_seed(0)
    backbone = torchvision.models.vit_b_32().eval()  # torchvision's random init, full size
    torch.save(backbone.state_dict(), os.path.join(root, "backbone.pth"))
    fsaverage, eeg, _ = import_berg(args.berg_repo, root, backbone)
    fsaverage_files(tree, rng, 16, full=True)
    eeg_files(tree, rng, 1, 250, "shared", full=True, fortran=True)
    image_dir = os.path.join(root, "images")
    os.makedirs(image_dir, exist_ok=True)
    imgs = smooth_images(rng, 50, 375, 500)
    for i, img in enumerate(imgs):
        Image.fromarray(img.transpose(1, 2, 0)).save(os.path.join(image_dir, f"img_{i:02d}.jpg"), quality=95)
    # BERG's responses to the decoded JPEGs (as the benchmark feeds them).
    decoded = np.stack([np.asarray(Image.open(os.path.join(image_dir, f"img_{i:02d}.jpg")).convert("RGB")).transpose(2, 0, 1)
                        for i in range(50)])
    np.save(os.path.join(root, "images.npy"), decoded)
    if args.full_responses:
        lh, rh = fsaverage_run(fsaverage, tree, decoded[:8])
        np.save(os.path.join(root, "berg_responses_fsaverage_lh.npy"), lh)
        np.save(os.path.join(root, "berg_responses_fsaverage_rh.npy"), rh)
        np.save(os.path.join(root, "berg_responses_eeg.npy"), eeg_run(eeg, tree, decoded[:8], 1))
    print("wrote", root)


def check_gifti(paths):
    """Reads GIfTI files with nibabel and nilearn; prints what they hold as JSON."""
    import nibabel as nib
    from nilearn import surface
    report = {}
    for path in paths:
        image = nib.load(path)
        arrays = [d.data for d in image.darrays]
        loaded = surface.load_surf_data(path)
        report[path] = {"arrays": len(arrays), "shape": list(arrays[0].shape), "dtype": str(arrays[0].dtype),
                        "nilearn_shape": list(loaded.shape),
                        "finite": int(np.isfinite(np.stack(arrays)).sum())}
    print(json.dumps(report))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berg-repo", default="/work/.mirror/gifale95+BERG/repo")
    parser.add_argument("--out", help="fixture folder (Tests/BERGModelsTests/Fixtures/vit)")
    parser.add_argument("--full-dir", help="scratch folder for full-size benchmark files")
    parser.add_argument("--full-responses", action="store_true", help="with --full-dir: also BERG's responses to 8 images")
    parser.add_argument("--check-gifti", nargs="+", help="read GIfTI files with nibabel and nilearn")
    args = parser.parse_args()
    import nibabel
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, nibabel {nibabel.__version__}", file=sys.stderr)
    if args.check_gifti:
        check_gifti(args.check_gifti)
    if args.out:
        write_fixtures(args)
    if args.full_dir:
        write_full(args)


if __name__ == "__main__":
    main()
