"""Development-only: the PyTorch side of heist's Inception v3 port.

Builds pytorch-fid's FID Inception v3 (torchvision's network with FIDInceptionA/C/E_1/E_2) with
the deterministic formula weights that heist computes too (see `formula` in
src/metrics/inception.rs), then writes the small fixture heist's parity test reads:

  tests/fixtures/inception/features.npy   pool3 features (float64) of IMAGES, in order
  tests/fixtures/inception/conv1a.pth     Conv2d_1a_3x3's tensors only, to test .pth loading
  tests/fixtures/inception/conv1a_legacy.pth  the same in PyTorch's pre-1.6 (non-zip) format

and, with --bench, times PyTorch's forward pass (images per second) for the throughput table.

    pip install torch==2.9.0 torchvision pytorch-fid pillow numpy
    python bench/inception_parity.py [--bench]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
from torchvision.models import inception_v3

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "inception")
IMAGES = [os.path.join(ROOT, "tests", "fixtures", "reference", "metrics", "noise", "ref", n)
          for n in ("astronaut.png", "chelsea.png", "coffee.png")]

MASK = (1 << 64) - 1


def seed_of(key):
    h = 0xCBF29CE484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def uniforms(key, n):
    """SplitMix64 finaliser of seed + (i + 1) * golden, as uniforms in [0, 1) (as heist)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed_of(key)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def formula(key, shape):
    u = uniforms(key, int(np.prod(shape)))
    if key.endswith("conv.weight"):
        v = (2.0 * u - 1.0) * np.sqrt(6.0 / np.prod(shape[1:]))
    elif key.endswith("bn.weight") or key.endswith("bn.running_var"):
        v = 0.5 + u
    else:
        v = 0.2 * (u - 0.5)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def fid_inception():
    """pytorch-fid's fid_inception_v3() without downloading its weights."""
    net = inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    state = net.state_dict()
    for key, tensor in state.items():
        if key.startswith("fc.") or key.endswith("num_batches_tracked"):
            continue
        state[key] = formula(key, tuple(tensor.shape))
    net.load_state_dict(state)
    return net.eval()


def pool3(net, x):
    """pytorch-fid's InceptionV3 blocks 0-3 with resize_input and normalize_input."""
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"]:
        x = getattr(net, name)(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    x = net.Conv2d_3b_1x1(x)
    x = net.Conv2d_4a_3x3(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    for name in ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                 "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
        x = getattr(net, name)(x)
    return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def load(path):
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", action="store_true", help="time the forward pass")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = fid_inception()
    os.makedirs(FIXTURE, exist_ok=True)
    with torch.no_grad():
        images = torch.stack([load(p) for p in IMAGES])
        features = pool3(net, images).double().numpy()
    np.save(os.path.join(FIXTURE, "features.npy"), features)
    conv1a = {k: v for k, v in net.state_dict().items() if k.startswith("Conv2d_1a_3x3.")}
    torch.save(conv1a, os.path.join(FIXTURE, "conv1a.pth"))
    # pytorch-fid's weights file (2019) predates the zip format: test that layout too.
    torch.save(conv1a, os.path.join(FIXTURE, "conv1a_legacy.pth"), _use_new_zipfile_serialization=False)
    print(f"features {features.shape}, mean {features.mean():.6f}, max {features.max():.6f}")
    if args.bench:
        batch = torch.rand(8, 3, 299, 299)
        with torch.no_grad():
            pool3(net, batch)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                pool3(net, batch)
                times.append(time.perf_counter() - start)
        median = sorted(times)[len(times) // 2]
        print(f"pytorch {torch.__version__} inception pool3, batch 8, {args.threads} threads: "
              f"{8 / median:.2f} images/s ({median * 1000:.0f} ms per batch)")


if __name__ == "__main__":
    sys.exit(main())
