#!/usr/bin/env python3
"""Test fixtures for the `fwrf` encoder kind (model `fmri-nsd-fwrf`).

Made with:
    python3 Tools/reference/make_fwrf_fixtures.py --full-dir /tmp/fwrf-full
Library versions: Python 3.11, torch 2.15.0, torchvision 0.29.2, numpy 2.4.6
(the script prints the versions it ran with and refuses nothing else).

What it writes
--------------
Committed, under Tests/BERGModelsTests/Fixtures/fwrf/ (a few voxels, small):
  berg_dir.tar.xz   a BERG directory tree in BERG's own layout:
      encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/
          encoding_models_weights/weights_sub-01_roi-V1.pt
          encoding_models_weights/weights_sub-01_roi-lateral_split-1.pt
          encoding_models_weights/weights_sub-01_roi-lateral_split-2.pt
          metadata/metadata_sub-01_roi-V1.npy
          metadata/metadata_sub-01_roi-lateral.npy
  (packed because the network's own weights are ~5 MB per checkpoint; the weights are
  sparse and 5-bit-valued so that the archive is small. The files inside are exactly
  what torch.save / np.save wrote.)
      images_233.npy    uint8 [3, 3, 233, 233]: smooth random images (downscaled to 227)
      images_160.npy    uint8 [2, 3, 160, 160]: smooth random images (upscaled to 227)
  responses_V1_233.npy, responses_V1_160.npy, responses_lateral_233.npy: float32 [N, V],
                     PyTorch's responses; lateral is split-1 then split-2 concatenated.
  readout_*.npy      a small stand-alone case for the fused readout contraction.

Scratch (never committed), with --full-dir: the same layout at the real sizes of subject 1
(V1 1,350 voxels; lateral 7,799 in two splits, 3,900 + 3,899 as BERG's ceil split gives),
dense random weights, for the benchmark.

The network is the one in issue #5 and BERG's fwRF (torch_gnet.Encoder and
torch_mpf.Torch_LayerwiseFWRF): written here from that description, in eval mode.
Checked once by hand: BERG's own Encoder and Torch_LayerwiseFWRF load these checkpoints with
strict load_state_dict and reproduce the responses here to 2e-8.
"""
import argparse
import copy
import os
import sys
import tarfile
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import transforms

REL = "encoding_models/modality-fmri/train_dataset-nsd/model-fwrf"
VOLUME = (81, 104, 83)


