#!/usr/bin/env bash
# One command on the device machine (GPU): configure against the carried
# Debian packages, build, run the GPU tests, then the benchmark.
#   bash bench/gpu/run_device_bench.sh [bench flags: --runs N --presentations P --precision fp32|fp64 ...]
# Needs bench/gpu/deps (made here by bench/gpu/fetch_deps.sh, named in `carry`).
# Logs and bench.json go to $OUT (the device tool's folder) or $BUILD_DIR/out.
set -euo pipefail
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
mapfile -t cmake_args < <(sed "s#\\\$PWD#$PWD#g" bench/gpu/deps/cmake-args)
set -o pipefail
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDYNSHARE_TRAINER=OFF -DDYNSHARE_CUDA=ON \
        "${cmake_args[@]}"
  ninja -C "$build" -j"$(nproc)" dynshare dynshare_tests dynshare_cuda_tests dynshare_bench_gpu
} 2>&1 | tee "$out/build.log" | tail -n 25
if ldd "$build/tests/dynshare_cuda_tests" | grep "not found"; then
  echo "some shared libraries are missing: add their packages to bench/gpu/fetch_deps.sh" >&2
fi
# The CUDA backend's tests: Device/* on the GPU, Emulated* (the same bodies on
# the CPU emulator) and the factory checks.
"$build/tests/dynshare_cuda_tests" 2>&1 | tee "$out/gpu_tests.log" | tail -n 40 || true
"$build/dynshare_bench_gpu" "$@" --json "$out/bench.json" 2>&1 | tee "$out/bench.log"
