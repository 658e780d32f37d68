#!/usr/bin/env python3
"""Times img2fmri against `berg encode` on the same images (issue 7's benchmark).

    python3 Tools/bench/img2fmri_compare.py --berg .build/release/berg [--images 200] [--subject 1]

Needs img2fmri 1.0 and what its `img2fmri.predict` module imports (torch, torchvision,
scikit-learn, nibabel, nipype, tqdm, natsort, opencv); FSL and AFNI are not needed, because
only `generate_activations` and `generate_predictions` run. Nothing is downloaded: a
random-weight `resnet18-f37072fd.pth` is written into a private torch hub cache (TORCH_HOME),
where torchvision finds it instead of downloading, and `berg` gets the same file with
`--artifact backbone=PATH` and the wheel itself with `--artifact package=WHEEL` (checked
against the manifest's SHA-256, members read from it).

Both sides predict all five ROIs and write one subject-space volume per image (img2fmri: one
.nii.gz per image and subject; berg: one 4-D .nii.gz with `--volume`). img2fmri always
predicts its three subjects; its per-subject time is its `generate_predictions` time / 3,
since each subject's loop does the same work. The script prints both views.
"""
import argparse
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROIS = ["EarlyVis", "OPA", "LOC", "RSC", "PPA"]


def make_images(folder, count, seed=0):
    """`count` JPEGs of 500×375, a typical BOLD5000 size, with smooth content plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:375, 0:500]
    for i in range(count):
        phase = rng.uniform(0, 6.28, 3)
        base = np.stack([127 + 100 * np.sin(x / (20 + 5 * c) + phase[c]) * np.cos(y / 30) for c in range(3)], -1)
        pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"image_{i:04d}.jpg"), quality=90)


def write_random_backbone(path):
    import torch
    from torchvision.models import resnet18
    torch.manual_seed(0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(resnet18(weights=None).state_dict(), path)


def time_img2fmri(images, workdir):
    """generate_activations + generate_predictions, in img2fmri's own temp/ layout."""
    import importlib
    img2fmri_predict = importlib.import_module("img2fmri.predict")  # the package re-exports a function of that name
    if not hasattr(np, "NaN"):
        np.NaN = np.nan  # img2fmri 1.0 uses np.NaN, which NumPy 2 removed; the only change made to it
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        for sub in ("activations", "subj_space"):
            os.makedirs(os.path.join("temp", sub), exist_ok=True)
        start = time.perf_counter()
        img2fmri_predict.generate_activations(input_dir=images)
        activations = time.perf_counter() - start
        start = time.perf_counter()
        img2fmri_predict.generate_predictions(roi_list=ROIS)
        predictions = time.perf_counter() - start
        volumes = len(glob.glob(os.path.join("temp", "subj_space", "*.nii.gz")))
    finally:
        os.chdir(cwd)
    return activations, predictions, volumes


def time_berg(berg, images, subject, backbone, package, workdir):
    out = os.path.join(workdir, f"berg_subj{subject}.npy")
    volume = os.path.join(workdir, f"berg_subj{subject}.nii.gz")
    command = [berg, "encode", "img2fmri-bold5000", "--subject", str(subject), "--roi", "all",
               "--input", images, "--output", out, "--volume", volume,
               "--artifact", f"backbone={backbone}", "--artifact", f"package={package}"]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=dict(os.environ, BERG_OFFLINE="1"))
    return time.perf_counter() - start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berg", required=True, help="path to the built berg executable (release)")
    parser.add_argument("--wheel", default="/tmp/img2fmri/img2fmri-1.0-py3-none-any.whl")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--subject", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if importlib.util.find_spec("img2fmri") is None:
        sys.exit("img2fmri is not importable: pip install --no-deps the wheel, plus nipype tqdm natsort opencv-python-headless")

    work = tempfile.mkdtemp(prefix="img2fmri-bench-")
    images = os.path.join(work, "images")
    os.makedirs(images)
    make_images(images, args.images)
    os.environ["TORCH_HOME"] = os.path.join(work, "torch")
    backbone = os.path.join(work, "torch", "hub", "checkpoints", "resnet18-f37072fd.pth")
    write_random_backbone(backbone)
    package = args.wheel
    os.environ["TQDM_DISABLE"] = "1"

    import torch
    print(f"{args.images} images 500×375 JPEG, ROIs {', '.join(ROIS)}; torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; {os.cpu_count()} CPUs")
    berg_seconds, berg_out = time_berg(args.berg, images, args.subject, backbone, package, work)
    activations, predictions, volumes = time_img2fmri(images, work)
    img2fmri_one = activations + predictions / 3
    img2fmri_all = activations + predictions

    # Same images, same random backbone, same Ridge: the two must agree.
    import nibabel as nib
    ours = np.load(berg_out)
    print(f"berg responses {ours.shape}; img2fmri wrote {volumes} subject volumes")
    ours_volume = nib.load(os.path.join(work, f"berg_subj{args.subject}.nii.gz")).get_fdata()
    differences = []
    for n, name in enumerate(sorted(os.listdir(images))):
        theirs = nib.load(os.path.join(work, "temp", "subj_space",
                                       f"sub{args.subject}_{os.path.splitext(name)[0]}.nii.gz")).get_fdata()
        assert np.array_equal(np.isnan(theirs), np.isnan(ours_volume[..., n])), "the volumes cover different voxels"
        differences.append(np.abs(ours_volume[..., n] - theirs) / np.nanmax(np.abs(theirs)))
    differences = np.stack(differences, -1)
    inside = ~np.isnan(differences[..., 0])
    apart = np.any(differences > 1e-4, axis=-1)  # NaN compares False
    print(f"subject {args.subject}: {inside.sum()} voxels; berg and img2fmri differ by more than 1e-4 of the range at "
          f"{apart.sum()} voxel(s) (three overlapping ROIs, where img2fmri's running mean depends on ROI order); "
          f"elsewhere by at most {np.max(differences[inside & ~apart]):.2g} of the range")

    print(f"img2fmri generate_activations: {activations:.1f} s; generate_predictions (3 subjects): {predictions:.1f} s")
    print(f"img2fmri, one subject's share: {img2fmri_one:.1f} s ({args.images / img2fmri_one:.1f} images/s)")
    print(f"berg encode --roi all --volume, one subject: {berg_seconds:.1f} s ({args.images / berg_seconds:.1f} images/s)")
    print(f"speed-up, one subject: {img2fmri_one / berg_seconds:.1f}×")
    print(f"speed-up against img2fmri's three-subject run: {img2fmri_all / berg_seconds:.1f}× "
          f"(berg would run three times: about {img2fmri_all / (3 * berg_seconds):.1f}×)")
    if args.keep:
        print(f"work folder: {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
