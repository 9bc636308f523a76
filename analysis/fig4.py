#!/usr/bin/python3
"""Fig. 4 of Pogodin et al. (NeurIPS 2021): -log SNR_w over training.

    fig4.py INPUT... -o fig4.png [--panel A|B|auto] [--title TEXT]

INPUT is any mix of single-run .h5 files, sweep files (every /runs/*) and
directories (every *.h5 below them). Runs are grouped by (k, gamma); each group
is drawn as the mean over its trials with a shaded band (min-max by default,
--band std for +-1 std), colour by k and line style by gamma as in the paper.
x is iterations (panel A, ideal model, Eq. 4) or presentations (panel B,
E-I rate model, Eq. 8: step / steps-per-presentation) on a log scale.
Black dashed lines: mean Eq. 5 minimum of each group (ideal runs, or --theory).
A single run is plotted on its own. Exit status 2 on unreadable input.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import InputError, die, warn, format_value  # noqa: E402

GAMMA_STYLES = ["-", ":", "-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (1, 3)), "--"]
MARKERS = [None, "o", "s", "^", "v", "D"]
PANEL_MODEL = {"A": "ideal", "B": "ei_rate"}
MODEL_PANEL = {v: k for k, v in PANEL_MODEL.items()}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".h5 run/sweep files or directories")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--panel", choices=["A", "B", "auto"], default="auto",
                   help="A: ideal runs (Eq. 4); B: ei_rate runs (Eq. 8); auto: whatever is "
                        "present (both side by side when mixed)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--band", choices=["minmax", "std", "none"], default="minmax",
                   help="spread over trials (default: minmax)")
    th = p.add_mutually_exclusive_group()
    th.add_argument("--theory", action="store_true", default=None,
                    help="draw theory_min lines also for ei_rate runs")
    th.add_argument("--no-theory", dest="theory", action="store_false",
                    help="never draw theory_min lines")
    p.add_argument("--layer", type=int, help="stacked runs: plot this layer (default: mean over layers)")
    p.add_argument("--dpi", type=int, default=150)
    return p.parse_args(argv)


# ---------------------------------------------------------------------------

def x_label(runs, model):
    if model == "ideal":
        return "iteration"
    pres = {r.presentation_seconds() for r in runs}
    if len(pres) == 1 and None not in pres:
        return f"presentation ({1000 * pres.pop():g} ms each)"
    return "presentation"


def show_theory(args, model):
    return args.theory if args.theory is not None else model == "ideal"


def style_maps(runs):
    ks = sorted({r.kernel for r in runs if r.kernel is not None})
    gs = sorted({float(r.gamma) for r in runs if r.gamma is not None})
    import matplotlib.pyplot as plt
    cmap = plt.get_cmap("tab10")
    colour = {k: cmap(i % 10) for i, k in enumerate(ks)}
    style = {g: GAMMA_STYLES[i % len(GAMMA_STYLES)] for i, g in enumerate(gs)}
    return colour, style


def extra_keys(runs):
    """Parameters besides (k, gamma) that differ between the runs of a panel."""
    keys = []
    for k in ("dynamics.alpha", "layer.neurons", "model"):
        vals = {format_value(r.param(k)) for r in runs}
        if len(vals) > 1:
            keys.append(k)
    return keys


def plot_groups(ax, runs, args, colour, style):
    """Mean +- band per (k, gamma[, extra]) group. Returns info for the legend."""
    model = runs[0].model
    extra = extra_keys(runs)
    if extra:
        warn(f"runs differ in {', '.join(extra)}; these are kept as separate curves (markers)")
    marker_of = {}
    for key in extra:
        uniq = {format_value(r.param(key)): r.param(key) for r in runs}
        for i, v in enumerate(sorted(uniq, key=lambda s: common.sort_key(uniq[s]))):
            marker_of[(key, v)] = MARKERS[i % len(MARKERS)]
    groups = common.group_runs(runs, ["layer.kernel", "plasticity.gamma"] + extra)
    ntrials = []
    for gkey, members in groups.items():
        k, g = gkey[0], gkey[1]
        xs, ys = [], []
        for r in members:
            x, y = r.iterations(), r.curve(args.layer)
            keep = x > 0
            xs.append(x[keep])
            ys.append(y[keep])
        x, Y = common.align_curves(xs, ys)
        mean, lo, hi = common.band_stats(Y, args.band if len(members) > 1 else "none")
        c = colour.get(k, "0.3")
        ls = style.get(float(g) if g is not None else None, "-")
        marker = None
        for key, v in zip(extra, gkey[2:]):
            marker = marker or marker_of.get((key, format_value(v)))
        ax.plot(x, mean, color=c, ls=ls, lw=1.6, marker=marker, markevery=0.1, ms=4)
        if lo is not None:
            ax.fill_between(x, lo, hi, color=c, alpha=0.18, lw=0)
        ntrials.append(len(members))
        if show_theory(args, model):
            th = [r.theory() for r in members if r.theory() is not None]
            if th:
                ax.axhline(np.mean(th), color="k", ls="--", lw=0.9, zorder=1)
            else:
                warn(f"group k={k}, gamma={format_value(g)}: no /snr/theory_min")
    return ntrials, extra, marker_of


def legend_handles(runs, args, colour, style, ntrials, extra, marker_of, theory):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    h = [Line2D([], [], color=c, lw=2, label=f"k = {format_value(k)}") for k, c in colour.items()]
    h += [Line2D([], [], color="0.35", ls=s, lw=1.6, label=f"γ = {g:g}") for g, s in style.items()]
    for (key, v), m in marker_of.items():
        if m is not None:
            h.append(Line2D([], [], color="0.35", marker=m, ls="none", label=f"{key} = {v}"))
        else:
            h.append(Line2D([], [], color="0.35", ls="-", label=f"{key} = {v} (no marker)"))
    if theory:
        h.append(Line2D([], [], color="k", ls="--", lw=0.9, label="theory min (Eq. 5)"))
    lo, hi = min(ntrials), max(ntrials)
    n = f"{lo}" if lo == hi else f"{lo}–{hi}"
    if args.band != "none" and hi > 1:
        h.append(Patch(color="0.5", alpha=0.3, label=f"mean, band: {common.BAND_LABEL[args.band]}\n(n = {n} trials per curve)"))
    else:
        h.append(Line2D([], [], color="0.5", lw=1.6, label=f"mean over trials (n = {n})"))
    return h


def panel_title(runs, model):
    if model == "ideal":
        return "A. Eq. (4), ideal weight sharing"
    alphas = sorted({float(r.alpha) for r in runs if r.alpha is not None})
    if len(alphas) == 1:
        return f"B. Eq. (8), α = {alphas[0]:g}"
    return "B. Eq. (8), E–I rate network"


def stacked_note(runs, args):
    if any(r.n_layers > 1 for r in runs):
        return f" (layer {args.layer})" if args.layer is not None else " (mean over layers)"
    return ""


# ---------------------------------------------------------------------------

def plot_single(run, args, plt):
    """The default-run plot: one run, every layer of a stacked run."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = run.iterations()
    keep = x > 0
    y = run.neg_log_snr
    if y.ndim == 1 or args.layer is not None:
        yy = run.curve(args.layer)
        ax.plot(x[keep], yy[keep], color="C0", lw=1.8, label="−log SNR$_w$" +
                (f", layer {args.layer}" if args.layer is not None else ""))
    else:
        for layer in range(y.shape[0]):
            ax.plot(x[keep], run.curve(layer)[keep], lw=1.4, label=f"layer {layer}")
        ax.plot(x[keep], run.curve()[keep], color="k", lw=2, label="mean over layers")
    if show_theory(args, run.model) and run.theory() is not None:
        ax.axhline(run.theory(), color="k", ls="--", lw=0.9, label="theory min (Eq. 5)")
    final = run.final(args.layer)
    note = " (mean over layers)" if y.ndim == 2 and args.layer is None else ""
    ax.annotate(f"final{note}: {final:.3f}", xy=(0.02, 0.04), xycoords="axes fraction",
                ha="left", va="bottom", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel(x_label([run], run.model))
    ax.set_ylabel("−log SNR$_w$")
    stacked = run.neg_log_snr.ndim == 2
    bits = [run.model + (f", {run.neg_log_snr.shape[0]} stacked LC layers" if stacked else "")]
    # A stacked run's geometry is per layer (in /layers/<l>); layer.* does not apply.
    keys = (("k", "layer.kernel"), ("N", "layer.neurons")) if not stacked else ()
    for label, key in keys + (("γ", "plasticity.gamma"), ("α", "dynamics.alpha"), ("seed", "seed")):
        v = run.param(key)
        if v is not None and not (key == "dynamics.alpha" and run.model == "ideal"):
            bits.append(f"{label} = {format_value(v)}")
    if not run.complete:
        bits.append("INCOMPLETE")
    ax.set_title(args.title or ", ".join(bits), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    fig.tight_layout()
    return fig


def plot_panels(runs, args, plt):
    models = sorted({r.model for r in runs}, key=lambda m: (m not in MODEL_PANEL, MODEL_PANEL.get(m, m)))
    colour, style = style_maps(runs)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.3), squeeze=False)
    handles, any_theory = [], False
    all_n, all_extra, all_markers = [], [], {}
    for ax, model in zip(axes[0], models):
        sub = [r for r in runs if r.model == model]
        ntrials, extra, marker_of = plot_groups(ax, sub, args, colour, style)
        all_n += ntrials
        all_extra += [e for e in extra if e not in all_extra]
        all_markers.update(marker_of)
        any_theory |= show_theory(args, model) and any(r.theory() is not None for r in sub)
        ax.set_xscale("log")
        ax.set_xlabel(x_label(sub, model))
        ax.set_ylabel("−log SNR$_w$" + stacked_note(sub, args))
        if len(models) > 1 or not args.title:
            ax.set_title(panel_title(sub, model), fontsize=11, loc="left")
        ax.grid(True, which="major", alpha=0.3)
    handles = legend_handles(runs, args, colour, style, all_n, all_extra, all_markers, any_theory)
    leg = axes[0][-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5),
                             fontsize=9, frameon=False)
    leg.set_in_layout(False)   # keep the axes' size ...
    fig.extra_artists = [leg]  # ... and let savefig(bbox_inches="tight") make room
    if args.title:
        fig.suptitle(args.title, fontsize=12)
    fig.tight_layout()
    return fig


