#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Regenerates the reference pages of the documentation from the code:
#   docs/reference/config.md       dynshare config --reference
#   docs/reference/hdf5_layout.md  dynshare config --layout (from docs/hdf5_layout.txt)
# Usage: bash scripts/gen_reference.sh [DYNSHARE]         (default build/dynshare)
#        bash scripts/gen_reference.sh DYNSHARE --check   exit 1 if a page differs
# ctest Docs.ReferenceIsGenerated runs the --check form.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/dynshare}
mode=${2:-write}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" config --reference -o "$tmp/config.md"
"$bin" config --layout --list "$root/docs/hdf5_layout.txt" -o "$tmp/hdf5_layout.md"
status=0
for page in config.md hdf5_layout.md; do
  if [ "$mode" = "--check" ]; then
    if ! diff -u "$root/docs/reference/$page" "$tmp/$page" >"$tmp/diff" 2>&1; then
      head -n 40 "$tmp/diff"
      echo "docs/reference/$page differs from what the code generates: run bash scripts/gen_reference.sh" >&2
      status=1
    fi
  else
    mkdir -p "$root/docs/reference"
    cp "$tmp/$page" "$root/docs/reference/$page"
    echo "wrote docs/reference/$page"
  fi
done
exit $status
