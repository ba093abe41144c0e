"""heist's training step against its PyTorch twin: interleaved rounds on one machine (development only).

    PYTHON=/path/to/venv-with-torch/bin/python python3 bench/compare.py pix2pix,srresnet,cyclegan 3

For the libtorch backend, point HEIST at a `--features tch` build and pass its flag, with
libtorch's libraries on LD_LIBRARY_PATH:

    HEIST=$CARGO_TARGET_DIR/release/heist HEIST_ARGS="--backend tch" python3 bench/compare.py

Each round runs `heist bench train` and `bench/train_twin.py bench` once per model (2 threads,
batch 8, 64 px, medians of 6 steps each), alternating sides. Prints the fastest and the median
round of each side and their ratios (PyTorch time / heist time, so > 1 means heist is faster):
on a shared VM noise only adds time, so the fastest rounds are the fairer comparison.
"""
import json, os, statistics, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
models = sys.argv[1].split(",") if len(sys.argv) > 1 else ["pix2pix", "cyclegan", "srresnet"]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
heist = os.environ.get("HEIST", os.path.join(target, "release", "heist"))
heist_args = os.environ.get("HEIST_ARGS", "").split()
python = os.environ.get("PYTHON", sys.executable)
env = dict(os.environ, RAYON_NUM_THREADS="2")
common = ["--model", None, "--size", "64", "--batch", "8"]

times = {}
for _ in range(rounds):
    for m in models:
        args = [a if a is not None else m for a in common]
        for side, cmd in [("heist", [heist, "bench", "train", *args, "--repeats", "6", *heist_args]),
                          ("torch", [python, "bench/train_twin.py", "bench", *args, "--threads", "2", "--repeats", "6"])]:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, check=True)
            d = json.loads(out.stdout.strip().splitlines()[-1])
            times.setdefault((m, side), []).append((d["train_step_ms"], d["forward_ms"]))

for m in models:
    for i, what in [(0, "step"), (1, "forward")]:
        h = [t[i] for t in times[(m, "heist")]]
        t = [t[i] for t in times[(m, "torch")]]
        print(f"{m} {what}: heist fastest {min(h):.1f} ms, median {statistics.median(h):.1f} | "
              f"PyTorch fastest {min(t):.1f}, median {statistics.median(t):.1f} | "
              f"ratio {min(t) / min(h):.2f}x (fastest), {statistics.median(t) / statistics.median(h):.2f}x (median)")
