#!/usr/bin/env bash
# Development-only: Inception v3 throughput of heist (burn-flex) and PyTorch, same machine,
# one after the other. Needs torch==2.9.0, torchvision, pytorch-fid (PYTHON=...).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench inception
"${PYTHON:-python3}" bench/inception_parity.py --bench
