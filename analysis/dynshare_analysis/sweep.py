# SPDX-License-Identifier: BSD-3-Clause
"""Plot a dynshare parameter sweep: final -log SNR_w against swept keys.

    sweep.py SWEEP.h5 -o out.png --x dynamics.alpha [--hue plasticity.gamma]
             [--facet layer.kernel] [--heatmap KEY2] [--trajectories KEY=VAL,...]

The final value of a run is its last finite record of /snr/neg_log_snr (for
stacked runs the mean over layers, or --layer L). Default: one curve per --hue
value (mean over trials, band = min-max or +-1 std, dots = single trials), one
subplot per --facet value. --heatmap KEY2: mean final value over (--x, KEY2).
--trajectories KEY=VAL,...: the -log SNR_w trajectories of the runs matching
that slice (coloured by --hue, else --x, else the first varying swept key).
--where KEY=VAL,... restricts every mode to a slice. Keys are YAML key paths
(dynamics.alpha, plasticity.gamma, layer.kernel, seed, ...); an unknown key is
an error that lists the swept keys. Exit status 2 on bad input.
"""
import math
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import cli, select
from .errors import InputError, warn
from .reader import load_runs
from .select import format_value, index_of, is_numeric, unique_sorted, values_equal

PROG = "sweep.py"
SEED_KEYS = {"seed", "run.seed", "run.stream"}
FINAL_LABEL = "final −log SNR$_w$"


@dataclass
class SweepOptions:
    x: Optional[str] = None
    hue: Optional[str] = None
    facet: Optional[str] = None
    heatmap: Optional[str] = None
    trajectories: Optional[str] = None   # None: not this mode; "": all runs
    where: str = ""
    layer: Optional[int] = None
    band: str = "minmax"
    logx: Optional[bool] = None
    title: Optional[str] = None
    dpi: int = 150


def parse_args(argv):
    p = cli.parser(PROG, __doc__)
    p.add_argument("inputs", nargs="+", metavar="SWEEP.h5",
                   help="sweep file(s); single-run files and directories also work")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--x", dest="x", metavar="KEY", help="swept key on the x axis")
    p.add_argument("--hue", metavar="KEY", help="one curve per value of this key")
    p.add_argument("--facet", metavar="KEY", help="one subplot per value of this key")
    p.add_argument("--heatmap", metavar="KEY2", help="heatmap of the mean final value over (--x, KEY2)")
    p.add_argument("--trajectories", metavar="KEY=VAL,...", nargs="?", const="",
                   help="plot the trajectories of the runs in this slice (empty: all runs)")
    p.add_argument("--where", metavar="KEY=VAL,...", default="", help="only runs in this slice")
    p.add_argument("--layer", type=int, help="stacked runs: use this layer (default: mean over layers)")
    p.add_argument("--band", choices=["minmax", "std", "none"], default="minmax",
                   help="spread over trials (default: minmax)")
    sc = p.add_mutually_exclusive_group()
    sc.add_argument("--logx", dest="logx", action="store_true", default=None, help="log x axis")
    sc.add_argument("--linx", dest="logx", action="store_false", help="linear x axis")
    p.add_argument("--title", help="figure title")
    p.add_argument("--dpi", type=int, default=150)
    a = p.parse_args(argv)
    if a.x is None and a.trajectories is None:
        p.error("--x KEY is required (except with --trajectories)")
    if a.heatmap and a.trajectories is not None:
        p.error("--heatmap and --trajectories are separate plots; give one of them")
    return a


# ---------------------------------------------------------------------------

def use_logx(opts, values):
    if opts.logx is not None:
        if opts.logx and not (is_numeric(values) and min(values) > 0):
            warn("--logx ignored: x values are not all positive numbers")
            return False
        return opts.logx
    return is_numeric(values) and min(values) > 0 and max(values) / min(values) >= 20


def layer_note(runs, opts):
    if any(r.n_layers > 1 for r in runs):
        return f", layer {opts.layer}" if opts.layer is not None else ", mean over layers"
    return ""


def check_pooling(runs, used, swept):
    """Warn when a swept key outside `used` (and seeds) varies: it is pooled."""
    for k in swept:
        if k in used or k in SEED_KEYS:
            continue
        vals = unique_sorted([r.param(k) for r in runs if r.param(k) is not None])
        if len(vals) > 1:
            warn(f"pooling over {k} ({', '.join(format_value(v) for v in vals)}); "
                 f"use --where {k}=VALUE, --hue or --facet to separate")


