#!/usr/bin/python3
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
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import InputError, die, warn, format_value  # noqa: E402

SEED_KEYS = {"seed", "run.seed", "run.stream"}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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

def is_numeric(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def unique_sorted(values):
    """Unique values (compared with tolerance for numbers), sorted."""
    out = []
    for v in sorted(values, key=common.sort_key):
        if not out or not common.values_equal(out[-1], v):
            out.append(v)
    return out


def index_of(levels, v):
    for i, u in enumerate(levels):
        if common.values_equal(u, v):
            return i
    raise KeyError(v)


def use_logx(args, values):
    if args.logx is not None:
        if args.logx and not (is_numeric(values) and min(values) > 0):
            warn("--logx ignored: x values are not all positive numbers")
            return False
        return args.logx
    return is_numeric(values) and min(values) > 0 and max(values) / min(values) >= 20


def layer_note(runs, args):
    if any(r.n_layers > 1 for r in runs):
        return f", layer {args.layer}" if args.layer is not None else ", mean over layers"
    return ""


def short(key):
    return {"dynamics.alpha": "α", "plasticity.gamma": "γ", "layer.kernel": "k",
            "layer.neurons": "N"}.get(key, key)


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


def facets_of(runs, args):
    if not args.facet:
        return [(None, runs)]
    levels = unique_sorted([r.param(args.facet) for r in runs])
    return [(v, [r for r in runs if common.values_equal(r.param(args.facet), v)]) for v in levels]


def make_axes(plt, n, width=5.0, height=4.0, sharey=True, layout=None):
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, sharey=sharey, layout=layout)
    flat = axes.ravel().tolist()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def finalize(fig, args, default_title, legend_ax=None, handles=None, legend_title=None):
    extra = []
    if handles:
        leg = legend_ax.legend(handles=handles, title=legend_title, loc="center left",
                               bbox_to_anchor=(1.02, 0.5), fontsize=9, title_fontsize=9, frameon=False)
        leg.set_in_layout(False)
        extra.append(leg)
    fig.suptitle(args.title or default_title, fontsize=11)
    fig.tight_layout()
    save(fig, args, extra)


def save(fig, args, extra=()):
    """savefig with a tight box that keeps titles and out-of-layout legends."""
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output, dpi=args.dpi, bbox_inches="tight",
                bbox_extra_artists=fig.get_default_bbox_extra_artists() + list(extra))


# ---------------------------------------------------------------------------

