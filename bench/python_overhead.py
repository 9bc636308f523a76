#!/usr/bin/env python3
"""What calling dynshare from Python costs (issue 27's goal: at most 5 % more).

1. One Fig. 4B curve (the built-in default: ei_rate, N = 100, k = 9, 10,000
   presentations): `build/dynshare simulate -o F --quiet` (wall time of the
   process) against `dynshare.simulate(out=F)` in this process (wall time of
   the call, reading the file back included), alternated R times on the same
   machine; medians and their ratio.
2. The trainer's sleep phase on a small LC chain: `dynshare.sleep_phase` on
   torch tensors (wall time of the call: checks, conversions, phase) against
   the engine's own time for the same phase (`run_sleep_phase`'s seconds,
   which the trainer's phase also spends; the trainer adds its own
   conversions, so this ratio bounds the overhead over the trainer's phase
   from above).

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [-o bench/python_overhead.md] [-r 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
sys.path.insert(0, os.path.join(root, "build", "python"))

import numpy as np  # noqa: E402

import dynshare  # noqa: E402
from dynshare import _core  # noqa: E402


def fig4b(cli, repeats, presentations, folder):
    sets = [] if presentations is None else [f"--set=run.presentations={presentations}"]
    py_set = None if presentations is None else {"run.presentations": presentations}
    t_cli, t_py = [], []
    for r in range(repeats):
        order = (0, 1) if r % 2 == 0 else (1, 0)   # alternate who goes first
        for which in order:
            if which == 0:
                t0 = time.perf_counter()
                subprocess.run([cli, "simulate", "-o", os.path.join(folder, "cli.h5"), "--quiet", "--overwrite"]
                               + sets, check=True)
                t_cli.append(time.perf_counter() - t0)
            else:
                t0 = time.perf_counter()
                dynshare.simulate(set=py_set, out=os.path.join(folder, "py.h5"), overwrite=True, progress=False)
                t_py.append(time.perf_counter() - t0)
    return t_cli, t_py


def sleep(repeats, width, presentations):
    import torch
    geo = [dict(c_in=3, h_in=32, w_in=32, c_out=width, k=3), dict(c_in=width, h_in=32, w_in=32, c_out=width, k=3)]
    rng = np.random.default_rng(0)
    w = [torch.from_numpy((0.3 * rng.standard_normal((g["c_out"], 32, 32, g["c_in"] * 9))).astype(np.float32))
         for g in geo]
    t_call, t_engine = [], []
    from dynshare import sleep as sl
    orig = _core.sleep_phase
    seen = {}

    def spy(*a):
        res = orig(*a)
        seen["engine"] = res[1]
        return res
    sl._core.sleep_phase = spy
    try:
        for r in range(repeats):
            t0 = time.perf_counter()
            dynshare.sleep_phase(w, geo, seed=0, phase=r, presentations=presentations)
            t_call.append(time.perf_counter() - t0)
            t_engine.append(seen["engine"])
    finally:
        sl._core.sleep_phase = orig
    return t_call, t_engine, sum(x.numel() for x in w)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", default=os.path.join(here, "python_overhead.md"))
    ap.add_argument("-r", "--repeats", type=int, default=5)
    ap.add_argument("--presentations", type=int, default=None, help="override run.presentations (default: 10,000)")
    ap.add_argument("--sleep-width", type=int, default=16)
    ap.add_argument("--sleep-presentations", type=int, default=100)
    args = ap.parse_args(argv)
    cli = os.path.join(root, "build", "dynshare")
    with tempfile.TemporaryDirectory() as folder:
        t_cli, t_py = fig4b(cli, args.repeats, args.presentations, folder)
    t_call, t_engine, n_weights = sleep(args.repeats, args.sleep_width, args.sleep_presentations)
    m_cli, m_py = statistics.median(t_cli), statistics.median(t_py)
    m_call, m_engine = statistics.median(t_call), statistics.median(t_engine)
    lines = [
        "# dynshare from Python: overhead (bench/python_overhead.py)",
        "",
        f"Machine: {os.cpu_count()} CPUs (shared and noisy when measured: timings are indicative); "
        f"{args.repeats} alternated repeats, medians.",
        "",
        "## One Fig. 4B curve (default config" +
        ("" if args.presentations is None else f", run.presentations = {args.presentations}") + ")",
        "",
        "| | median s | all (s) |",
        "|---|---|---|",
        f"| `build/dynshare simulate -o F --quiet` (process wall time) | {m_cli:.3f} | "
        + ", ".join(f"{t:.3f}" for t in t_cli) + " |",
        f"| `dynshare.simulate(out=F)` (call wall time, file read back) | {m_py:.3f} | "
        + ", ".join(f"{t:.3f}" for t in t_py) + " |",
        "",
        f"Python / CLI = **{m_py / m_cli:.3f}** (goal <= 1.05).",
        "",
        f"## Sleep phase: 2 LC layers 3->{args.sleep_width}->{args.sleep_width} channels, 32x32, k = 3, "
        f"{args.sleep_presentations} presentations ({n_weights} float32 weights, torch tensors)",
        "",
        "| | median s |",
        "|---|---|",
        f"| `dynshare.sleep_phase` (call wall time: checks, conversions, phase) | {m_call:.4f} |",
        f"| the engine's phase alone (`run_sleep_phase` seconds) | {m_engine:.4f} |",
        "",
        f"call / engine = **{m_call / m_engine:.3f}** (an upper bound on the overhead over the trainer's phase, "
        "which does the same conversions through torch).",
        "",
    ]
    with open(args.o, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
