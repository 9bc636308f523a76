#!/usr/bin/env bash
# Both panels of Fig. 4: every k in {3,6,9} x gamma in {1e-1,1e-2,1e-3} x 10
# trials, for Eq. 4 (panel A, 2000 iterations) and Eq. 8 (panel B, 10,000
# presentations of 150 ms), then the figure. Needs a build (scripts/build.sh).
#   bash experiments/fig4_panels.sh [OUT_DIR] [--threads N]   -> OUT_DIR/fig4a.h5, fig4b.h5, fig4.png
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/results}
shift || true
mkdir -p "$out"
dynshare=${DYNSHARE:-$root/build/dynshare}   # the program to use (default: the build from scripts/build.sh)
"$dynshare" sweep "$root/experiments/fig4a_sweep.yaml" -o "$out/fig4a.h5" --overwrite "$@"
"$dynshare" sweep "$root/experiments/fig4b_sweep.yaml" -o "$out/fig4b.h5" --overwrite "$@"
/usr/bin/python3 "$root/analysis/fig4.py" "$out/fig4a.h5" "$out/fig4b.h5" -o "$out/fig4.png"
echo "fig4_panels: wrote $out/fig4a.h5, $out/fig4b.h5, $out/fig4.png"
