"""The three UNets of the first-place SIIM-ACR Pneumothorax solution and its ComboLoss, in plain PyTorch.

Self-contained (no torchvision, none of the solution's code): the same layers, shapes and state_dict keys,
in the same order, as the solution's models, which Pleura reproduces:
  albunet        ternausnets.AlbuNet(num_classes=1, num_filters=32, pretrained=False, is_deconv=False)
  resnet50_unet  selim_zoo.unet.Resnet(seg_classes=1, backbone_arch="resnet50")
  scse_unet      selim_zoo.unet.SCSEUnet(seg_classes=1, backbone_arch="seresnext50")
Weights start from the reference initialisations (no ImageNet download). With the same weights and inputs
the outputs, the ComboLoss and the gradients equal the reference's bit for bit on CPU (torch 1.13): the
autograd graph is built in the same order, down to the copy (x.clone()) of each encoder output that
selim's EncoderDecoder makes before the decoder reads it (compare_with_solution.py checks this against the
solution's code). Runs on torch 1.13 and 2.x.

  python3 pleura_unets.py --dump-parameters MODEL
      the state_dict, one "name<TAB>d0,d1,...<TAB>numel" line per entry, in order
  python3 pleura_unets.py --check-keys MODEL KEYS_FILE
      compares names, order and shapes with a reference key list (keys_*.txt: name<TAB>[shape]<TAB>dtype)
  python3 pleura_unets.py --check-loss LOSS_DIR
      compares ComboLoss and its gradient with the golden cases of LOSS_DIR/summary.json (needs numpy)

From Python: make_model(name), ComboLoss(bce, dice, focal), LOSS_WEIGHTS[name].
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch
from torch import nn

MODEL_NAMES = ("albunet", "resnet50_unet", "scse_unet")

# ComboLoss weights (bce, dice, focal) of the solution's training configs (AlbuNet's public ones: 1, 1, 1).
LOSS_WEIGHTS = {"albunet": (3, 1, 4), "resnet50_unet": (2, 1, 2), "scse_unet": (3, 1, 4)}


# ---------------------------------------------------------------- initialisation

def init_fan_out(module):
    """torchvision's ResNet init (also selim's resnet.py: normal(0, sqrt(2 / (k*k*out)))), BN 1 and 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def init_fan_in(module):
    """selim's _initialize_weights (SENet encoder and the selim decoders): kaiming normal, zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- encoders

def conv_bn(in_ch, out_ch, stride):
    """The 1x1 conv + BN shortcut of the first block of a stage."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    """ResNet34 block: 3x3 conv (stride) + BN + ReLU, 3x3 conv + BN, + shortcut, ReLU."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """ResNet50 block: 1x1, 3x3 (stride), 1x1 x4 convs with BN, ReLU after the first two, + shortcut, ReLU."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class SEModule(nn.Module):
    """Squeeze-and-excitation: x * sigmoid(fc2(relu(fc1(avgpool(x))))), fc = 1x1 conv with bias."""

    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class SEResNeXtBottleneck(nn.Module):
    """SE-ResNeXt 32x4d block: 1x1, grouped 3x3 (stride), 1x1 x4 with BN, SE, + shortcut, ReLU."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=32, base_width=4, reduction=16):
        super().__init__()
        width = (planes * base_width // 64) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = SEModule(planes * 4, reduction)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.se_module(out) + shortcut)


def make_stage(block, inplanes, planes, blocks, stride):
    """blocks residual blocks; the first has the stride and, when the shape changes, a 1x1 conv shortcut."""
    out_ch = planes * block.expansion
    downsample = conv_bn(inplanes, out_ch, stride) if stride != 1 or inplanes != out_ch else None
    layers = [block(inplanes, planes, stride, downsample)]
    layers += [block(out_ch, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """torchvision-style ResNet (conv1, bn1, relu, maxpool, layer1..4[, avgpool, fc]); forward unused."""

    def __init__(self, block, layers, with_fc):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            setattr(self, f"layer{i + 1}", make_stage(block, inplanes, planes, blocks, 1 if i == 0 else 2))
            inplanes = planes * block.expansion
        if with_fc:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * block.expansion, 1000)
        init_fan_out(self)


class SEResNeXt50(nn.Module):
    """SE-ResNeXt50-32x4d encoder (layer0 = 7x7 conv + BN + ReLU, pool 3/2 ceil_mode, layer1..4)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.layer0 = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
            ("bn1", nn.BatchNorm2d(64)),
            ("relu1", nn.ReLU(inplace=True)),
        ]))
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
            stage = make_stage(SEResNeXtBottleneck, inplanes, planes, blocks, 1 if i == 0 else 2)
            setattr(self, f"layer{i + 1}", stage)
            inplanes = planes * 4
        init_fan_in(self)


