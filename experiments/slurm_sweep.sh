#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A sweep as a SLURM job array: task i runs shard i/N of the sweep into
# OUT_DIR/shard_<i>.h5 (dynshare sweep takes its shard from
# SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT); a requeued or restarted task
# resumes its file. Submit, then merge once every task is done:
#   jid=$(sbatch --parsable --array=0-7 experiments/slurm_sweep.sh experiments/fig4b_sweep.yaml runs/fig4b)
#   sbatch --dependency=afterok:$jid --wrap "dynshare merge runs/fig4b/sweep.h5 runs/fig4b/shard_*.h5"
# Set DYNSHARE to the binary when it is not on PATH. Tested without SLURM by
# tests/slurm_array.sh, which sets the variables as sbatch does.
#SBATCH --job-name=dynshare-sweep
#SBATCH --cpus-per-task=2
#SBATCH --time=04:00:00
#SBATCH --output=dynshare-sweep-%A_%a.log
set -euo pipefail
sweep=${1:?usage: sbatch --array=0-N slurm_sweep.sh SWEEP.yaml OUT_DIR}
out=${2:?usage: sbatch --array=0-N slurm_sweep.sh SWEEP.yaml OUT_DIR}
: "${SLURM_ARRAY_TASK_ID:?not in a SLURM job array (submit with sbatch --array=0-N)}"
bin=${DYNSHARE:-dynshare}
mkdir -p "$out"
file="$out/shard_${SLURM_ARRAY_TASK_ID}.h5"
extra=()
[ -f "$file" ] && extra=(--resume)
exec "$bin" sweep "$sweep" -o "$file" --threads "${SLURM_CPUS_PER_TASK:-1}" "${extra[@]}"
