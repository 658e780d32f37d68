#!/usr/bin/env python3
"""Reference fixtures for `berg features` (issue 14): layer outputs by PyTorch module name, as
forward hooks see them, for reduced-width random AlexNet, ResNet-18 and ViT-B/32 networks.

Command line (run from the repository root):
    Tools/reference/.venv/bin/python Tools/reference/make_features_fixtures.py

Made with Python 3.11, PyTorch 2.15.0, torchvision 0.29.2, NumPy 2.4.6, h5py, Pillow 13.0.0.

Writes Tests/BERGModelsTests/Fixtures/features/:

  alexnet-tiny.pth     torchvision's AlexNet class with narrower layers (4, 8, 8, 8, 8 channels;
                       classifier 16, 16, 10); its ReLUs stay in place (inplace=True)
  resnet18-tiny.pth    torchvision's ResNet class (BasicBlock, [2, 2, 2, 2]) at widths 2/4/8/16
  vit-tiny.pth         torchvision's VisionTransformer: image 224, patch 32, 2 layers, 1 head,
                       hidden 32, MLP 64, 10 classes
  stimuli.npy          uint8 [2, 3, 180, 220]: two smooth random colour images
  images/a.png         RGB 300 × 260 (W × H)
  images/b.jpg         RGB 351 × 233, JPEG quality 90
  modules.json         per network: every name `named_modules()` lists (the root left out), in
                       order, with the output shape a forward hook sees ([N, ...] for the two
                       stimuli), how often the module runs in one forward pass, and whether its
                       output is a tuple (then the hook's first element is kept); a module that
                       never runs (ViT's self_attention.out_proj) has shape null
  {net}.h5             float32 datasets named by module: the hook outputs for stimuli.npy
                       (preprocessed as below), for the modules listed in LAYERS; and under
                       `images/` the outputs for images/ (a.png, b.jpg, in that order) of the
                       modules in IMAGE_LAYERS

Preprocessing is the network's IMAGENET1K_V1 transform applied to uint8 tensors, as
`weights.transforms()` does: Resize(256) of the shorter side (bilinear, antialias), CenterCrop(224),
convert to float in [0, 1], Normalize(ImageNet mean, std). Images are decoded with Pillow
(`convert("RGB")`).

Each hook stores `output.detach().clone()` (the first element for a tuple) under its module's
name. The clone matters: AlexNet's `features.1` and ResNet's `relu` are ReLU(inplace=True), so a
hook that kept a reference to a convolution's output would later see it overwritten by the ReLU.
A module that runs twice in one pass (each ResNet block's `relu`) keeps its last output, as a
hook writing into a dict by name does.
"""
import json
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torchvision.models import AlexNet, VisionTransformer
from torchvision.models.resnet import BasicBlock, ResNet
from torchvision.transforms import functional as TF

OUT = os.path.join("Tests", "BERGModelsTests", "Fixtures", "features")
torch.manual_seed(14)
rng = np.random.default_rng(14)


def randomise(model):
    """Random weights with activations kept O(1); random BatchNorm statistics."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape) * (1.5 / p[0].numel()) ** 0.5)
            else:
                p.copy_(torch.randn(p.shape) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features) + 0.5)
    return model.eval()


def tiny_alexnet():
    m = AlexNet(num_classes=10)
    m.features[0] = nn.Conv2d(3, 4, 11, 4, 2)
    m.features[3] = nn.Conv2d(4, 8, 5, padding=2)
    m.features[6] = nn.Conv2d(8, 8, 3, padding=1)
    m.features[8] = nn.Conv2d(8, 8, 3, padding=1)
    m.features[10] = nn.Conv2d(8, 8, 3, padding=1)
    m.classifier[1] = nn.Linear(8 * 36, 16)
    m.classifier[4] = nn.Linear(16, 16)
    m.classifier[6] = nn.Linear(16, 10)
    return randomise(m)


def tiny_resnet18(width=2):
    m = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10)
    m.inplanes = width
    m.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(width)
    m.layer1 = m._make_layer(BasicBlock, width, 2)
    m.layer2 = m._make_layer(BasicBlock, width * 2, 2, stride=2)
    m.layer3 = m._make_layer(BasicBlock, width * 4, 2, stride=2)
    m.layer4 = m._make_layer(BasicBlock, width * 8, 2, stride=2)
    m.fc = nn.Linear(width * 8, 10)
    return randomise(m)


def tiny_vit():
    return randomise(VisionTransformer(image_size=224, patch_size=32, num_layers=2, num_heads=1,
                                       hidden_dim=32, mlp_dim=64, num_classes=10))


NETWORKS = {"alexnet": tiny_alexnet, "resnet18": tiny_resnet18, "vit": tiny_vit}
WEIGHTS = {"alexnet": "alexnet-tiny.pth", "resnet18": "resnet18-tiny.pth", "vit": "vit-tiny.pth"}

LAYERS = {
    "alexnet": None,  # every module
    "resnet18": ["bn1", "relu", "maxpool", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu",
                 "layer1.0.conv2", "layer1.0.bn2", "layer1.0", "layer1", "layer2.0.downsample.0",
                 "layer2.0.downsample.1", "layer2.0.downsample", "layer2.1.relu", "layer3.1.bn2", "layer3",
                 "layer4.0.conv1", "layer4", "avgpool", "fc"],
    "vit": None,
}
IMAGE_LAYERS = {
    "alexnet": ["features.0", "features.12", "classifier.6"],
    "resnet18": ["layer4", "avgpool"],
    "vit": ["encoder.layers.encoder_layer_1", "heads"],
}


def preprocess(images):
    """uint8 [N, 3, H, W] → the IMAGENET1K_V1 transform's float input, one image at a time."""
    out = []
    for image in images:
        x = TF.resize(image, [256], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        x = TF.center_crop(x, [224])
        x = TF.convert_image_dtype(x, torch.float)
        out.append(TF.normalize(x, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]))
    return torch.stack(out)


