#!/usr/bin/env python3
"""Writes the BERGCompute test fixtures: PyTorch / torchvision / Pillow outputs for each
operation, the image resizers and reduced-width networks.

Command line (from the repository root):
    python3 Tools/reference/make_compute_fixtures.py Tests/BERGComputeTests/Fixtures
Made with: Python 3.11, torch 2.15, torchvision 0.29, Pillow 13, numpy 2.4 (the versions the
script prints into Fixtures/VERSIONS.txt when run).

Layout: <out>/ops/cases.json lists each operation case with its parameters; its arrays are
<out>/ops/<case>.<name>.npy. <out>/resize/cases.json and <out>/nets/<net>/... likewise.
Arrays are float32 (uint8 for images). Networks: <out>/nets/<net>/weights/<state_dict key>.npy,
input.npy, and out.<node name>.npy per extracted node.
"""
import json
import os
import sys

import numpy as np
import PIL
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.transforms import functional as TF

OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/BERGComputeTests/Fixtures"
torch.manual_seed(0)
rng = np.random.default_rng(0)


def save(directory, name, array):
    os.makedirs(directory, exist_ok=True)
    np.save(os.path.join(directory, name + ".npy"), np.ascontiguousarray(array))


def f32(t):
    return t.detach().numpy().astype(np.float32)


def randn(*shape):
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------- operations
ops_dir = os.path.join(OUT, "ops")
cases = {}


def case(name, op, params, **arrays):
    cases[name] = {"op": op, **params}
    for key, value in arrays.items():
        save(ops_dir, f"{name}.{key}", value)


conv_cases = [
    # (name, N, Cin, H, W, Cout, k, stride, padding, dilation, bias)
    ("conv_3x3_pad1_b1", 1, 3, 9, 7, 5, (3, 3), (1, 1), (1, 1), (1, 1), True),
    ("conv_5x3_s2_p2_b3", 3, 4, 11, 10, 6, (5, 3), (2, 1), (2, 1), (1, 1), True),
    ("conv_3x3_dil2_s3_b3", 3, 2, 13, 12, 3, (3, 3), (3, 2), (2, 3), (2, 2), False),
    ("conv_1x1_b3", 3, 7, 5, 6, 4, (1, 1), (1, 1), (0, 0), (1, 1), True),
    ("conv_1x1_s2_b1", 1, 6, 9, 9, 5, (1, 1), (2, 2), (0, 0), (1, 1), False),
    ("conv_11x11_s4_p2_b1", 1, 3, 31, 29, 4, (11, 11), (4, 4), (2, 2), (1, 1), True),
]
for name, n, cin, h, w, cout, k, s, p, d, bias in conv_cases:
    x = randn(n, cin, h, w)
    wt = randn(cout, cin, *k) * 0.3
    b = randn(cout) if bias else None
    y = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d)
    arrays = {"x": f32(x), "weight": f32(wt), "y": f32(y)}
    if bias:
        arrays["bias"] = f32(b)
    case(name, "conv2d", {"stride": s, "padding": p, "dilation": d}, **arrays)
    if name == "conv_3x3_pad1_b1":
        # the same convolution followed by BatchNorm2d (eval) and ReLU, for BN folding
        bn = nn.BatchNorm2d(cout).eval()
        bn.weight.data = randn(cout); bn.bias.data = randn(cout)
        bn.running_mean.data = randn(cout) * 0.5; bn.running_var.data = torch.rand(cout) + 0.5
        yb = F.relu(bn(y))
        case("conv_bn_relu_b1", "conv_bn_relu", {"stride": s, "padding": p, "dilation": d, "eps": bn.eps},
             x=f32(x), weight=f32(wt), bias=f32(b), bn_weight=f32(bn.weight), bn_bias=f32(bn.bias),
             bn_mean=f32(bn.running_mean), bn_var=f32(bn.running_var), y=f32(yb))

for name, n, c in [("bn_b1", 1, 5), ("bn_b3", 3, 4)]:
    bn = nn.BatchNorm2d(c, eps=1e-3).eval()
    bn.weight.data = randn(c); bn.bias.data = randn(c)
    bn.running_mean.data = randn(c); bn.running_var.data = torch.rand(c) * 2 + 0.1
    x = randn(n, c, 7, 5)
    case(name, "batchnorm2d", {"eps": bn.eps}, x=f32(x), weight=f32(bn.weight), bias=f32(bn.bias),
         mean=f32(bn.running_mean), var=f32(bn.running_var), y=f32(bn(x)))

