# SPDX-License-Identifier: BSD-3-Clause
"""Plots of trainer runs: test top-1 accuracy and per-layer -log SNR_w
against epochs, and -log SNR_w before/after each sleep phase against the
training iteration.

    analysis/training.py RUN_DIR [RUN_DIR ...] -o training.png

Each run has one colour in every panel; in the SNR panel the line style
says which LC layer (solid = first). Instant sharing measures the SNR on
every 10th phase only (NaN otherwise); those phases are left out.
"""
import numpy as np

from . import cli
from .reader import load_training

PROG = "training.py"
STYLES = ["-", "--", ":", "-."]


def parse_args(argv):
    p = cli.parser(PROG, __doc__)
    p.add_argument("runs", nargs="+", help="run directories (or their metrics.h5)")
    p.add_argument("-o", "--output", default="training.png")
    return p.parse_args(argv)


def plot_training(runs):
    """Three panels (accuracy, per-layer SNR, sleep phases) for TrainingRun
    objects; returns the Figure."""
    plt = cli.pyplot()
    from matplotlib.lines import Line2D
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    max_layers = 0
    for n, run in enumerate(runs):
        c = colours[n % len(colours)]
        top1 = run.epochs["test_top1"]
        snr = run.epochs["snr"]
        epochs = np.arange(1, len(top1) + 1)
        done = ~np.isnan(top1)  # train.eval_every > 1 leaves NaN between evaluations
        ax[0].plot(epochs[done], 100 * top1[done], marker="o", color=c, label=run.label)
        if snr.size:
            layers = snr.shape[1]
            max_layers = max(max_layers, layers)
            for j in range(layers):
                ax[1].plot(epochs[:snr.shape[0]], snr[:, j], STYLES[j % len(STYLES)], color=c, lw=1.2)
        before, after = run.sleep["snr_before"], run.sleep["snr_after"]
        if before.size:
            ok = ~np.isnan(before).any(axis=1)
            it = run.sleep["iteration"][ok]
            ax[2].plot(it, np.nanmean(before[ok], axis=1), "v", ms=3, color=c, alpha=0.5)
            ax[2].plot(it, np.nanmean(after[ok], axis=1), "^", ms=3, color=c, label=run.label)
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
    return fig


def _main(argv):
    args = parse_args(argv)
    runs = [load_training(r) for r in args.runs]
    cli.save_figure(plot_training(runs), args.output, dpi=120, tight=False)
    print(f"training.py: wrote {args.output}")
    return 0


def main(argv=None):
    return cli.run(PROG, _main, argv)
