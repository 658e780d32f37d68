#!/usr/bin/env python3
"""Reference fixtures for input gradients, integrated gradients and dreams (issue 17).

Made with (from the repository root):
    Tools/reference/.venv/bin/python Tools/reference/make_attribution_fixtures.py
Library versions: Python 3.11, torch 2.15.0, torchvision 0.29.2, numpy 2.4.6, captum 0.9.0,
Pillow 13.0.0 (the script prints the versions it ran with).

What it writes, under Tests/BERGModelsTests/Fixtures/attribution/
--------------------------------------------------------------------
  berg_dir.tar.xz   a BERG directory in BERG's own layout (make_fwrf_fixtures.py's networks
                    and file layout, random sparse weights), subject 1, three ROIs:
                    V1 (6 voxels), FFA-1 (5), PPA (4): weights_sub-01_roi-*.pt and
                    metadata_sub-01_roi-*.npy. The README's dream figure and the dream tests
                    run on it.
  fwrf_v1.npz       image   uint8 [1, 3, 227, 227]: a smooth random image with fine noise
                            at the model's size
                    value   float32 [1]: the mean V1 response f(x), x = image / 255
                    gradient float32 [1, 3, 227, 227]: ∂f/∂x by autograd
                    baseline uint8 [1, 3, 227, 227]: another such image, drawn until
                            float32 and float64 agree to 2e-5 along the whole path
                    ig      float32 [1, 3, 227, 227]: captum IntegratedGradients(f).attribute(
                            x, baselines=baseline / 255, n_steps=8, method="gausslegendre")
                    ig_baseline_value float32 [1]: f(baseline / 255)
  img2fmri_opa.npz  the same for img2fmri's pipeline on the tiny ResNet-18 and OPA Ridge of
                    Fixtures/img2fmri/e2e (made by make_img2fmri_fixtures.py): image is
                    photo.jpg after Resize((224, 224)) on the PIL image, f is the mean of the
                    Ridge's outputs over ResNet-18(Normalize(x)); ig is from a black
                    baseline (no baseline array) with method="riemann_trapezoid", n_steps=24.

f is the mean predicted response over all of the model's voxels, of float images x in [0, 1]
at the model's input size (after resize and crop, before normalisation): fwRF subtracts its
`mu`, img2fmri applies ImageNet's mean and std. The arrays are stored compressed
(np.savez_compressed), gradient and ig rounded to 16 significant bits (relative 1.5e-5) so
that each file stays under 1 MB; the weights stay random (no real weights are committed).
"""
import os
import shutil
import sys
import tarfile

import captum
import numpy as np
import PIL
import torch
import torchvision
from captum.attr import IntegratedGradients
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fwrf_fixtures as fwrf  # noqa: E402  (the network, weights and BERG's file layout)
import make_img2fmri_fixtures as img2fmri  # noqa: E402

OUT = os.path.join(HERE, "../../Tests/BERGModelsTests/Fixtures/attribution")
E2E = os.path.join(HERE, "../../Tests/BERGModelsTests/Fixtures/img2fmri/e2e")
ROIS = (("V1", 6), ("FFA-1", 5), ("PPA", 4))


def fwrf_tree(root, gen, rng):
    """Subject 1's V1, FFA-1 and PPA checkpoints and metadata; returns the V1 network."""
    stim_mean = (0.45 + rng.uniform(-0.05, 0.05, size=(1, 3, 1, 1))).astype(np.float32)
    wdir = os.path.join(root, fwrf.REL, "encoding_models_weights")
    mdir = os.path.join(root, fwrf.REL, "metadata")
    models = {}
    for roi, voxels in ROIS:
        net, readout = fwrf.build(gen, stim_mean, voxels, density=0.03)
        # A dense first layer: with a handful of taps per kernel, repeated 8-bit pixel values
        # give exactly tied maxima in the first max pooling, where the gradient is undefined.
        conv1 = net.pre.conv1[0]
        conv1.weight.data = torch.randn(conv1.weight.shape, generator=gen) * np.sqrt(2.0 / (3 * 11 * 11))
        # Biases and BatchNorm statistics drawn from continuous distributions: with the
        # quantised ones, a kernel over a dead (all-zero) patch can sum to exactly 0, where
        # float rounding alone decides the ReLU's mask.
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.bias.data = torch.randn(module.bias.shape, generator=gen) * 0.05
            elif isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.weight.data = 0.75 + 0.5 * torch.rand(c, generator=gen)
                module.bias.data = torch.randn(c, generator=gen) * 0.05
                module.running_mean.data = 0.5 * torch.rand(c, generator=gen)
                module.running_var.data = 0.5 + 2 * torch.rand(c, generator=gen)
        mask = fwrf.roi_mask(rng, voxels)
        fwrf.save_checkpoint(os.path.join(wdir, f"weights_sub-01_roi-{roi}.pt"), net, readout, 1, roi, None,
                             stim_mean, mask, rng, share_final=True)
        fwrf.save_metadata(os.path.join(mdir, f"metadata_sub-01_roi-{roi}.npy"), mask, rng)
        models[roi] = (net, readout)
    return models