x = randn(3, 4, 5, 7)
case("relu_b3", "relu", {}, x=f32(x), y=f32(F.relu(x)))

pool_cases = [
    # (name, N, C, H, W, kernel, stride, padding, dilation, ceil_mode)
    ("maxpool_3_s2_b1", 1, 3, 13, 13, (3, 3), (2, 2), (0, 0), (1, 1), False),
    ("maxpool_3_s2_ceil_b3", 3, 2, 14, 11, (3, 3), (2, 2), (0, 0), (1, 1), True),
    ("maxpool_3_s2_p1_ceil_b3", 3, 2, 10, 9, (3, 3), (2, 2), (1, 1), (1, 1), True),
    ("maxpool_2x3_s3_p1_ceil_b1", 1, 3, 8, 10, (2, 3), (3, 2), (1, 1), (1, 1), True),
    ("maxpool_3_dil2_b3", 3, 2, 11, 12, (3, 3), (1, 2), (1, 0), (2, 2), False),
]
for name, n, c, h, w, k, s, p, d, cm in pool_cases:
    x = randn(n, c, h, w)
    y = F.max_pool2d(x, k, s, p, d, ceil_mode=cm)
    case(name, "maxpool2d", {"kernel": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": cm}, x=f32(x), y=f32(y))

for name, n, c, h, w, k, s, p, cm, cip in [
    ("avgpool_3_s2_p1_b3", 3, 2, 9, 8, (3, 3), (2, 2), (1, 1), False, True),
    ("avgpool_3_s2_p1_ceil_nopad_b1", 1, 3, 10, 7, (3, 3), (2, 2), (1, 1), True, False),
    ("avgpool_2x3_s2_ceil_b3", 3, 2, 7, 11, (2, 3), (2, 2), (0, 1), True, True),
]:
    x = randn(n, c, h, w)
    y = F.avg_pool2d(x, k, s, p, ceil_mode=cm, count_include_pad=cip)
    case(name, "avgpool2d", {"kernel": k, "stride": s, "padding": p, "ceil_mode": cm, "count_include_pad": cip}, x=f32(x), y=f32(y))

for name, n, h, w, out in [("adaptive_7to3_b3", 3, 7, 7, (3, 3)), ("adaptive_5x9to6x4_b1", 1, 5, 9, (6, 4)), ("adaptive_global_b3", 3, 6, 5, (1, 1))]:
    x = randn(n, 3, h, w)
    case(name, "adaptiveavgpool2d", {"output": out}, x=f32(x), y=f32(F.adaptive_avg_pool2d(x, out)))

a, b = randn(3, 2, 4, 5), randn(3, 5, 4, 5)
case("concat_channels_b3", "concat", {"axis": 1}, a=f32(a), b=f32(b), y=f32(torch.cat([a, b], 1)))
case("slice_channels_b3", "slice", {"axis": 1, "start": 1, "end": 4}, x=f32(b), y=f32(b[:, 1:4]))

# elementwise and normalisation
x = randn(3, 5, 7) * 3
case("gelu_b3", "gelu", {}, x=f32(x), y=f32(F.gelu(x)))
case("signedlog_b3", "signed_log1p_tanh", {}, x=f32(x), y=f32(torch.log1p(x.abs()) * torch.tanh(x)))
for axis in (0, 1, 2):
    case(f"softmax_axis{axis}_b3", "softmax", {"axis": axis}, x=f32(x), y=f32(torch.softmax(x, axis)))
for kind in ("sum", "mean", "max", "min"):
    r = getattr(torch, kind)(x, 1)
    r = r if isinstance(r, torch.Tensor) else r[0]
    case(f"reduce_{kind}_axis1_b3", "reduce", {"axis": 1, "kind": kind}, x=f32(x), y=f32(r))
ln = nn.LayerNorm(7, eps=1e-6)
ln.weight.data = randn(7); ln.bias.data = randn(7)
case("layernorm_b3", "layernorm", {"eps": 1e-6}, x=f32(x), weight=f32(ln.weight), bias=f32(ln.bias), y=f32(ln(x)))
for name, n in [("linear_b1", 1), ("linear_b3", 3)]:
    lin = nn.Linear(13, 6)
    xl = randn(n, 13)
    case(name, "linear", {}, x=f32(xl), weight=f32(lin.weight), bias=f32(lin.bias), y=f32(lin(xl)))
mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
xm = randn(3, 5, 16)
ym, _ = mha(xm, xm, xm, need_weights=False)
case("mha_b3", "mha", {"heads": 4}, x=f32(xm), in_proj_weight=f32(mha.in_proj_weight), in_proj_bias=f32(mha.in_proj_bias),
     out_proj_weight=f32(mha.out_proj.weight), out_proj_bias=f32(mha.out_proj.bias), y=f32(ym))

with open(os.path.join(ops_dir, "cases.json"), "w") as fh:
    json.dump(cases, fh, indent=1, sort_keys=True)

# ---------------------------------------------------------------- resizing
resize_dir = os.path.join(OUT, "resize")
rcases = {}


def image(n, h, w):
    # noise plus a smooth ramp, so both edges and gradients are exercised
    noise = rng.integers(0, 256, size=(n, 3, h, w))
    ramp = (np.arange(w)[None, None, None, :] * 255 // max(w - 1, 1))
    return np.where(rng.random((n, 3, h, w)) < 0.5, noise, ramp).astype(np.uint8)


for name, n, (h, w), (oh, ow) in [
    ("down_40x40_to_17x17_b3", 3, (40, 40), (17, 17)),
    ("up_9x11_to_23x20_b1", 1, (9, 11), (23, 20)),
    ("nonsquare_37x50_to_13x29_b1", 1, (37, 50), (13, 29)),
    ("odd_64x48_to_27x35_b3", 3, (64, 48), (27, 35)),
]:
    x = image(n, h, w)
    tv = TF.resize(torch.from_numpy(x), [oh, ow], interpolation=TF.InterpolationMode.BILINEAR, antialias=True).numpy()
    save(resize_dir, f"{name}.x", x)
    save(resize_dir, f"{name}.torchvision_bilinear", tv)
    for filt, mode in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)):
        pil = np.stack([np.asarray(Image.fromarray(im.transpose(1, 2, 0)).resize((ow, oh), mode)).transpose(2, 0, 1) for im in x])
        save(resize_dir, f"{name}.pil_{filt}", pil)
    rcases[name] = {"height": oh, "width": ow}

# torchvision Resize(size) + CenterCrop(crop) on PIL images (odd offsets exercise the rounding)
for name, (h, w), size, crop in [("shorter_side_50x37_to_26_crop_21", (50, 37), 26, 21), ("shorter_side_30x45_to_19_crop_16", (30, 45), 19, 16)]:
    x = image(2, h, w)
    from torchvision import transforms as T
    tr = T.Compose([T.Resize(size), T.CenterCrop(crop)])
    y = np.stack([np.asarray(tr(Image.fromarray(im.transpose(1, 2, 0)))).transpose(2, 0, 1) for im in x])
    save(resize_dir, f"{name}.x", x)
    save(resize_dir, f"{name}.y", y)
    rcases[name] = {"size": size, "crop": crop}
with open(os.path.join(resize_dir, "cases.json"), "w") as fh:
    json.dump(rcases, fh, indent=1, sort_keys=True)

# ---------------------------------------------------------------- networks
from torchvision.models import AlexNet, VisionTransformer
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.models.resnet import BasicBlock, ResNet


def randomise(model):
    """Random weights (scaled to keep activations O(1)) and random BatchNorm statistics."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(randn(*p.shape) * (1.5 / fan_in) ** 0.5)
            else:
                p.copy_(randn(*p.shape) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(randn(m.num_features) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features) + 0.5)
            if isinstance(m, nn.ReLU):
                m.inplace = False  # so that a conv node's output is not overwritten by its ReLU
    return model.eval()


def save_net(name, model, x, nodes):
    d = os.path.join(OUT, "nets", name)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        save(os.path.join(d, "weights"), key, f32(value))
    save(d, "input", f32(x))
    extractor = create_feature_extractor(model, return_nodes=nodes)
    with torch.no_grad():
        outs = extractor(x)
    for node, value in outs.items():
        save(d, "out." + node, f32(value))


def small_resnet18(width):
    m = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10)
    m.inplanes = width
    m.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(width)
    m.layer1 = m._make_layer(BasicBlock, width, 2)
    m.layer2 = m._make_layer(BasicBlock, width * 2, 2, stride=2)
    m.layer3 = m._make_layer(BasicBlock, width * 4, 2, stride=2)
    m.layer4 = m._make_layer(BasicBlock, width * 8, 2, stride=2)
    m.fc = nn.Linear(width * 8, 10)
    return m


resnet = randomise(small_resnet18(6))
save_net("resnet18", resnet, randn(3, 3, 45, 39),
         ["conv1", "bn1", "relu", "maxpool", "layer1.1", "layer2", "layer3.0", "layer4", "avgpool", "flatten", "fc"])

alex = AlexNet(num_classes=7)
alex.features[0] = nn.Conv2d(3, 8, 11, 4, 2)
alex.features[3] = nn.Conv2d(8, 12, 5, padding=2)
alex.features[6] = nn.Conv2d(12, 16, 3, padding=1)
alex.features[8] = nn.Conv2d(16, 12, 3, padding=1)
alex.features[10] = nn.Conv2d(12, 10, 3, padding=1)
alex.classifier[1] = nn.Linear(10 * 36, 24)
alex.classifier[4] = nn.Linear(24, 20)
alex.classifier[6] = nn.Linear(20, 7)
alex = randomise(alex)
save_net("alexnet", alex, randn(3, 3, 71, 67),
         ["features.0", "features.1", "features.2", "features.5", "features.8", "features.9", "features.12", "avgpool", "classifier.1",
          "classifier.2", "classifier.4", "classifier.6"])

vit = randomise(VisionTransformer(image_size=48, patch_size=12, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=48, num_classes=5))
save_net("vit", vit, randn(3, 3, 48, 48),
         ["conv_proj", "encoder.layers.encoder_layer_0.add", "encoder.layers.encoder_layer_0.add_1",
          "encoder.layers.encoder_layer_1.add_1", "encoder.ln", "heads.head"])
with open(os.path.join(OUT, "nets", "vit", "config.json"), "w") as fh:
    json.dump({"heads": 4}, fh)

# torchvision Resize on a float tensor (no rounding), for the float output path; drawn last so
# that adding it left the other fixtures unchanged.
xf = torch.from_numpy(rng.random((2, 3, 23, 30)).astype(np.float32))
save(resize_dir, "float_23x30_to_11x17_b2.x", f32(xf))
save(resize_dir, "float_23x30_to_11x17_b2.y", f32(TF.resize(xf, [11, 17], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)))

# 3×3 stride-1 convolutions with enough channels for the Winograd F(2×2, 3×3) path (odd and
# even output sizes, padding 0, 1 and asymmetric, batch 1 and 3, with BN + ReLU and with a
# residual), from their own generator so that adding them left the other fixtures unchanged.
wrng = np.random.default_rng(23)


def wrandn(*shape):
    return torch.from_numpy(wrng.standard_normal(shape).astype(np.float32))


winograd_cases = [
    # (name, N, Cin, H, W, Cout, padding, bias)
    ("conv_winograd_pad1_odd_b3", 3, 32, 13, 11, 40, (1, 1), True),
    ("conv_winograd_pad0_b1", 1, 33, 9, 10, 32, (0, 0), False),
    ("conv_winograd_pad2x1_b1", 1, 48, 6, 7, 36, (2, 1), True),
]
for name, n, cin, h, w, cout, p, bias in winograd_cases:
    x = wrandn(n, cin, h, w)
    wt = wrandn(cout, cin, 3, 3) * 0.1
    b = wrandn(cout) if bias else None
    y = F.conv2d(x, wt, b, stride=1, padding=p)
    arrays = {"x": f32(x), "weight": f32(wt), "y": f32(y)}
    if bias:
        arrays["bias"] = f32(b)
    case(name, "conv2d", {"stride": (1, 1), "padding": p, "dilation": (1, 1)}, **arrays)

# conv → BN → + residual → ReLU, as in a ResNet basic block's second half.
x = wrandn(2, 64, 10, 9)
wt = wrandn(64, 64, 3, 3) * 0.05
bn = nn.BatchNorm2d(64).eval()
bn.weight.data = wrandn(64); bn.bias.data = wrandn(64)
bn.running_mean.data = wrandn(64) * 0.5; bn.running_var.data = torch.from_numpy(wrng.random(64).astype(np.float32)) + 0.5
r = wrandn(2, 64, 10, 9)
case("conv_winograd_bn_residual_relu_b2", "conv_bn_add_relu", {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "eps": bn.eps},
     x=f32(x), weight=f32(wt), bn_weight=f32(bn.weight), bn_bias=f32(bn.bias),
     bn_mean=f32(bn.running_mean), bn_var=f32(bn.running_var), residual=f32(r),
     y=f32(F.relu(bn(F.conv2d(x, wt, None, padding=1)) + r)))
with open(os.path.join(ops_dir, "cases.json"), "w") as fh:
    json.dump(cases, fh, indent=1, sort_keys=True)

with open(os.path.join(OUT, "VERSIONS.txt"), "w") as fh:
    fh.write(f"command: python3 {' '.join(sys.argv)}\n")
    fh.write(f"python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
             f"Pillow {PIL.__version__}, numpy {np.__version__}\n")
