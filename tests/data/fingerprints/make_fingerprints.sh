#!/usr/bin/env bash
# Regenerates the engine fingerprints in this folder with a given dynshare
# binary. The committed files were made with the binary built from commit
# 2669326 (the last commit before the one-engine restructuring, issue 10):
#   git worktree add /tmp/base 2669326 && cmake -S /tmp/base -B /tmp/bb -G Ninja \
#     -DDYNSHARE_TRAINER=OFF -DDYNSHARE_CUDA=OFF && cmake --build /tmp/bb
#   bash tests/data/fingerprints/make_fingerprints.sh /tmp/bb/dynshare
# Each file keeps the resolved config (root attribute `config`), the -log SNR_w
# records and the final weights; tests/test_fingerprints.cpp reruns every
# config with the current engine and compares (fp64, CPU: bit-identical).
set -euo pipefail
D=${1:?usage: make_fingerprints.sh DYNSHARE_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
ex=$here/../../../experiments
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { name=$1; shift; "$D" simulate "$@" -o "$tmp/$name.h5" --quiet --backend cpu; }
run euler --set layer.neurons=50 --set layer.kernel=6 --set run.presentations=200 --set run.record_every=50 \
  --set run.seed=3 --set run.checkpoint_every=64
run rk4 --set layer.neurons=40 --set layer.kernel=5 --set run.presentations=100 --set run.record_every=75 \
  --set run.seed=4 --set dynamics.integrator=rk4 --set run.checkpoint_every=64
run exponential_noise --set layer.neurons=40 --set layer.kernel=5 --set run.presentations=300 \
  --set run.record_every=30 --set run.seed=5 --set dynamics.integrator=exponential --set input.noise_std=0.1 \
  --set run.checkpoint_every=64
run fig4a "$ex/fig4a.yaml" --set layer.neurons=50 --set layer.kernel=6 --set run.presentations=500 \
  --set run.record_every=5
run stack3 "$here/stack_small.yaml" --set stack.input.height=6 --set stack.input.width=6 --set run.presentations=30 \
  --set run.record_every=300 --set run.checkpoint_every=16
run stack_euler_noise "$here/stack_small.yaml" --set stack.input.height=6 --set stack.input.width=6 \
  --set run.presentations=24 --set run.record_every=150 --set run.checkpoint_every=10 --set dynamics.integrator=euler \
  --set input.noise_std=0.05 --set stack.schedule=layer_by_layer --set stack.border=periodic --set stack.drive=0
# Keep only what the test compares: config, records, final weights.
/usr/bin/python3 - "$tmp" "$here" <<'PY'
import sys, glob, os, h5py
src, dst = sys.argv[1], sys.argv[2]
for path in sorted(glob.glob(os.path.join(src, "*.h5"))):
    out = os.path.join(dst, os.path.basename(path))
    with h5py.File(path, "r") as f, h5py.File(out, "w") as g:
        g.attrs["config"] = f.attrs["config"]
        for name in ("snr/step", "snr/neg_log_snr", "snr/mean_abs_over_std", "weights/final"):
            if name in f:
                g.create_dataset(name, data=f[name][()])
        if "layers" in f:
            for l in f["layers"]:
                g.create_dataset(f"layers/{l}/weights_final", data=f[f"layers/{l}/weights_final"][()])
    print(out, os.path.getsize(out))
PY
