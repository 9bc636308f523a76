#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Both panels of Fig. 4: every k in {3,6,9} x gamma in {1e-1,1e-2,1e-3} x 10
# trials, for Eq. 4 (panel A, 2000 iterations) and Eq. 8 (panel B, 10,000
# presentations of 150 ms), then the figure. Needs a build (scripts/build.sh).
#   bash experiments/fig4_panels.sh [OUT_DIR] [--threads N] [--backend B]   (options in any order)
#   -> OUT_DIR/fig4a.h5, fig4b.h5, fig4.png (OUT_DIR default: results/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: bash experiments/fig4_panels.sh [OUT_DIR] [--threads N] [--backend auto|cpu|cuda]"
out=""
opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads|--backend)
      [ $# -ge 2 ] || { echo "fig4_panels: error: $1 needs a value; $usage" >&2; exit 2; }
      opts+=("$1" "$2"); shift 2 ;;
    --threads=*|--backend=*) opts+=("$1"); shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "fig4_panels: error: unknown option $1; $usage" >&2; exit 2 ;;
    *)
      [ -z "$out" ] || { echo "fig4_panels: error: a second OUT_DIR '$1'; $usage" >&2; exit 2; }
      out=$1; shift ;;
  esac
done
out=${out:-$root/results}
mkdir -p "$out"
dynshare=${DYNSHARE:-$root/build/dynshare}   # the program to use (default: the build from scripts/build.sh)
"$dynshare" sweep "$root/experiments/fig4a_sweep.yaml" -o "$out/fig4a.h5" --overwrite ${opts[@]+"${opts[@]}"}
"$dynshare" sweep "$root/experiments/fig4b_sweep.yaml" -o "$out/fig4b.h5" --overwrite ${opts[@]+"${opts[@]}"}
/usr/bin/python3 "$root/analysis/fig4.py" "$out/fig4a.h5" "$out/fig4b.h5" -o "$out/fig4.png"
echo "fig4_panels: wrote $out/fig4a.h5, $out/fig4b.h5, $out/fig4.png"
