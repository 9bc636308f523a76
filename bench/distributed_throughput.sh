#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Data-parallel training throughput (issue 17): the same training run as one
# process with T threads and as 2 processes (ranks) with T/2 threads each on
# loopback, in one invocation; images per second from the trainer's epoch
# time, and the collectives' share of rank 0's run time. Writes a Markdown
# report.
#   bash bench/distributed_throughput.sh [REPORT.md (bench_distributed.md)] [ITERATIONS (60)] [THREADS (2)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
report=${1:-bench_distributed.md}
iters=${2:-60}
threads=${3:-2}
bin=${DYNSHARE_TRAIN:-$root/build/dynshare-train}
[ -x "$bin" ] || { echo "distributed_throughput.sh: $bin not found (build with the trainer first)" >&2; exit 2; }
[ -e "$report" ] && { echo "distributed_throughput.sh: $report exists; remove it first" >&2; exit 2; }
cfg=$root/experiments/train_fmnist_quick.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sets=(--set train.max_iterations=$iters --set train.progress=never --set data.validation=0 --set data.final_test=false)
batch=$(grep -o 'batch_size: [0-9]*' "$cfg" | head -1 | grep -o '[0-9]*')
seconds() { grep -o '[0-9.]* s$' "$1" | head -1 | grep -o '[0-9.]*'; }

"$bin" "$cfg" -o "$work/one" "${sets[@]}" --set train.threads=$threads > "$work/one.log" 2>&1
port=$(( 20000 + $$ % 20000 ))
for r in 1 0; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$bin" "$cfg" -o "$work/two" "${sets[@]}" --set train.threads=$(( threads > 1 ? threads / 2 : 1 )) \
    > "$work/two_$r.log" 2>&1 &
done
wait
t1=$(seconds "$work/one.log"); t2=$(seconds "$work/two_0.log")
share=$(grep -o 'took [0-9.]* s of [0-9.]* s ([0-9.]* %)' "$work/two_0.log" | head -1)
{
  echo "# Data-parallel training throughput"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, \`experiments/train_fmnist_quick.yaml\`, $iters iterations of the global batch $batch, no evaluation; load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| run | training seconds | images / s |"
  echo "|---|---|---|"
  echo "| 1 process x $threads threads | $t1 | $(awk "BEGIN {printf \"%.0f\", $iters * $batch / $t1}") |"
  echo "| 2 processes x $(( threads > 1 ? threads / 2 : 1 )) threads (Gloo, loopback) | $t2 | $(awk "BEGIN {printf \"%.0f\", $iters * $batch / $t2}") |"
  echo
  echo "Rank 0's collectives (gradient all-reduce, sums): $share."
} > "$report"
cat "$report"
