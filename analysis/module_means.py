#!/usr/bin/python3
"""Module means and spreads of a stacked run's weights, before and after.

    analysis/module_means.py RUN.h5 [RUN.h5 ...]

For every layer of each file (dynshare simulate with a stack section): the
norm of the module means (each neuron's weights replaced by the mean of its
grid module, period k, all neurons including border ones) and the spread
around them, for /layers/<l>/weights_initial and weights_final. A sleep phase
should shrink the spread and keep the means.
"""
import argparse

import h5py
import numpy as np


def module_stats(w, k):
    mean_sq, spread_sq = 0.0, 0.0
    for a in range(k):
        for b in range(k):
            m = w[:, a::k, b::k, :]
            mu = m.mean(axis=(1, 2), keepdims=True)
            mean_sq += float((mu ** 2).sum()) * m.shape[1] * m.shape[2]
            spread_sq += float(((m - mu) ** 2).sum())
    return np.sqrt(mean_sq), np.sqrt(spread_sq)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    print(f"{'file':<28} {'layer':>5} {'|means| before':>14} {'after':>8} {'ratio':>7} {'spread before':>13} {'after':>8} {'ratio':>7}")
    for path in args.runs:
        with h5py.File(path, "r") as f:
            for l in sorted(f["layers"], key=int):
                g = f["layers"][l]
                k = int(g.attrs["k"])
                m0, s0 = module_stats(g["weights_initial"][()], k)
                m1, s1 = module_stats(g["weights_final"][()], k)
                print(f"{path[-28:]:<28} {l:>5} {m0:14.4f} {m1:8.4f} {m1 / m0:7.4f} {s0:13.4f} {s1:8.4f} {s1 / s0:7.4f}")


if __name__ == "__main__":
    main()
