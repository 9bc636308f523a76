#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Table 1 on translated Fashion-MNIST: every row (experiments/train_t1_*.yaml)
# for seeds 0 .. SEEDS-1, then the table (analysis/table1.py) and the training
# curves (analysis/training.py). Resumable: finished runs are kept, an
# interrupted one continues from its last checkpoint.
#   bash experiments/table1.sh [OUT_DIR (runs/table1)] [SEEDS (3)]
# Environment:
#   ROWS="conv lc ..."  the rows to run (default: the eight rows of Table 1 below;
#                       lc_reps8 and lc_full are extra rows with their own configs)
#   JOBS=N              runs at once, each with train.threads = nproc / N
#                       (default 1: one run on every core). On 2 cores JOBS=2
#                       gives about 10 % more runs per hour; a run's log is
#                       then OUT_DIR/ROW_sSEED.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-runs/table1}
seeds=${2:-3}
jobs=${JOBS:-1}
bin="$root/build/dynshare"
[ -x "$bin" ] || { echo "table1.sh: $bin not found; build first (bash scripts/build.sh)" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "table1.sh: JOBS must be a positive integer, got '$jobs'" >&2; exit 2; }
read -r -a rows <<< "${ROWS:-conv lc lc_reps4 lc_ws1 lc_ws10 lc_ws100 lc_sleep10 lc_sleep100}"
for r in "${rows[@]}"; do
  [ -f "$root/experiments/train_t1_$r.yaml" ] || { echo "table1.sh: ROWS: no experiments/train_t1_$r.yaml" >&2; exit 2; }
done
threads=0
(( jobs > 1 )) && threads=$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))
mkdir -p "$out"

one_run() {  # ROW SEED
  local r=$1 s=$2 dir="$out/${1}_s$2" extra=() start
  [ -f "$dir/done" ] && return 0
  [ -f "$dir/checkpoint.pt" ] && extra=(--resume)
  echo "== $r seed $s"
  start=$(date +%s)
  "$bin" train "$root/experiments/train_t1_$r.yaml" -o "$dir" --set train.seed="$s" --set train.progress=never \
    --set train.threads="$threads" "${extra[@]}"
  echo "$(( $(date +%s) - start )) s" > "$dir/done"
}

if (( jobs == 1 )); then
  for ((s = 0; s < seeds; ++s)); do for r in "${rows[@]}"; do one_run "$r" "$s"; done; done
else
  # A queue of (row, seed) in table order, JOBS workers taking the next one.
  export -f one_run; export out bin root threads
  for ((s = 0; s < seeds; ++s)); do for r in "${rows[@]}"; do echo "$r $s"; done; done |
    xargs -r -P "$jobs" -L 1 bash -c 'one_run "$0" "$1" > "$out/${0}_s$1.log" 2>&1 || { echo "table1.sh: $0 seed $1 failed, see $out/${0}_s$1.log" >&2; exit 255; }'
fi
/usr/bin/python3 "$root/analysis/table1.py" "$out"/*/ | tee "$out/table1.txt"
/usr/bin/python3 "$root/analysis/training.py" "$out"/*_s0/ -o "$out/training.png"