# ---------------------------------------------------------------- AlbuNet

class ConvRelu(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.activation(self.conv(x))


class AlbuDecoderBlock(nn.Module):
    """DecoderBlockV2(is_deconv=False): bilinear x2 (align_corners=False), then two ConvRelu."""

    def __init__(self, in_ch, mid_ch, out_ch):
        super().__init__()
        self.block = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            ConvRelu(in_ch, mid_ch),
            ConvRelu(mid_ch, out_ch),
        )

    def forward(self, x):
        return self.block(x)


class AlbuNet(nn.Module):
    """UNet on a ResNet34 encoder; conv1..conv5 alias the encoder's modules (so the state_dict lists both)."""

    def __init__(self, num_classes=1, num_filters=32):
        super().__init__()
        nf = num_filters
        self.pool = nn.MaxPool2d(2, 2)
        self.encoder = ResNet(BasicBlock, (3, 4, 6, 3), with_fc=True)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Sequential(self.encoder.conv1, self.encoder.bn1, self.encoder.relu, self.pool)
        self.conv2 = self.encoder.layer1
        self.conv3 = self.encoder.layer2
        self.conv4 = self.encoder.layer3
        self.conv5 = self.encoder.layer4
        self.center = AlbuDecoderBlock(512, nf * 16, nf * 8)
        self.dec5 = AlbuDecoderBlock(512 + nf * 8, nf * 16, nf * 8)
        self.dec4 = AlbuDecoderBlock(256 + nf * 8, nf * 16, nf * 8)
        self.dec3 = AlbuDecoderBlock(128 + nf * 8, nf * 8, nf * 2)
        self.dec2 = AlbuDecoderBlock(64 + nf * 2, nf * 4, nf * 4)
        self.dec1 = AlbuDecoderBlock(nf * 4, nf * 4, nf)
        self.dec0 = ConvRelu(nf, nf)
        self.final = nn.Conv2d(nf, num_classes, 1)

    def forward(self, x):
        conv1 = self.conv1(x)
        conv2 = self.conv2(conv1)
        conv3 = self.conv3(conv2)
        conv4 = self.conv4(conv3)
        conv5 = self.conv5(conv4)
        center = self.center(self.pool(conv5))
        dec5 = self.dec5(torch.cat([center, conv5], 1))
        dec4 = self.dec4(torch.cat([dec5, conv4], 1))
        dec3 = self.dec3(torch.cat([dec4, conv3], 1))
        dec2 = self.dec2(torch.cat([dec3, conv2], 1))
        return self.final(self.dec0(self.dec1(dec2)))


# ---------------------------------------------------------------- selim's EncoderDecoder UNets

class UnetDecoderBlock(nn.Module):
    """Nearest x2 upsample, 3x3 conv (bias), ReLU."""

    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.layer = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(in_ch, out_ch, 3, padding=1),
                                   nn.ReLU(inplace=True))

    def forward(self, x):
        return self.layer(x)


class SCSEModule(nn.Module):
    """Concurrent spatial and channel SE, mode 'maxout': max(x * channel gate, x * spatial gate)."""

    def __init__(self, channels, reduction=2):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.sigmoid = nn.Sigmoid()
        self.spatial_se = nn.Sequential(nn.Conv2d(channels, 1, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        chn_se = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x))))) * x
        spa_se = x * self.spatial_se(x)
        return torch.max(chn_se, spa_se)


class ConvBottleneck(nn.Module):
    """cat[decoder, encoder skip] -> 3x3 conv (bias) -> ReLU [-> SCSE]."""

    def __init__(self, in_ch, out_ch, scse):
        super().__init__()
        layers = [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(inplace=True)]
        if scse:
            layers.append(SCSEModule(out_ch, reduction=2))
        self.seq = nn.Sequential(*layers)

    def forward(self, dec, enc):
        return self.seq(torch.cat([dec, enc], dim=1))


