# SPDX-License-Identifier: BSD-3-Clause
"""Table 1 from trainer runs: final train and test accuracy per row side by
side (Table 1 is about generalisation: the train-test gap says whether a row
fits its training set), mean and spread over seeds, difference to the conv row.

    analysis/table1.py runs/table1/*/            (directories with metrics.h5)

A row is identified from the run's resolved config (root attribute `config`):
connectivity, data.repetitions and sharing mode/period. Spread = (max - min) / 2
over seeds, as the paper's appendix reports max-min ranges ("-" for one seed).
Unfinished runs (fewer epochs than the config's train.epochs, or a last epoch
without a test evaluation, or a run directory without metrics.h5 yet) are left
out and named on stderr.
"""
import glob
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from . import cli
from .errors import InputError, note
from .reader import MissingMetrics, load_training

PROG = "table1.py"


class Unfinished(Exception):
    """A run that has not finished training (skipped, not an error)."""


def parse_args(argv):
    p = cli.parser(PROG, __doc__)
    p.add_argument("runs", nargs="+", help="run directories or metrics.h5 files (globs allowed)")
    return p.parse_args(argv)


def row_name(run):
    """(sort order, row name) of a TrainingRun, from its config."""
    if run.cfg("network.connectivity") == "conv":
        return (0, "conv")
    reps = int(run.cfg("data.repetitions"))
    if reps > 1:
        return (1, f"LC - {reps} reps")
    mode = run.cfg("sharing.mode")
    if mode == "none":
        return (0.5, "LC")
    if mode not in ("instant", "hebbian", "hebbian_authors", "simulated"):
        raise InputError(f"{run.path}: unknown sharing.mode '{mode}'")
    every = run.cfg("sharing.every")
    tag = {"instant": "ws", "hebbian": "hebb", "hebbian_authors": "hebb_authors", "simulated": "sleep"}[mode]
    order = {"instant": 2, "hebbian": 3, "hebbian_authors": 3.5, "simulated": 4}[mode]
    if run.cfg("sharing.modules", "grid") == "full":  # issue 13's full-module check
        return (5 + order * 1e-3 + every * 1e-6, f"LC - {tag}({every}) full")
    return (order + every * 1e-6, f"LC - {tag}({every})")


@dataclass
class Result:
    """What one finished run contributes to the table."""
    run: object
    top1: float       # test top-1 after the last epoch, percent
    train_top1: float  # train top-1 of the last epoch (augmented batches, as the trainer reports it), percent
    top5: float
    epochs: int
    seconds: float    # summed epoch training time
    sleep_seconds: float


def result(run):
    """The run's Result; Unfinished when it has not finished training."""
    top1 = run.epochs["test_top1"]
    want = int(run.cfg("train.epochs"))
    if top1.size < want:
        raise Unfinished(f"unfinished ({top1.size} of {want} epochs)")
    if not np.isfinite(top1[-1]):
        raise Unfinished(f"unfinished (epoch {top1.size} has no test evaluation)")
    top5 = run.epochs.get("test_top5", np.full(top1.shape, np.nan))
    secs = float(np.sum(run.epochs.get("seconds", np.zeros(0))))
    sleep = float(np.sum(run.sleep["seconds"]))
    train = run.epochs.get("train_top1", np.full(top1.shape, np.nan))
    return Result(run, 100 * float(top1[-1]), 100 * float(train[-1]), 100 * float(top5[-1]), int(top1.size), secs,
                  sleep)


@dataclass
class Row:
    order: float
    name: str
    n: int
    epochs: int                  # fewest epochs among the row's runs
    top1: float                  # mean over seeds, percent
    top1_spread: Optional[float]  # (max - min) / 2; None for one seed
    top1_diff: Optional[float]    # mean minus conv's mean; None for conv or without conv
    train_top1: float            # mean over seeds of the last epoch's train top-1, percent
    top5: float
    top5_spread: Optional[float]
    top5_diff: Optional[float]
    train_hours: float           # mean over seeds of the summed epoch time
    sleep_hours: float
    runs: List[object]


def table_rows(results):
    """Rows of the table from Result objects, in the table's order."""
    groups = {}
    for r in results:
        groups.setdefault(row_name(r.run), []).append(r)
    conv = groups.get((0, "conv"))
    conv1 = float(np.mean([r.top1 for r in conv])) if conv else None
    conv5 = float(np.mean([r.top5 for r in conv])) if conv else None
    rows = []
    for (order, name), rs in sorted(groups.items()):
        t1 = np.array([r.top1 for r in rs])
        t5 = np.array([r.top5 for r in rs])
        is_conv = name == "conv"
        rows.append(Row(
            order, name, len(rs), min(r.epochs for r in rs),
            float(t1.mean()), float(np.ptp(t1) / 2) if len(rs) > 1 else None,
            float(t1.mean() - conv1) if conv1 is not None and not is_conv else None,
            float(np.mean([r.train_top1 for r in rs])),
            float(t5.mean()), float(np.ptp(t5) / 2) if len(rs) > 1 else None,
            float(t5.mean() - conv5) if conv5 is not None and not is_conv else None,
            float(np.mean([r.seconds for r in rs])) / 3600, float(np.mean([r.sleep_seconds for r in rs])) / 3600,
            [r.run for r in rs]))
    return rows


def format_table(rows):
    def spread(s):
        return f"{s:4.1f}" if s is not None else "   -"

    def diff(d):
        return f"{d:+6.1f}" if d is not None else "     -"

    lines = [f"{'row':<16} {'n':>2} {'epochs':>6} {'train':>5} {'top-1 (%)':>14} {'gap':>5} {'diff':>6} "
             f"{'top-5 (%)':>14} {'diff':>6} {'train h':>7} {'sleep h':>7}"]
    for r in rows:
        lines.append(f"{r.name:<16} {r.n:>2} {r.epochs:>6} {r.train_top1:5.1f} {r.top1:7.1f} ± {spread(r.top1_spread)} "
                     f"{r.train_top1 - r.top1:5.1f} {diff(r.top1_diff)} "
                     f"{r.top5:7.1f} ± {spread(r.top5_spread)} {diff(r.top5_diff)} "
                     f"{r.train_hours:7.2f} {r.sleep_hours:7.2f}")
    return "\n".join(lines)


def collect(patterns):
    """(Results of the finished runs, [(run, why)] for those skipped).

    A pattern is a run directory, a metrics.h5 file or a glob of them. A path
    that does not exist, is not HDF5 or not a trainer file is an InputError."""
    results, skipped = [], []
    for pattern in patterns:
        for source in sorted(glob.glob(pattern)) or [pattern]:
            try:
                run = load_training(source)
                results.append(result(run))
            except MissingMetrics:
                skipped.append((source, "unfinished (no metrics.h5 yet)"))
            except Unfinished as e:
                skipped.append((source, str(e)))
    return results, skipped


def _main(argv):
    args = parse_args(argv)
    results, skipped = collect(args.runs)
    for source, why in skipped:
        note(f"skipping {source}: {why}")
    if not results:
        raise InputError(f"no finished runs among {len(skipped)} given" if skipped else "no runs with metrics found")
    print(format_table(table_rows(results)))
    return 0


def main(argv=None):
    return cli.run(PROG, _main, argv)
