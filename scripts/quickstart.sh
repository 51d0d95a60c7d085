#!/usr/bin/env bash
# The main job: synthesise the 3D skeleton set (if absent), train a light ST-GCN++ on it, run the
# 10-clip test on the held-out subjects, print top-1 / mean-class accuracy. ~3-5 min on 2 CPU cores.
#   bash scripts/quickstart.sh            # the model
#   bash scripts/quickstart.sh --control  # also the shuffled-frames control (same poses, no order)
# Extra arguments go to `pyskl train` (e.g. --amp bf16); PYSKL_DEVICE=cuda picks the device for both steps.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"

CONTROL=0
if [ "${1:-}" = "--control" ]; then CONTROL=1; shift; fi
DATA=data/synthetic/ntu3d_synthetic.pkl
SEED="${PYSKL_SEED:-0}"

if [ ! -f "$DATA" ]; then
    echo "== synthesising $DATA"
    pyskl data synth --out "$DATA" --kind ntu3d --num-classes 10 --samples-per-class 60 --seed 0
fi

run() {  # run NAME: train configs/quickstart/NAME.py from scratch, then test it with 10 clips
    local name="$1"; shift
    local cfg="configs/quickstart/$name.py" work="work_dirs/quickstart/$name"
    rm -rf "$work"
    echo "== training $cfg (work dir $work)"
    pyskl train "$cfg" --work-dir "$work" --seed "$SEED" --validate "$@"
    echo "== 10-clip test of $work/latest.pth on the held-out subjects (xsub_val)"
    pyskl test "$cfg" "$work/latest.pth" --eval top_k_accuracy mean_class_accuracy \
        --out "$work/results.pkl" | tee "$work/test_metrics.txt"
    RAN+=("$name")
}

START=$SECONDS
RAN=()
run stgcnpp_synthetic "$@"
if [ "$CONTROL" = 1 ]; then
    run stgcnpp_synthetic_shuffled "$@"
fi
echo
echo "== quickstart summary ($((SECONDS - START)) s)"
for name in "${RAN[@]}"; do
    f="work_dirs/quickstart/$name/test_metrics.txt"
    top1=$(awk '/^top1_acc:/ {print $2}' "$f"); mca=$(awk '/^mean_class_accuracy:/ {print $2}' "$f")
    printf '%-28s top-1 %s   mean-class %s\n' "$name" "$top1" "$mca"
done
