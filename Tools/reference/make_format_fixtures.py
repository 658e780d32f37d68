#!/usr/bin/env python3
"""Writes the pickle / PyTorch / NumPy / scikit-learn fixtures of Tests/BERGFormatsTests/Fixtures
and the values they must decode to.

Command line (run from the repository root):
    python3 Tools/reference/make_format_fixtures.py Tests/BERGFormatsTests/Fixtures

Made with: Python 3.11, torch 2.15.0, numpy 2.4.6, scikit-learn 1.9.1 (the script checks these
and records the versions it ran with in Fixtures/pickle_fixtures_versions.json).

Expected values are written by the library that made each fixture (torch, numpy,
scikit-learn), as plain little-endian C-order .npy files under Fixtures/expected/ and as
JSON. The Swift tests compare against these, never against their own output.
"""
import argparse
import io
import json
import os
import pickle
import platform
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, MultiTaskLasso, Ridge
from sklearn.preprocessing import StandardScaler


def save_expected(out, name, array):
    """A plain C-order little-endian .npy that the Swift NPY reader already handles."""
    array = np.array(array, order="C", copy=True)  # keeps 0-d arrays 0-d
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    np.save(os.path.join(out, "expected", name + ".npy"), array, allow_pickle=False)


# ---------------------------------------------------------------------------------------------
# PyTorch checkpoints
# ---------------------------------------------------------------------------------------------

class TinyEncoder(torch.nn.Module):
    """Conv + BatchNorm, so the state_dict has num_batches_tracked like BERG's encoder."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class TinyFWRF(torch.nn.Module):
    """The parameter names of BERG's Torch_LayerwiseFWRF readout (rfs, w, b)."""

    def __init__(self, voxels=5, features=4):
        super().__init__()
        self.rfs = torch.nn.Parameter(torch.randn(voxels, 3))
        self.w = torch.nn.Parameter(torch.randn(voxels, features))
        self.b = torch.nn.Parameter(torch.randn(voxels))


