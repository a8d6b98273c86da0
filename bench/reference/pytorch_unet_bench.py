"""PyTorch baselines for bench_unet and bench_conv_layers, timed with the solution's own models.

  python pytorch_unet_bench.py [UNET_PIPELINE_DIR] [--threads 2] [--size 256] [--batch 2]
      a training step (forward, BCE-with-logits, backward, Adam) and an eval forward of albunet,
      resnet50_unet and scse_unet, median after one warm-up step (compare: bench_unet --json)
  python pytorch_unet_bench.py [UNET_PIPELINE_DIR] --conv-layers MODEL [...]
      one line per convolution of MODEL's forward pass, "N C H W K R stride pad dilation groups bias
      fwd_s fwd_bwd_s" with PyTorch's times, for: bench_conv_layers < lines

UNET_PIPELINE_DIR is the solution's unet_pipeline/ folder (models/ternausnets.py, models/selim_zoo/; needs
torchvision). Without it, the models of pleura_unets.py beside this script are timed: the same layers and
shapes (checked against the solution's code by compare_with_solution.py). No ImageNet weights are
downloaded (the encoders start from random values).

For the GPU baseline that needs nothing but PyTorch, see pytorch_gpu_bench.py: it times the same models as
defined in pleura_unets.py, which compare_with_solution.py checks against the code in UNET_PIPELINE_DIR.
"""
import argparse
import os
import statistics
import sys
import time


def make_model(name, unet_pipeline):
    if unet_pipeline is None:
        import pleura_unets

        return pleura_unets.make_model(name)
    from models.selim_zoo import unet

    unet.AbstractModel.initialize_encoder = lambda *args, **kwargs: None  # no download
    from models.ternausnets import AlbuNet
    from models.selim_zoo.unet import Resnet, SCSEUnet

    if name == "albunet":
        return AlbuNet(num_classes=1, num_filters=32, pretrained=False, is_deconv=False)
    if name == "resnet50_unet":
        return Resnet(seg_classes=1, backbone_arch="resnet50")
    if name == "scse_unet":
        return SCSEUnet(seg_classes=1, backbone_arch="seresnext50")
    raise SystemExit(f"unknown model {name}")


def median_time(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def train_steps(torch, args):
    for name in ("albunet", "resnet50_unet", "scse_unet"):
        model = make_model(name, args.unet_pipeline)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        x = torch.rand(args.batch, 3, args.size, args.size)
        y = (torch.rand(args.batch, 1, args.size, args.size) > 0.7).float()

        def step():
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
            loss.backward()
            optimizer.step()

        train_s = median_time(step, 4)
        model.eval()

        def forward():
            with torch.no_grad():
                model(x)

        print(f"{name} train_step_s {train_s:.3f} forward_s {median_time(forward, 3):.3f}", flush=True)


def conv_layers(torch, args):
    model = make_model(args.conv_layers, args.unet_pipeline)
    shapes = []

    def hook(module, inputs, _output):
        x = inputs[0]
        shapes.append((x.shape[0], module.in_channels, x.shape[2], x.shape[3], module.out_channels,
                       module.kernel_size[0], module.stride[0], module.padding[0], module.dilation[0],
                       module.groups, int(module.bias is not None)))

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.rand(args.batch, 3, args.size, args.size))
    conv = torch.nn.functional.conv2d
    for n, c, h, w, k, r, stride, pad, dil, groups, bias in shapes:
        x = torch.rand(n, c, h, w, requires_grad=True)
        weight = torch.rand(k, c // groups, r, r, requires_grad=True)
        b = torch.rand(k, requires_grad=True) if bias else None

        def forward():
            with torch.no_grad():
                conv(x, weight, b, stride, pad, dil, groups)

        def forward_backward():
            conv(x, weight, b, stride, pad, dil, groups).sum().backward()

        print(n, c, h, w, k, r, stride, pad, dil, groups, bias,
              f"{median_time(forward, 5):.6f} {median_time(forward_backward, 5):.6f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("unet_pipeline", nargs="?", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--conv-layers", metavar="MODEL")
    args = parser.parse_args()
    sys.path.insert(0, args.unet_pipeline or os.path.dirname(os.path.abspath(__file__)))
    import torch

    torch.set_num_threads(args.threads)
    if args.conv_layers:
        conv_layers(torch, args)
    else:
        train_steps(torch, args)


if __name__ == "__main__":
    main()
