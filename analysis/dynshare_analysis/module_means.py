# SPDX-License-Identifier: BSD-3-Clause
"""Module means and spreads of a stacked run's weights, before and after.

    analysis/module_means.py RUN.h5 [RUN.h5 ...]

For every layer of each file (dynshare simulate with a stack section): the
norm of the module means (each neuron's weights replaced by the mean of its
module: period p = the layer's `period` attribute, k for grid connectivity;
all neurons including border ones) and the spread around them, for
/layers/<l>/weights_initial and weights_final. A sleep phase should shrink the
spread and keep the means.
"""
import numpy as np

from . import cli
from .reader import load_stack_layers

PROG = "module_means.py"


def parse_args(argv):
    p = cli.parser(PROG, __doc__)
    p.add_argument("runs", nargs="+")
    return p.parse_args(argv)


def module_stats(w, period):
    """(norm of the module means over all neurons, norm of the spread around
    them) of LC weights w (c_out, h_out, w_out, fan_in), modules of period p."""
    mean_sq, spread_sq = 0.0, 0.0
    for a in range(period):
        for b in range(period):
            m = w[:, a::period, b::period, :]
            if m.size == 0:
                continue
            mu = m.mean(axis=(1, 2), keepdims=True)
            mean_sq += float((mu ** 2).sum()) * m.shape[1] * m.shape[2]
            spread_sq += float(((m - mu) ** 2).sum())
    return np.sqrt(mean_sq), np.sqrt(spread_sq)


def file_stats(path):
    """[(layer, |means| before, after, spread before, after)] of one stacked run."""
    out = []
    for layer in load_stack_layers(path):
        m0, s0 = module_stats(layer.weights_initial, layer.period)
        m1, s1 = module_stats(layer.weights_final, layer.period)
        out.append((layer.index, m0, m1, s0, s1))
    return out


def ratio(a, b):
    return a / b if b else float("nan")


def _main(argv):
    args = parse_args(argv)
    stats = [(path, file_stats(path)) for path in args.runs]   # every file is checked before printing
    print(f"{'file':<28} {'layer':>5} {'|means| before':>14} {'after':>8} {'ratio':>7} "
          f"{'spread before':>13} {'after':>8} {'ratio':>7}")
    for path, rows in stats:
        for layer, m0, m1, s0, s1 in rows:
            print(f"{path[-28:]:<28} {layer:>5} {m0:14.4f} {m1:8.4f} {ratio(m1, m0):7.4f} "
                  f"{s0:13.4f} {s1:8.4f} {ratio(s1, s0):7.4f}")
    return 0


def main(argv=None):
    return cli.run(PROG, _main, argv)