def drop_missing(runs, keys):
    kept = [r for r in runs if all(r.param(k) is not None for k in keys)]
    if len(kept) < len(runs):
        warn(f"{len(runs) - len(kept)} run(s) lack one of {', '.join(keys)}; left out")
    if not kept:
        raise InputError(f"no run has all of {', '.join(keys)}")
    return kept


def facets_of(runs, facet):
    return select.split_by(runs, facet) if facet else [(None, runs)]


def make_axes(plt, n, width=5.0, height=4.0, sharey=True, layout=None):
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, sharey=sharey, layout=layout)
    flat = axes.ravel().tolist()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def finish(fig, opts, default_title, legend_ax=None, handles=None, legend_title=None):
    if handles:
        leg = legend_ax.legend(handles=handles, title=legend_title, loc="center left",
                               bbox_to_anchor=(1.02, 0.5), fontsize=9, title_fontsize=9, frameon=False)
        cli.keep_outside(fig, leg)
    fig.suptitle(opts.title or default_title, fontsize=11)
    fig.tight_layout()
    return fig


def final_values(runs, x, xlevels, layer=None):
    """{x level index: array of the finite final values of the runs at that x}."""
    out = {}
    for i, xv in enumerate(xlevels):
        vals = np.array([r.final(layer) for r in runs if values_equal(r.param(x), xv)])
        out[i] = vals[np.isfinite(vals)]
    return out


# ---------------------------------------------------------------------------

def plot_curves(runs, opts, swept=None):
    """Final value against --x, a curve per --hue value, a subplot per --facet
    value. Returns (Figure, table): table rows are (facet value, hue value,
    x value, n, mean, std, min, max)."""
    swept = select.swept_keys(runs) if swept is None else swept
    plt = cli.pyplot()
    keys = [opts.x] + [k for k in (opts.hue, opts.facet) if k]
    runs = drop_missing(runs, keys)
    check_pooling(runs, set(keys), swept)
    xs_all = [r.param(opts.x) for r in runs]
    numeric = is_numeric(xs_all)
    xlevels = unique_sorted(xs_all)
    logx = use_logx(opts, xlevels) if numeric else False
    hues = unique_sorted([r.param(opts.hue) for r in runs]) if opts.hue else [None]
    cmap = plt.get_cmap("viridis" if len(hues) > 10 else "tab10")
    colour = {i: (cmap(i / max(len(hues) - 1, 1)) if len(hues) > 10 else cmap(i % 10))
              for i in range(len(hues))}

    facets = facets_of(runs, opts.facet)
    fig, axes = make_axes(plt, len(facets))
    table = []
    for ax, (fv, fruns) in zip(axes, facets):
        for hi, hv in enumerate(hues):
            hruns = [r for r in fruns if hv is None or values_equal(r.param(opts.hue), hv)]
            if not hruns:
                continue
            px, mean, lo, hi_ = [], [], [], []
            for xi, vals in final_values(hruns, opts.x, xlevels, opts.layer).items():
                if vals.size == 0:
                    continue
                xv = xlevels[xi]
                pos = float(xv) if numeric else xi
                m, l, h = select.band_stats(vals[:, None], opts.band)
                px.append(pos)
                mean.append(m[0])
                lo.append(l[0] if l is not None else np.nan)
                hi_.append(h[0] if h is not None else np.nan)
                ax.scatter(np.full(vals.size, pos), vals, s=9, color=colour[hi], alpha=0.45,
                           lw=0, zorder=3)
                table.append((fv, hv, xv, vals.size, float(m[0]), float(np.std(vals)),
                              float(vals.min()), float(vals.max())))
            c = colour[hi]
            ax.plot(px, mean, color=c, lw=1.8, marker="o", ms=4, zorder=4)
            if opts.band != "none":
                ax.fill_between(px, lo, hi_, color=c, alpha=0.18, lw=0)
        if logx:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(xlevels)), [format_value(v) for v in xlevels])
        ax.set_xlabel(opts.x)
        ax.set_ylabel(FINAL_LABEL)
        ax.grid(True, alpha=0.3)
        if fv is not None:
            ax.set_title(f"{opts.facet} = {format_value(fv)}", fontsize=10)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = []
    if opts.hue:
        handles += [Line2D([], [], color=colour[i], lw=1.8, marker="o", ms=4, label=format_value(v))
                    for i, v in enumerate(hues)]
    handles.append(Line2D([], [], color="0.4", marker="o", ms=3, ls="none", alpha=0.6, label="single trials"))
    if opts.band != "none":
        handles.append(Patch(color="0.5", alpha=0.3, label=f"mean, band: {select.BAND_LABEL[opts.band]}"))
    where = f", {opts.where}" if opts.where else ""
    finish(fig, opts, f"final −log SNR$_w$ (last record{layer_note(runs, opts)}{where}) vs {opts.x}",
           axes[-1], handles, opts.hue)
    return fig, table