def fwrf_checkpoint(out):
    enc = TinyEncoder()
    enc.train()
    enc(torch.randn(2, 3, 6, 6))  # update running stats and num_batches_tracked
    fwrf = TinyFWRF()
    args = argparse.Namespace(subject=1, roi="V1", epochs=3, lr=1e-3, trunk_width=64, use_prefilter=True)
    checkpoint = {
        "args.": args,
        "best_params": {"enc": enc.state_dict(), "fwrfs": {1: fwrf.state_dict()}},
        "final_params": {"enc": enc.state_dict(), "fwrfs": {1: fwrf.state_dict()}},
        "trn_hist": [np.float64(0.5), np.float64(0.25)],
        "hold_hist": [0.75, 0.5],
        "hold_cc_hist": {1: [np.array([0.1, 0.2, 0.3], dtype=np.float32)]},
        "best_epoch": 1,
        "best_joint_cc_score": np.float64(0.3),
        "subject_val_cc": {1: np.linspace(-0.5, 0.5, 5).astype(np.float32)},
        "stim_mean": np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1) / 10 + 0.4,
        "betas_info": {1: {"masterordering": np.arange(6, dtype=np.int64).reshape(2, 3)}},
    }
    path = os.path.join(out, "fwrf_checkpoint.pt")
    torch.save(checkpoint, path)
    for key, tensor in enc.state_dict().items():
        save_expected(out, "fwrf_enc." + key, tensor.numpy())
    for key, tensor in fwrf.state_dict().items():
        save_expected(out, "fwrf_fwrfs1." + key, tensor.detach().numpy())
    save_expected(out, "fwrf_stim_mean", checkpoint["stim_mean"])
    save_expected(out, "fwrf_subject_val_cc", checkpoint["subject_val_cc"][1])

    # The same checkpoint with the older `archive/` top folder (entries renamed, bytes kept).
    stem = "fwrf_checkpoint/"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(os.path.join(out, "fwrf_checkpoint_archive.pt"), "w",
                                                       compression=zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            assert info.filename.startswith(stem), info.filename
            dst.writestr("archive/" + info.filename[len(stem):], src.read(info.filename))
    reloaded = torch.load(os.path.join(out, "fwrf_checkpoint_archive.pt"), weights_only=False)
    assert torch.equal(reloaded["best_params"]["fwrfs"][1]["w"], fwrf.w)


def dtype_checkpoint(out):
    """Tensors of every dtype, plus views: a transpose, a slice with an offset, a shared storage."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    tensors = OrderedDict([
        ("float32", torch.randn(2, 3)),
        ("float16", torch.randn(2, 3).half()),
        ("bfloat16", torch.randn(2, 3).bfloat16()),
        ("float64", torch.randn(3).double()),
        ("int64", torch.tensor([-3, 0, 2**40])),
        ("int32", torch.tensor([[-7, 8], [9, 2**30]], dtype=torch.int32)),
        ("uint8", torch.tensor([0, 17, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(2.5)),
        ("base", base),
        ("transposed", base.t()),
        ("slice", base[1:3, 2:5]),
        ("row", base[2]),
        ("empty", torch.zeros(0, 3)),
    ])
    torch.save(tensors, os.path.join(out, "dtypes.pt"))
    for key, t in tensors.items():
        save_expected(out, "dtypes." + key, t.float().numpy() if t.dtype in (torch.float16, torch.bfloat16) else t.numpy())

    # A big-endian copy: same pickle, byteorder "big", every storage byte-swapped.
    src_path = os.path.join(out, "dtypes.pt")
    with zipfile.ZipFile(src_path) as src:
        pkl = src.read("dtypes/data.pkl")
        with zipfile.ZipFile(os.path.join(out, "dtypes_bigendian.pt"), "w", compression=zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "dtypes/byteorder":
                    data = b"big"
                elif info.filename.startswith("dtypes/data/"):
                    width = storage_width(pkl, info.filename.split("/")[-1])
                    data = np.frombuffer(data, dtype=np.dtype("u%d" % width)).byteswap().tobytes() if width > 1 else data
                dst.writestr(info.filename, data)
    reloaded = torch.load(os.path.join(out, "dtypes_bigendian.pt"))
    for key, t in tensors.items():
        assert torch.equal(reloaded[key], t), key


def v3_checkpoint(out):
    """dtypes without a typed storage class: torch writes _rebuild_tensor_v3 + UntypedStorage."""
    tensors = {"uint16": torch.tensor([[1, 65535], [300, 7]], dtype=torch.uint16),
               "uint32": torch.tensor([4000000000, 5], dtype=torch.uint32),
               "float8": torch.tensor([1.0, 2.0]).to(torch.float8_e4m3fn)}
    torch.save(tensors, os.path.join(out, "dtypes_v3.pt"))
    with zipfile.ZipFile(os.path.join(out, "dtypes_v3.pt")) as z:
        assert b"_rebuild_tensor_v3" in z.read("dtypes_v3/data.pkl")
    for key in ("uint16", "uint32"):
        save_expected(out, "dtypes_v3." + key, tensors[key].to(torch.int64).numpy())


def storage_width(pkl, key):
    """The element size of storage `key`, read from the pickle by torch itself."""
    widths = {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch" and name.endswith("Storage"):
                return name
            if module == "torch._utils":
                return lambda *a: None
            return super().find_class(module, name)

        def persistent_load(self, pid):
            widths[pid[2]] = getattr(torch, pid[1])().element_size()
            return None

    Reader(io.BytesIO(pkl)).load()
    return widths[key]


def legacy_checkpoint(out):
    torch.manual_seed(3)
    enc = TinyEncoder()
    state = enc.state_dict()
    state["conv.weight_t"] = state["conv.weight"].flatten(1).t()  # non-contiguous view
    torch.save(state, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    reloaded = torch.load(os.path.join(out, "legacy.pth"))
    for key, t in reloaded.items():
        save_expected(out, "legacy." + key, t.numpy())


# ---------------------------------------------------------------------------------------------
# NumPy
# ---------------------------------------------------------------------------------------------

def numpy_fixtures(out):
    rng = np.random.default_rng(7)
    metadata = {
        "fmri": {
            "roi_mask": np.array([[True, False], [False, True]]),
            "ncsnr": rng.standard_normal(4).astype(np.float32),
            "voxel_indices": np.arange(5, dtype=np.int64) * 3,
            "rois": np.array(["V1", "V2", "hV4"]),
        },
        "encoding_models": {"train_test": {"r2": np.float64(0.25), "n_images": np.int64(73000)}},
        "subject": 1,
        "name": "fmri-nsd-fwrf",
        "ratio": 0.5,
        "flag": True,
        "missing": None,
        "sizes": [1, 2, 3],
    }
    np.save(os.path.join(out, "metadata_nested_dict.npy"), metadata, allow_pickle=True)
    save_expected(out, "meta.ncsnr", metadata["fmri"]["ncsnr"])
    save_expected(out, "meta.voxel_indices", metadata["fmri"]["voxel_indices"])
    save_expected(out, "meta.roi_mask", metadata["fmri"]["roi_mask"])

    fortran = np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 3)
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    np.save(os.path.join(out, "fortran_order.npy"), fortran)
    save_expected(out, "fortran_order", fortran)
    big = np.arange(6, dtype=">f4").reshape(2, 3) - 2.5
    np.save(os.path.join(out, "big_endian.npy"), big)
    save_expected(out, "big_endian", big.astype("<f4"))
    big_int = np.array([1, -2, 70000], dtype=">i4")
    np.save(os.path.join(out, "big_endian_int.npy"), big_int)
    save_expected(out, "big_endian_int", big_int.astype("<i4"))

    # The same arrays inside a pickle (Fortran order and big endian through the ndarray state).
    in_pickle = {"fortran": fortran, "big": big, "big_int": big_int, "u16": np.array([1, 65535], dtype=np.uint16),
                 "scalar_f32": np.float32(1.5), "scalar_i64": np.int64(-9)}
    with open(os.path.join(out, "arrays_in_pickle.pkl"), "wb") as f:
        pickle.dump(in_pickle, f, protocol=4)
    with open(os.path.join(out, "arrays_in_pickle_p5.pkl"), "wb") as f:  # numpy uses _frombuffer here
        pickle.dump(in_pickle, f, protocol=5)
    with open(os.path.join(out, "arrays_in_pickle_p5.pkl"), "rb") as f:
        assert b"_frombuffer" in f.read()

    arrays = {"weights": rng.standard_normal((3, 4)).astype(np.float32), "bias": np.arange(4, dtype=np.float64),
              "labels": np.array([3, 1, 2], dtype=np.int32)}
    np.savez(os.path.join(out, "arrays.npz"), **arrays)
    np.savez_compressed(os.path.join(out, "arrays_compressed.npz"), **arrays)
    for k, v in arrays.items():
        save_expected(out, "npz." + k, v)


# ---------------------------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------------------------

def sklearn_fixtures(out):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((20, 6))
    y = x @ rng.standard_normal((6, 3)) + 0.1 * rng.standard_normal((20, 3))
    x_test = rng.standard_normal((4, 6))
    save_expected(out, "sk.x_test", x_test.astype(np.float32))
    models = {
        "ridge": Ridge(alpha=2.0).fit(x, y),
        "linear_regression": LinearRegression().fit(x, y),
        "lasso": Lasso(alpha=0.05).fit(x, y[:, 0]),
        "multitask_lasso": MultiTaskLasso(alpha=0.05).fit(x, y),
        "elastic_net": ElasticNet(alpha=0.05, l1_ratio=0.3).fit(x, y),
    }
    for name, model in models.items():
        with open(os.path.join(out, f"sk_{name}.pkl"), "wb") as f:
            pickle.dump(model, f, protocol=4)  # as img2fmri (and joblib's pickler) write it
        save_expected(out, f"sk.{name}.predict", model.predict(x_test).astype(np.float32))
    transformers = {
        "pca": PCA(n_components=3).fit(x),
        "pca_whiten": PCA(n_components=3, whiten=True).fit(x),
        "incremental_pca": IncrementalPCA(n_components=3, batch_size=10).fit(x),
        "standard_scaler": StandardScaler().fit(x),
    }
    for name, model in transformers.items():
        with open(os.path.join(out, f"sk_{name}.pkl"), "wb") as f:
            pickle.dump(model, f, protocol=4)
        save_expected(out, f"sk.{name}.transform", model.transform(x_test).astype(np.float32))

    # BERG's dict-of-parameters form (nsd_fsaverage vit_b_32): scaler -> PCA -> two regressions.
    scaler = StandardScaler().fit(x)
    pca = PCA(n_components=4).fit(scaler.transform(x))
    feats = pca.transform(scaler.transform(x)).astype(np.float32)
    lh = LinearRegression().fit(feats, y[:, :2])
    rh = LinearRegression().fit(feats, y)
    weights = {
        "scaler_param": {"scale_": scaler.scale_, "mean_": scaler.mean_, "var_": scaler.var_,
                         "n_features_in_": scaler.n_features_in_, "n_samples_seen_": scaler.n_samples_seen_},
        "pca_param": {"components_": pca.components_, "explained_variance_": pca.explained_variance_,
                      "explained_variance_ratio_": pca.explained_variance_ratio_,
                      "singular_values_": pca.singular_values_, "mean_": pca.mean_,
                      "n_components_": pca.n_components_, "n_samples_": pca.n_samples_,
                      "noise_variance_": pca.noise_variance_, "n_features_in_": pca.n_features_in_},
        "lh_reg_param": {"coef_": lh.coef_, "intercept_": lh.intercept_, "n_features_in_": lh.n_features_in_},
        "rh_reg_param": {"coef_": rh.coef_, "intercept_": rh.intercept_, "n_features_in_": rh.n_features_in_},
    }
    np.save(os.path.join(out, "berg_param_weights.npy"), weights, allow_pickle=True)
    test_feats = pca.transform(scaler.transform(x_test)).astype(np.float32)
    save_expected(out, "berg.features", test_feats)
    save_expected(out, "berg.lh", lh.predict(test_feats).astype(np.float32))
    save_expected(out, "berg.rh", rh.predict(test_feats).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Hostile and protocol-variety pickles
# ---------------------------------------------------------------------------------------------

class RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo this must never run > /tmp/berg_pwned",))


def pickle_long_bytes(x):
    """Little-endian two's-complement bytes of x, as pickle's LONG1 stores them."""
    encoded = pickle.dumps(x, protocol=2)  # PROTO 2, LONG1 <length> <bytes>, STOP
    assert encoded[2] == 0x8A and encoded[3] == len(encoded) - 5
    return encoded[4:-1]


def pickle_fixtures(out):
    for protocol in (2, 4):
        with open(os.path.join(out, f"os_system_p{protocol}.pkl"), "wb") as f:
            pickle.dump({"weight": RunsACommand(), "bias": np.zeros(2, dtype=np.float32)}, f, protocol=protocol)

    shared = [1, 2]
    value = {
        "int": 7, "neg": -300, "big": 2**70, "negbig": -(2**65), "float": 0.1, "str": "héllo ✓",
        "bytes": b"\x00\xffab", "list": [1, "a", None, True, False], "tuple": (1.5, "x"),
        "nested": {"a": {"b": {"c": [shared, shared]}}}, "set": {3}, "frozen": frozenset([4]),
        "ordered": OrderedDict([("z", 1), ("y", 2)]), "int_key": {5: "five"},
        "long_list": list(range(1500)),
    }
    expected = {
        "int": 7, "neg": -300, "big_le_hex": pickle_long_bytes(2**70).hex(), "negbig_le_hex": pickle_long_bytes(-(2**65)).hex(),
        "float": 0.1, "str": "héllo ✓",
        "bytes_hex": b"\x00\xffab".hex(), "long_list_sum": sum(range(1500)),
    }
    for protocol in range(0, 6):
        with open(os.path.join(out, f"values_p{protocol}.pkl"), "wb") as f:
            pickle.dump(value, f, protocol=protocol)
    # Small files for the truncate-at-every-byte test.
    small = {"a": [1, -2, 2**70, 0.5, "é", b"\x01"], "b": (None, True), "c": {"d": shared}}
    for protocol in (0, 2):
        with open(os.path.join(out, f"small_p{protocol}.pkl"), "wb") as f:
            pickle.dump(small, f, protocol=protocol)
    torch.save({"w": torch.arange(3, dtype=torch.float32), "n": torch.tensor(5)}, os.path.join(out, "tiny.pt"))
    with open(os.path.join(out, "values_expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    args = parser.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    torch.manual_seed(0)
    np.random.seed(0)
    fwrf_checkpoint(out)
    dtype_checkpoint(out)
    v3_checkpoint(out)
    legacy_checkpoint(out)
    numpy_fixtures(out)
    sklearn_fixtures(out)
    pickle_fixtures(out)
    with open(os.path.join(out, "pickle_fixtures_versions.json"), "w") as f:
        json.dump({"command": "python3 " + " ".join(sys.argv), "python": platform.python_version(),
                   "torch": torch.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__},
                  f, indent=1)


if __name__ == "__main__":
    main()