class EncoderDecoder(nn.Module):
    """selim_zoo's EncoderDecoder with first_layer_stride_two: decoder modules first, encoder stages last."""

    def __init__(self, encoder_stages, filters, decoder_filters, last_upsample, scse, num_classes=1):
        super().__init__()
        self.bottlenecks = nn.ModuleList([
            ConvBottleneck(filters[-i - 2] + f, f, scse) for i, f in enumerate(reversed(decoder_filters))
        ])
        n = len(decoder_filters)
        self.decoder_stages = nn.ModuleList([
            UnetDecoderBlock(filters[i + 1] if i + 1 == n else decoder_filters[i + 1], decoder_filters[i])
            for i in range(n)
        ])
        self.last_upsample = UnetDecoderBlock(decoder_filters[0], last_upsample)
        self.final = nn.Sequential(nn.Conv2d(last_upsample, num_classes, 1))
        init_fan_in(self)
        self.encoder_stages = nn.ModuleList(encoder_stages)

    def forward(self, x):
        enc_results = []
        for stage in self.encoder_stages:
            x = stage(x)
            enc_results.append(x.clone())
        x = enc_results[-1]
        for idx, bottleneck in enumerate(self.bottlenecks):
            rev_idx = -(idx + 1)
            x = bottleneck(self.decoder_stages[rev_idx](x), enc_results[rev_idx - 1])
        return self.final(self.last_upsample(x))


def resnet50_unet(num_classes=1):
    enc = ResNet(Bottleneck, (3, 4, 6, 3), with_fc=False)
    stages = [nn.Sequential(enc.conv1, enc.bn1, enc.relu), nn.Sequential(enc.maxpool, enc.layer1),
              enc.layer2, enc.layer3, enc.layer4]
    return EncoderDecoder(stages, (64, 256, 512, 1024, 2048), (64, 128, 256, 256), 64, False, num_classes)


def scse_unet(num_classes=1):
    enc = SEResNeXt50()
    stages = [enc.layer0, nn.Sequential(enc.pool, enc.layer1), enc.layer2, enc.layer3, enc.layer4]
    return EncoderDecoder(stages, (64, 256, 512, 1024, 2048), (64, 128, 256, 384), 32, True, num_classes)


def make_model(name, num_classes=1):
    if name == "albunet":
        return AlbuNet(num_classes=num_classes, num_filters=32)
    if name == "resnet50_unet":
        return resnet50_unet(num_classes)
    if name == "scse_unet":
        return scse_unet(num_classes)
    raise ValueError(f"unknown model {name!r} (one of {', '.join(MODEL_NAMES)})")


# ---------------------------------------------------------------- ComboLoss

def stable_bce(logits, targets):
    x = logits.reshape(-1)
    t = targets.reshape(-1)
    neg_abs = -x.abs()
    return (x.clamp(min=0) - x * t + (1 + neg_abs.exp()).log()).mean()


def soft_dice(probs, targets, eps=1e-6):
    """1 - (2*sum(p*t) + eps) / (sum(p) + sum(t) + eps), one ratio over the whole batch."""
    p = probs.reshape(1, -1)
    t = targets.reshape(1, -1)
    intersection = (p * t).sum(dim=1)
    union = p.sum(dim=1) + t.sum(dim=1) + eps
    return (1 - (2 * intersection + eps) / union).mean()


def focal(probs, targets, gamma=2, eps=1e-8):
    """Mean of -(1-pt)^gamma * log(pt); p and t clamped to [eps, 1-eps] in float32 (1-1e-8 -> 1.0)."""
    p = probs.reshape(-1).clamp(eps, 1.0 - eps)
    t = targets.reshape(-1).clamp(eps, 1.0 - eps)
    pt = (1 - t) * (1 - p) + t * p
    return (-(1.0 - pt) ** gamma * torch.log(pt)).mean()


