#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One command on the device machine (GPU), within 8 minutes: configure against
# the carried Debian packages, build, run the tests on the device, run the
# benchmark, then build the trainer against the device's PyTorch LibTorch and
# time LC ResNet-20 training iterations. One report: $OUT/report.md.
#   bash bench/gpu/run_device_bench.sh [bench flags: --runs N --presentations P --precision fp32|fp64 ...]
# Needs bench/gpu/deps (made here by bench/gpu/fetch_deps.sh, named in `carry`).
# Logs, bench.json and report.md go to $OUT (the device tool's folder) or $BUILD_DIR/out.
# Every step has its own time limit (seconds: STEP_BUILD, STEP_TESTS, STEP_BENCH,
# STEP_TRAIN_BUILD, STEP_TRAIN), so one slow step cannot take the others' time.
# The benchmark's every section runs in CI on the CPU emulator (ctest
# BenchGpu.EmulatedDryRun); this script itself needs a device.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
root=bench/gpu/deps/root
if [ ! -d "$root" ]; then
  echo "missing $root: run bench/gpu/fetch_deps.sh on the build machine and carry bench/gpu/deps" >&2
  exit 1
fi
lib=$PWD/$root/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$lib:$lib/hdf5/serial:${LD_LIBRARY_PATH:-}
export PATH=$PATH:/usr/local/cuda/bin
build=${BUILD_DIR:-/tmp/dynshare-gpu-build}
out=${OUT:-$build/out}
mkdir -p "$out"
report=$out/report.md
mapfile -t cmake_args < <(sed "s#\\\$PWD#$PWD#g" bench/gpu/deps/cmake-args)
t0=$(date +%s)
step() {  # step NAME LIMIT_S LOG COMMAND...: runs it under a time limit, notes the outcome
  local name=$1 limit=$2 log=$3; shift 3
  local s=$(date +%s)
  timeout "$limit" "$@" > "$out/$log" 2>&1
  local rc=$?
  echo "| $name | $rc$( [ $rc = 124 ] && echo ' (time limit)') | $(( $(date +%s) - s )) s | $log |" >> "$report"
  tail -n 15 "$out/$log"
  return $rc
}
{
  echo "# dynshare device run, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | sed 's/^/    /'
  echo
  echo "| step | exit | seconds | log |"
  echo "|---|---|---|---|"
} > "$report"

build_main() {
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDYNSHARE_TRAINER=OFF -DDYNSHARE_CUDA=ON \
        "${cmake_args[@]}" && ninja -C "$build" -j"$(nproc)" dynshare dynshare_tests dynshare_cuda_tests dynshare_bench_gpu
}
step build "${STEP_BUILD:-150}" build.log build_main || { cat "$report"; exit 1; }
if ldd "$build/tests/dynshare_cuda_tests" | grep "not found"; then
  echo "some shared libraries are missing: add their packages to bench/gpu/fetch_deps.sh" >&2
fi
# The CUDA backend's tests: Device/* on the GPU, Emulated* (the same bodies on
# the CPU emulator) and the factory checks.
step "CUDA tests (device + emulated)" "${STEP_TESTS:-90}" gpu_tests.log "$build/tests/dynshare_cuda_tests"
grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$out/gpu_tests.log" | sed 's/^/    /' >> "$report"
step benchmark "${STEP_BENCH:-150}" bench.log "$build/dynshare_bench_gpu" --stack-config experiments/resnet20_stack.yaml "$@" \
     --json "$out/bench.json"
{ echo; echo '```'; cat "$out/bench.log"; echo '```'; echo; } >> "$report"

# LC ResNet-20 training on the device: the trainer built against PyTorch's LibTorch (CUDA).
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
if [ -n "$torch_prefix" ]; then
  build_train() {
    cmake -S . -B "$build-train" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDYNSHARE_TRAINER=ON -DDYNSHARE_CUDA=ON \
          -DDYNSHARE_TESTS=OFF "${cmake_args[@]}" -DCMAKE_PREFIX_PATH="$PWD/$root/usr;$torch_prefix" \
          -DTorch_DIR="$torch_prefix/Torch" && ninja -C "$build-train" -j"$(nproc)" bench_trainer
  }
  if step "trainer build (LibTorch $torch_prefix)" "${STEP_TRAIN_BUILD:-180}" train_build.log build_train; then
    bt=$(find "$build-train" -name bench_trainer -type f -perm -u+x | head -1)
    step "LC ResNet-20 training (cuda)" "${STEP_TRAIN:-90}" train_bench.log "$bt" --device cuda --batch 128 --iters 20
    { echo '```'; cat "$out/train_bench.log"; echo '```'; } >> "$report"
  fi
else
  echo "| trainer | skipped: python3 cannot import torch | | |" >> "$report"
fi
echo "total $(( $(date +%s) - t0 )) s" >> "$report"
cat "$report"