def plot_curves(runs, args, plt, swept):
    keys = [args.x] + [k for k in (args.hue, args.facet) if k]
    runs = drop_missing(runs, keys)
    check_pooling(runs, set(keys), swept)
    xs_all = [r.param(args.x) for r in runs]
    numeric = is_numeric(xs_all)
    xlevels = unique_sorted(xs_all)
    logx = use_logx(args, xlevels) if numeric else False
    hues = unique_sorted([r.param(args.hue) for r in runs]) if args.hue else [None]
    cmap = plt.get_cmap("viridis" if len(hues) > 10 else "tab10")
    colour = {i: (cmap(i / max(len(hues) - 1, 1)) if len(hues) > 10 else cmap(i % 10))
              for i in range(len(hues))}

    facets = facets_of(runs, args)
    fig, axes = make_axes(plt, len(facets))
    table = []
    for ax, (fv, fruns) in zip(axes, facets):
        for hi, hv in enumerate(hues):
            hruns = [r for r in fruns if hv is None or common.values_equal(r.param(args.hue), hv)]
            if not hruns:
                continue
            px, mean, lo, hi_ = [], [], [], []
            for xv in xlevels:
                vals = np.array([r.final(args.layer) for r in hruns
                                 if common.values_equal(r.param(args.x), xv)])
                vals = vals[np.isfinite(vals)]
                if vals.size == 0:
                    continue
                pos = float(xv) if numeric else index_of(xlevels, xv)
                m, l, h = common.band_stats(vals[:, None], args.band)
                px.append(pos)
                mean.append(m[0])
                lo.append(l[0] if l is not None else np.nan)
                hi_.append(h[0] if h is not None else np.nan)
                ax.scatter(np.full(vals.size, pos), vals, s=9, color=colour[hi], alpha=0.45,
                           lw=0, zorder=3)
                table.append((fv, hv, xv, vals.size, m[0], float(np.std(vals)),
                              float(vals.min()), float(vals.max())))
            c = colour[hi]
            ax.plot(px, mean, color=c, lw=1.8, marker="o", ms=4, zorder=4)
            if args.band != "none":
                ax.fill_between(px, lo, hi_, color=c, alpha=0.18, lw=0)
        if logx:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(xlevels)), [format_value(v) for v in xlevels])
        ax.set_xlabel(args.x)
        ax.set_ylabel("final −log SNR$_w$")
        ax.grid(True, alpha=0.3)
        if fv is not None:
            ax.set_title(f"{args.facet} = {format_value(fv)}", fontsize=10)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = []
    if args.hue:
        handles += [Line2D([], [], color=colour[i], lw=1.8, marker="o", ms=4, label=format_value(v))
                    for i, v in enumerate(hues)]
    handles.append(Line2D([], [], color="0.4", marker="o", ms=3, ls="none", alpha=0.6, label="single trials"))
    if args.band != "none":
        handles.append(Patch(color="0.5", alpha=0.3, label=f"mean, band: {common.BAND_LABEL[args.band]}"))
    where = f", {args.where}" if args.where else ""
    finalize(fig, args, f"final −log SNR$_w$ (last record{layer_note(runs, args)}{where}) vs {args.x}",
             axes[-1], handles, args.hue)
    print_table(table, args)


def print_table(table, args):
    cols = [c for c, used in (("facet", args.facet), ("hue", args.hue)) if used]
    head = [args.facet] if args.facet else []
    head += [args.hue] if args.hue else []
    head += [args.x, "n", "mean", "std", "min", "max"]
    print("\t".join(head))
    for fv, hv, xv, n, m, sd, lo, hi in table:
        row = ([format_value(fv)] if "facet" in cols else []) + ([format_value(hv)] if "hue" in cols else [])
        row += [format_value(xv), str(n), f"{m:.4f}", f"{sd:.4f}", f"{lo:.4f}", f"{hi:.4f}"]
        print("\t".join(row))


def plot_heatmap(runs, args, plt, swept):
    keys = [args.x, args.heatmap] + ([args.facet] if args.facet else [])
    runs = drop_missing(runs, keys)
    if args.hue:
        warn("--hue is not used with --heatmap")
    check_pooling(runs, set(keys), swept)
    xlev = unique_sorted([r.param(args.x) for r in runs])
    ylev = unique_sorted([r.param(args.heatmap) for r in runs])
    facets = facets_of(runs, args)
    grids = []
    for fv, fruns in facets:
        M = np.full((len(ylev), len(xlev)), np.nan)
        n = np.zeros_like(M, dtype=int)
        for r in fruns:
            v = r.final(args.layer)
            if not np.isfinite(v):
                continue
            i, j = index_of(ylev, r.param(args.heatmap)), index_of(xlev, r.param(args.x))
            M[i, j] = v if n[i, j] == 0 else M[i, j] + v
            n[i, j] += 1
        with np.errstate(invalid="ignore"):
            M = np.where(n > 0, M / np.maximum(n, 1), np.nan)
        grids.append((fv, M, n))
    vmin = np.nanmin([np.nanmin(M) for _, M, _ in grids if np.isfinite(M).any()] or [0])
    vmax = np.nanmax([np.nanmax(M) for _, M, _ in grids if np.isfinite(M).any()] or [1])
    fig, axes = make_axes(plt, len(grids), width=1.0 + 0.75 * len(xlev) + 1.2,
                          height=1.5 + 0.5 * len(ylev), sharey=False, layout="constrained")
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("0.85")
    im = None
    for ax, (fv, M, n) in zip(axes, grids):
        im = ax.imshow(M, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xticks(range(len(xlev)), [format_value(v) for v in xlev])
        ax.set_yticks(range(len(ylev)), [format_value(v) for v in ylev])
        ax.set_xlabel(args.x)
        ax.set_ylabel(args.heatmap)
        mid = (vmin + vmax) / 2
        for i in range(len(ylev)):
            for j in range(len(xlev)):
                if n[i, j]:
                    ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if M[i, j] < mid else "black")
        if fv is not None:
            ax.set_title(f"{args.facet} = {format_value(fv)}", fontsize=10)
    fig.colorbar(im, ax=axes, label="mean final −log SNR$_w$", shrink=0.9)
    fig.suptitle(args.title or f"mean final −log SNR$_w$ (last record{layer_note(runs, args)})", fontsize=11)
    save(fig, args)
    print("\t".join(([args.facet] if args.facet else []) + [args.heatmap, args.x, "n", "mean"]))
    for fv, M, n in grids:
        for i, yv in enumerate(ylev):
            for j, xv in enumerate(xlev):
                if n[i, j]:
                    print("\t".join(([format_value(fv)] if args.facet else []) +
                                    [format_value(yv), format_value(xv), str(n[i, j]), f"{M[i, j]:.4f}"]))


