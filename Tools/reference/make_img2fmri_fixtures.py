#!/usr/bin/env python3
"""Reference fixtures for the img2fmri-bold5000 encoder (issue 7).

Command line (run from the repository root):
    python3 Tools/reference/make_img2fmri_fixtures.py /tmp/img2fmri/img2fmri-1.0-py3-none-any.whl

Made with Python 3.11.7, NumPy 2.4.6, scikit-learn 1.9.1 (reads the wheel's 1.1.1 Ridge
pickles with an InconsistentVersionWarning), nibabel 5.4.2, PyTorch 2.15.0, torchvision 0.29.2,
Pillow 13.0.0. The wheel is img2fmri==1.0 from PyPI, SHA-256
b830383d191c4edcae0eef54e045bb6290abbc5b5e436ae674951bff8fb6d6be; nothing from it is committed
except what this script computes.

Writes Tests/BERGNetworkTests/Fixtures/img2fmri/ (the real wheel's Ridge models, checked by
`make test-network`, which fetches the wheel):

  features.npy                       float32 [3, 512]: fixed, non-negative feature vectors
  ridge/subj{S}_{ROI}_predictions.npy float32 [3, V]: the wheel's Ridge `predict` of those
                                     features (computed in float64, stored as float32)
  ridge/subj{S}_{ROI}_voxels.npy     int32 [V, 4]: (i, j, k, hemisphere 0=LH 1=RH) of each
                                     output, LH voxels then RH voxels, each in NumPy's C-order
                                     boolean indexing of nibabel's array with mask > 0
  ridge/reference.json               per subject and ROI: Ridge alpha, LH/RH counts (checked
                                     against the wheel's shape_array.npy), mask shape, affine
  ridge/volume_subj3_all.nii.gz      float32 [X, Y, Z, 3]: every ROI of subject 3 predicted
                                     into one volume; overlapping voxels get the plain mean of
                                     the ROIs that cover them; NaN elsewhere

and Tests/BERGModelsTests/Fixtures/img2fmri/ (offline):

  e2e/resnet18-tiny.pth              a random ResNet-18 in torchvision's state_dict layout
                                     (same keys, widths 4/8/16/32, fc to 10 classes)
  e2e/package/img2fmri/...           a stand-in for the wheel's members, for subject 1, OPA:
                                     a small random Ridge (32 features), small masks, and
                                     shape_array.npy with that ROI's counts
  e2e/images/{scene.png,photo.jpg}   two small non-square RGB images
  e2e/features_{resize,center_crop}.npy   float32 [2, 32]: avgpool output per image
  e2e/responses_{resize,center_crop}.npy  float32 [2, V]: the Ridge applied to those
  e2e/reference.json                 the stand-in's counts, voxels and alpha

The image path follows img2fmri.predict.generate_activations: PIL image, Resize((224, 224))
(or Resize(224) + CenterCrop((224, 224)) when centre cropping), ToTensor, ImageNet Normalize,
the network up to avgpool, flattened.
"""
import json
import os
import pickle
import sys
import warnings
import zipfile

import nibabel as nib
import numpy as np
import torch
from PIL import Image
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.linear_model import Ridge
from torchvision import transforms
from torchvision.models.resnet import BasicBlock

ROIS = ["EarlyVis", "OPA", "LOC", "RSC", "PPA"]
OUT = os.path.join("Tests", "BERGModelsTests", "Fixtures", "img2fmri")
# The real wheel's Ridge fixtures are for tests that fetch the wheel (make test-network).
OUT_NETWORK = os.path.join("Tests", "BERGNetworkTests", "Fixtures", "img2fmri")


def mask_member(subject, hemisphere, roi):
    return (f"img2fmri/derivatives/bool_masks/derivatives_spm_sub-CSI{subject}_sub-CSI{subject}"
            f"_mask-{hemisphere}{roi}.nii.gz")


def load_mask(path):
    image = nib.load(path)
    return image.get_fdata() > 0, image.affine


def voxel_table(lh, rh):
    rows = []
    for hemisphere, mask in ((0, lh), (1, rh)):
        ijk = np.argwhere(mask)  # C order, the same order as mask-based boolean indexing
        rows.append(np.concatenate([ijk, np.full((len(ijk), 1), hemisphere)], axis=1))
    return np.concatenate(rows).astype(np.int32)


