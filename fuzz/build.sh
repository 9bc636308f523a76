#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the libFuzzer targets (clang, with ASan and UBSan) into build-fuzz/:
# fuzz_config (run config parser), fuzz_sweep (sweep parser), fuzz_set
# (--set parsing). Sources: the parsers' own files, nothing else.
#   bash fuzz/build.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${BUILD_DIR:-$root/build-fuzz}
mkdir -p "$out"
CXX=${CXX_FUZZ:-clang++}
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/include" -I"$root/src" -I"$root"
       -DDYNSHARE_MAX_SWEEP_RUNS=20000)  # a sweep of more runs is refused (one line), not expanded for seconds
# config.cpp validates DYNSHARE_BLOCK_KERNEL (the block GEMMs' instruction-set
# choice): the portable kernels' file and the CPU check come along.
srcs=("$root/src/io/config_yaml.cpp" "$root/src/io/sweep_config.cpp" "$root/src/core/config.cpp"
      "$root/src/core/block_gemm_portable.cpp" "$root/src/core/simd_isa.cpp")
pids=()
for t in config sweep set; do
  "$CXX" "${flags[@]}" "$root/fuzz/fuzz_$t.cpp" "${srcs[@]}" -lyaml-cpp -o "$out/fuzz_$t" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done  # set -e: a failed build fails the script
echo "fuzz: built $out/fuzz_config, fuzz_sweep, fuzz_set"
