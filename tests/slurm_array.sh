#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# experiments/slurm_sweep.sh run as SLURM runs a job array (--array=0-2:
# the variables sbatch sets for each task), then merged: the merged file
# must hold the same runs as one straight `dynshare sweep`.
#   bash tests/slurm_array.sh path/to/dynshare
set -euo pipefail
bin=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cat > base.yaml <<'YAML'
model: ei_rate
layer: {neurons: 20, kernel: 3}
run: {presentations: 20, record_every: 50, seed: 7, checkpoint_every: 10}
YAML
cat > sweep.yaml <<'YAML'
base: base.yaml
grid: {dynamics.alpha: [3, 10], plasticity.gamma: [0.1, 0.01]}
trials: 2
YAML
for task in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=3 \
    SLURM_ARRAY_TASK_STEP=1 SLURM_CPUS_PER_TASK=1 DYNSHARE="$bin" bash "$root/experiments/slurm_sweep.sh" sweep.yaml out
done
# A task run again (requeued) resumes its complete file and changes nothing.
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 DYNSHARE="$bin" bash "$root/experiments/slurm_sweep.sh" sweep.yaml out
"$bin" merge out/sweep.h5 out/shard_*.h5 --quiet
"$bin" sweep sweep.yaml -o straight.h5 --threads 1 --quiet
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
a, b = h5py.File("out/sweep.h5", "r"), h5py.File("straight.h5", "r")
assert a.attrs["complete"] == 1, "merged file incomplete"
for i in range(8):
    for path in ("snr/neg_log_snr", "weights/final", "checkpoint/w"):
        x, y = a[f"runs/{i}/{path}"][()], b[f"runs/{i}/{path}"][()]
        assert np.array_equal(x, y), f"run {i} {path} differs"
for s in range(3):
    f = h5py.File(f"out/shard_{s}.h5", "r")
    assert f.attrs["shard"] in (f"{s}/3", f"{s}/3".encode()), f.attrs["shard"]
print("slurm array: 3 tasks merged equal the straight sweep (8 runs)")
PY
