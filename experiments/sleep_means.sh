#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What a sleep phase does to module means: experiments/sleep_means.yaml with
# alpha in {100, 1e4} x stack.border in {zero, periodic}, and padding 0 (no
# border neurons) as the reference. Writes results/sleep_means/*.h5 and prints
# the module-mean norm and spread before and after each phase.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-results/sleep_means}
mkdir -p "$out"
bin="$root/build/dynshare"
cfg="$root/experiments/sleep_means.yaml"
for alpha in 100 1e4; do
  for border in zero periodic; do
    "$bin" simulate "$cfg" -o "$out/alpha${alpha}_$border.h5" --overwrite --quiet \
      --set dynamics.alpha=$alpha --set stack.border=$border
  done
done
"$bin" simulate "$cfg" -o "$out/alpha1e4_nopadding.h5" --overwrite --quiet \
  --set 'stack.layers=[{channels: 16, kernel: 3, stride: 1, padding: 0, init_mean: 0.0, init_std: 0.19}]'
/usr/bin/python3 "$root/analysis/module_means.py" "$out"/*.h5
