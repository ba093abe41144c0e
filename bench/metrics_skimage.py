"""Development-only: time scikit-image's SSIM + PSNR on the pairs `cargo bench --bench metrics`
writes (DATA_DIR/ref, DATA_DIR/test), with the conventions heist pins. Prints the same lines.

    python bench/metrics_skimage.py target/bench-metrics
"""
import os
import sys
import time

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def measure(a, b):
    s = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, channel_axis=-1)
    p = peak_signal_noise_ratio(a, b, data_range=255)
    return s, p


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/bench-metrics"
    names = sorted(os.listdir(os.path.join(root, "ref")))
    load = lambda d, n: np.asarray(Image.open(os.path.join(root, d, n)).convert("RGB"))
    start = time.perf_counter()
    ssims, psnrs = [], []
    for n in names:
        s, p = measure(load("ref", n), load("test", n))
        ssims.append(s)
        psnrs.append(p)
    end_to_end = time.perf_counter() - start
    print(f"scikit-image ssim+psnr, {len(names)} pairs, decode + measure: {end_to_end:.3f} s "
          f"(SSIM {np.mean(ssims):.4f}, PSNR {np.mean(psnrs):.2f} dB)")
    pairs = [(load("ref", n), load("test", n)) for n in names]
    start = time.perf_counter()
    total = sum(s + p for s, p in (measure(a, b) for a, b in pairs))
    print(f"scikit-image ssim+psnr, {len(names)} pairs, measure only (decoded): "
          f"{time.perf_counter() - start:.3f} s (checksum {total:.3f})")


if __name__ == "__main__":
    main()
