#!/usr/bin/python3
"""Plots of trainer runs: test top-1 accuracy and per-layer -log SNR_w
against epochs, and -log SNR_w before/after each sleep phase against the
training iteration.

    analysis/training.py RUN_DIR [RUN_DIR ...] -o training.png

Each run has one colour in every panel; in the SNR panel the line style
says which LC layer (solid = first). Instant sharing measures the SNR on
every 10th phase only (NaN otherwise); those phases are left out.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

STYLES = ["-", "--", ":", "-."]


def load(run):
    path = os.path.join(run, "metrics.h5") if os.path.isdir(run) else run
    with h5py.File(path, "r") as f:
        names = f.attrs["lc_layers"]
        names = names.decode() if isinstance(names, bytes) else names
        iters = np.asarray(f["sleep/iteration"]) if "sleep/iteration" in f else None
        before = np.asarray(f["sleep/snr_before"])
        return {
            "top1": np.asarray(f["epochs/test_top1"]),
            "snr": np.asarray(f["epochs/snr"]),
            "sleep_before": before,
            "sleep_after": np.asarray(f["sleep/snr_after"]),
            "sleep_iteration": iters if iters is not None else np.arange(len(before)),
            "layers": [n for n in names.split("\n") if n],
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories (or their metrics.h5)")
    ap.add_argument("-o", "--output", default="training.png")
    args = ap.parse_args()
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    max_layers = 0
    for n, run in enumerate(args.runs):
        try:
            m = load(run)
        except (OSError, KeyError) as e:
            sys.exit(f"training.py: {run}: {e}")
        c = colours[n % len(colours)]
        label = os.path.basename(os.path.normpath(run))
        epochs = np.arange(1, len(m["top1"]) + 1)
        done = ~np.isnan(m["top1"])  # train.eval_every > 1 leaves NaN between evaluations
        ax[0].plot(epochs[done], 100 * m["top1"][done], marker="o", color=c, label=label)
        if m["snr"].size:
            layers = m["snr"].shape[1]
            max_layers = max(max_layers, layers)
            for j in range(layers):
                ax[1].plot(epochs, m["snr"][:, j], STYLES[j % len(STYLES)], color=c, lw=1.2)
        before, after = m["sleep_before"], m["sleep_after"]
        if before.size:
            ok = ~np.isnan(before).any(axis=1)
            it = m["sleep_iteration"][ok]
            ax[2].plot(it, np.nanmean(before[ok], axis=1), "v", ms=3, color=c, alpha=0.5)
            ax[2].plot(it, np.nanmean(after[ok], axis=1), "^", ms=3, color=c, label=label)
    ax[0].set(xlabel="epoch", ylabel="test top-1 (%)", title="accuracy")
    ax[1].set(xlabel="epoch", ylabel="-log SNR_w", title="per-layer weight SNR (end of epoch)")
    ax[2].set(xlabel="training iteration", ylabel="mean -log SNR_w over layers",
              title="sleep phases (v before, ^ after)")
    ax[0].legend(fontsize=7)
    if max_layers:
        ax[1].legend([Line2D([], [], ls=STYLES[j % len(STYLES)], color="k") for j in range(max_layers)],
                     [f"LC layer {j}" for j in range(max_layers)], fontsize=7)
    if ax[2].lines:
        ax[2].legend(fontsize=7)
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"training.py: wrote {args.output}")


if __name__ == "__main__":
    main()
