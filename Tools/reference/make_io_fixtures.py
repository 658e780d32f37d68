#!/usr/bin/env python3
"""Fixtures for BERGFormats' image, NIfTI and HDF5 readers, made by the reference libraries.

Command line (from the repository root):

    python3 Tools/reference/make_io_fixtures.py

Made with: Python 3.11.7, numpy 2.4.6, Pillow 13.0.0 (libjpeg-turbo 3.2.0), nibabel 5.4.2,
h5py 3.16.0 (HDF5 2.0.0). Each run writes its versions to
Tests/BERGFormatsTests/Fixtures/io/VERSIONS.txt. Re-running gives byte-identical files.

Writes into Tests/BERGFormatsTests/Fixtures/io/:

- images/*.jpg, *.png: small images in many PNG colour types and bit depths (and one with a
  gAMA chunk, which Pillow ignores), and JPEGs with 4:2:0 and 4:4:4 subsampling and grayscale; beside each, <name>.rgb.npy, the uint8 [H, W, 3]
  array that Pillow's Image.open(path).convert("RGB") gives. The 16-bit grayscale PNGs
  (gray16*.png) are the exception: Pillow clips I;16 to 255, which BERG does not copy; their
  expected array is what Pillow gives for the same samples written as a 16-bit RGB PNG (the
  high byte of each sample, libpng's strip-16).
- unsupported/: one small image each as GIF, BMP, WebP and TIFF, written by Pillow, which the
  readers must refuse by name.
- crops/: a wide and a tall PNG, and <name>.square.npy, Pillow's crop to the largest centred
  square, crop((l, t, l + S, t + S)) with l = (W - S) // 2, t = (H - S) // 2, as [H, W, 3].
- nifti/<name>.nii[.gz]: masks and volumes with non-trivial affines (sform, qform only, neither),
  several dtypes, scaling, and a 4-D volume; beside each <name>.affine.npy (nibabel's
  img.affine), <name>.data.npy (img.get_fdata(), C order) and <name>.argwhere.npy
  (np.argwhere(data > 0), int64); for the 4-D volume also <name>.mask.npy (a uint8 3-D mask)
  and <name>.masked.npy (data[mask > 0], shape [count, T]).
- hdf5/h5py_sample.h5, written by h5py; hdf5/h5py_sample.json, its dataset shapes, dtypes,
  strings and attributes; hdf5/expected.<dataset>.npy, each numeric dataset's values;
  hdf5/huge_declared.h5, a float32 dataset declared 10^6 x 10^6 with no storage.

CI does not run this script; the fixtures are committed.
"""
import json
import os
import struct
import sys
import zlib

import h5py
import nibabel as nib
import numpy as np
import PIL
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "BERGFormatsTests", "Fixtures", "io")
rng = np.random.default_rng(20260522)


def ensure(path):
    os.makedirs(path, exist_ok=True)
    return path


