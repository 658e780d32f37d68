#!/usr/bin/env python3
"""Reference fixtures for img2fmri's group-level MNI pipeline and its movie mode (issue 20).

Command line (run from the repository root):
    python3 Tools/reference/make_img2fmri_mni_fixtures.py /tmp/img2fmri/img2fmri-1.0-py3-none-any.whl

Made with Python 3.11.7, NumPy 2.4.6, SciPy 1.17.1, nibabel 5.4.2, fslpy 3.29.1, scikit-learn
1.9.1, PyTorch 2.15.0, opencv-python-headless 5.0.0.93 (its own FFmpeg: avcodec 62.28). The
wheel is img2fmri==1.0 from PyPI (SHA-256
b830383d191c4edcae0eef54e045bb6290abbc5b5e436ae674951bff8fb6d6be); nothing from it is
committed except what this script computes.

FSL and AFNI cannot be installed here, so each of img2fmri's external steps is rebuilt from
its definition:

  AFNI `3dresample -master T1` (nearest neighbour): every master voxel takes the input voxel
      floor(f + 0.5) along each axis, f = the master voxel's centre in input voxel coordinates
      (inv(input affine) @ master affine, sform when its code is set). AFNI's slicer
      (afni_slice.c) adds 0.5 and truncates, so exact ties go to the higher index, which
      happens on every other T1 voxel here (the 2 mm grids sit an even number of mm from the
      1 mm T1 grid). A voxel is inside when 0 <= f + 0.5 < n - 0.0001; outside gives 0.
      AFNI reads img2fmri's float64 volume as float32 and replaces NaN with 0 (thd_floatscan,
      applied to every float64 NIfTI since 2014): the NaN outside the ROIs become zeros.
  FSL `applywarp --premat --warp --interp=nn`: fslpy's `readFnirt` (cubic B-spline
      coefficients, knot spacing in the coefficient file's pixdims, the initial src->ref
      affine in its sform) and `applyDeformation(order=0, mode='constant', cval=0)` with the
      FLIRT premat turned into a voxel matrix through fslpy's scaled-voxel ("fsl")
      coordinates. SciPy's order-0 sampling takes floor(c + 0.5) and is inside when
      0 <= c <= n - 1, as FSL's own bounds test.
  FSL `fslmaths -s sigma`: FSL's generic_convolve with a separable kernel: along each axis
      exp(-(n d)^2 / (2 sigma^2)) for |n| <= ceil(4 sigma / d), each pass renormalised by the
      kernel weights that fall inside the volume; float32 between passes.
  img2fmri's own steps (predict.py, utils.py) are re-run as written: the running nanmean of
      each subject's ROIs (LH then RH, ROI by ROI), z-scoring each subject inside the overlap
      mask, summing, z-scoring the sum, 0 outside. The overlap mask for an ROI list is the union
      of derivatives/group_mni_bool_masks/{ROI}.nii.gz; this script checks that it equals
      utils.get_subj_overlap (s_bool_masks thresholded at 0.15 of each mask's maximum).
  Movie mode: utils.extract_frames (OpenCV seeks to k * 500 ms while k * 500 ms is shorter
      than frame_count / fps); utils.conv_hrf_and_downsample's HRF
      (t / (p q))^p exp(p - t / q), p = 8.6, q = 0.547, t = 0, 0.5, ... < 15 s, applied with
      np.convolve(x, hrf)[:frames].

Writes Tests/BERGModelsTests/Fixtures/img2fmri/mni/:
  conventions.json      fslpy's voxel -> FSL scaled-voxel matrices for small headers of every
                        orientation case, and CoefficientField.displacements of the small field
  package/img2fmri/...  a stand-in for the wheel's files for three subjects and the ROIs OPA, LOC
                        and PPA (which overlap), all in the real formats: Ridge pickles (32 features, for the tiny
                        ResNet of ../e2e), LH/RH masks on each subject's 2 mm grid, shape_array,
                        1 mm "T1" images, FLIRT premats, FNIRT cubic-spline coefficient fields,
                        a 2 mm "MNI" reference and group_mni_bool_masks
  reference.npz         the pipeline on ../e2e/images through that package (see main)
Writes Tests/BERGNetworkTests/Fixtures/img2fmri/mni/ (for `make test-network`):
  real_reference.npz    the pipeline on the real wheel for ../features.npy (see real_wheel)
  landscape.json        for the wheel's tests/test_data/landscape.mp4: the sampled frame
                        indices and each sampled frame's mean per channel
Writes Tests/BERGFormatsTests/Fixtures/movie/:
  counter.mp4           a small MPEG-4 movie whose frame n is coloured by n
  reference.npz         the frames OpenCV returns at 2 Hz (img2fmri's loop) and the HRFs
"""
import io
import json
import os
import pickle
import sys
import tempfile
import warnings
import zipfile