def plot_trajectories(runs, args, plt, swept):
    sel = common.filter_runs(runs, common.parse_slice(args.trajectories)) if args.trajectories else runs
    sliced = {k for k, _ in common.parse_slice(args.trajectories)} if args.trajectories else set()
    colour_key = args.hue or args.x
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
    facets = facets_of(drop_missing(sel, [args.facet]) if args.facet else sel, args)
    fig, axes = make_axes(plt, len(facets), width=5.4, height=4.0)
    models = set()
    for ax, (fv, fruns) in zip(axes, facets):
        for r in fruns:
            x, y = r.iterations(), r.curve(args.layer)
            keep = x > 0
            ci = index_of(levels, r.param(colour_key)) if colour_key else 0
            ax.plot(x[keep], y[keep], color=colour[ci], lw=1.0, alpha=0.8)
            models.add(r.model)
        ax.set_xscale("log")
        ax.set_xlabel("iteration" if models == {"ideal"} else "presentation")
        ax.set_ylabel("−log SNR$_w$" + (f" (layer {args.layer})" if args.layer is not None else ""))
        ax.grid(True, alpha=0.3)
        if fv is not None:
            ax.set_title(f"{args.facet} = {format_value(fv)}", fontsize=10)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colour[i], lw=1.6, label=format_value(v))
               for i, v in enumerate(levels)] if colour_key else None
    what = args.trajectories.replace(",", ", ") if args.trajectories else "all runs"
    finalize(fig, args, f"−log SNR$_w$ trajectories: {what} ({len(sel)} runs{layer_note(sel, args)})",
             axes[-1], handles, colour_key)
    print(f"{len(sel)} run(s) plotted")


def main(argv=None):
    args = parse_args(argv)
    try:
        runs = common.load_runs(args.inputs)
        swept = common.swept_keys(runs)
        for opt in ("x", "hue", "facet", "heatmap"):
            key = getattr(args, opt)
            if key:
                setattr(args, opt, common.check_key(runs, key, f"--{opt} key"))
        if args.where:
            runs = common.filter_runs(runs, common.parse_slice(args.where))
        if args.layer is not None:
            for r in runs:
                r.curve(args.layer)   # range check
        plt = common.setup_matplotlib()
        if args.trajectories is not None:
            plot_trajectories(runs, args, plt, swept)
        elif args.heatmap:
            plot_heatmap(runs, args, plt, swept)
        else:
            plot_curves(runs, args, plt, swept)
    except InputError as e:
        die(e)
    except BrokenPipeError:   # e.g. piped into head; the PNG is already written
        sys.stderr.close()
        return 0
    except OSError as e:
        die(f"{args.output}: cannot write ({e.strerror or e})")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
