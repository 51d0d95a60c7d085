#!/usr/bin/env bash
# GPU checks for a machine with CUDA, in stages that each have their own time limit, so one failing or
# slow stage does not lose the others:
#   1. versions (python, torch, CUDA, GPU);
#   2. the CUDA tests (`pytest -m gpu`);
#   3. end-to-end training throughput, current path vs fast path, one model per stage
#      (benchmarks/bench_train_gpu.py: ST-GCN++ with eval, CTR-GCN, MS-G3D, PoseC3D SlowOnly), JSON in $OUT;
#   4. with GPU_EAGER=1: the same without torch.compile (an ablation; a model whose compile fails is
#      re-run eagerly inside its stage anyway);
#   5. accuracy: numpy pipeline (fp32) vs device pipeline (bf16) on the synthetic set, 2 seeds;
#   6. the GCN model-step bench at the batches in $GPU_BENCH_BATCHES (default "": skipped);
#   7. with GPU_PROFILE=1 only (then set GPU_SKIP_BENCH=1 to fit one call): where the GCN train step spends
#      its time (benchmarks/profile_gpu_step.py: precision, channels-last forms, kernel table).
# Uses $PYTHON (default python3), which needs torch with CUDA, numpy, opencv-python-headless, tqdm and
# pytest. Results go to $OUT (default ./gpu_check_out); the stage limits add up to 9.3 minutes (run it with
# the device tool's timeout_s=600); expect about 6.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
rc=0

stage() {  # stage NAME SECONDS CMD...: run CMD under a time limit, log to $OUT/NAME.log, never abort the script
    local name="$1" limit="$2"; shift 2
    echo "== $name (limit ${limit}s)"
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - start))s"
    [ "$status" -eq 0 ] || rc=1
}

stage versions 20 "$PY" -c "
import platform, torch
print('python', platform.python_version(), '| torch', torch.__version__, '| CUDA', torch.version.cuda,
      '| cuDNN', torch.backends.cudnn.version())
print('GPU:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'NONE (torch sees no CUDA device)')
assert torch.cuda.is_available()
"
[ "$rc" -eq 0 ] || { echo "error: $PY has no torch with CUDA; set PYTHON to one that has"; exit 1; }

stage gpu_tests_device_pipeline 45 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu_device_pipeline.py
stage gpu_tests 80 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu_models.py \
    tests/test_heatmap_vectorised.py tests/test_engine_device_heatmap.py
stage gpu_tests_protogcn 30 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu_protogcn.py

# Compiling a GCN step takes minutes (ST-GCN++: about 2.5 on an H200), more than a stage's share of one
# 10-minute device call: the fast path runs eagerly unless GPU_COMPILE=1 (then run fewer models per call).
if [ "${GPU_PROFILE:-0}" = 1 ]; then
    stage profile 240 "$PY" benchmarks/profile_gpu_step.py --device cuda --models stgcnpp ctrgcn msg3d \
        --variants bf16 fp16 bf16+clforms fp16+clforms --batches 128 --out "$OUT/profile"
fi
[ "${GPU_SKIP_BENCH:-0}" = 1 ] && exit $rc

COMPILE=(--compile none) EAGER=()
[ "${GPU_COMPILE:-0}" = 1 ] && COMPILE=() EAGER=(--also-eager)
# GPU_BENCH_ARGS: extra bench options, e.g. "--channels-last" or "--amp fp16" (see profile_gpu_step.py)
read -r -a EXTRA <<< "${GPU_BENCH_ARGS:-}"
BENCH=(benchmarks/bench_train_gpu.py --device cuda --iters 40 --current-iters 25 --warmup 6 "${COMPILE[@]}"
       "${EXTRA[@]}")
stage train_stgcnpp 85 "$PY" "${BENCH[@]}" --models stgcnpp --eval --json "$OUT/train_stgcnpp.json"
stage train_ctrgcn 60 "$PY" "${BENCH[@]}" --models ctrgcn "${EAGER[@]}" --json "$OUT/train_ctrgcn.json"
stage train_msg3d 90 "$PY" "${BENCH[@]}" --models msg3d "${EAGER[@]}" --json "$OUT/train_msg3d.json"
stage train_slowonly 55 "$PY" "${BENCH[@]}" --models slowonly --json "$OUT/train_slowonly.json"
if [ "${GPU_EAGER:-0}" = 1 ]; then
    stage train_eager 45 "$PY" "${BENCH[@]}" --models stgcnpp ctrgcn --compile none --current-iters 10 \
        --json "$OUT/train_eager.json"
fi

stage accuracy 90 "$PY" benchmarks/accuracy_device_pipeline.py --device cuda --fast-amp bf16 --seeds 0 1 \
    --classes 10 --samples-per-class 60 --epochs 6 \
    --json "$OUT/accuracy_device_pipeline.json"

for batch in ${GPU_BENCH_BATCHES-}; do
    stage "model_step_b$batch" 60 "$PY" benchmarks/bench_models.py --device cuda --batch "$batch" --iters 10 \
        --warmup 3
done

"$PY" - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
merged = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("train_*.json"))}
(out / "gpu_check_summary.json").write_text(json.dumps(merged, indent=1))
print("== summary (clips/s; recipe time on one GPU)")
for stage, report in merged.items():
    for name, entry in report.get("models", {}).items():
        cur, fast = entry.get("current", {}), entry.get("fast", {})
        print(f"{stage:16s} {name:9s} current {cur.get('clips_per_s', cur.get('error', '?'))!s:>10.60s}"
              f"  fast {fast.get('clips_per_s', fast.get('error', '?'))!s:>10.60s}  speedup {entry.get('speedup', '-')}"
              f"  recipe: current {cur.get('recipe_hours', '-')} h, fast "
              f"{round(fast['recipe_hours'] * 60, 1) if 'recipe_hours' in fast else '-'} min")
        if "fast_eager" in entry:
            eager = entry["fast_eager"]
            print(f"{stage:16s} {name:9s} fast without compile: {eager.get('clips_per_s', eager)}")
    if "eval_stgcnpp" in report:
        print(f"{stage:16s} eval stgcnpp {report['eval_stgcnpp']}")
EOF
exit $rc
