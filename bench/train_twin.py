"""PyTorch twins of heist's networks and training steps (development only).

    python bench/train_twin.py count                   # parameter counts of the reference nets
    python bench/train_twin.py bench --model pix2pix --size 64 --batch 8 [--threads 2]

The networks follow junyanz/pytorch-CycleGAN-and-pix2pix (U-Net, ResNet generator, PatchGAN),
Ledig et al.'s SRResNet / SRGAN discriminator as heist builds them, and znxlwm/UGATIT-pytorch.
`bench` times one full training step (D and G updates, Adam) and a generator forward pass,
printing the same fields as `heist bench train`.
"""
import argparse, json, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


# --- junyanz ---------------------------------------------------------------------------------
class UnetBlock(nn.Module):
    def __init__(self, outer, inner, input_nc=None, sub=None, outermost=False, innermost=False, dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = input_nc or outer
        down = [nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False)]
        if outermost:
            model = down + [sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            model = [nn.LeakyReLU(0.2, True)] + down + [nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
        else:
            model = [nn.LeakyReLU(0.2, True)] + down + [nn.BatchNorm2d(inner), sub, nn.ReLU(True),
                     nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
            if dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class Wrap(nn.Module):
    """junyanz's generators keep their network in `self.model` (state-dict keys `model.`)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


def unet(num_downs, ngf, dropout=True):
    b = UnetBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        b = UnetBlock(ngf * 8, ngf * 8, sub=b, dropout=dropout)
    b = UnetBlock(ngf * 4, ngf * 8, sub=b)
    b = UnetBlock(ngf * 2, ngf * 4, sub=b)
    b = UnetBlock(ngf, ngf * 2, sub=b)
    return Wrap(UnetBlock(3, ngf, input_nc=3, sub=b, outermost=True))


def patchgan(input_nc, ndf, n_layers, norm):
    bias = norm is not nn.BatchNorm2d
    seq = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** n, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < n_layers else 1, 1, bias=bias), norm(ndf * mult), nn.LeakyReLU(0.2, True)]
    seq += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    return nn.Sequential(*seq)


class ResBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
                                        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


def resnet_generator(ngf, n_blocks):
    m = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for i in range(2):
        k = 2 ** i
        m += [nn.Conv2d(ngf * k, ngf * k * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * k * 2), nn.ReLU(True)]
    m += [ResBlock(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        k = 2 ** (2 - i)
        m += [nn.ConvTranspose2d(ngf * k, ngf * k // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ngf * k // 2), nn.ReLU(True)]
    m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    return Wrap(nn.Sequential(*m))


# --- SRResNet / SRGAN ------------------------------------------------------------------------
class SrBlock(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.b = nn.Sequential(nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f), nn.PReLU(), nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f))

    def forward(self, x):
        return x + self.b(x)


class SrResNet(nn.Module):
    def __init__(self, f, blocks, scale):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, f, 9, 1, 4), nn.PReLU())
        self.blocks = nn.Sequential(*[SrBlock(f) for _ in range(blocks)])
        self.body = nn.Sequential(nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f))
        ups = []
        for _ in range(scale.bit_length() - 1):
            ups += [nn.Conv2d(f, 4 * f, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(f, 3, 9, 1, 4)

    def forward(self, x):
        s = self.head(x)
        return torch.tanh(self.tail(self.up(self.body(self.blocks(s)) + s)))


def vgg_discriminator(f):
    seq, c = [], 3
    for i in range(8):
        w = f << (i // 2)
        seq += [nn.Conv2d(c, w, 3, 1 + i % 2, 1)] + ([nn.BatchNorm2d(w)] if i else []) + [nn.LeakyReLU(0.2, True)]
        c = w
    seq += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, 16 * f, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(16 * f, 1, 1)]
    return nn.Sequential(*seq)


# --- U-GAT-IT (znxlwm/UGATIT-pytorch networks.py) --------------------------------------------
class ILN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.rho = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.ones(1, c, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))


class AdaILNBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, bias=False)
        self.rho1 = nn.Parameter(torch.full((1, c, 1, 1), 0.9))
        self.conv2 = nn.Conv2d(c, c, 3, bias=False)
        self.rho2 = nn.Parameter(torch.full((1, c, 1, 1), 0.9))


def ugatit_generator(ngf, n_blocks, img_size, light):
    m = nn.Module()
    c = ngf * 4
    m.down = nn.ModuleList([nn.Conv2d(3, ngf, 7, bias=False), nn.Conv2d(ngf, 2 * ngf, 3, 2, bias=False), nn.Conv2d(2 * ngf, c, 3, 2, bias=False)]
                           + [nn.Conv2d(c, c, 3, bias=False) for _ in range(2 * n_blocks)])
    m.gap_fc, m.gmp_fc = nn.Linear(c, 1, bias=False), nn.Linear(c, 1, bias=False)
    m.conv1x1 = nn.Conv2d(2 * c, c, 1)
    fc_in = c if light else (img_size // 4) ** 2 * c
    m.fc = nn.ModuleList([nn.Linear(fc_in, c, bias=False), nn.Linear(c, c, bias=False)])
    m.gamma, m.beta = nn.Linear(c, c, bias=False), nn.Linear(c, c, bias=False)
    m.blocks = nn.ModuleList([AdaILNBlock(c) for _ in range(n_blocks)])
    m.up = nn.ModuleList([nn.Conv2d(c, 2 * ngf, 3, bias=False), ILN(2 * ngf), nn.Conv2d(2 * ngf, ngf, 3, bias=False), ILN(ngf), nn.Conv2d(ngf, 3, 7, bias=False)])
    return m


def ugatit_discriminator(ndf, n_layers):
    m = nn.Module()
    convs = [nn.Conv2d(3, ndf, 4, 2)]
    for i in range(1, n_layers - 2):
        k = 2 ** (i - 1)
        convs.append(nn.Conv2d(ndf * k, ndf * k * 2, 4, 2))
    k = 2 ** (n_layers - 3)
    convs.append(nn.Conv2d(ndf * k, ndf * k * 2, 4, 1))
    c = ndf * k * 2
    m.convs = nn.ModuleList(convs)
    m.gap_fc, m.gmp_fc = nn.Linear(c, 1, bias=False), nn.Linear(c, 1, bias=False)
    m.conv1x1 = nn.Conv2d(2 * c, c, 1)
    m.out = nn.Conv2d(c, 1, 4, bias=False)
    return m


def count(m):
    return sum(p.numel() for p in m.parameters())


def counts():
    return {
        "unet_256": count(unet(8, 64)),
        "patchgan_batch_6": count(patchgan(6, 64, 3, nn.BatchNorm2d)),
        "resnet_9blocks": count(resnet_generator(64, 9)),
        "patchgan_instance_3": count(patchgan(3, 64, 3, nn.InstanceNorm2d)),
        "srresnet_64_16_x4": count(SrResNet(64, 16, 4)),
        "ugatit_light_256_64_4": count(ugatit_generator(64, 4, 256, True)),
        "ugatit_full_64_64_4": count(ugatit_generator(64, 4, 64, False)),
        "ugatit_local_64_5": count(ugatit_discriminator(64, 5)),
        "ugatit_global_64_7": count(ugatit_discriminator(64, 7)),
    }


# --- training steps --------------------------------------------------------------------------
def adam(params, betas):
    return torch.optim.Adam(params, lr=2e-4, betas=betas, eps=1e-8)


def setup(model, size, batch):
    torch.manual_seed(0)
    x = torch.rand(batch, 3, size, size) * 2 - 1
    if model == "pix2pix":
        depth = size.bit_length() - 1  # down to 1x1, as junyanz (unet_256 has 8)
        g, d = unet(depth, 32), patchgan(6, 32, 3, nn.BatchNorm2d)
        y = torch.rand_like(x) * 2 - 1
        og, od = adam(g.parameters(), (0.5, 0.999)), adam(d.parameters(), (0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()

        def step():
            fake = g(x)
            pf, pr = d(torch.cat([x, fake.detach()], 1)), d(torch.cat([x, y], 1))
            ld = 0.5 * (bce(pf, torch.zeros_like(pf)) + bce(pr, torch.ones_like(pr)))
            od.zero_grad(); ld.backward(); od.step()
            for p in d.parameters(): p.requires_grad_(False)
            pf = d(torch.cat([x, fake], 1))
            lg = bce(pf, torch.ones_like(pf)) + 100 * F.l1_loss(fake, y)
            og.zero_grad(); lg.backward(); og.step()
            for p in d.parameters(): p.requires_grad_(True)
        return g, d, x, step
    if model == "cyclegan":
        ga, gb = resnet_generator(32, 6), resnet_generator(32, 6)
        da, db = patchgan(3, 32, 3, nn.InstanceNorm2d), patchgan(3, 32, 3, nn.InstanceNorm2d)
        y = torch.rand_like(x) * 2 - 1
        og = adam(list(ga.parameters()) + list(gb.parameters()), (0.5, 0.999))
        od = adam(list(da.parameters()) + list(db.parameters()), (0.5, 0.999))
        mse = nn.MSELoss()

        def step():
            fb, fa = ga(x), gb(y)
            for p in list(da.parameters()) + list(db.parameters()): p.requires_grad_(False)
            pb, pa = db(fb), da(fa)
            lg = mse(pb, torch.ones_like(pb)) + mse(pa, torch.ones_like(pa)) \
                + 10 * (F.l1_loss(gb(fb), x) + F.l1_loss(ga(fa), y)) \
                + 5 * (F.l1_loss(ga(y), y) + F.l1_loss(gb(x), x))
            og.zero_grad(); lg.backward(); og.step()
            for p in list(da.parameters()) + list(db.parameters()): p.requires_grad_(True)
            rb, fb_, ra, fa_ = db(y), db(fb.detach()), da(x), da(fa.detach())
            ld = 0.5 * (mse(rb, torch.ones_like(rb)) + mse(fb_, torch.zeros_like(fb_))) \
                + 0.5 * (mse(ra, torch.ones_like(ra)) + mse(fa_, torch.zeros_like(fa_)))
            od.zero_grad(); ld.backward(); od.step()
        g = nn.ModuleList([ga, gb]); d = nn.ModuleList([da, db])
        g.forward = ga.forward
        return g, d, x, step
    if model == "srresnet":
        g = SrResNet(64, 16, 4)
        lr = torch.rand(batch, 3, size // 4, size // 4) * 2 - 1
        og = adam(g.parameters(), (0.9, 0.999))

        def step():
            loss = F.mse_loss(g(lr), x)
            og.zero_grad(); loss.backward(); og.step()
        g.bench_input = lr
        return g, None, lr, step
    raise SystemExit(f"unknown model {model}")


def bench(model, size, batch, threads, repeats):
    torch.set_num_threads(threads)
    g, d, x, step = setup(model, size, batch)
    step()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
    g.eval()
    with torch.no_grad():
        g(x)
        fwd = []
        for _ in range(repeats):
            t = time.perf_counter(); g(x); fwd.append(time.perf_counter() - t)
    print(json.dumps({
        "side": f"pytorch {torch.__version__}", "model": model, "size": size, "batch": batch, "threads": threads,
        "generator_parameters": count(g[0] if isinstance(g, nn.ModuleList) else g),
        "discriminator_parameters": count(d[0] if isinstance(d, nn.ModuleList) else d) if d is not None else 0,
        "train_step_ms": statistics.median(times) * 1e3, "forward_ms": statistics.median(fwd) * 1e3,
    }))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["count", "bench"])
    ap.add_argument("--model", default="pix2pix")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    if a.what == "count":
        print(json.dumps(counts(), indent=1))
    else:
        bench(a.model, a.size, a.batch, a.threads, a.repeats)
