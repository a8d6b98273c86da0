# Golden outputs of the reference PyTorch models for tests/models/test_reference_outputs.cpp.
# Not run by the tests or CI. Needs torch + torchvision and a checkout of the solution's code
# (sneddy/kaggle-pneumothorax, whose unet_pipeline/models holds AlbuNet and selim's zoo):
#   python make_model_reference.py /path/to/kaggle-pneumothorax/unet_pipeline
# (torch 2.4.1 and torchvision 0.19.1 were used.) Every parameter and buffer is set by a formula that
# the C++ test repeats (fill_value below), so no weight file is needed: only the outputs are stored.
import copy
import math
import sys

import numpy as np
import torch

sys.path.insert(0, sys.argv[1])
from models.selim_zoo import unet  # noqa: E402
from models.selim_zoo.unet import Resnet, SCSEUnet  # noqa: E402

unet.AbstractModel.initialize_encoder = lambda *args, **kwargs: None  # no ImageNet download: the formula sets all
from models.ternausnets import AlbuNet  # noqa: E402


def keys_of(path):
    keys = []
    for line in open(path):
        name, shape, _dtype = line.rstrip("\n").split("\t")[:3]
        if "=" in line or name.startswith("encoder.fc."):
            continue  # AlbuNet's aliases and its unused classifier
        keys.append(name)
    return keys


def fill_value(name, index, shape):
    n = int(np.prod(shape)) if shape else 1
    u = np.sin(0.61 * np.arange(n, dtype=np.float64) + 1.37 * index + 0.2)
    if name.endswith("num_batches_tracked"):
        return None
    if name.endswith("running_var"):
        v = 1.0 + 0.15 * (u + 1.0)
    elif name.endswith("running_mean"):
        v = 0.1 * u
    elif name.endswith(".bias"):
        v = 0.05 * u
    elif len(shape) == 1:
        v = 1.0 + 0.1 * u
    else:
        fan_in = int(np.prod(shape[1:]))
        v = u * math.sqrt(2.0 / fan_in)
    return v.astype(np.float32).reshape(shape)


def run(tag, model, keys, first, last):
    sd = model.state_dict()
    with torch.no_grad():
        for i, k in enumerate(keys):
            v = fill_value(k, i, tuple(sd[k].shape))
            if v is None:
                sd[k].zero_()
            else:
                sd[k].copy_(torch.from_numpy(v))
    n = 2 * 3 * 64 * 64
    x = torch.from_numpy((0.5 + 0.4 * np.sin(0.013 * np.arange(n) + 0.7)).astype(np.float32).reshape(2, 3, 64, 64))
    w = torch.from_numpy(np.cos(0.05 * np.arange(2 * 64 * 64)).astype(np.float32).reshape(2, 1, 64, 64))
    m64 = copy.deepcopy(model).double()  # before any forward pass: running statistics from the formula
    # Float32 outputs in eval mode (running statistics) and training mode (batch statistics).
    with torch.no_grad():
        model.eval()
        out_eval = model(x)
        model.train()
        out_train = model(x)
    np.save(f"{tag}_out_eval.npy", out_eval.numpy())
    np.save(f"{tag}_out_train.npy", out_train.numpy())
    # Gradients in float64: through a UNet at 64x64 the deepest maps are 2x2, so one ReLU or max-pool
    # element that lands on the other side of its kink in float32 moves the gradients of every earlier
    # layer by percents; in float64 no element comes that close. First and final convolution, eval mode
    # then training mode. (In training mode ResNet50-UNet's batch norms over 8 values per channel at
    # layer4 amplify a 1e-15 relative change of the input to 8e-6 at the encoder's output.)
    params = dict(m64.named_parameters())
    for mode in ("eval", "train"):
        m64.train(mode == "train")
        m64.zero_grad()
        (m64(x.double()) * w.double()).sum().backward()
        np.save(f"{tag}_grad64_{mode}_first.npy", params[first].grad.numpy())
        np.save(f"{tag}_grad64_{mode}_last.npy", params[last].grad.numpy())
    print(tag, out_eval.shape, float(out_eval.abs().mean()), float(out_train.abs().mean()))


ref = "../"  # this folder's parent holds keys_*.txt
run("albunet", AlbuNet(num_classes=1, num_filters=32, pretrained=False, is_deconv=False), keys_of(ref + "keys_albunet.txt"),
    "encoder.conv1.weight", "final.weight")
run("resnet50", Resnet(seg_classes=1, backbone_arch="resnet50"), keys_of(ref + "keys_resnet50.txt"),
    "encoder_stages.0.0.weight", "final.0.weight")
run("scseunet", SCSEUnet(seg_classes=1, backbone_arch="seresnext50"), keys_of(ref + "keys_scseunet.txt"),
    "encoder_stages.0.conv1.weight", "final.0.weight")