import cv2
import nibabel as nib
import numpy as np
import torch
from fsl.data.image import Image as FSLImage
from fsl.transform import affine as fslaffine
from fsl.transform import flirt, fnirt, nonlinear
from PIL import Image
from scipy import ndimage, stats
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.linear_model import Ridge
from torchvision import transforms

sys.path.insert(0, os.path.dirname(__file__))
from make_img2fmri_fixtures import TinyResNet18  # noqa: E402  (same tiny network as ../e2e)

ROIS = ["EarlyVis", "OPA", "LOC", "RSC", "PPA"]
MODELS = os.path.join("Tests", "BERGModelsTests", "Fixtures", "img2fmri")
OUT = os.path.join(MODELS, "mni")
MOVIE = os.path.join("Tests", "BERGFormatsTests", "Fixtures", "movie")
NETWORK = os.path.join("Tests", "BERGNetworkTests", "Fixtures", "img2fmri")


def mask_member(subject, hemisphere, roi):
    return (f"img2fmri/derivatives/bool_masks/derivatives_spm_sub-CSI{subject}_sub-CSI{subject}"
            f"_mask-{hemisphere}{roi}.nii.gz")


def t1_member(subject):
    return f"img2fmri/derivatives/T1/sub-CSI{subject}_ses-16_anat_sub-CSI{subject}_ses-16_T1w.nii.gz"


def anat_member(subject, name):
    return f"img2fmri/derivatives/sub{subject}.anat/{name}"


# ---------------------------------------------------------------------------------------------
# The pipeline, step by step