def rounded(array):
    """float32 rounded to nearest at 16 significant bits (relative error at most 2^-16, about
    1.5e-5, far below the 1e-3 the tests allow): the zeroed low byte lets deflate pack the
    fixture under 1 MB."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    return ((bits + np.uint32(0x80)) & np.uint32(0xFFFFFF00)).view(np.float32)


def gradient_and_ig(f, x, method, steps, modules, baseline):
    """f(x), ∂f/∂x, captum's integrated gradients from `baseline` and f(baseline), and how
    far float32 is from float64 for each (largest difference over the largest value). They
    agree where the gradient is well defined along the whole path: no ReLU input within
    rounding of 0, no max-pooling window with two maxima within rounding of each other."""
    def compute(x, baseline):
        x = x.clone().requires_grad_(True)
        value = f(x)
        (gradient,) = torch.autograd.grad(value.sum(), x)
        ig = IntegratedGradients(f).attribute(x.detach(), baselines=baseline, n_steps=steps, method=method)
        with torch.no_grad():
            baseline_value = f(baseline)
        return value.detach(), gradient, ig.detach(), baseline_value

    value, gradient, ig, baseline_value = compute(x, baseline)
    for module in modules:
        module.double()
    _, gradient64, ig64, _ = compute(x.double(), baseline.double())
    for module in modules:
        module.float()
    errors = [((a.double() - b).abs().max() / b.abs().max()).item() for a, b in ((gradient, gradient64), (ig, ig64))]
    print(f"float32 against float64: gradient {errors[0]:.2e}, integrated gradients {errors[1]:.2e}")
    return {"value": value.numpy().astype(np.float32), "gradient": rounded(gradient.numpy()),
            "ig": rounded(ig.numpy()), "ig_baseline_value": baseline_value.numpy().astype(np.float32)}, max(errors)


def textured_image(rng, side):
    """A smooth random colour image with fine noise, kept off 0 and 255: no two 11 × 11
    patches are equal, so max pooling meets no ties (where PyTorch's choice of tap would
    depend on its rounding) and the gradient is defined everywhere."""
    smooth = fwrf.smooth_images(rng, 1, side).astype(np.float64)
    noisy = 24 + 0.8 * smooth + rng.normal(0, 6, smooth.shape)
    return np.clip(np.rint(noisy), 1, 254).astype(np.uint8)


def fwrf_fixture(models, rng):
    net, readout = models["V1"]
    image = textured_image(rng, 227)

    def f(x):  # the mean V1 response of float images in [0, 1]
        return readout(net(x)).mean(dim=1)

    # A textured baseline: from black, the first points of the path are near-constant images
    # where float32 rounding decides max-pooling winners and ReLU masks (captum's float32
    # and float64 attributions differ by 3e-3 there). Even so, a few of 50 points usually
    # have a ReLU input within float32 rounding of 0, so the path has 8 points, and
    # baselines are drawn until float32 and float64 agree to 2e-5 along all of it: then the
    # reference is the attribution itself, not one rounding of it.
    x = torch.from_numpy(image.astype(np.float32) / 255)
    for attempt in range(20):
        baseline = textured_image(rng, 227)
        b = torch.from_numpy(baseline.astype(np.float32) / 255)
        arrays, error = gradient_and_ig(f, x, "gausslegendre", 8, [net, readout], b)
        if error < 2e-5:
            return {"image": image, "baseline": baseline, **arrays}
    sys.exit("no well-conditioned baseline found")


def img2fmri_fixture():
    model = img2fmri.TinyResNet18()
    model.load_state_dict(torch.load(os.path.join(E2E, "resnet18-tiny.pth")))
    model.eval()
    extractor = torch.nn.Sequential(*list(model.children())[:-1])
    import pickle
    with open(os.path.join(E2E, "package/img2fmri/models/subj1_OPA_model.pkl"), "rb") as handle:
        ridge = pickle.load(handle)
    head = torch.nn.Linear(ridge.coef_.shape[1], ridge.coef_.shape[0])
    head.weight.data = torch.from_numpy(np.asarray(ridge.coef_, dtype=np.float32))
    head.bias.data = torch.from_numpy(np.asarray(ridge.intercept_, dtype=np.float32))
    normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])

    def f(x):  # the mean OPA response: Ridge(ResNet-18 avgpool features of Normalize(x))
        return head(torch.flatten(extractor(normalize(x)), 1)).mean(dim=1)

    picture = transforms.Resize((224, 224))(Image.open(os.path.join(E2E, "images/photo.jpg")).convert("RGB"))
    image = np.asarray(picture, dtype=np.uint8).transpose(2, 0, 1)[None].copy()
    x = torch.from_numpy(image.astype(np.float32) / 255)
    arrays, _ = gradient_and_ig(f, x, "riemann_trapezoid", 24, [extractor, head], torch.zeros_like(x))
    return {"image": image, **arrays}


def main():
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"numpy {np.__version__}, captum {captum.__version__}, Pillow {PIL.__version__}")
    torch.set_num_threads(1)  # deterministic reductions
    out = os.path.abspath(OUT)
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(17)
    rng = np.random.default_rng(17)

    tree = os.path.join(out, "berg_dir")
    models = fwrf_tree(tree, gen, rng)
    with tarfile.open(os.path.join(out, "berg_dir.tar.xz"), "w:xz") as tar:
        tar.add(tree, arcname="berg_dir")
    shutil.rmtree(tree)
    np.savez_compressed(os.path.join(out, "fwrf_v1.npz"), **fwrf_fixture(models, rng))
    np.savez_compressed(os.path.join(out, "img2fmri_opa.npz"), **img2fmri_fixture())
    for name in sorted(os.listdir(out)):
        print(f"{os.path.getsize(os.path.join(out, name)):>9}  {name}")


if __name__ == "__main__":
    main()