def save_npy(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, array)


def real_ridge_fixtures(wheel, scratch):
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if "/models/" in name or "/bool_masks/derivatives_spm" in name or name.endswith("shape_array.npy"):
                archive.extract(name, scratch)
    shape_array = np.load(os.path.join(scratch, "img2fmri/derivatives/shape_array.npy"))

    rng = np.random.default_rng(7)
    features = np.stack([
        np.abs(rng.standard_normal(512)),
        rng.uniform(0.0, 3.0, 512),
        np.maximum(rng.normal(0.2, 1.0, 512), 0.0),
    ]).astype(np.float32)
    save_npy(os.path.join(OUT_NETWORK, "features.npy"), features)

    reference = {}
    for subject in (1, 2, 3):
        volume_sum = volume_count = None
        for roi_index, roi in enumerate(ROIS):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InconsistentVersionWarning)
                with open(os.path.join(scratch, f"img2fmri/models/subj{subject}_{roi}_model.pkl"), "rb") as f:
                    ridge = pickle.load(f)
            predictions = ridge.predict(features.astype(np.float64))
            lh, affine = load_mask(os.path.join(scratch, mask_member(subject, "LH", roi)))
            rh, rh_affine = load_mask(os.path.join(scratch, mask_member(subject, "RH", roi)))
            assert np.array_equal(affine, rh_affine)
            lh_count, rh_count = int(lh.sum()), int(rh.sum())
            assert [lh_count, rh_count] == shape_array[subject - 1, roi_index].astype(int).tolist()
            assert predictions.shape == (3, lh_count + rh_count) and ridge.coef_.shape[1] == 512
            voxels = voxel_table(lh, rh)
            save_npy(os.path.join(OUT_NETWORK, "ridge", f"subj{subject}_{roi}_predictions.npy"),
                     predictions.astype(np.float32))
            save_npy(os.path.join(OUT_NETWORK, "ridge", f"subj{subject}_{roi}_voxels.npy"), voxels)
            reference[f"subj{subject}_{roi}"] = {
                "alpha": float(ridge.alpha), "lh_count": lh_count, "rh_count": rh_count,
                "mask_shape": list(lh.shape), "affine": affine.tolist(),
            }
            if subject == 3:
                if volume_sum is None:
                    volume_sum = np.zeros(lh.shape + (3,))
                    volume_count = np.zeros(lh.shape)
                for n in range(3):
                    volume_sum[lh, n] += predictions[n, :lh_count]
                    volume_sum[rh, n] += predictions[n, lh_count:]
                volume_count[lh] += 1
                volume_count[rh] += 1
                volume_affine = affine
        if subject == 3:
            with np.errstate(invalid="ignore"):
                volume = volume_sum / volume_count[..., None]
            volume[volume_count == 0] = np.nan
            nib.save(nib.Nifti1Image(volume.astype(np.float32), volume_affine),
                     os.path.join(OUT_NETWORK, "ridge", "volume_subj3_all.nii.gz"))
    with open(os.path.join(OUT_NETWORK, "ridge", "reference.json"), "w") as f:
        json.dump(reference, f, indent=1, sort_keys=True)


