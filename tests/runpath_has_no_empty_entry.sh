#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every program's RPATH/RUNPATH lists only absolute directories. An empty entry (CMake's build-RPATH
# padding) makes the loader search the current directory, so a libhdf5 planted in the user's working
# folder would be loaded into dynshare. Usage: runpath_has_no_empty_entry.sh BINARY...
set -euo pipefail
status=0
for bin in "$@"; do
  paths=$(readelf -d "$bin" | sed -n 's/.*(R\(UN\)\?PATH).*\[\(.*\)\]/\2/p')
  IFS=: read -r -a entries <<< "$paths:"   # the extra ':' keeps a trailing empty entry visible
  for ((i = 0; i < ${#entries[@]}; ++i)); do
    e=${entries[$i]}
    [[ "$e" == /* || "$e" == '$ORIGIN'* ]] || { echo "$bin: RUNPATH entry $i is '${e}' in [$paths]" >&2; status=1; }
  done
done
exit $status
