"""Checks pleura_unets.py against the solution's own code: same weights in; same outputs, loss, gradients out.

  python3 compare_with_solution.py UNET_PIPELINE_DIR [--size 128] [--batch 2]

UNET_PIPELINE_DIR is the solution's unet_pipeline/ folder (models/ternausnets.py, models/selim_zoo/,
Losses.py); needs torchvision for its AlbuNet. For each model: build the reference and ours, copy the
reference's state_dict into ours, then in train and in eval mode run the forward pass, the ComboLoss (the
model's config weights) and the backward pass on the same random batch (seed 0), and report the largest
differences of output, loss, parameter gradients and BatchNorm buffers. On the CPU they are all 0.
Exit status 1 if anything differs.
"""
import argparse
import contextlib
import io
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pleura_unets  # noqa: E402


def reference_builders(pipeline_dir):
    sys.path.insert(0, pipeline_dir)
    from models.selim_zoo import unet

    unet.AbstractModel.initialize_encoder = lambda *args, **kwargs: None  # no download
    from models.ternausnets import AlbuNet
    import Losses

    builders = {
        "albunet": lambda: AlbuNet(num_classes=1, num_filters=32, pretrained=False, is_deconv=False),
        "resnet50_unet": lambda: unet.Resnet(seg_classes=1, backbone_arch="resnet50"),
        "scse_unet": lambda: unet.SCSEUnet(seg_classes=1, backbone_arch="seresnext50"),
    }
    return builders, Losses.ComboLoss


def max_diff(pairs):
    return max(((a - b).abs().max().item() for a, b in pairs), default=0.0)


def compare(name, build_ref, ref_loss_cls, size, batch):
    with contextlib.redirect_stdout(io.StringIO()):  # selim's SCSE bottleneck prints its shapes
        ref = build_ref()
    ours = pleura_unets.make_model(name)
    ours.load_state_dict(ref.state_dict())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=gen)
    y = (torch.rand(batch, 1, size, size, generator=gen) < 0.3).float()
    bce, dice, focal = pleura_unets.LOSS_WEIGHTS[name]
    ref_loss = ref_loss_cls({"bce": bce, "dice": dice, "focal": focal})
    our_loss = pleura_unets.ComboLoss(bce, dice, focal)
    worst = 0.0
    for train in (True, False):
        ref.train(train)
        ours.train(train)
        ref.zero_grad()
        ours.zero_grad()
        out_ref, out_ours = ref(x), ours(x)
        loss_ref, loss_ours = ref_loss(out_ref, y), our_loss(out_ours, y)
        loss_ref.backward()
        loss_ours.backward()
        diffs = {
            "output": max_diff([(out_ref, out_ours)]),
            "loss": abs(loss_ref.item() - loss_ours.item()),
            "gradients": max_diff((p.grad, q.grad) for p, q in zip(ref.parameters(), ours.parameters())
                                  if p.grad is not None),
            "buffers": max_diff((a.float(), b.float()) for a, b in zip(ref.buffers(), ours.buffers())),
        }
        worst = max(worst, *diffs.values())
        mode = "train" if train else "eval "
        print(f"{name} {mode}: output {tuple(out_ours.shape)}, loss {loss_ours.item():.7g}, "
              + ", ".join(f"max |diff| {k} {v:.3g}" for k, v in diffs.items()), flush=True)
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline_dir", metavar="UNET_PIPELINE_DIR")
    parser.add_argument("--size", type=int, default=128, help="a multiple of 64 (default 128)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--models", default=",".join(pleura_unets.MODEL_NAMES))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    builders, ref_loss_cls = reference_builders(os.path.abspath(args.pipeline_dir))
    worst = max(compare(name, builders[name], ref_loss_cls, args.size, args.batch)
                for name in args.models.split(","))
    print("identical" if worst == 0 else f"DIFFERENT (largest difference {worst:.3g})")
    return 0 if worst == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
