#!/usr/bin/python3
"""Plots of trainer runs: test top-1 accuracy and per-layer -log SNR_w
against epochs, and SNR_w before/after each sleep phase.

    analysis/training.py RUN_DIR [RUN_DIR ...] -o training.png
"""
import argparse
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load(run):
    with h5py.File(os.path.join(run, "metrics.h5"), "r") as f:
        names = f.attrs["lc_layers"]
        names = names.decode() if isinstance(names, bytes) else names
        return {
            "top1": np.asarray(f["epochs/test_top1"]),
            "val": np.asarray(f["epochs/val_top1"]),
            "loss": np.asarray(f["epochs/train_loss"]),
            "snr": np.asarray(f["epochs/snr"]),
            "sleep_before": np.asarray(f["sleep/snr_before"]),
            "sleep_after": np.asarray(f["sleep/snr_after"]),
            "layers": [n for n in names.split("\n") if n],
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("-o", "--output", default="training.png")
    args = ap.parse_args()
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for run in args.runs:
        m = load(run)
        label = os.path.basename(os.path.normpath(run))
        epochs = np.arange(1, len(m["top1"]) + 1)
        done = ~np.isnan(m["top1"])  # train.eval_every > 1 leaves NaN between evaluations
        ax[0].plot(epochs[done], 100 * m["top1"][done], marker="o", label=label)
        if m["snr"].size:
            for j, name in enumerate(m["layers"]):
                ax[1].plot(epochs, m["snr"][:, j], label=f"{label}: {name}" if len(args.runs) > 1 else name)
        before, after = m["sleep_before"], m["sleep_after"]
        if before.size:
            ok = ~np.isnan(before).any(axis=1)
            ax[2].plot(np.nanmean(before[ok], axis=1), "v", ms=3, label=f"{label} before")
            ax[2].plot(np.nanmean(after[ok], axis=1), "^", ms=3, label=f"{label} after")
    ax[0].set(xlabel="epoch", ylabel="test top-1 (%)", title="accuracy")
    ax[1].set(xlabel="epoch", ylabel="-log SNR_w", title="per-layer weight SNR (end of epoch)")
    ax[2].set(xlabel="sleep phase (measured)", ylabel="mean -log SNR_w over layers", title="sleep phases")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"training.py: wrote {args.output}")


if __name__ == "__main__":
    main()
