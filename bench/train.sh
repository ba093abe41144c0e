#!/bin/sh
# heist's training step against its PyTorch twin, side by side, interleaved, on this machine.
#   bench/train.sh [size] [batch]      (needs the dev venv with torch: see bench/README or docs)
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-/work/.venv-bench/bin/python}
SIZE=${1:-64}; BATCH=${2:-8}
cargo build --release --quiet
for model in pix2pix cyclegan srresnet; do
  for round in 1 2; do
    RAYON_NUM_THREADS=2 ./target/release/heist bench train --model $model --size $SIZE --batch $BATCH
    $PY bench/train_twin.py bench --model $model --size $SIZE --batch $BATCH --threads 2
  done
done