class ComboLoss(nn.Module):
    """The solution's ComboLoss on logits [N,1,H,W]: max(1e-5, w_bce*bce + w_dice*dice + w_focal*focal),
    computed in float32 whatever the dtype of the logits (bf16 under autocast)."""

    def __init__(self, bce=3.0, dice=1.0, focal=4.0):
        super().__init__()
        self.weights = (("bce", bce), ("dice", dice), ("focal", focal))

    def components(self, logits, targets):
        logits = logits.float()
        targets = targets.float()
        probs = torch.sigmoid(logits)
        return {"bce": stable_bce(logits, targets), "dice": soft_dice(probs[:, 0], targets[:, 0]),
                "focal": focal(probs, targets)}

    def forward(self, logits, targets):
        parts = self.components(logits, targets)
        loss = 0
        for name, weight in self.weights:
            if weight:
                loss = loss + weight * parts[name]
        return loss.clamp(min=1e-5)


# ---------------------------------------------------------------- command line

def state_dict_lines(model):
    return [f"{name}\t{','.join(str(d) for d in t.shape)}\t{t.numel()}"
            for name, t in model.state_dict().items()]


def read_keys_file(path):
    """[(name, shape tuple)] of a keys_*.txt file (name<TAB>[d0, d1]<TAB>dtype[  = alias target])."""
    entries = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            name, shape = line.rstrip("\n").split("\t")[:2]
            dims = shape.strip("[]").replace(" ", "")
            entries.append((name, tuple(int(d) for d in dims.split(",") if d)))
    return entries


def check_keys(model_name, path):
    model = make_model(model_name)
    ours = [(name, tuple(t.shape)) for name, t in model.state_dict().items()]
    ref = read_keys_file(path)
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(ours, ref)) if a != b]
    unique_params = sum(p.numel() for p in model.parameters())
    print(f"{model_name}: {len(ours)} state_dict entries (reference {len(ref)}), "
          f"{sum(t.numel() for t in model.state_dict().values())} elements over all entries, "
          f"{unique_params} unique parameters")
    for i, a, b in mismatches[:10]:
        print(f"  entry {i}: ours {a}, reference {b}")
    ok = not mismatches and len(ours) == len(ref)
    print(f"{model_name}: {'MATCH' if ok else 'MISMATCH'} with {path}")
    return ok


def agreement(ours, ref):
    """'bit-exact', or the largest difference relative to the largest reference magnitude."""
    if torch.equal(ours, ref):
        return "bit-exact", 0.0
    rel = (ours - ref).abs().max().item() / max(ref.abs().max().item(), 1e-30)
    return f"max rel diff {rel:.2g}", rel


def check_loss(loss_dir, tolerance=1e-6):
    """ComboLoss and d(loss)/d(logits) against the golden cases; passes within tolerance (relative)."""
    import numpy as np

    def load(name):
        return torch.from_numpy(np.load(os.path.join(loss_dir, name)))

    with open(os.path.join(loss_dir, "summary.json")) as f:
        summary = json.load(f)
    ok = True
    for case in summary["cases"]:
        k = case["case"]
        targets = load(f"case{k}_targets.npy")
        for res in case["results"]:
            logits = load(f"case{k}_logits.npy").requires_grad_(True)
            loss = ComboLoss(*res["weights"])(logits, targets)
            loss.backward()
            loss_ref = torch.tensor(float.fromhex(res["loss_hex"]), dtype=torch.float32)
            loss_word, loss_err = agreement(loss.detach(), loss_ref)
            grad_word, grad_err = agreement(logits.grad, load(res["grad_file"]))
            ok &= loss_err <= tolerance and grad_err <= tolerance
            print(f"case {k} weights {res['weights']}: loss {loss.item():.9g} ({loss_word}), "
                  f"gradient ({grad_word})")
    print("loss: " + ("MATCH" if ok else "MISMATCH"))
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--dump-parameters", metavar="MODEL", choices=MODEL_NAMES)
    group.add_argument("--check-keys", nargs=2, metavar=("MODEL", "KEYS_FILE"))
    group.add_argument("--check-loss", metavar="LOSS_DIR")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.dump_parameters:
        print("\n".join(state_dict_lines(make_model(args.dump_parameters))))
        return 0
    if args.check_keys:
        return 0 if check_keys(*args.check_keys) else 1
    return 0 if check_loss(args.check_loss) else 1


if __name__ == "__main__":
    sys.exit(main())
