#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every test: installs dependencies, builds (Release, trainer and CUDA backend
# included where available) and runs ctest; then builds the engine's unit
# tests with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and
# runs them; any sanitizer report fails the run; then the Python tests of
# analysis/, of the numpy baseline and of the Python package (tests/python,
# examples/ at toy sizes), the citation file's check and the documentation
# site (mkdocs --strict). Exit status 0 = all passed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install_deps.sh
jobs=$(nproc)

echo "== Release build and tests (build/)"
bash scripts/build.sh -DDYNSHARE_WERROR=ON
(cd build && ctest --output-on-failure -j "$jobs" --timeout 600)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests (build-asan/)"
# (No -DDYNSHARE_WERROR here: GCC 12 reports false maybe-uninitialized
# warnings inside libstdc++'s <regex> under -fsanitize at -O2; the Release
# build above is the one that makes the project's warnings errors.)
BUILD_DIR="$root/build-asan" bash scripts/build.sh -DDYNSHARE_SANITIZE=ON -DDYNSHARE_TRAINER=OFF -DDYNSHARE_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The stacked-plan emulation comparisons run as a subset here (tests/run_emulated.sh says why).
(cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 900 -E "$(cat "$root/tests/sanitizer_exclude.regex")")
echo "== CUDA kernels on the CPU emulator under ThreadSanitizer (build-emu-tsan/)"
bash tests/run_emulated.sh tsan

echo "== libFuzzer targets (clang, ASan+UBSan): a minute each on the parsers"
bash fuzz/build.sh
bash fuzz/run.sh 60

echo "== Python tests: analysis package and the numpy baseline (Debian's /usr/bin/python3)"
(cd analysis && /usr/bin/python3 -m pytest -q -p no:cacheprovider)
/usr/bin/python3 -m pytest -q -p no:cacheprovider bench/test_numpy_fig4b.py
echo "== Python package dynshare (build/python): tests and the examples at toy sizes"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python
ex_out=$(mktemp -d)
DYNSHARE_TOY=1 FIG4_OUT="$ex_out/fig4.png" /usr/bin/python3 examples/fig4.py
DYNSHARE_TOY=1 /usr/bin/python3 examples/pytorch_sleep.py
rm -rf "$ex_out"

echo "== Citation file and documentation (CITATION.cff; mkdocs build --strict)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/docs
# The site is built into a temporary folder (site/ is not committed); warnings
# (a broken link, a page missing from the nav's files) are errors.
site=$(mktemp -d)
mkdocs build --strict --quiet --site-dir "$site"
rm -rf "$site"
echo "== all tests passed"
