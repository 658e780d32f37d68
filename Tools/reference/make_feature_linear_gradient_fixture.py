#!/usr/bin/env python3
"""Reference input gradients and integrated gradients for a feature-linear model (issue 17).

Made with (from the repository root):
    Tools/reference/.venv/bin/python Tools/reference/make_feature_linear_gradient_fixture.py
Library versions: Python 3.11, torch 2.15.0, torchvision 0.29.2, numpy 2.4.6, captum 0.9.0
(the script prints the versions it ran with).

The model is make_vit_fixtures.py's test-alexnet_linear (in Fixtures/vit/berg_dir.tar.xz,
alexnet_model/): AlexNet at reduced width, layers features.2 and avgpool flattened and
concatenated, z-scored per image (population std), StandardScaler, PCA (x·Cᵀ − mean·Cᵀ) and a
linear readout, all in float32 as BERG computes them. f is the mean of the readout's outputs
VOXELS, of a float image x in [0, 1] at 224 × 224 (after resize and crop, before ImageNet's
normalisation, which is part of f).

Writes Tests/BERGModelsTests/Fixtures/attribution/alexnet_linear.npz:
  image     uint8 [1, 3, 224, 224]: a smooth random image with fine noise
  voxels    int64 [3]: the 0-based outputs averaged
  value     float32 [1]: f(x), x = image / 255
  gradient  float32 [1, 3, 224, 224]: ∂f/∂x by autograd (gradient and ig rounded to 16
            significant bits, relative 1.5e-5, to keep the file under 1 MB)
  ig        float32 [1, 3, 224, 224]: captum IntegratedGradients(f).attribute(x, baselines=0,
            n_steps=16, method="gausslegendre")
  ig_baseline_value float32 [1]: f(0)
"""
import os
import sys
import tarfile
import tempfile

import captum
import numpy as np
import torch
import torchvision
from captum.attr import IntegratedGradients

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_attribution_fixtures import rounded  # noqa: E402  (16 significant bits, as the other fixtures)
from make_vit_fixtures import ReducedAlexNet  # noqa: E402

FIXTURES = os.path.join(HERE, "../../Tests/BERGModelsTests/Fixtures")
VOXELS = [0, 4, 5]


def model_function(folder):
    net = ReducedAlexNet()
    net.load_state_dict(torch.load(os.path.join(folder, "backbone.pth")))
    net.eval()
    w = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in np.load(os.path.join(folder, "weights.npz")).items()}
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def f(x):
        h = (x - mean) / std
        pooled = net.features[:3](h)
        last = net.avgpool(net.features[3:](pooled))
        feats = torch.cat([pooled.flatten(1), last.flatten(1)], dim=1)
        z = (feats - feats.mean(1, keepdim=True)) / feats.std(1, unbiased=False, keepdim=True)
        z = (z - w["scaler_mean"]) / w["scaler_scale"]
        y = z @ w["pca_components"].T - w["pca_mean"] @ w["pca_components"].T
        out = y @ w["coef"].T + w["intercept"]
        return out[:, VOXELS].mean(1)

    return f


def main():
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"numpy {np.__version__}, captum {captum.__version__}")
    torch.manual_seed(0)
    rng = np.random.default_rng(17)
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(os.path.join(FIXTURES, "vit/berg_dir.tar.xz")) as tar:
            tar.extractall(scratch, filter="data")
        f = model_function(os.path.join(scratch, "berg_dir/alexnet_model"))
        coarse = torch.from_numpy(rng.uniform(0, 1, (1, 3, 8, 8)).astype(np.float32))
        smooth = torch.nn.functional.interpolate(coarse, size=(224, 224), mode="bicubic", align_corners=False).numpy()
        image = np.clip(np.round(255 * (0.15 + 0.7 * smooth) + rng.normal(0, 6, smooth.shape)), 0, 255).astype(np.uint8)
        x = torch.from_numpy(image.astype(np.float32) / 255).requires_grad_(True)
        value = f(x)
        value.sum().backward()
        ig = IntegratedGradients(f).attribute(x.detach(), baselines=torch.zeros_like(x), n_steps=16, method="gausslegendre")
        with torch.no_grad():
            baseline_value = f(torch.zeros_like(x))
    out = os.path.join(FIXTURES, "attribution/alexnet_linear.npz")
    np.savez_compressed(out, image=image, voxels=np.array(VOXELS, dtype=np.int64),
                        value=value.detach().numpy().astype(np.float32), gradient=rounded(x.grad.numpy().astype(np.float32)),
                        ig=rounded(ig.detach().numpy().astype(np.float32)), ig_baseline_value=baseline_value.numpy().astype(np.float32))
    print(f"wrote {out}: f(x) = {value.item():.6g}, f(0) = {baseline_value.item():.6g}, Σ ig = {ig.sum().item():.6g}")


if __name__ == "__main__":
    main()