def format_curves_table(table, opts):
    head = ([opts.facet] if opts.facet else []) + ([opts.hue] if opts.hue else [])
    head += [opts.x, "n", "mean", "std", "min", "max"]
    lines = ["\t".join(head)]
    for fv, hv, xv, n, m, sd, lo, hi in table:
        row = ([format_value(fv)] if opts.facet else []) + ([format_value(hv)] if opts.hue else [])
        row += [format_value(xv), str(n), f"{m:.4f}", f"{sd:.4f}", f"{lo:.4f}", f"{hi:.4f}"]
        lines.append("\t".join(row))
    return "\n".join(lines)


def heatmap_grids(runs, opts):
    """(x levels, y levels, [(facet value, mean matrix (y, x), count matrix)])."""
    xlev = unique_sorted([r.param(opts.x) for r in runs])
    ylev = unique_sorted([r.param(opts.heatmap) for r in runs])
    grids = []
    for fv, fruns in facets_of(runs, opts.facet):
        total = np.zeros((len(ylev), len(xlev)))
        n = np.zeros_like(total, dtype=int)
        for r in fruns:
            v = r.final(opts.layer)
            if not np.isfinite(v):
                continue
            i, j = index_of(ylev, r.param(opts.heatmap)), index_of(xlev, r.param(opts.x))
            total[i, j] += v
            n[i, j] += 1
        with np.errstate(invalid="ignore"):
            M = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        grids.append((fv, M, n))
    return xlev, ylev, grids


def plot_heatmap(runs, opts, swept=None):
    """Mean final value over (--x, --heatmap), a panel per --facet value.
    Returns (Figure, text table)."""
    swept = select.swept_keys(runs) if swept is None else swept
    plt = cli.pyplot()
    keys = [opts.x, opts.heatmap] + ([opts.facet] if opts.facet else [])
    runs = drop_missing(runs, keys)
    if opts.hue:
        warn("--hue is not used with --heatmap")
    check_pooling(runs, set(keys), swept)
    xlev, ylev, grids = heatmap_grids(runs, opts)
    finite = [M for _, M, _ in grids if np.isfinite(M).any()]
    vmin = min(np.nanmin(M) for M in finite) if finite else 0
    vmax = max(np.nanmax(M) for M in finite) if finite else 1
    fig, axes = make_axes(plt, len(grids), width=1.0 + 0.75 * len(xlev) + 1.2,
                          height=1.5 + 0.5 * len(ylev), sharey=False, layout="constrained")
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("0.85")
    im = None
    for ax, (fv, M, n) in zip(axes, grids):
        im = ax.imshow(M, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xticks(range(len(xlev)), [format_value(v) for v in xlev])
        ax.set_yticks(range(len(ylev)), [format_value(v) for v in ylev])
        ax.set_xlabel(opts.x)
        ax.set_ylabel(opts.heatmap)
        mid = (vmin + vmax) / 2
        for i in range(len(ylev)):
            for j in range(len(xlev)):
                if n[i, j]:
                    ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if M[i, j] < mid else "black")
        if fv is not None:
            ax.set_title(f"{opts.facet} = {format_value(fv)}", fontsize=10)
    fig.colorbar(im, ax=axes, label="mean final −log SNR$_w$", shrink=0.9)
    fig.suptitle(opts.title or f"mean final −log SNR$_w$ (last record{layer_note(runs, opts)})", fontsize=11)
    lines = ["\t".join(([opts.facet] if opts.facet else []) + [opts.heatmap, opts.x, "n", "mean"])]
    for fv, M, n in grids:
        for i, yv in enumerate(ylev):
            for j, xv in enumerate(xlev):
                if n[i, j]:
                    lines.append("\t".join(([format_value(fv)] if opts.facet else []) +
                                           [format_value(yv), format_value(xv), str(n[i, j]), f"{M[i, j]:.4f}"]))
    return fig, "\n".join(lines)


