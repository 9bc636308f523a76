#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Before/after timing of the ResNet-20 sleep phase (experiments/resnet20_stack.yaml,
# default dynamics.block, 2 threads) for two dynshare builds on the same
# machine: `dynshare simulate` of each, alternated ROUNDS times, with records
# and checkpoints only at the start and end; the time is the output file's
# `seconds` attribute (the engine run). Prints min, median and every round
# per build (the machines here vary by up to 40 % between runs, so compare
# alternated rounds, not single runs).
#   bash bench/compare_sleep_builds.sh OLD/dynshare NEW/dynshare [ROUNDS] [PRESENTATIONS]
set -euo pipefail
usage="usage: compare_sleep_builds.sh OLD_DYNSHARE NEW_DYNSHARE [ROUNDS] [PRESENTATIONS]"
old=${1:?$usage}
new=${2:?$usage}
rounds=${3:-5}
presentations=${4:-1000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    "$bin" simulate "$here/../experiments/resnet20_stack.yaml" --set run.presentations="$presentations" \
      --set run.record_every=100000000 --set run.checkpoint_every=100000000 --threads 2 --quiet \
      -o "$tmp/$which.h5" --overwrite >/dev/null
    /usr/bin/python3 -c "import h5py, sys; print(sys.argv[1], h5py.File(sys.argv[2], 'r').attrs['seconds'])" \
      "$which" "$tmp/$which.h5" >> "$tmp/times"
  done
done
/usr/bin/python3 - "$tmp/times" "$presentations" <<'PY'
import sys, statistics
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(float(v))
print(f"ResNet-20 sleep phase, {sys.argv[2]} presentations, engine seconds:")
for k in ("old", "new"):
    v = t[k]
    print(f"  {k}: min {min(v):.2f} s, median {statistics.median(v):.2f} s, rounds " + " ".join(f"{x:.2f}" for x in v))
PY
