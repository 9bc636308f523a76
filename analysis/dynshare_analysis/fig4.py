# SPDX-License-Identifier: BSD-3-Clause
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
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import cli, select
from .errors import InputError, warn
from .reader import load_runs
from .select import format_value

PROG = "fig4.py"
GAMMA_STYLES = ["-", ":", "-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (1, 3)), "--"]
MARKERS = [None, "o", "s", "^", "v", "D"]
PANEL_MODEL = {"A": "ideal", "B": "ei_rate"}
MODEL_PANEL = {v: k for k, v in PANEL_MODEL.items()}
Y_LABEL = "−log SNR$_w$"
THEORY_LABEL = "theory min (Eq. 5)"


@dataclass
class Fig4Options:
    panel: str = "auto"          # "A", "B" or "auto"
    title: Optional[str] = None
    band: str = "minmax"         # "minmax", "std" or "none"
    theory: Optional[bool] = None  # None: theory lines for ideal runs only
    layer: Optional[int] = None  # stacked runs: this layer, else the mean over layers
    dpi: int = 150


def parse_args(argv):
    p = cli.parser(PROG, __doc__)
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


def show_theory(opts, model):
    return opts.theory if opts.theory is not None else model == "ideal"


def style_maps(runs, plt):
    ks = sorted({r.kernel for r in runs if r.kernel is not None})
    gs = sorted({float(r.gamma) for r in runs if r.gamma is not None})
    cmap = plt.get_cmap("tab10")
    colour = {k: cmap(i % 10) for i, k in enumerate(ks)}
    style = {g: GAMMA_STYLES[i % len(GAMMA_STYLES)] for i, g in enumerate(gs)}
    return colour, style


def extra_keys(runs):
    """Parameters besides (k, gamma) that differ between the runs of a panel."""
    return [k for k in ("dynamics.alpha", "layer.neurons", "model")
            if len({format_value(r.param(k)) for r in runs}) > 1]


def group_curves(runs, layer=None, band="minmax", keys=("layer.kernel", "plasticity.gamma")):
    """{group values: (x, mean, lo, hi, members)}: the mean curve over the runs
    of each group (x > 0 only), and its band (None with one run or band 'none')."""
    out = {}
    for gkey, members in select.group_runs(runs, list(keys)).items():
        xs, ys = [], []
        for r in members:
            x, y = r.iterations(), r.curve(layer)
            keep = x > 0
            xs.append(x[keep])
            ys.append(y[keep])
        x, Y = select.align_curves(xs, ys)
        mean, lo, hi = select.band_stats(Y, band if len(members) > 1 else "none")
        out[gkey] = (x, mean, lo, hi, members)
    return out


def plot_groups(ax, runs, opts, colour, style):
    """Mean +- band per (k, gamma[, extra]) group. Returns info for the legend."""
    model = runs[0].model
    extra = extra_keys(runs)
    if extra:
        warn(f"runs differ in {', '.join(extra)}; these are kept as separate curves (markers)")
    marker_of = {}
    for key in extra:
        uniq = {format_value(r.param(key)): r.param(key) for r in runs}
        for i, v in enumerate(sorted(uniq, key=lambda s: select.sort_key(uniq[s]))):
            marker_of[(key, v)] = MARKERS[i % len(MARKERS)]
    ntrials = []
    curves = group_curves(runs, opts.layer, opts.band, ["layer.kernel", "plasticity.gamma"] + extra)
    for gkey, (x, mean, lo, hi, members) in curves.items():
        k, g = gkey[0], gkey[1]
        c = colour.get(k, "0.3")
        ls = style.get(float(g) if g is not None else None, "-")
        marker = None
        for key, v in zip(extra, gkey[2:]):
            marker = marker or marker_of.get((key, format_value(v)))
        ax.plot(x, mean, color=c, ls=ls, lw=1.6, marker=marker, markevery=0.1, ms=4)
        if lo is not None:
            ax.fill_between(x, lo, hi, color=c, alpha=0.18, lw=0)
        ntrials.append(len(members))
        if show_theory(opts, model):
            th = [r.theory() for r in members if r.theory() is not None]
            if th:
                ax.axhline(np.mean(th), color="k", ls="--", lw=0.9, zorder=1)
            else:
                warn(f"group k={k}, gamma={format_value(g)}: no /snr/theory_min")
    return ntrials, extra, marker_of


def legend_handles(opts, colour, style, ntrials, marker_of, theory):
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
        h.append(Line2D([], [], color="k", ls="--", lw=0.9, label=THEORY_LABEL))
    lo, hi = min(ntrials), max(ntrials)
    n = f"{lo}" if lo == hi else f"{lo}–{hi}"
    if opts.band != "none" and hi > 1:
        h.append(Patch(color="0.5", alpha=0.3,
                       label=f"mean, band: {select.BAND_LABEL[opts.band]}\n(n = {n} trials per curve)"))
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


def stacked_note(runs, opts):
    if any(r.n_layers > 1 for r in runs):
        return f" (layer {opts.layer})" if opts.layer is not None else " (mean over layers)"
    return ""


# ---------------------------------------------------------------------------

def plot_single(run, opts=None):
    """The default-run plot: one run (every layer of a stacked run). Returns the Figure."""
    opts = opts or Fig4Options()
    plt = cli.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = run.iterations()
    keep = x > 0
    y = run.neg_log_snr
    if y.ndim == 1 or opts.layer is not None:
        yy = run.curve(opts.layer)
        ax.plot(x[keep], yy[keep], color="C0", lw=1.8, label=Y_LABEL +
                (f", layer {opts.layer}" if opts.layer is not None else ""))
    else:
        for layer in range(y.shape[0]):
            ax.plot(x[keep], run.curve(layer)[keep], lw=1.4, label=f"layer {layer}")
        ax.plot(x[keep], run.curve()[keep], color="k", lw=2, label="mean over layers")
    if show_theory(opts, run.model) and run.theory() is not None:
        ax.axhline(run.theory(), color="k", ls="--", lw=0.9, label=THEORY_LABEL)
    final = run.final(opts.layer)
    note = " (mean over layers)" if y.ndim == 2 and opts.layer is None else ""
    ax.annotate(f"final{note}: {final:.3f}", xy=(0.02, 0.04), xycoords="axes fraction",
                ha="left", va="bottom", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel(x_label([run], run.model))
    ax.set_ylabel(Y_LABEL)
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
    ax.set_title(opts.title or ", ".join(bits), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    fig.tight_layout()
    return fig


def plot_panels(runs, opts=None):
    """Panels A and/or B: mean over trials per (k, gamma). Returns the Figure."""
    opts = opts or Fig4Options()
    plt = cli.pyplot()
    models = sorted({r.model for r in runs}, key=lambda m: (m not in MODEL_PANEL, MODEL_PANEL.get(m, m)))
    colour, style = style_maps(runs, plt)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.3), squeeze=False)
    any_theory = False
    all_n, all_markers = [], {}
    for ax, model in zip(axes[0], models):
        sub = [r for r in runs if r.model == model]
        ntrials, _extra, marker_of = plot_groups(ax, sub, opts, colour, style)
        all_n += ntrials
        all_markers.update(marker_of)
        any_theory |= show_theory(opts, model) and any(r.theory() is not None for r in sub)
        ax.set_xscale("log")
        ax.set_xlabel(x_label(sub, model))
        ax.set_ylabel(Y_LABEL + stacked_note(sub, opts))
        if len(models) > 1 or not opts.title:
            ax.set_title(panel_title(sub, model), fontsize=11, loc="left")
        ax.grid(True, which="major", alpha=0.3)
    handles = legend_handles(opts, colour, style, all_n, all_markers, any_theory)
    leg = axes[0][-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5),
                             fontsize=9, frameon=False)
    cli.keep_outside(fig, leg)
    if opts.title:
        fig.suptitle(opts.title, fontsize=12)
    fig.tight_layout()
    return fig


