#!/usr/bin/env bash
# Table 1 on translated Fashion-MNIST: every row (experiments/train_t1_*.yaml)
# for seeds 0 .. SEEDS-1, then the table (analysis/table1.py) and the training
# curves (analysis/training.py). Resumable: finished runs are kept, an
# interrupted one continues from its last checkpoint.
#   bash experiments/table1.sh [OUT_DIR (runs/table1)] [SEEDS (3)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-runs/table1}
seeds=${2:-3}
bin="$root/build/dynshare"
[ -x "$bin" ] || { echo "table1.sh: $bin not found; build first (bash scripts/build.sh)" >&2; exit 2; }
mkdir -p "$out"
rows=(conv lc lc_reps4 lc_reps8 lc_ws1 lc_ws10 lc_ws100 lc_sleep10 lc_sleep100 lc_full)
for ((s = 0; s < seeds; ++s)); do
  for r in "${rows[@]}"; do
    dir="$out/${r}_s$s"
    [ -f "$dir/done" ] && continue
    extra=()
    [ -f "$dir/checkpoint.pt" ] && extra=(--resume)
    echo "== $r seed $s"
    start=$(date +%s)
    "$bin" train "$root/experiments/train_t1_$r.yaml" -o "$dir" --set train.seed=$s --set train.progress=never "${extra[@]}"
    echo "$(( $(date +%s) - start )) s" > "$dir/done"
  done
done
/usr/bin/python3 "$root/analysis/table1.py" "$out"/*/ | tee "$out/table1.txt"
/usr/bin/python3 "$root/analysis/training.py" "$out"/*_s0/ -o "$out/training.png"
