#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Configures and builds dynshare into BUILD_DIR (default: build/), Release.
# Extra arguments go to CMake (e.g. -DDYNSHARE_TRAINER=OFF).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
