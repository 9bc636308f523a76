#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job on the built-in default config (one Fig. 4B curve: ei_rate,
# N = 100, k = 9, alpha = 10, gamma = 0.1, 10,000 presentations):
# installs dependencies, builds, simulates, plots.
#   bash experiments/quickstart.sh      -> results/default.h5, results/default.png
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install_deps.sh
bash scripts/build.sh
mkdir -p results
build/dynshare simulate -o results/default.h5 --overwrite
/usr/bin/python3 analysis/fig4.py results/default.h5 -o results/default.png
echo "quickstart: wrote results/default.h5 and results/default.png"