def hooked_outputs(model, x, names=None):
    """Runs `model` once and returns {name: (output, calls, was_tuple)} for every module."""
    store, calls, tuples = {}, {}, {}
    handles = []
    for name, module in model.named_modules():
        if name == "" or (names is not None and name not in names):
            continue

        def hook(_module, _inputs, output, name=name):
            calls[name] = calls.get(name, 0) + 1
            tuples[name] = isinstance(output, tuple)
            if isinstance(output, tuple):
                output = output[0]
            store[name] = output.detach().clone()

        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return store, calls, tuples


def smooth_image(height, width):
    """A smooth random colour picture (blurred noise plus gradients), uint8 [3, H, W]."""
    coarse = rng.uniform(0, 255, (3, height // 20 + 2, width // 20 + 2)).astype(np.float32)
    image = TF.resize(torch.from_numpy(coarse), [height, width], antialias=True).numpy()
    yy, xx = np.mgrid[0:height, 0:width]
    image += 40 * np.sin(xx / 7.0)[None] * np.cos(yy / 11.0)[None]
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8)


def main():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    stimuli = np.stack([smooth_image(180, 220), smooth_image(180, 220)])
    np.save(os.path.join(OUT, "stimuli.npy"), stimuli)
    Image.fromarray(smooth_image(260, 300).transpose(1, 2, 0)).save(os.path.join(OUT, "images", "a.png"))
    Image.fromarray(smooth_image(233, 351).transpose(1, 2, 0)).save(os.path.join(OUT, "images", "b.jpg"), quality=90)
    decoded = [np.asarray(Image.open(os.path.join(OUT, "images", f)).convert("RGB")).transpose(2, 0, 1)
               for f in ("a.png", "b.jpg")]

    x = preprocess(torch.from_numpy(stimuli))
    x_images = torch.cat([preprocess(torch.from_numpy(np.ascontiguousarray(d))[None]) for d in decoded])
    modules = {}
    for net, make in NETWORKS.items():
        model = make()
        state = {k: v for k, v in model.state_dict().items()}
        torch.save(state, os.path.join(OUT, WEIGHTS[net]))
        outputs, calls, tuples = hooked_outputs(model, x)
        listing = []
        for name, _ in model.named_modules():
            if name == "":
                continue
            shape = list(outputs[name].shape) if name in outputs else None
            listing.append({"name": name, "shape": shape, "calls": calls.get(name, 0), "tuple": tuples.get(name, False)})
        modules[net] = listing
        wanted = LAYERS[net] or [entry["name"] for entry in listing if entry["shape"] is not None]
        image_outputs, _, _ = hooked_outputs(model, x_images, IMAGE_LAYERS[net])
        with h5py.File(os.path.join(OUT, f"{net}.h5"), "w") as f:
            for name in wanted:
                f.create_dataset(name, data=outputs[name].numpy().astype(np.float32))
            for name in IMAGE_LAYERS[net]:
                f.create_dataset("images/" + name, data=image_outputs[name].numpy().astype(np.float32))
    with open(os.path.join(OUT, "modules.json"), "w") as fh:
        json.dump(modules, fh, indent=1)


if __name__ == "__main__":
    main()
