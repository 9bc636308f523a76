#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Before/after timing of one Fig. 4B curve (k = 3, 6, 9; Euler and
# exponential) for two dynshare builds on the same machine, back to back:
# `dynshare bench` of each, alternated ROUNDS times, best of all rounds per
# cell (the machines here vary by +-20 % from run to run, so a single pair
# says little). Writes a markdown table to stdout.
#   bash bench/compare_builds.sh OLD/dynshare NEW/dynshare [ROUNDS]
set -euo pipefail
old=${1:?usage: compare_builds.sh OLD_DYNSHARE NEW_DYNSHARE [ROUNDS]}
new=${2:?usage: compare_builds.sh OLD_DYNSHARE NEW_DYNSHARE [ROUNDS]}
rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    "$bin" bench -o "$tmp/$which.$r.md" --repeats 5 --numpy-presentations 10 \
      --numpy "$here/numpy_fig4b.py" --python /usr/bin/python3 >/dev/null 2>&1
  done
done
/usr/bin/python3 - "$tmp" "$rounds" <<'PY'
import sys, glob
tmp, rounds = sys.argv[1], int(sys.argv[2])
best = {}
for which in ("old", "new"):
    for r in range(1, rounds + 1):
        for line in open(f"{tmp}/{which}.{r}.md"):
            c = [x.strip() for x in line.split("|")]
            if len(c) > 10 and c[1] in ("3", "6", "9"):
                for name, col in (("euler", 2), ("exponential", 9)):
                    key = (which, c[1], name)
                    best[key] = min(best.get(key, 1e9), float(c[col]))
print(f"| k | integrator | old (s) | new (s) | new / old |")
print("|---|---|---|---|---|")
for k in ("3", "6", "9"):
    for name in ("euler", "exponential"):
        o, n = best[("old", k, name)], best[("new", k, name)]
        print(f"| {k} | {name} | {o:.3f} | {n:.3f} | {n / o:.2f} |")
PY
