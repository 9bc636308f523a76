#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# How far an fp32 Fig. 4B curve sits from the fp64 one (run.precision): one
# curve per kernel size and integrator, 2000 presentations, same seed; prints
# the largest and the final |difference| of -log SNR_w over the records.
#   bash experiments/fp32_vs_fp64.sh [DYNSHARE]   (default: build/dynshare)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
D=${1:-$root/build/dynshare}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| k | integrator | max abs diff | final abs diff | final -log SNR_w (fp64) |"
echo "|---|---|---|---|---|"
for k in 3 9; do
  for integ in euler exponential; do
    for p in fp64 fp32; do
      "$D" simulate --backend cpu --quiet --overwrite -o "$tmp/$p.h5" --set layer.kernel=$k --set dynamics.integrator=$integ \
        --set run.presentations=2000 --set run.precision=$p
    done
    /usr/bin/python3 - "$tmp" "$k" "$integ" <<'PY'
import sys, h5py, numpy as np
tmp, k, integ = sys.argv[1:4]
a = h5py.File(f"{tmp}/fp64.h5", "r")["snr/neg_log_snr"][()]
b = h5py.File(f"{tmp}/fp32.h5", "r")["snr/neg_log_snr"][()]
d = np.abs(a - b)
print(f"| {k} | {integ} | {d.max():.2e} | {d[-1]:.2e} | {a[-1]:.4f} |")
PY
  done
done