def main(argv=None):
    args = parse_args(argv)
    try:
        runs = common.load_runs(args.inputs)
        if args.panel != "auto":
            want = PANEL_MODEL[args.panel]
            kept = [r for r in runs if r.model == want]
            if not kept:
                raise InputError(f"--panel {args.panel} needs {want} runs; inputs hold only "
                                 f"{', '.join(sorted({r.model for r in runs}))}")
            if len(kept) < len(runs):
                warn(f"--panel {args.panel}: ignoring {len(runs) - len(kept)} non-{want} runs")
            runs = kept
        incomplete = [r for r in runs if not r.complete]
        if incomplete:
            warn(f"{len(incomplete)} incomplete run(s) (complete = 0) included, e.g. {incomplete[0].name}")
        for r in runs:
            if r.kernel is None or r.gamma is None:
                raise InputError(f"{r.name}: cannot tell kernel/gamma (no attribute, no config key)")
            if r.param("layer.kernel") is None:   # known only from the weights' shape
                r.attrs["kernel"] = r.kernel
            if args.layer is not None:
                r.curve(args.layer)   # range check
        plt = common.setup_matplotlib()
        fig = plot_single(runs[0], args, plt) if len(runs) == 1 else plot_panels(runs, args, plt)
        out_dir = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(out_dir, exist_ok=True)
        fig.savefig(args.output, dpi=args.dpi, bbox_inches="tight",
                    bbox_extra_artists=fig.get_default_bbox_extra_artists()
                    + getattr(fig, "extra_artists", []))
    except InputError as e:
        die(e)
    except BrokenPipeError:   # e.g. piped into head; the PNG is already written
        sys.stderr.close()
        return 0
    except OSError as e:
        die(f"{args.output}: cannot write ({e.strerror or e})")
    print(f"wrote {args.output} ({len(runs)} run{'s' if len(runs) != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