def smooth_rgb(h, w):
    """A colourful image with gradients and some noise, so JPEG has real work to do."""
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / 3.0)
    g = 128 + 100 * np.cos(y / 4.0)
    b = (x * 7 + y * 5) % 256
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def save_expected(path):
    im = Image.open(path)
    if im.mode == "I;16":
        # Pillow's decode of the same samples as a 16-bit RGB PNG (see the docstring).
        gray = np.asarray(im, dtype=np.uint16)
        twin = path + ".rgb16-twin.png"
        write_png16_rgb(twin, np.stack([gray] * 3, axis=-1))
        rgb = np.asarray(Image.open(twin).convert("RGB"), dtype=np.uint8)
        os.remove(twin)
    else:
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    np.save(path + ".rgb.npy", np.ascontiguousarray(rgb))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16_rgb(path, arr16, alpha=None):
    """16-bit RGB(A) PNG written by hand (Pillow cannot write 16-bit colour)."""
    h, w, _ = arr16.shape
    if alpha is not None:
        arr16 = np.concatenate([arr16, alpha[..., None]], axis=-1)
    colour_type = 6 if alpha is not None else 2
    rows = b"".join(b"\x00" + arr16[i].astype(">u2").tobytes() for i in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def make_images():
    d = ensure(os.path.join(OUT, "images"))
    h, w = 17, 23
    rgb = smooth_rgb(h, w)
    Image.fromarray(rgb).save(os.path.join(d, "rgb420.jpg"), quality=90)  # Pillow's default 4:2:0
    Image.fromarray(rgb).save(os.path.join(d, "rgb444.jpg"), quality=95, subsampling=0)
    Image.fromarray(rgb).convert("L").save(os.path.join(d, "gray.jpg"), quality=90)
    Image.fromarray(rgb).save(os.path.join(d, "rgb.png"))
    Image.fromarray(rgb).convert("L").save(os.path.join(d, "gray.png"))
    Image.fromarray(rgb).convert("1").save(os.path.join(d, "bilevel.png"))
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(os.path.join(d, "palette.png"))
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.info["transparency"] = 3
    pal.save(os.path.join(d, "palette_trns.png"), transparency=3)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    alpha[0, :] = 0  # fully transparent pixels keep their colour in Pillow
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(d, "rgba.png"))
    Image.fromarray(np.dstack([rgb[..., 0], alpha]), "LA").save(os.path.join(d, "la.png"))
    gray16 = rng.integers(0, 600, (h, w)).astype(np.uint16)  # values over 255 are clipped by Pillow
    Image.fromarray(gray16).save(os.path.join(d, "gray16.png"))
    rgb16 = rng.integers(0, 65536, (h, w, 3)).astype(np.uint16)
    write_png16_rgb(os.path.join(d, "rgb16.png"), rgb16)
    write_png16_rgb(os.path.join(d, "rgba16.png"), rgb16, alpha=np.full((h, w), 65535, np.uint16))
    # 16-bit gray levels evenly from 0 to 65535 (no random draws, so that the fixtures after it
    # stay as they were).
    Image.fromarray((np.arange(h * w, dtype=np.uint32).reshape(h, w) * 65535 // (h * w - 1)).astype(np.uint16)).save(
        os.path.join(d, "gray16_full.png"))
    # A gAMA chunk of 1.0 after IHDR: Pillow ignores it, so the pixels must not change.
    with open(os.path.join(d, "rgb.png"), "rb") as f:
        plain = f.read()
    with open(os.path.join(d, "gamma.png"), "wb") as f:
        f.write(plain[:33] + png_chunk(b"gAMA", struct.pack(">I", 100000)) + plain[33:])
    for name in sorted(os.listdir(d)):
        if name.endswith((".jpg", ".png")):
            save_expected(os.path.join(d, name))
    u = ensure(os.path.join(OUT, "unsupported"))
    for name in ["image.gif", "image.bmp", "image.webp", "image.tif"]:
        Image.fromarray(rgb).save(os.path.join(u, name))


def make_crops():
    d = ensure(os.path.join(OUT, "crops"))
    for name, (w, h) in {"wide": (40, 24), "tall": (24, 37)}.items():
        path = os.path.join(d, name + ".png")
        Image.fromarray(smooth_rgb(h, w)).save(path)
        im = Image.open(path).convert("RGB")
        s = min(im.size)
        left, top = (im.width - s) // 2, (im.height - s) // 2
        np.save(path + ".square.npy", np.asarray(im.crop((left, top, left + s, top + s)), dtype=np.uint8))


def rotation_affine():
    """A rotation about a tilted axis, anisotropic voxels and an offset: nothing is diagonal."""
    a, b = 0.3, -0.2
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    aff = np.eye(4)
    aff[:3, :3] = rz @ rx @ np.diag([2.0, 2.5, 3.0])
    aff[:3, 3] = [-90.5, 12.25, -30.0]
    return aff


def save_nifti(img, name):
    d = ensure(os.path.join(OUT, "nifti"))
    path = os.path.join(d, name)
    nib.save(img, path)
    back = nib.load(path)
    data = back.get_fdata()
    np.save(path + ".affine.npy", np.asarray(back.affine, dtype=np.float64))
    np.save(path + ".data.npy", np.ascontiguousarray(data))
    np.save(path + ".argwhere.npy", np.argwhere(data > 0).astype(np.int64))
    return back


def make_nifti():
    shape = (7, 6, 5)
    mask = (rng.random(shape) > 0.6).astype(np.float32)
    mask[rng.random(shape) > 0.85] = 2  # a label value other than 1 is still inside
    aff = rotation_affine()
    img = nib.Nifti1Image(mask, aff)
    img.header.set_sform(aff, code=4)
    img.header.set_qform(aff, code=1)
    save_nifti(img, "mask_float32.nii.gz")
    img_u8 = nib.Nifti1Image(mask.astype(np.uint8), aff)
    img_u8.header.set_sform(aff, code=2)
    save_nifti(img_u8, "mask_uint8.nii.gz")
    save_nifti(img_u8, "mask_uint8.nii")

    # qform only, with qfac = -1 (a left-right flip kept in pixdim[0]).
    flip = aff.copy()
    flip[:3, 2] *= -1
    q = nib.Nifti1Image(rng.integers(-5, 6, (4, 5, 3)).astype(np.int16), None)
    q.header.set_qform(flip, code=1)
    q.header.set_sform(None, code=0)
    save_nifti(q, "qform_int16.nii.gz")

    # Neither form: the base affine from pixdim.
    base = nib.Nifti1Image(rng.integers(0, 3, (5, 4, 3)).astype(np.int32), None)
    base.header.set_qform(None, code=0)
    base.header.set_sform(None, code=0)
    base.header.set_zooms((1.5, 2.0, 2.5))
    save_nifti(base, "base_int32.nii")

    # Scaled int16: get_fdata() = raw * slope + inter.
    s = nib.Nifti1Image(rng.integers(-100, 100, (4, 3, 2)).astype(np.int16), aff)
    s.header.set_slope_inter(0.5, 10.0)
    save_nifti(s, "scaled_int16.nii.gz")

    # A 4-D float64 volume and a mask selecting from it, as volume[mask] does.
    vol = rng.normal(0, 1, (4, 3, 5, 6))
    v = nib.Nifti1Image(vol, aff)
    back = save_nifti(v, "volume4d_float64.nii.gz")
    mask3d = rng.random((4, 3, 5)) > 0.5
    path = os.path.join(OUT, "nifti", "volume4d_float64.nii.gz")
    np.save(path + ".mask.npy", mask3d.astype(np.uint8))
    np.save(path + ".masked.npy", np.ascontiguousarray(back.get_fdata()[mask3d]))


def make_hdf5():
    d = ensure(os.path.join(OUT, "hdf5"))
    path = os.path.join(d, "h5py_sample.h5")
    expected = {"datasets": {}, "attributes": {}}
    with h5py.File(path, "w") as f:
        arrays = {
            "float32": rng.normal(0, 1, (3, 4)).astype(np.float32),
            "float64": rng.normal(0, 1, (5,)),
            "int64": rng.integers(-10**12, 10**12, (2, 3)),
            "int32": rng.integers(-1000, 1000, (4,)).astype(np.int32),
            "uint8": rng.integers(0, 256, (2, 2, 2)).astype(np.uint8),
            "bool": np.array([True, False, True]),
            "group/nested/values": rng.normal(0, 1, (2, 2)).astype(np.float32),
        }
        for name, arr in arrays.items():
            f.create_dataset(name, data=arr)
        comp = rng.normal(0, 1, (100, 50)).astype(np.float32)
        f.create_dataset("compressed", data=comp, chunks=(10, 50), compression="gzip", compression_opts=4)
        arrays["compressed"] = comp
        f.create_dataset("group/nested/scalar", data=2.75)
        f.create_dataset("strings", data=["a", "béta", "c"], dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("fixed_strings", data=np.array([b"ab", b"cde"], dtype="S5"))
        f.attrs["model_id"] = "fmri-test"
        f.attrs["count"] = 3
        f.attrs["ratio"] = 0.5
        f.attrs["flag"] = True
        f.attrs["list"] = np.array([1, 2, 3], dtype=np.int64)
        f.attrs["names"] = ["x", "y"]
        f.attrs["nothing"] = h5py.Empty("f4")
        f["group"].attrs["unit"] = "mm"
        for name, arr in arrays.items():
            expected["datasets"][name] = {"dtype": str(arr.dtype), "shape": list(arr.shape)}
            np.save(os.path.join(d, "expected." + name.replace("/", ".") + ".npy"), arr)
        expected["datasets"]["group/nested/scalar"] = {"dtype": "float64", "shape": []}
        expected["scalars"] = {"group/nested/scalar": 2.75}
        expected["strings"] = {"strings": ["a", "béta", "c"], "fixed_strings": ["ab", "cde"]}
        expected["attributes"] = {"model_id": "fmri-test", "count": 3, "ratio": 0.5, "flag": True,
                                  "list": [1, 2, 3], "names": ["x", "y"], "group@unit": "mm"}
    # A dataset that declares 4 TB but holds nothing (storage is allocated on first write).
    with h5py.File(os.path.join(d, "huge_declared.h5"), "w") as f:
        f.create_dataset("huge", shape=(10**6, 10**6), dtype="f4")
    with open(os.path.join(d, "h5py_sample.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)


def main():
    ensure(OUT)
    make_images()
    make_crops()
    make_nifti()
    make_hdf5()
    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write(f"command: python3 Tools/reference/make_io_fixtures.py\n")
        f.write(f"python {sys.version.split()[0]}\nnumpy {np.__version__}\nPillow {PIL.__version__}\n")
        f.write(f"nibabel {nib.__version__}\nh5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version})\n")
        f.write(f"libjpeg-turbo in Pillow: {PIL.features.version('libjpeg_turbo')}\n")


if __name__ == "__main__":
    import PIL.features  # noqa: E402  (for the version line)
    main()
