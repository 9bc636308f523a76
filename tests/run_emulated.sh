#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The CUDA backend's kernels on the CPU emulator (ctest label cuda_emulated,
# docs/gpu_emulation.md) under the sanitizers:
#   tsan  build-emu-tsan/: -fsanitize=thread, only the target dynshare_cuda_tests
#         (races between the emulated threads of a block: a missing
#         __syncthreads, a shared-memory slot read before it is written);
#   asan  build-asan/: the project's DYNSHARE_SANITIZE build (AddressSanitizer +
#         UndefinedBehaviorSanitizer, the configuration of tests/run_all.sh),
#         target dynshare_cuda_tests (out-of-bounds indexing into device
#         arrays and shared memory, which the emulator allocates at their
#         exact sizes).
# Usage: tests/run_emulated.sh [tsan|asan|all]   (default: all)
# Any failing test or any sanitizer report fails the script (exit status 1).
# tests/run_all.sh already runs the label in build-asan/ with the rest of the
# ASan tests, so it needs only `tests/run_emulated.sh tsan`.
#
# OpenMP under TSan: libgomp is not built with TSan, so its own
# synchronisation (the team barriers of `#pragma omp parallel`) is invisible
# to TSan and every OpenMP loop with more than one thread reports false races.
# The TSan run sets OMP_NUM_THREADS=1: libgomp then runs each parallel region
# on the calling thread alone, starts no worker and shares nothing, so there
# is nothing to misreport, and no suppression can hide a real report. What
# TSan checks here is what this run is for: the kernels' threads, which are
# std::threads synchronised by the emulator's mutex/condition-variable
# barriers, which TSan sees. (The host-side OpenMP loops are outside its scope.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-all}
jobs=${JOBS:-$(nproc)}
case "$mode" in tsan|asan|all) ;; *) echo "usage: $0 [tsan|asan|all]" >&2; exit 2 ;; esac

# Under the sanitizers the stacked-plan comparisons run as a subset: each takes
# 15-25 s in Release (every emulated CUDA thread is an OS thread) and about
# ten times that under TSan. tests/sanitizer_exclude.regex leaves out the
# parametrisations that repeat the same kernels with other flags; kept: fp64
# euler simultaneous zero-border, exponential layer-by-layer periodic,
# exponential with noise + drive, fp32 euler layer-by-layer periodic, and the
# EmulatedStackRun tests but stop-and-resume (host logic, two runs), the
# batch of four (its small sibling BatchOfTwoEqualsTheRunsAlone covers the
# batch's indexing) and the resident-versus-host-path comparison (the
# load/store kernels run in SleepPhaseOnResidentWeightsMatchesTheCpuEngine).
# The Release ctest runs them all.
exclude=$(cat "$root/tests/sanitizer_exclude.regex")

# Runs the label in build dir $1 (ctest -E $2 on top of the subset); fails on a
# failing test or on any sanitizer report in the tests' output (also of tests that passed).
run_label() {
  local dir=$1 log extra=${2:-}
  log=$dir/cuda_emulated.log
  local status=0
  (cd "$dir" && ctest -L cuda_emulated -E "$exclude${extra:+|$extra}" -j "$jobs" --timeout 900 --output-on-failure \
     --output-log "$log") || status=1
  if grep -E -q "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$log"; then
    echo "run_emulated: sanitizer report in $log:" >&2
    grep -E -n -A3 "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$log" | head -n 60 >&2
    status=1
  fi
  return $status
}

failed=0
if [ "$mode" = tsan ] || [ "$mode" = all ]; then
  echo "== ThreadSanitizer: emulated kernels (build-emu-tsan/)"
  cmake -S "$root" -B "$root/build-emu-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDYNSHARE_TRAINER=OFF \
    -DDYNSHARE_CUDA=OFF -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
  cmake --build "$root/build-emu-tsan" -j "$jobs" --target dynshare_cuda_tests
  OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4" \
    run_label "$root/build-emu-tsan" 'BenchGpu' || failed=1  # builds dynshare_cuda_tests only
fi
if [ "$mode" = asan ] || [ "$mode" = all ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: emulated kernels (build-asan/)"
  cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDYNSHARE_SANITIZE=ON \
    -DDYNSHARE_TRAINER=OFF -DDYNSHARE_CUDA=OFF >/dev/null
  cmake --build "$root/build-asan" -j "$jobs" --target dynshare_cuda_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_label "$root/build-asan" || failed=1
fi
if [ "$failed" != 0 ]; then
  echo "run_emulated: FAILED" >&2
  exit 1
fi
echo "run_emulated: all cuda_emulated tests passed ($mode)"
