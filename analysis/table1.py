#!/usr/bin/python3
"""Table 1 from trainer runs: final test accuracy per row, mean and spread
over seeds, difference to the conv row.

    analysis/table1.py runs/table1/*/            (directories with metrics.h5)

A row is identified from the run's resolved config (root attribute `config`):
connectivity, data.repetitions and sharing mode/period. Spread = (max - min) / 2
over seeds, as the paper's appendix reports max-min ranges ("-" for one seed).
Unfinished runs (fewer epochs than the config's train.epochs, or a last epoch
without a test evaluation) are left out and named on stderr.
"""
import argparse
import glob
import os
import sys

import h5py
import numpy as np
import yaml


def row_name(cfg):
    net, data, sh = cfg["network"], cfg["data"], cfg["sharing"]
    if net["connectivity"] == "conv":
        return (0, "conv")
    if data["repetitions"] > 1:
        return (1, f"LC - {data['repetitions']} reps")
    mode = sh["mode"]
    if mode == "none":
        return (0.5, "LC")
    tag = {"instant": "ws", "hebbian": "hebb", "simulated": "sleep"}[mode]
    order = {"instant": 2, "hebbian": 3, "simulated": 4}[mode]
    return (order + sh["every"] * 1e-6, f"LC - {tag}({sh['every']})")


def load(run):
    path = os.path.join(run, "metrics.h5") if os.path.isdir(run) else run
    with h5py.File(path, "r") as f:
        cfg = yaml.safe_load(f.attrs["config"])
        top1 = np.asarray(f["epochs/test_top1"])
        top5 = np.asarray(f["epochs/test_top5"])
        secs = np.asarray(f["epochs/seconds"]).sum() + 0.0
        sleep = np.asarray(f["sleep/seconds"]).sum() if "sleep/seconds" in f else 0.0
    want = int(cfg["train"]["epochs"])
    if top1.size < want or not np.isfinite(top1[-1]):
        raise ValueError(f"unfinished ({top1.size} of {want} epochs)")
    return cfg, 100 * top1[-1], 100 * top5[-1], len(top1), secs, sleep


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories or metrics.h5 files (globs allowed)")
    args = ap.parse_args()
    rows = {}
    for pattern in args.runs:
        for run in sorted(glob.glob(pattern)) or [pattern]:
            try:
                r = load(run)
            except (OSError, KeyError, ValueError) as e:
                print(f"table1.py: skipping {run}: {e}", file=sys.stderr)
                continue
            key = row_name(r[0])
            rows.setdefault(key, []).append(r)
    if not rows:
        sys.exit("table1.py: no runs with metrics found")
    conv = rows.get((0, "conv"))
    conv1 = np.mean([r[1] for r in conv]) if conv else None
    conv5 = np.mean([r[2] for r in conv]) if conv else None
    print(f"{'row':<16} {'n':>2} {'epochs':>6} {'top-1 (%)':>14} {'diff':>6} {'top-5 (%)':>14} {'diff':>6} "
          f"{'train h':>7} {'sleep h':>7}")
    for key in sorted(rows):
        rs = rows[key]
        t1 = np.array([r[1] for r in rs])
        t5 = np.array([r[2] for r in rs])
        d1 = f"{t1.mean() - conv1:+6.1f}" if conv1 is not None and key[1] != "conv" else "     -"
        d5 = f"{t5.mean() - conv5:+6.1f}" if conv5 is not None and key[1] != "conv" else "     -"
        hours = np.mean([r[4] for r in rs]) / 3600
        sleep = np.mean([r[5] for r in rs]) / 3600
        def spread(t):
            return f"{np.ptp(t) / 2:4.1f}" if len(t) > 1 else "   -"
        print(f"{key[1]:<16} {len(rs):>2} {min(r[3] for r in rs):>6} {t1.mean():7.1f} ± {spread(t1)} {d1} "
              f"{t5.mean():7.1f} ± {spread(t5)} {d5} {hours:7.2f} {sleep:7.2f}")


if __name__ == "__main__":
    main()