def subject_volume(package, subject, rois, features):
    """img2fmri.predict.generate_predictions for one feature vector: NaN outside the ROIs."""
    shape_array = np.load(os.path.join(package, "img2fmri/derivatives/shape_array.npy"), allow_pickle=True)
    brain = None
    for roi in rois:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            with open(os.path.join(package, f"img2fmri/models/subj{subject}_{roi}_model.pkl"), "rb") as f:
                model = pickle.load(f)
        predicted = model.predict([features])[0]
        lh_image = nib.load(os.path.join(package, mask_member(subject, "LH", roi)))
        lh = lh_image.get_fdata() > 0
        rh = nib.load(os.path.join(package, mask_member(subject, "RH", roi))).get_fdata() > 0
        if brain is None:
            brain = np.full(lh.shape, np.nan)
            affine = lh_image.affine
        count = int(shape_array[subject - 1][ROIS.index(roi)][0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of two NaN
            brain[lh] = np.nanmean(np.array([brain[lh], predicted[:count]]), axis=0)
            brain[rh] = np.nanmean(np.array([brain[rh], predicted[count:]]), axis=0)
    return brain, affine


def afni_resample(volume, affine, master):
    """3dresample -master (NN), on AFNI's float32 copy with NaN -> 0."""
    data = np.nan_to_num(volume.astype(np.float32), nan=0.0)
    mapping = np.linalg.inv(affine) @ master.affine
    ijk = np.indices(master.shape[:3]).reshape(3, -1).astype(np.float64)
    f = mapping[:3, :3] @ ijk + mapping[:3, 3:]
    shifted = f + 0.5
    n = np.array(data.shape)[:, None]
    inside = np.all((shifted >= 0) & (shifted < n - 0.0001), axis=0)
    index = np.floor(shifted).astype(np.int64)
    out = np.zeros(ijk.shape[1], np.float32)
    out[inside] = data[index[0, inside], index[1, inside], index[2, inside]]
    return out.reshape(master.shape[:3])


def fsl_applywarp(volume_on_t1, t1_path, coeff_path, ref_path, premat_path):
    """applywarp --interp=nn --premat --warp --ref, through fslpy."""
    t1 = FSLImage(t1_path, loadData=False)
    image = FSLImage(volume_on_t1, header=t1.header)
    ref = FSLImage(ref_path, loadData=False)
    # The FNIRT source is the cropped T1 that FLIRT's premat leads to; only its FSL-to-voxel
    # conversion is used, and it cancels against premat's, so the T1's header stands in.
    field = fnirt.readFnirt(coeff_path, t1, ref).asDeformationField(premat=True)
    premat = flirt.readFlirt(premat_path)
    voxel_premat = fslaffine.concat(t1.getAffine("fsl", "voxel"), premat, image.getAffine("voxel", "fsl"))
    out = nonlinear.applyDeformation(image, field, ref=ref, order=0, mode="constant", cval=0,
                                     premat=voxel_premat)
    return out.astype(np.float32)


def fsl_smooth(volume, sigma, voxel_sizes):
    """fslmaths -s sigma."""
    out = volume.astype(np.float32)
    ones = np.ones(volume.shape)
    for axis, d in enumerate(voxel_sizes):
        radius = int(np.ceil(np.float32(sigma) * np.float32(4.0) / np.float32(d)))
        n = np.arange(-radius, radius + 1)
        kernel = np.exp(-(n * d) ** 2 / (2.0 * sigma * sigma))
        numerator = ndimage.correlate1d(out.astype(np.float64), kernel, axis=axis, mode="constant", cval=0.0)
        denominator = ndimage.correlate1d(ones, kernel, axis=axis, mode="constant", cval=0.0)
        out = (numerator / denominator).astype(np.float32)
    return out


def group_rows(package, rois, features, sigma, stages=None):
    """group_prediction for every feature vector: [N, mask voxels] float32 and the mask; the
    first vector's intermediate volumes go into `stages` when given."""
    rows = []
    for n in range(len(features)):
        group, overlap = group_prediction(package, rois, features[n], sigma, stages if n == 0 else None)
        rows.append(group)
    return np.stack(rows).astype(np.float32), overlap


def overlap_mask(package, rois):
    mask = None
    for roi in rois:
        m = nib.load(os.path.join(package, f"img2fmri/derivatives/group_mni_bool_masks/{roi}.nii.gz")).get_fdata() > 0
        mask = m if mask is None else mask | m
    return mask


def group_prediction(package, rois, features, sigma, stages=None):
    """img2fmri's predict(): subject volumes -> MNI -> smoothed -> z-scored group average."""
    overlap = overlap_mask(package, rois)
    total = np.zeros(int(overlap.sum()))
    for subject in (1, 2, 3):
        volume, affine = subject_volume(package, subject, rois, features)
        t1_path = os.path.join(package, t1_member(subject))
        on_t1 = afni_resample(volume, affine, nib.load(t1_path))
        mni = fsl_applywarp(on_t1, t1_path,
                            os.path.join(package, anat_member(subject, "T1_to_MNI_nonlin_coeff.nii.gz")),
                            os.path.join(package, anat_member(subject, "T1_to_MNI_nonlin.nii.gz")),
                            os.path.join(package, anat_member(subject, "T1_nonroi2roi.mat")))
        ref = nib.load(os.path.join(package, anat_member(subject, "T1_to_MNI_nonlin.nii.gz")))
        smoothed = fsl_smooth(mni, sigma, ref.header.get_zooms()[:3])
        if stages is not None:
            stages[f"subject{subject}_volume"] = volume.astype(np.float32)
            stages[f"subject{subject}_t1"] = on_t1
            stages[f"subject{subject}_mni"] = mni
            stages[f"subject{subject}_smoothed"] = smoothed
        total += stats.zscore(smoothed[overlap].astype(np.float64))
    return stats.zscore(total), overlap


# ---------------------------------------------------------------------------------------------
# A small package in the wheel's layout


def write_nifti(path, data, affine, qform_code=1, sform_code=1, dtype=None, zooms=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = nib.Nifti1Image(data if dtype is None else data.astype(dtype), affine)
    image.set_qform(affine, qform_code)
    image.set_sform(affine, sform_code)
    if zooms is not None:
        image.header.set_zooms(zooms)
    nib.save(image, path)


def rotation(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def small_package(package, rng):
    """Three subjects, ROIs OPA and PPA, every file in the format the wheel uses."""
    ref_shape = (12, 14, 12)
    ref_affine = np.array([[-2.0, 0, 0, 22], [0, 2, 0, -14], [0, 0, 2, -12], [0, 0, 0, 1]])
    t1_shape = (20, 22, 18)
    shape_array = np.zeros((3, 5, 2))
    warped_masks = {roi: [] for roi in ("OPA", "LOC", "PPA")}
    for subject in (1, 2, 3):
        # Subject grid: 2 mm, an even number of mm inside the 1 mm T1 grid (ties in 3dresample).
        t1_origin = np.array([-10.0, -11.0, -9.0]) + subject * np.array([0.5, 0.0, -0.5])
        t1_affine = np.diag([1.0, 1.0, 1.0, 1.0])
        t1_affine[:3, 3] = t1_origin
        sub_shape = (8, 9, 7)
        sub_affine = np.diag([2.0, 2.0, 2.0, 1.0])
        sub_affine[:3, 3] = t1_origin + np.array([2.0, 2.0, 2.0 + 2 * (subject == 2)])
        t1 = rng.integers(0, 900, t1_shape).astype(np.int16)
        write_nifti(os.path.join(package, t1_member(subject)), t1, t1_affine, 1, 1)

        # Masks: two overlapping blobs per ROI, split into LH (low i) and RH (high i).
        ii, jj, kk = np.indices(sub_shape)
        blobs = {"OPA": (np.array([3.5, 4.0, 3.0]) + 0.4 * subject, 2.6),
                 "LOC": (np.array([4.0, 4.3, 3.2]), 1.8),
                 "PPA": (np.array([4.5, 4.5, 3.5]) - 0.3 * subject, 2.2)}
        for roi_index, roi in enumerate(ROIS):
            if roi not in blobs:
                continue
            centre, radius = blobs[roi]
            inside = (ii - centre[0]) ** 2 + (jj - centre[1]) ** 2 + (kk - centre[2]) ** 2 <= radius ** 2
            lh = (inside & (ii < 4)).astype(np.uint8)
            rh = (inside & (ii >= 4)).astype(np.uint8)
            write_nifti(os.path.join(package, mask_member(subject, "LH", roi)), lh, sub_affine, 2, 2)
            write_nifti(os.path.join(package, mask_member(subject, "RH", roi)), rh, sub_affine, 2, 2)
            shape_array[subject - 1, roi_index] = [lh.sum(), rh.sum()]
            count = int(lh.sum() + rh.sum())
            x = rng.uniform(0, 0.6, (40, 32)).astype(np.float32)
            y = (x @ rng.normal(0, 2.0, (32, count)) + rng.normal(0, 0.1, (40, count))).astype(np.float32)
            ridge = Ridge(alpha=np.float64(0.5)).fit(x, y)
            os.makedirs(os.path.join(package, "img2fmri", "models"), exist_ok=True)
            with open(os.path.join(package, f"img2fmri/models/subj{subject}_{roi}_model.pkl"), "wb") as f:
                pickle.dump(ridge, f, protocol=4)

        # FLIRT premat (non-ROI T1 -> robustfov-cropped T1): a z shift, as in the wheel, plus a
        # small rotation so the matrix is general.
        premat = np.eye(4)
        premat[:3, :3] = rotation(0.02, -0.01, 0.015 * subject)
        premat[:3, 3] = [0.3, -0.2, -2.0]
        os.makedirs(os.path.join(package, anat_member(subject, "")), exist_ok=True)
        with open(os.path.join(package, anat_member(subject, "T1_nonroi2roi.mat")), "w") as f:
            f.write("".join("  ".join(f"{v:.8f}" for v in row) + "  \n" for row in premat))

        # FNIRT coefficient field: ref->src affine (stored inverted, as src->ref, in the sform),
        # knots every 3 reference voxels, smooth random displacements in mm.
        ref_to_src = np.eye(4)
        ref_to_src[:3, :3] = rotation(0.03, 0.02, -0.02) @ np.diag([0.8, 0.78, 0.74])
        ref_to_src[:3, 3] = [1.0 + 0.2 * subject, 0.4, -1.3]
        src_to_ref = np.linalg.inv(ref_to_src)
        knots = (3, 3, 3)
        coef_shape = tuple(int(np.ceil((n + 1) / k)) + 2 for n, k in zip(ref_shape, knots))
        coefficients = rng.normal(0, 0.9, coef_shape + (3,)).astype(np.float32)
        coef = nib.Nifti1Image(coefficients, None)
        coef.header["intent_code"] = 2007  # FSL_CUBIC_SPLINE_COEFFICIENTS
        coef.header["intent_p1"], coef.header["intent_p2"], coef.header["intent_p3"] = 2.0, 2.0, 2.0
        qform = np.diag(list(map(float, knots)) + [1.0])
        qform[:3, 3] = ref_shape
        coef.header.set_zooms(tuple(map(float, knots)) + (1.0,))
        coef.set_sform(src_to_ref, 1)
        coef.set_qform(qform, 1)
        coef.header["descrip"] = b"6.0.3:b862cdd5"
        path = os.path.join(package, anat_member(subject, "T1_to_MNI_nonlin_coeff.nii.gz"))
        nib.save(coef, path)
        reference = rng.uniform(0, 1, ref_shape).astype(np.float32)
        write_nifti(os.path.join(package, anat_member(subject, "T1_to_MNI_nonlin.nii.gz")), reference,
                    ref_affine, 4, 4)

        # Where each ROI lands in the reference, for the group masks (as img2fmri made them).
        for roi in warped_masks:
            lh = nib.load(os.path.join(package, mask_member(subject, "LH", roi))).get_fdata()
            rh = nib.load(os.path.join(package, mask_member(subject, "RH", roi))).get_fdata()
            for hemisphere in (lh, rh):
                t1_path = os.path.join(package, t1_member(subject))
                on_t1 = afni_resample(hemisphere, sub_affine, nib.load(t1_path))
                mni = fsl_applywarp(on_t1, t1_path, path,
                                    os.path.join(package, anat_member(subject, "T1_to_MNI_nonlin.nii.gz")),
                                    os.path.join(package, anat_member(subject, "T1_nonroi2roi.mat")))
                warped_masks[roi].append(fsl_smooth(mni, 1.0, (2.0, 2.0, 2.0)))
    np.save(os.path.join(package, "img2fmri/derivatives/shape_array.npy"), shape_array)
    for roi, smoothed in warped_masks.items():
        union = np.zeros(ref_shape, bool)
        for s in smoothed:
            union |= s > s.max() * 0.15
        write_nifti(os.path.join(package, f"img2fmri/derivatives/group_mni_bool_masks/{roi}.nii.gz"),
                    union.astype(np.float32), ref_affine, 4, 4)


def conventions(package, rng):
    """fslpy's FSL scaled-voxel matrices and spline displacements, for unit tests."""
    cases = []
    for name, affine, qcode, scode in [
        ("ras-sform", np.array([[1.0, 0, 0, -10], [0, 1.2, 0, -11], [0, 0, 0.9, -9], [0, 0, 0, 1]]), 1, 1),
        ("las-sform", np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]]), 4, 4),
        ("oblique-ras", np.vstack([np.hstack([rotation(0.1, 0.05, 0.2) @ np.diag([1.5, 1.5, 3.0]),
                                              [[4.0], [-3.0], [2.0]]]), [0, 0, 0, 1]]), 1, 1),
        ("qform-only-las", np.array([[-1.0, 0, 0, 5], [0, 1, 0, -5], [0, 0, 1, -5], [0, 0, 0, 1]]), 1, 0),
    ]:
        image = nib.Nifti1Image(np.zeros((7, 6, 5), np.float32), None)
        image.set_qform(affine, qcode)
        image.set_sform(affine, scode)
        image.header.set_zooms(tuple(np.linalg.norm(affine[:3, :3], axis=0)))
        buffer = io.BytesIO()
        image.to_file_map({"image": nib.FileHolder(fileobj=buffer), "header": nib.FileHolder(fileobj=buffer)})
        header_bytes = buffer.getvalue()[:348]
        fsl = FSLImage(image)
        cases.append({"name": name, "header": list(header_bytes),
                      "voxel_to_fsl": fsl.getAffine("voxel", "fsl").tolist()})
    # Displacements of subject 1's small field at a few reference voxels (fractional too).
    t1 = FSLImage(os.path.join(package, t1_member(1)), loadData=False)
    ref = FSLImage(os.path.join(package, anat_member(1, "T1_to_MNI_nonlin.nii.gz")), loadData=False)
    field = fnirt.readFnirt(os.path.join(package, anat_member(1, "T1_to_MNI_nonlin_coeff.nii.gz")), t1, ref)
    points = np.vstack([rng.uniform(0, 11, (12, 3)), [[0, 0, 0], [11, 13, 11], [5, 6, 7], [10.5, 12.75, 3.25]]])
    return {"flirt": cases,
            "fnirt": {"points": points.tolist(), "displacements": field.displacements(points).tolist()}}


def synthetic(rng):
    package = os.path.join(OUT, "package")
    small_package(package, rng)
    with open(os.path.join(OUT, "conventions.json"), "w") as f:
        json.dump(conventions(package, rng), f, indent=1)

    # The two images of ../e2e through the tiny ResNet, as img2fmri's generate_activations.
    torch.manual_seed(0)
    model = TinyResNet18()
    model.load_state_dict(torch.load(os.path.join(MODELS, "e2e", "resnet18-tiny.pth")))
    model.eval()
    extractor = torch.nn.Sequential(*list(model.children())[:-1])
    scaler = transforms.Resize((224, 224))
    normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    names = ["photo.jpg", "scene.png"]
    features = []
    for name in names:
        image = Image.open(os.path.join(MODELS, "e2e", "images", name))
        with torch.no_grad():
            features.append(extractor(normalize(transforms.ToTensor()(scaler(image))).unsqueeze(0)).numpy().flatten())
    features = np.stack(features).astype(np.float32)

    arrays = {"features": features}
    stages = {}
    for label, rois, sigma in (("opa_ppa_s1", ["OPA", "PPA"], 1.0),
                               ("opa_loc_ppa_s1", ["OPA", "LOC", "PPA"], 1.0),
                               ("ppa_loc_opa_s1", ["PPA", "LOC", "OPA"], 1.0),
                               ("ppa_s125", ["PPA"], 1.25)):
        arrays[f"group_{label}"], arrays[f"overlap_{label}"] = group_rows(
            package, rois, features, sigma, stages if label == "opa_ppa_s1" else None)
    for key, value in stages.items():
        arrays[key] = value
    np.savez_compressed(os.path.join(OUT, "reference.npz"), **arrays)


# ---------------------------------------------------------------------------------------------
# The real wheel


def real_wheel(wheel):
    """The pipeline on the real wheel's files for the three fixed vectors of
    Tests/BERGNetworkTests/Fixtures/img2fmri/features.npy."""
    features = np.load(os.path.join(NETWORK, "features.npy"))
    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(scratch)
        package = scratch
        derivatives = os.path.join(package, "img2fmri", "derivatives")
        # group_mni_bool_masks/{ROI} is utils.get_subj_overlap([ROI]).
        for roi in ROIS:
            union = np.zeros((91, 109, 91), bool)
            for s in (1, 2, 3):
                for h in "LR":
                    d = nib.load(os.path.join(derivatives, f"s_bool_masks/s_sub{s}_{h}H{roi}_MNI.nii.gz")).get_fdata()
                    union |= d > np.max(d) * 0.15
            group = nib.load(os.path.join(derivatives, f"group_mni_bool_masks/{roi}.nii.gz")).get_fdata() > 0
            assert np.array_equal(union, group), roi
        arrays = {}
        stages = {}
        for label, rois, sigma in (("all_s1", ROIS, 1.0), ("test_s125", ["EarlyVis", "OPA", "LOC", "RSC"], 1.25)):
            arrays[f"group_{label}"], overlap = group_rows(package, rois, features, sigma,
                                                           stages if label == "all_s1" else None)
            arrays[f"overlap_count_{label}"] = np.array(int(overlap.sum()))
        # Each subject's warped volume for the first vector, as (C-order index, value) of its
        # nonzero voxels: the geometry alone, before smoothing.
        for subject in (1, 2, 3):
            mni = stages[f"subject{subject}_mni"]
            index = np.flatnonzero(mni)
            arrays[f"subject{subject}_mni_index"] = index.astype(np.int32)
            arrays[f"subject{subject}_mni_value"] = mni.ravel()[index].astype(np.float32)
            t1 = stages[f"subject{subject}_t1"]
            arrays[f"subject{subject}_t1_nonzero"] = np.array(int(np.count_nonzero(t1)))
        os.makedirs(os.path.join(NETWORK, "mni"), exist_ok=True)
        np.savez_compressed(os.path.join(NETWORK, "mni", "real_reference.npz"), **arrays)

        movie_reference(os.path.join(package, "img2fmri", "tests", "test_data", "landscape.mp4"))


# ---------------------------------------------------------------------------------------------
# Movies


def frame_indices(path, frames):
    """Which frame of a plain sequential decode each sampled frame is (they match exactly)."""
    capture = cv2.VideoCapture(path)
    sequence = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        sequence.append(image[:, :, ::-1])
    sequence = np.stack(sequence).astype(np.int16)
    indices = []
    for frame in frames:
        difference = np.abs(sequence - frame.astype(np.int16)).reshape(len(sequence), -1).max(axis=1)
        assert difference.min() == 0
        indices.append(int(np.argmin(difference)))
    return np.array(indices)


def extract_frames(path):
    """utils.extract_frames without the JPEG files: the sample times and RGB frames."""
    capture = cv2.VideoCapture(path)
    frame_count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    rate = capture.get(cv2.CAP_PROP_FPS)
    length = frame_count / rate
    frames, times = [], []
    msec = 0
    while msec < length * 1000:
        capture.set(cv2.CAP_PROP_POS_MSEC, msec)
        ok, image = capture.read()
        if ok:
            frames.append(image[:, :, ::-1].copy())
            times.append(msec / 1000)
        msec += 500
    capture.release()
    return np.array(times), np.stack(frames), rate, frame_count


def hrf(step):
    dt = np.arange(0, 15, step=step)
    p, q = 8.6, 0.547
    return np.power(dt / (p * q), p) * np.exp(p - dt / q)


def movie_fixtures(rng):
    os.makedirs(MOVIE, exist_ok=True)
    path = os.path.join(MOVIE, "counter.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (64, 48))
    assert writer.isOpened()
    for n in range(75):  # 3.125 s at 24 fps
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, :, 2] = 3 * n          # red channel (OpenCV writes BGR) counts the frames
        frame[:, :, 1] = 250 - 3 * n
        frame[:24, :32, 0] = 200        # a blue corner, so the picture has structure
        writer.write(frame)
    writer.release()
    times, frames, rate, count = extract_frames(path)
    series = rng.normal(0, 1, (20, 3))
    convolved = np.stack([np.convolve(series[:, v], hrf(0.5))[:20] for v in range(3)], axis=1)
    np.savez_compressed(os.path.join(MOVIE, "reference.npz"), times=times, frames=frames,
                        frame_index=frame_indices(path, frames),
                        hrf_2hz=hrf(0.5), hrf_3hz=hrf(1 / 3), series=series, convolved=convolved,
                        rate=np.array(rate), frame_count=np.array(count))


def movie_reference(path):
    times, frames, rate, count = extract_frames(path)
    with open(os.path.join(NETWORK, "mni", "landscape.json"), "w") as f:
        json.dump({"rate": rate, "frame_count": count, "times": times.tolist(),
                   "frame_index": frame_indices(path, frames).tolist(),
                   "shape": list(frames.shape[1:]),
                   "channel_means": frames.reshape(len(frames), -1, 3).mean(axis=1).tolist()}, f, indent=1)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PATH/img2fmri-1.0-py3-none-any.whl")
    rng = np.random.default_rng(20)
    synthetic(rng)
    movie_fixtures(rng)
    real_wheel(sys.argv[1])


if __name__ == "__main__":
    main()
