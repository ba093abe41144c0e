#!/usr/bin/env bash
# Development-only: heist's metric speed next to scikit-image's, same images, same machine,
# one after the other. Needs a Python with numpy, scikit-image and pillow (PYTHON=...).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-target/bench-metrics}"
cargo bench --bench metrics -- "$data"
"${PYTHON:-python3}" bench/metrics_skimage.py "$data"