def plot_trajectories(runs, opts, swept=None):
    """The -log SNR_w trajectories of the runs in the --trajectories slice.
    Returns (Figure, the runs plotted)."""
    swept = select.swept_keys(runs) if swept is None else swept
    plt = cli.pyplot()
    items = select.parse_slice(opts.trajectories) if opts.trajectories else []
    sel = select.filter_runs(runs, items) if items else runs
    sliced = {k for k, _ in items}
    colour_key = opts.hue or opts.x
    if colour_key is None:
        for k in swept:
            if k in SEED_KEYS or k in sliced:
                continue
            if len(unique_sorted([r.param(k) for r in sel if r.param(k) is not None])) > 1:
                colour_key = k
                break
    if colour_key:
        sel = drop_missing(sel, [colour_key])
    levels = unique_sorted([r.param(colour_key) for r in sel]) if colour_key else [None]
    cmap = plt.get_cmap("viridis" if len(levels) > 10 else "tab10")
    colour = [(cmap(i / max(len(levels) - 1, 1)) if len(levels) > 10 else cmap(i % 10))
              for i in range(len(levels))]
    facets = facets_of(drop_missing(sel, [opts.facet]) if opts.facet else sel, opts.facet)
    fig, axes = make_axes(plt, len(facets), width=5.4, height=4.0)
    models = set()
    for ax, (fv, fruns) in zip(axes, facets):
        for r in fruns:
            x, y = r.iterations(), r.curve(opts.layer)
            keep = x > 0
            ci = index_of(levels, r.param(colour_key)) if colour_key else 0
            ax.plot(x[keep], y[keep], color=colour[ci], lw=1.0, alpha=0.8)
            models.add(r.model)
        ax.set_xscale("log")
        ax.set_xlabel("iteration" if models == {"ideal"} else "presentation")
        ax.set_ylabel("−log SNR$_w$" + (f" (layer {opts.layer})" if opts.layer is not None else ""))
        ax.grid(True, alpha=0.3)
        if fv is not None:
            ax.set_title(f"{opts.facet} = {format_value(fv)}", fontsize=10)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colour[i], lw=1.6, label=format_value(v))
               for i, v in enumerate(levels)] if colour_key else None
    what = opts.trajectories.replace(",", ", ") if opts.trajectories else "all runs"
    finish(fig, opts, f"−log SNR$_w$ trajectories: {what} ({len(sel)} runs{layer_note(sel, opts)})",
           axes[-1], handles, colour_key)
    return fig, sel


def prepare(runs, opts):
    """Canonical keys (an unknown key is an InputError), the --where slice,
    the --layer range check. Returns (runs, swept keys of all runs)."""
    swept = select.swept_keys(runs)
    for name in ("x", "hue", "facet", "heatmap"):
        key = getattr(opts, name)
        if key:
            setattr(opts, name, select.check_key(runs, key, f"--{name} key"))
    if opts.where:
        runs = select.filter_runs(runs, select.parse_slice(opts.where))
    if opts.layer is not None:
        for r in runs:
            r.curve(opts.layer)   # range check
    return runs, swept


def _main(argv):
    a = parse_args(argv)
    opts = SweepOptions(x=a.x, hue=a.hue, facet=a.facet, heatmap=a.heatmap, trajectories=a.trajectories,
                        where=a.where, layer=a.layer, band=a.band, logx=a.logx, title=a.title, dpi=a.dpi)
    runs, swept = prepare(load_runs(a.inputs), opts)
    if opts.trajectories is not None:
        fig, sel = plot_trajectories(runs, opts, swept)
        cli.save_figure(fig, a.output, opts.dpi)
        print(f"{len(sel)} run(s) plotted")
    elif opts.heatmap:
        fig, text = plot_heatmap(runs, opts, swept)
        cli.save_figure(fig, a.output, opts.dpi)
        print(text)
    else:
        fig, table = plot_curves(runs, opts, swept)
        cli.save_figure(fig, a.output, opts.dpi)
        print(format_curves_table(table, opts))
    print(f"wrote {a.output}", file=sys.stderr)
    return 0


def main(argv=None):
    return cli.run(PROG, _main, argv)
