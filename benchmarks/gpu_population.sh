#!/usr/bin/env bash
# The GPU measurements of population training, in one go (a lent GPU machine's python3, with
# the repository's src on PYTHONPATH; no package needs installing beyond torch and numpy):
#   bash benchmarks/gpu_population.sh [MIRROR]   # MIRROR: a folder with mnist/ and olivetti/
# Builds the three autoencoder sets from the mirror if they are not built, checks graphed
# population updates against eager ones and the CPU (float64), then prints the throughput
# tables (float32: matmul precision highest, then TF32 for the autoencoders).
set -u
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
mirror=${1:-}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
if [ -n "$mirror" ]; then
    mkdir -p data/raw && cp "$mirror"/mnist/* "$mirror"/olivetti/* data/raw/
fi
for set in curves mnist faces; do
    [ -d data/sets/$set ] || $PY pipelines/build_data.py $set &
done
wait
$PY benchmarks/population_graph_check.py
$PY benchmarks/population_throughput.py --device cuda --sets curves mnist faces \
    --seconds 1 --warmup 200
$PY benchmarks/population_throughput.py --device cuda --sets rnn \
    --sizes 1 4 8 16 32 54 128 256 512 --seconds 1 --warmup 100
$PY benchmarks/population_throughput.py --device cuda --sets curves mnist faces \
    --sizes 8 32 54 --seconds 1 --warmup 100 --matmul-precision high
