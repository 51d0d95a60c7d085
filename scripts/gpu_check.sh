#!/usr/bin/env bash
# GPU checks for a machine with CUDA: the CUDA tests (`pytest -m gpu`) and the GCN models' GPU throughput
# (reference formulation vs fast path vs BN-folded) at the batches in $GPU_BENCH_BATCHES (default "16 64";
# "" skips the bench). Uses $PYTHON (default python3), which needs torch with CUDA plus numpy,
# opencv-python-headless, tqdm and pytest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PY" -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name())" || exit 1
"$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu_models.py tests/test_heatmap_vectorised.py \
    tests/test_engine_device_heatmap.py
rc=$?
for batch in ${GPU_BENCH_BATCHES-16 64}; do
    "$PY" benchmarks/bench_models.py --device cuda --batch "$batch" --iters 10 --warmup 3 || rc=1
done
exit $rc
