#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs each libFuzzer target for SECONDS (default 60) on its seed corpus
# (the configs and sweeps of experiments/, plus every kept finding in
# fuzz/regressions/<target>/) and fails on the first crash, sanitizer report,
# leak or hang (-timeout 10 s per input, -rss_limit_mb 2048). New crashing
# inputs land in build-fuzz/findings/<target>/: copy them to
# fuzz/regressions/<target>/ once fixed, and tests/test_fuzz_regressions.cpp
# replays them in every test run.
#   bash fuzz/build.sh && bash fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BUILD_DIR:-$root/build-fuzz}
secs=${1:-60}
for t in config sweep set; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus" "$out/findings/$t"
  case $t in
    config) cp "$root"/experiments/*.yaml "$corpus/" ;;
    sweep)  for f in "$root"/experiments/*_sweep.yaml "$root"/experiments/sweep_*.yaml; do
              sed 's/^base:.*/base: base.yaml/' "$f" > "$corpus/$(basename "$f")"; done ;;
    set)    printf 'dynamics.alpha=30\nplasticity.gamma=0.01\n' > "$corpus/seed1"
            printf 'stack.layers=[{channels: 8, kernel: 3}]\nstack.input.height=8\n' > "$corpus/seed2"
            printf 'run.precision=fp32\nlayer.kernel=6\n' > "$corpus/seed3" ;;
  esac
  cp "$root"/fuzz/regressions/$t/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $t for $secs s"
  (cd "$out/findings/$t" && "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 | grep -E "^#|stat::|ERROR|SUMMARY|Done" | tail -8)
done
