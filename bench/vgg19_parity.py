"""Writes the VGG19 parity fixtures (development only):

    python bench/vgg19_parity.py tests/fixtures/vgg19

torchvision's VGG19 with random weights, its state dict cut after relu2_2 (`features.0` to
`features.7`, the keys torchvision's `vgg19-dcbb9e9d.pth` has), a random input in heist's
[-1, 1] range, and the relu2_2 features of that input normalised as torchvision expects
(ImageNet mean and std of RGB in [0, 1]): heist must reproduce them within 1e-4 (arrays saved
as 2 x N matrices).
"""
import os, sys

import numpy as np
import torch
import torchvision

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(11)
vgg = torchvision.models.vgg19(weights=None).eval()
keep = {k: v for k, v in vgg.state_dict().items() if k.startswith("features.") and int(k.split(".")[1]) <= 7}
torch.save(keep, os.path.join(out, "vgg19_to_relu2_2.pth"))
x = torch.rand(2, 3, 24, 24) * 2 - 1
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    features = vgg.features[:9](((x + 1) / 2 - mean) / std)
np.save(os.path.join(out, "input.npy"), x.numpy().reshape(2, -1).astype(np.float32))
np.save(os.path.join(out, "relu2_2.npy"), features.numpy().reshape(2, -1).astype(np.float32))
print("relu2_2", tuple(features.shape), sum(v.numel() for v in keep.values()), "parameters")
