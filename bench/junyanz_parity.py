"""Writes the junyanz-layout parity fixtures (development only):

    python bench/junyanz_parity.py tests/fixtures/junyanz

junyanz's U-Net (Pix2Pix) and ResNet (CycleGAN) generators, small, with random weights and
random BatchNorm statistics, saved as `.pth` state dicts (the files `train.py` writes), a
random input, and each network's output in eval mode: heist must load the weights and reproduce
the outputs within 1e-4 (arrays saved as 2 x 3072 matrices).
"""
import os, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from train_twin import resnet_generator, unet  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(7)
x = torch.rand(2, 3, 32, 32) * 2 - 1
np.save(os.path.join(out, "input.npy"), x.numpy().reshape(2, -1).astype(np.float32))
for name, net in [("unet", unet(5, 4)), ("resnet", resnet_generator(4, 2))]:
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
    net.eval()
    torch.save(net.state_dict(), os.path.join(out, f"{name}.pth"))
    with torch.no_grad():
        np.save(os.path.join(out, f"{name}_out.npy"), net(x).numpy().reshape(2, -1).astype(np.float32))
    print(name, sum(p.numel() for p in net.parameters()), "parameters")
