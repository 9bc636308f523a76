#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""kill -9 at random moments, for every command that writes (issue 12).

A SIGKILL cannot be caught, so what must hold is the file discipline:
  - simulate, sweep: the named output, when it exists, is a readable HDF5
    file, and `--resume` continues it from its last checkpoint to the end
    (exit 0; the record steps end up strictly increasing, none duplicated;
    the killed process's working copy is cleaned up);
  - merge, bench (with --overwrite on an existing output): the output is
    either the old file, byte for byte, or a complete new one;
  - train: the run folder's checkpoint, when one exists, resumes to the end,
    and metrics.h5 stays readable (both are written beside and renamed).
Delays are drawn from a fixed seed, so the test is repeatable in intent
(the moment a signal lands still depends on the machine's speed).

    /usr/bin/python3 tests/kill9.py BUILD/dynshare [TRIALS]
"""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def kill_after(argv, delay):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    finished = p.poll() is not None
    if not finished:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return finished


def full_time(argv, out):
    """Seconds the command takes when left alone (its output removed after)."""
    t0 = time.time()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = time.time() - t0
    if os.path.exists(out):
        os.remove(out)
    return t


def check_resumable(dynshare, path, resume_argv, problems, label):
    if not os.path.exists(path):
        return "no output yet"
    try:
        with h5py.File(path, "r") as f:
            complete = int(f.attrs.get("complete", 0))
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        problems.append(f"{label}: unreadable after kill -9: {e}")
        return "unreadable"
    if complete:
        return "had finished"
    r = subprocess.run([dynshare] + resume_argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        problems.append(f"{label}: --resume exit {r.returncode}: {r.stderr.strip()[:200]}")
        return "resume failed"
    with h5py.File(path, "r") as f:
        if int(f.attrs["complete"]) != 1:
            problems.append(f"{label}: not complete after --resume")
        steps = f["snr/step"][()] if "snr" in f else None
        if steps is not None and not np.all(np.diff(steps) > 0):
            problems.append(f"{label}: record steps not strictly increasing after --resume")
    # The killed process's working copy (.NAME.work-PID) is removed by --resume.
    stem = "." + os.path.basename(path) + "."
    left = [n for n in os.listdir(os.path.dirname(path)) if n.startswith(stem)]
    if left:
        problems.append(f"{label}: left behind after --resume: {left}")
    return "resumed"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    dynshare = os.path.abspath(sys.argv[1])
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rng = random.Random(12345)
    tmp = tempfile.mkdtemp(prefix="dynshare_kill9_")
    problems, outcomes = [], []
    try:
        # simulate: a single layer and a stack, checkpoints every few presentations.
        totals = {}
        for t in range(trials):
            for kind, extra in (("single", ["--set", "layer.kernel=9", "--set", "dynamics.integrator=rk4",
                                            "--set", "run.presentations=12000"]),
                                ("stack", [os.path.join(ROOT, "tests/data/fingerprints/stack_small.yaml"),
                                           "--set", "stack.input.height=8", "--set", "stack.input.width=8"])):
                out = os.path.join(tmp, f"sim_{kind}_{t}.h5")
                argv = [dynshare, "simulate", "--backend", "cpu", "--quiet", "-o", out,
                        "--set", "run.presentations=4000", "--set", "run.checkpoint_every=7"] + extra
                if kind not in totals:
                    totals[kind] = full_time(argv, out)
                kill_after(argv, totals[kind] * (0.4 + 0.55 * rng.random()))
                outcomes.append(check_resumable(dynshare, out, ["simulate", "--resume", out, "--quiet"], problems,
                                                f"simulate {kind} trial {t}"))
        # sweep: runs finish and are written while others run.
        sweep = os.path.join(tmp, "s.yaml")
        with open(sweep, "w") as f:
            f.write(f"base: {ROOT}/experiments/fig4b.yaml\nset: {{run.presentations: 3000, layer.kernel: 6}}\n"
                    "grid: {dynamics.alpha: [3, 10, 30]}\ntrials: 3\n")
        for t in range(trials):
            out = os.path.join(tmp, f"sweep_{t}.h5")
            argv = [dynshare, "sweep", sweep, "-o", out, "--quiet", "--backend", "cpu", "--threads", "2"]
            if t == 0:
                sweep_total = full_time(argv, out)
            kill_after(argv, sweep_total * (0.4 + 0.55 * rng.random()))
            outcomes.append(check_resumable(dynshare, out, ["sweep", sweep, "-o", out, "--resume", "--quiet",
                                                            "--backend", "cpu"], problems, f"sweep trial {t}"))
        # merge and bench: an existing output is replaced whole or not at all.
        whole = os.path.join(tmp, "whole.h5")
        subprocess.run([dynshare, "sweep", sweep, "-o", whole, "--quiet", "--backend", "cpu"], check=True)
        for t in range(trials):
            out = os.path.join(tmp, f"merged_{t}.h5")
            with open(out, "wb") as f:
                f.write(b"an earlier merge\n")
            old = sha(out)
            kill_after([dynshare, "merge", out, whole, "--overwrite", "--quiet"], rng.random() * 0.9)
            if sha(out) != old:
                try:
                    with h5py.File(out, "r") as f:
                        assert "runs" in f and int(f.attrs["runs_done"]) > 0
                except Exception as e:  # noqa: BLE001
                    problems.append(f"merge trial {t}: replaced by an invalid file: {e}")
            # The killed merge's .OUT.partial-PID (its pid is dead now) is
            # removed by the next merge into the same output (issue 28).
            subprocess.run([dynshare, "merge", out, whole, "--overwrite", "--quiet"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            stale = [n for n in os.listdir(tmp) if n.startswith(f".merged_{t}.h5.partial-")]
            if stale:
                problems.append(f"merge trial {t}: a killed merge's partial file survived the next merge: {stale}")
            report = os.path.join(tmp, f"report_{t}.md")
            with open(report, "w") as f:
                f.write("# an earlier report\n")
            old = sha(report)
            kill_after([dynshare, "bench", "-o", report, "--overwrite", "--kernels", "3", "--presentations", "300",
                        "--numpy-presentations", "5"], 0.8 + rng.random() * 1.5)
            if sha(report) != old and "dynshare bench" not in open(report).read():
                problems.append(f"bench trial {t}: the report was replaced by an incomplete one")
        # train: the run folder's checkpoint (written by rename) resumes to the end.
        trainer = os.path.join(os.path.dirname(dynshare), "dynshare-train")
        if os.access(trainer, os.X_OK) and os.path.isdir("/usr/share/datasets/fashion-mnist"):
            cfg = os.path.join(tmp, "train.yaml")
            with open(cfg, "w") as f:
                f.write("network: {arch: small, connectivity: lc, width: 4, depth: 1}\n"
                        "data: {dataset: fashion_mnist, path: /usr/share/datasets/fashion-mnist, limit_train: 1024,"
                        " limit_test: 64, validation: 0}\n"
                        "train: {epochs: 3, batch_size: 32, threads: 1, checkpoint_every: 1, progress: never}\n")
            for t in range(trials):
                run_dir = os.path.join(tmp, f"train_{t}")
                argv = [dynshare, "train", cfg, "-o", run_dir]
                if t == 0:
                    t0 = time.time()
                    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    train_total = time.time() - t0
                    shutil.rmtree(run_dir, ignore_errors=True)
                kill_after(argv, train_total * (0.4 + 0.55 * rng.random()))
                if not os.path.exists(os.path.join(run_dir, "checkpoint.pt")):
                    outcomes.append("no output yet")
                    continue
                if os.path.exists(os.path.join(run_dir, "metrics.h5")):
                    try:
                        h5py.File(os.path.join(run_dir, "metrics.h5"), "r").close()
                    except Exception as e:  # noqa: BLE001
                        problems.append(f"train trial {t}: metrics.h5 unreadable after kill -9: {e}")
                r = subprocess.run(argv + ["--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if r.returncode != 0 and "complete" not in r.stderr:
                    problems.append(f"train trial {t}: --resume exit {r.returncode}: {r.stderr.strip()[:200]}")
                outcomes.append("resumed" if r.returncode == 0 else "had finished")
        for p in problems:
            print("FAIL", p)
        counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
        print("kill9: outcomes", counts)
        print(f"{len(outcomes) - len([p for p in problems])} passed, {len(problems)} failed")
        return 1 if problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