def prepare_runs(runs, opts):
    """Keeps the panel's runs and checks that each has k and gamma (and --layer)."""
    if opts.panel != "auto":
        want = PANEL_MODEL[opts.panel]
        kept = [r for r in runs if r.model == want]
        if not kept:
            raise InputError(f"--panel {opts.panel} needs {want} runs; inputs hold only "
                             f"{', '.join(sorted({r.model for r in runs}))}")
        if len(kept) < len(runs):
            warn(f"--panel {opts.panel}: ignoring {len(runs) - len(kept)} non-{want} runs")
        runs = kept
    incomplete = [r for r in runs if not r.complete]
    if incomplete:
        warn(f"{len(incomplete)} incomplete run(s) (complete = 0) included, e.g. {incomplete[0].name}")
    for r in runs:
        if r.kernel is None or r.gamma is None:
            raise InputError(f"{r.name}: cannot tell kernel/gamma (no attribute, no config key)")
        if r.param("layer.kernel") is None:   # known only from the weights' shape
            r.attrs["kernel"] = r.kernel
        if opts.layer is not None:
            r.curve(opts.layer)   # range check
    return runs


def make_figure(runs, opts=None):
    """(Figure, runs drawn): what fig4.py draws for these runs (one run alone,
    else the panels), after prepare_runs."""
    opts = opts or Fig4Options()
    runs = prepare_runs(runs, opts)
    return plot_single(runs[0], opts) if len(runs) == 1 else plot_panels(runs, opts), runs


def _main(argv):
    args = parse_args(argv)
    opts = Fig4Options(panel=args.panel, title=args.title, band=args.band, theory=args.theory,
                       layer=args.layer, dpi=args.dpi)
    fig, runs = make_figure(load_runs(args.inputs), opts)
    cli.save_figure(fig, args.output, dpi=opts.dpi)
    print(f"wrote {args.output} ({len(runs)} run{'s' if len(runs) != 1 else ''})")
    return 0


def main(argv=None):
    return cli.run(PROG, _main, argv)
