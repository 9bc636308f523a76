#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""What calling dynshare from Python costs (issue 27's goal: at most 5 % more).

1. One Fig. 4B curve (the built-in default: ei_rate, N = 100, k = 9, 10,000
   presentations): `build/dynshare simulate -o F --quiet` (wall time of the
   process) against `dynshare.simulate(out=F)` in this process (wall time of
   the call, reading the file back included), alternated R times on the same
   machine; medians and their ratio.
2. The trainer's sleep phase on its small LC net: the trainer's own
   `apply_sharing` in C++ (build/dynshare_trainer_sleep_reference, wall time
   of the call: SNRs before/after, conversions, phase) against
   `dynshare.sleep_phase` on torch tensors holding the same weights (wall
   time of the call), alternated; each Python result is checked bit for bit
   against the trainer's.

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


def sleep_vs_trainer(ref, repeats, width, size, presentations, folder):
    """Alternated: the trainer's apply_sharing (build/dynshare_trainer_sleep_reference:
    a warm-up phase, then one timed phase from the same weights) and
    dynshare.sleep_phase on torch tensors holding the same weights (after one
    warm-up call), both SNRs included, same seed and phase."""
    import torch
    t_trainer, t_py, geo, before, expected = [], [], None, None, None
    for r in range(repeats):
        out = subprocess.run([ref, folder, str(width), str(presentations), "0", "0", str(size), "1"],
                             capture_output=True, text=True, check=True).stdout
        timed = [line.split() for line in out.splitlines() if line.startswith("seconds")]
        t_trainer += [float(t[1]) for t in timed]
        threads = int(timed[-1][3])  # the trainer's OpenMP threads (LibTorch's setting): the same for Python
        if geo is None:
            geo = [tuple(int(x) for x in line.split()) for line in open(os.path.join(folder, "geometry.txt"))]
            shapes = [(c_out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, c_in * k * k)
                      for c_in, h, w, c_out, k, s, p in geo]
            before = [np.fromfile(os.path.join(folder, f"before_{l}.bin"), np.float32).reshape(shape)
                      for l, shape in enumerate(shapes)]
            expected = [np.fromfile(os.path.join(folder, f"after_{l}.bin"), np.float32) for l in range(len(geo))]
            dynshare.sleep_phase([torch.from_numpy(b.copy()) for b in before], geo, seed=0, phase=0,
                                 presentations=presentations, threads=threads)  # warm-up
        tensors = [torch.from_numpy(b.copy()) for b in before]
        t0 = time.perf_counter()
        dynshare.sleep_phase(tensors, geo, seed=0, phase=0, presentations=presentations, threads=threads)
        t_py.append(time.perf_counter() - t0)
        same = all(t.numpy().tobytes() == e.tobytes() for t, e in zip(tensors, expected))
        if not same:
            raise SystemExit("python_overhead: dynshare.sleep_phase differs from the trainer's phase")
    return t_trainer, t_py, geo, sum(b.size for b in before), threads


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", default=os.path.join(here, "python_overhead.md"))
    ap.add_argument("-r", "--repeats", type=int, default=5)
    ap.add_argument("--presentations", type=int, default=None, help="override run.presentations (default: 10,000)")
    ap.add_argument("--sleep-width", type=int, default=16, help="channels of the trainer's small net (depth 2)")
    ap.add_argument("--sleep-size", type=int, default=32, help="input height and width of that net")
    ap.add_argument("--sleep-presentations", type=int, default=100)
    args = ap.parse_args(argv)
    cli = os.path.join(root, "build", "dynshare")
    ref = os.path.join(root, "build", "dynshare_trainer_sleep_reference")
    with tempfile.TemporaryDirectory() as folder:
        t_cli, t_py = fig4b(cli, args.repeats, args.presentations, folder)
        t_trainer, t_call, geo, n_weights, threads = sleep_vs_trainer(ref, args.repeats, args.sleep_width, args.sleep_size,
                                                             args.sleep_presentations, folder)
    m_cli, m_py = statistics.median(t_cli), statistics.median(t_py)
    m_call, m_trainer = statistics.median(t_call), statistics.median(t_trainer)
    lines = [
        "# dynshare from Python: overhead (bench/python_overhead.py)",
        "",
        f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end (shared and noisy: "
        f"timings are indicative); {args.repeats} alternated repeats.",
        "",
        "## One Fig. 4B curve (default config" +
        ("" if args.presentations is None else f", run.presentations = {args.presentations}") + ")",
        "",
        "| | median s | best s | all (s) |",
        "|---|---|---|---|",
        f"| `build/dynshare simulate -o F --quiet` (process wall time) | {m_cli:.3f} | {min(t_cli):.3f} | "
        + ", ".join(f"{t:.3f}" for t in t_cli) + " |",
        f"| `dynshare.simulate(out=F)` (call wall time, file read back) | {m_py:.3f} | {min(t_py):.3f} | "
        + ", ".join(f"{t:.3f}" for t in t_py) + " |",
        "",
        f"Python / CLI = **{m_py / m_cli:.3f}** (medians), {min(t_py) / min(t_cli):.3f} (best of {args.repeats}) "
        "(goal <= 1.05).",
        "",
        f"## Sleep phase: the trainer's small LC net (arch small, depth 2, width {args.sleep_width}, "
        f"{args.sleep_size}x{args.sleep_size} input; chain {geo}), {args.sleep_presentations} presentations, "
        f"{n_weights} float32 weights, {threads} OpenMP thread(s) in both (the trainer's: LibTorch sets it)",
        "",
        "| | median s | best s | all (s) |",
        "|---|---|---|---|",
        f"| trainer: `apply_sharing` (SNRs, conversions, phase), C++ | {m_trainer:.4f} | {min(t_trainer):.4f} | "
        + ", ".join(f"{t:.4f}" for t in t_trainer) + " |",
        f"| `dynshare.sleep_phase` on torch tensors (call wall time: checks, SNRs, conversions, phase) | "
        f"{m_call:.4f} | {min(t_call):.4f} | " + ", ".join(f"{t:.4f}" for t in t_call) + " |",
        "",
        f"Python / trainer = **{m_call / m_trainer:.3f}** (medians), {min(t_call) / min(t_trainer):.3f} (best of "
        f"{args.repeats}) (goal <= 1.05); the weights after each Python phase "
        "were checked equal, bit for bit, to the trainer's.",
        "",
    ]
    with open(args.o, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