class TinyResNet18(torch.nn.Module):
    """torchvision's ResNet-18, module for module and key for key, at a sixteenth of its widths."""

    def __init__(self, widths=(4, 8, 16, 32), classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(widths[0])
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
        inplanes = widths[0]
        for index, planes in enumerate(widths):
            stride = 1 if index == 0 else 2
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = torch.nn.Sequential(torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                 torch.nn.BatchNorm2d(planes))
            layer = torch.nn.Sequential(BasicBlock(inplanes, planes, stride, downsample), BasicBlock(planes, planes))
            setattr(self, f"layer{index + 1}", layer)
            inplanes = planes
        self.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def end_to_end_fixtures():
    e2e = os.path.join(OUT, "e2e")
    torch.manual_seed(7)
    model = TinyResNet18()
    with torch.no_grad():  # random batch-norm statistics, so that eval mode matters
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    model.eval()
    os.makedirs(e2e, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(e2e, "resnet18-tiny.pth"))
    extractor = torch.nn.Sequential(*list(model.children())[:-1])  # as img2fmri: all but fc

    rng = np.random.default_rng(11)
    os.makedirs(os.path.join(e2e, "images"), exist_ok=True)
    # Smooth gradients plus noise: natural-ish content that still exercises every resampling tap.
    def picture(height, width):
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255.0 / width, y * 255.0 / height, (x + y) * 127.0 / (height + width)], -1)
        # Bright and dark bands along the long side's ends, which a centre crop cuts away.
        band = max(height, width) // 5
        if height > width:
            base[:band] = [250, 30, 30]; base[-band:] = [10, 10, 60]
        else:
            base[:, :band] = [30, 250, 30]; base[:, -band:] = [240, 240, 240]
        return np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(picture(45, 61)).save(os.path.join(e2e, "images", "scene.png"))
    Image.fromarray(picture(80, 50)).save(os.path.join(e2e, "images", "photo.jpg"), quality=95)
    names = ["photo.jpg", "scene.png"]  # sorted, the order a directory is read in

    # A small Ridge on 32 features, fitted in float32 like the wheel's, pickled like them.
    lh = np.zeros((7, 6, 5), np.uint8)
    rh = np.zeros((7, 6, 5), np.float32)
    lh[1:3, 2:4, 1:3] = 1
    lh[2, 2, 2] = 2  # one of the wheel's masks has a maximum of 2
    rh[4:6, 1:4, 2:4] = 1
    rh[4, 1, 2] = 0
    affine = np.array([[2.0, 0, 0, -6.5], [0, 2.0, 0, -5.0], [0, 0, 2.0, -4.0], [0, 0, 0, 1]])
    voxels = voxel_table(lh > 0, rh > 0)
    lh_count, rh_count = int((lh > 0).sum()), int((rh > 0).sum())
    x = rng.uniform(0, 0.6, (40, 32)).astype(np.float32)  # the range the tiny network's features take
    y = (x @ rng.normal(0, 2.0, (32, lh_count + rh_count)) + rng.normal(0, 0.1, (40, lh_count + rh_count))).astype(np.float32)
    ridge = Ridge(alpha=np.float64(0.5)).fit(x, y)
    assert ridge.coef_.dtype == np.float32
    package = os.path.join(e2e, "package")
    os.makedirs(os.path.join(package, "img2fmri", "models"), exist_ok=True)
    os.makedirs(os.path.join(package, "img2fmri", "derivatives", "bool_masks"), exist_ok=True)
    with open(os.path.join(package, "img2fmri", "models", "subj1_OPA_model.pkl"), "wb") as f:
        pickle.dump(ridge, f, protocol=4)
    nib.save(nib.Nifti1Image(lh, affine), os.path.join(package, mask_member(1, "LH", "OPA")))
    nib.save(nib.Nifti1Image(rh, affine), os.path.join(package, mask_member(1, "RH", "OPA")))
    shape_array = np.zeros((3, 5, 2))
    shape_array[0, ROIS.index("OPA")] = [lh_count, rh_count]
    np.save(os.path.join(package, "img2fmri", "derivatives", "shape_array.npy"), shape_array)

    normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    scalers = {
        "resize": transforms.Resize((224, 224)),
        "center_crop": transforms.Compose([transforms.Resize(224), transforms.CenterCrop((224, 224))]),
    }
    for mode, scaler in scalers.items():
        features = []
        for name in names:
            image = Image.open(os.path.join(e2e, "images", name))
            tensor = normalize(transforms.ToTensor()(scaler(image))).unsqueeze(0)
            with torch.no_grad():
                features.append(extractor(tensor).numpy().flatten())
        features = np.stack(features).astype(np.float32)
        save_npy(os.path.join(e2e, f"features_{mode}.npy"), features)
        save_npy(os.path.join(e2e, f"responses_{mode}.npy"),
                 ridge.predict(features.astype(np.float64)).astype(np.float32))
    with open(os.path.join(e2e, "reference.json"), "w") as f:
        json.dump({"images": names, "alpha": 0.5, "lh_count": lh_count, "rh_count": rh_count,
                   "voxels": voxels.tolist(), "affine": affine.tolist(), "mask_shape": list(lh.shape)},
                  f, indent=1)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PATH/img2fmri-1.0-py3-none-any.whl")
    import tempfile
    with tempfile.TemporaryDirectory() as scratch:
        real_ridge_fixtures(sys.argv[1], scratch)
    end_to_end_fixtures()


if __name__ == "__main__":
    main()