# ---------------------------------------------------------------- the network
class TrunkBlock(nn.Module):
    """ReLU(Conv k3 p1 (BN(x))). Registration order (conv1, bn1) gives BERG's key order."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5, momentum=0.25)

    def forward(self, x):
        return F.relu(self.conv1(self.bn1(x)))


class PreFilter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
                                   nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2))
        self.conv2 = nn.Sequential(nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU())

    def forward(self, x):
        c1 = self.conv1(x)
        return c1, self.conv2(c1)


class Trunk(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.width = width
        self.conv3 = nn.Conv2d(192, 128, kernel_size=3, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(192, eps=1e-5, momentum=0.25)
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv4a = TrunkBlock(128, 2 * width)
        self.conv5a = TrunkBlock(2 * width, 2 * width)
        self.conv6a = TrunkBlock(2 * width, 2 * width)
        self.conv4b = TrunkBlock(2 * width, 2 * width)
        self.conv5b = TrunkBlock(2 * width, 2 * width)
        self.conv6b = TrunkBlock(2 * width, width)

    def forward(self, y):
        w = self.width
        c3 = F.relu(self.conv3(self.bn1(y)))
        c4a = self.conv4a(c3)
        c4b = self.conv4b(c4a)
        c5a = self.conv5a(self.pool1(c4b))
        c5b = self.conv5b(c5a)
        c6a = self.conv6a(c5b)
        c6b = self.conv6b(c6a)
        return (torch.cat([c3, c4a[:, :w], c4b[:, :w]], 1),
                torch.cat([c5a[:, :w], c5b[:, :w], c6a[:, :w], c6b], 1))


class FeatureNet(nn.Module):
    """State-dict keys: mu, pre.*, enc.* (BERG's `best_params['enc']`)."""

    def __init__(self, mu):
        super().__init__()
        self.mu = nn.Parameter(torch.from_numpy(mu), requires_grad=False)
        self.pre = PreFilter()
        self.enc = Trunk(64)

    def forward(self, x):
        c1, y = self.pre(x - self.mu)
        f1, f2 = self.enc(y)
        return [torch.cat([c1, y], 1), f1, f2]


def log_act(x):
    return torch.log(1 + torch.abs(x)) * torch.tanh(x)


class Readout(nn.Module):
    """State-dict keys rf0, rf1, rf2, w, b (BERG's `best_params['fwrfs'][subject]`)."""

    def __init__(self, nv, sides=(27, 25, 13), nf=768):
        super().__init__()
        for k, side in enumerate(sides):
            self.register_parameter(f"rf{k}", nn.Parameter(torch.zeros(nv, side, side)))
        self.w = nn.Parameter(torch.zeros(nv, nf))
        self.b = nn.Parameter(torch.zeros(nv))

    def forward(self, fmaps):
        phis = []
        for k, fm in enumerate(fmaps):
            rf = getattr(self, f"rf{k}")
            g = torch.softmax(rf.flatten(1), dim=1)            # [V, S]
            f = log_act(fm.flatten(2))                           # [B, C, S]
            phis.append(torch.tensordot(g, f, dims=[[1], [2]]))  # [V, B, C]
        phi = log_act(torch.cat(phis, 2))                        # [V, B, 768]
        return torch.bmm(phi, self.w.unsqueeze(2))[..., 0].t() + self.b[None, :]


# ---------------------------------------------------------------- weights
def sparse_values(gen, shape, std, density):
    """Random weights with std `std`: dense Gaussian when density is 1, otherwise a sparse
    pattern of 5-bit-valued entries (compresses well, still exercises every index)."""
    if density >= 1:
        return torch.randn(shape, generator=gen) * std
    mask = torch.rand(shape, generator=gen) < density
    q = torch.randint(-15, 16, shape, generator=gen).float() / 15.0
    return torch.where(mask, q * (std * np.sqrt(3.0 / density)), torch.zeros(()))  # no -0.0


def randomise_network(net, gen, density):
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            module.weight.data = sparse_values(gen, module.weight.shape, np.sqrt(2.0 / fan_in), density)
            module.bias.data = torch.randint(-64, 65, module.bias.shape, generator=gen).float() / 640.0
        elif isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.weight.data = 0.75 + torch.randint(0, 64, (c,), generator=gen).float() / 128.0
            module.bias.data = torch.randint(-32, 33, (c,), generator=gen).float() / 320.0
            module.running_mean.data = torch.randint(0, 64, (c,), generator=gen).float() / 128.0
            module.running_var.data = 0.5 + torch.randint(0, 128, (c,), generator=gen).float() / 64.0
            module.num_batches_tracked.fill_(int(torch.randint(100, 10000, (1,), generator=gen)))


def randomise_readout(readout, gen):
    with torch.no_grad():
        for k in range(3):
            rf = getattr(readout, f"rf{k}")
            rf.copy_(torch.randn(rf.shape, generator=gen) * 2.0)
        readout.w.copy_(torch.randn(readout.w.shape, generator=gen) * 0.05)
        readout.b.copy_(torch.randn(readout.b.shape, generator=gen) * 0.1)


# ---------------------------------------------------------------- files
def namespace(subject, roi, split):
    return argparse.Namespace(
        subjects="single", used_nsd_sub=subject, roi=roi, split_roi=int(split is not None),
        split=split or 1, trained=1, random_prefilter=1, train_prefilter=1, use_prefilter=1,
        train_phases=1, epochs_phase_1=75, epochs_phase_2=10, epochs_phase_3=10, lr=1e-3,
        weight_decay=0.0, batch_size=128, berg_dir="../brain-encoding-response-generator")


def roi_mask(rng, nv):
    mask = np.zeros(VOLUME, dtype=bool)
    mask.flat[rng.choice(mask.size, size=nv, replace=False)] = True
    return mask


def affine():
    return np.array([[1.8, 0, 0, -72.0], [0, 1.8, 0, -92.7], [0, 0, 1.8, -74.4], [0, 0, 0, 1]])


def save_checkpoint(path, net, readout, subject, roi, split, stim_mean, mask, rng, share_final):
    enc_sd = net.state_dict()
    fwrf_sd = readout.state_dict()
    best = {"enc": enc_sd, "fwrfs": {subject: fwrf_sd}}
    # BERG deep-copies; the reduced fixtures share the tensors (torch.save then writes one
    # storage referenced twice), which keeps them small and exercises shared storages.
    final = {"enc": OrderedDict(enc_sd), "fwrfs": {subject: OrderedDict(fwrf_sd)}} if share_final \
        else copy.deepcopy(best)
    nv = len(fwrf_sd["b"])
    checkpoint = {
        "args.": namespace(subject, roi, split),
        "best_params": best,
        "final_params": final,
        "trn_hist": np.abs(rng.standard_normal(5)).astype(np.float64),
        "hold_hist": np.abs(rng.standard_normal(5)).astype(np.float64),
        "hold_cc_hist": {subject: [rng.standard_normal(nv).astype(np.float32) for _ in range(2)]},
        "best_epoch": 4,
        "best_joint_cc_score": np.float64(0.3125),
        "subject_val_cc": {subject: rng.standard_normal(nv).astype(np.float32)},
        "stim_mean": stim_mean,
        "betas_info": {subject: {
            "volume_shape": VOLUME,
            "roi_mask_volume": mask,
            "fmri_affine": affine(),
            "ncsnr": np.abs(rng.standard_normal(nv)),
            "masterordering": rng.integers(0, 10000, size=(1, 30)),
            "train_img_num": np.arange(1000, 1010),
            "val_img_num": np.arange(0, 5),
            "test_img_num": np.arange(5, 10),
        }},
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(checkpoint, path)


def save_metadata(path, mask, rng):
    nv = int(mask.sum())
    ncsnr = np.abs(rng.standard_normal(nv)) * 0.5
    noise_ceiling = ncsnr ** 2 / (ncsnr ** 2 + 1.0 / 3.0) * 100
    r2 = rng.uniform(0, 0.5, nv)
    metadata = {
        "fmri": {"ncsnr": ncsnr, "roi_mask_volume": mask, "fmri_affine": affine()},
        "encoding_models": {
            "r2": r2, "noise_ceiling": noise_ceiling,
            "explained_variance": np.minimum(r2 / np.maximum(noise_ceiling, 1e-14) * 100, 100),
            "train_img_num": np.arange(1000, 1000 + 20, dtype=np.int64),
            "val_img_num": np.arange(0, 6, dtype=np.int64),
            "test_img_num": np.arange(6, 12, dtype=np.int64),
        },
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, metadata)


def smooth_images(rng, n, side):
    """Random smooth colour images (bicubic blow-ups of 10x10 colour grids): realistic
    enough for the resize and the network, and they compress well."""
    coarse = rng.uniform(0, 255, size=(n, 3, 10, 10)).astype(np.float32)
    up = F.interpolate(torch.from_numpy(coarse), size=(side, side), mode="bicubic", align_corners=False)
    return np.clip(np.rint(up.numpy()), 0, 255).astype(np.uint8)


def preprocess(images_u8):
    """BERG: torchvision Resize((227, 227)) on the uint8 tensor, then float / 255."""
    resized = transforms.Resize((227, 227), antialias=True)(torch.from_numpy(images_u8))
    return torch.from_numpy(np.asarray(resized).astype(np.float32) / 255)


@torch.no_grad()
def responses(nets_and_readouts, images_u8):
    x = preprocess(images_u8)
    out = [readout(net(x)) for net, readout in nets_and_readouts]
    return torch.cat(out, 1).numpy().astype(np.float32)


def build(gen, stim_mean, nv, density):
    net = FeatureNet(stim_mean)
    randomise_network(net, gen, density)
    readout = Readout(nv)
    randomise_readout(readout, gen)
    return net.eval(), readout.eval()


def write_tree(root, gen, rng, v1_voxels, lateral_voxels, density, share_final):
    """V1 and lateral (two splits) for subject 1; returns the networks for the responses."""
    stim_mean = (0.45 + rng.uniform(-0.05, 0.05, size=(1, 3, 1, 1))).astype(np.float32)
    wdir = os.path.join(root, REL, "encoding_models_weights")
    mdir = os.path.join(root, REL, "metadata")
    models = {}

    v1 = build(gen, stim_mean, v1_voxels, density)
    v1_mask = roi_mask(rng, v1_voxels)
    save_checkpoint(os.path.join(wdir, "weights_sub-01_roi-V1.pt"), *v1, 1, "V1", None,
                    stim_mean, v1_mask, rng, share_final)
    save_metadata(os.path.join(mdir, "metadata_sub-01_roi-V1.npy"), v1_mask, rng)
    models["V1"] = [v1]

    split1 = (lateral_voxels + 1) // 2   # BERG: ceil(V / 2) voxels go to split 1
    lateral_mask = roi_mask(rng, lateral_voxels)
    models["lateral"] = []
    for split, nv in ((1, split1), (2, lateral_voxels - split1)):
        pair = build(gen, stim_mean, nv, density)
        save_checkpoint(os.path.join(wdir, f"weights_sub-01_roi-lateral_split-{split}.pt"), *pair,
                        1, "lateral", split, stim_mean, lateral_mask, rng, share_final)
        models["lateral"].append(pair)
    save_metadata(os.path.join(mdir, "metadata_sub-01_roi-lateral.npy"), lateral_mask, rng)
    return models


def readout_case(out, gen):
    """The fused readout alone, on small shapes (3 maps of 6, 5, 4 channels; 7², 5², 3²)."""
    b, nv, channels, sides = 3, 70, (6, 5, 4), (7, 5, 3)
    fmaps = [torch.randn(b, c, s, s, generator=gen) * 2 for c, s in zip(channels, sides)]
    readout = Readout(nv, sides=sides, nf=sum(channels))
    randomise_readout(readout, gen)
    with torch.no_grad():
        y = readout(fmaps).numpy().astype(np.float32)
    for k, fm in enumerate(fmaps):
        np.save(os.path.join(out, f"readout_f{k}.npy"), fm.numpy())
        np.save(os.path.join(out, f"readout_rf{k}.npy"), getattr(readout, f"rf{k}").detach().numpy())
    np.save(os.path.join(out, "readout_w.npy"), readout.w.detach().numpy())
    np.save(os.path.join(out, "readout_b.npy"), readout.b.detach().numpy())
    np.save(os.path.join(out, "readout_y.npy"), y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "../../Tests/BERGModelsTests/Fixtures/fwrf"))
    parser.add_argument("--full-dir", default=None, help="scratch folder for real-size checkpoints")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, numpy {np.__version__}")
    torch.set_num_threads(1)   # deterministic reductions
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # Reduced voxel counts: V1 5 voxels; lateral 7 = 4 + 3.
    tree = os.path.join(out, "berg_dir")
    models = write_tree(tree, gen, rng, 5, 7, density=0.02, share_final=True)
    images = {233: smooth_images(rng, 3, 233), 160: smooth_images(rng, 2, 160)}
    for side, imgs in images.items():
        np.save(os.path.join(tree, f"images_{side}.npy"), imgs)
    for side, imgs in images.items():
        np.save(os.path.join(out, f"responses_V1_{side}.npy"), responses(models["V1"], imgs))
    np.save(os.path.join(out, "responses_lateral_233.npy"), responses(models["lateral"], images[233]))
    with tarfile.open(os.path.join(out, "berg_dir.tar.xz"), "w:xz") as tar:
        tar.add(tree, arcname="berg_dir")
    import shutil
    shutil.rmtree(tree)
    readout_case(out, gen)

    if args.full_dir:
        full = os.path.abspath(args.full_dir)
        full_models = write_tree(full, gen, rng, 1350, 7799, density=1.0, share_final=False)
        imgs = smooth_images(rng, 4, 256)
        np.save(os.path.join(full, "images_256.npy"), imgs)
        np.save(os.path.join(full, "responses_V1_256.npy"), responses(full_models["V1"], imgs))
        np.save(os.path.join(full, "responses_lateral_256.npy"), responses(full_models["lateral"], imgs))
        print("full-size tree in", full)
    for name in sorted(os.listdir(out)):
        print(f"{os.path.getsize(os.path.join(out, name)):>9}  {name}")


if __name__ == "__main__":
    main()
