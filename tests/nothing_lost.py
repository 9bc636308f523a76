#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Nothing lost, second round (issue 28): the cases that need more than one
command line of tests/bad_input.py's table.

  - full disk: every command that writes HDF5 (simulate one layer and
    stacked, sweep, merge) and the trainer, run into a small tmpfs that fills
    up while they write. Each must exit 2 with one line that names the output
    and the system's reason ("No space left on device"), leave no hidden
    working copy or checkpoint.pt.tmp, and leave the existing output either
    byte for byte as it was or (after a publish) a readable, resumable file.
    Needs root (mount -t tmpfs); skipped with a notice otherwise.

    /usr/bin/python3 tests/nothing_lost.py BUILD/dynshare [-k NAME]

Exit status 0 when every case holds (skipped cases count as held and are
reported).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP = os.path.join(ROOT, "experiments")
STACK = os.path.join(ROOT, "tests", "data", "fingerprints", "stack_small.yaml")
TINY = """network: {arch: small, connectivity: lc, width: 4, depth: 1}
data: {dataset: fashion_mnist, path: /usr/share/datasets/fashion-mnist, limit_train: 64, limit_test: 32, validation: 0}
train: {epochs: 1, batch_size: 32, max_iterations: 1, threads: 1}
"""


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(argv, timeout=120, env=None):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True, env=env)
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout} s", "", ""
    return p.returncode, p.stdout, p.stderr


def one_line(err):
    return [l for l in err.splitlines() if l.strip()]


class Tmpfs:
    """A tmpfs of `size` bytes mounted on a fresh folder (None when that is impossible)."""

    def __init__(self, size):
        self.size, self.path = size, None

    def __enter__(self):
        if os.geteuid() != 0:
            return None
        path = tempfile.mkdtemp(prefix="dynshare_fulldisk_")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", path],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            os.rmdir(path)
            return None
        self.path = path
        return path

    def __exit__(self, *exc):
        if self.path:
            subprocess.run(["umount", self.path])
            os.rmdir(self.path)


def hidden_left(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".") or n.endswith(".tmp"))


def fill(folder, leave):
    """Fills the file system of `folder` up to `leave` free bytes (a filler file)."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    if free > leave:
        with open(os.path.join(folder, "filler"), "wb") as f:
            f.write(b"\0" * (free - leave))


def full_disk_case(dynshare, name, make_old, argv_of, out_name, problems, skipped, leave=48 << 10):
    """make_old(folder) writes the existing output; argv_of(folder) is the command that runs out of space."""
    with Tmpfs(64 << 20) as fsdir:
        if fsdir is None:
            skipped.append(name)
            return
        make_old(fsdir)
        out = os.path.join(fsdir, out_name)
        before = sha(out) if os.path.isfile(out) else None
        fill(fsdir, leave)
        code, _, err = run(argv_of(fsdir))
        lines = one_line(err)
        p = []
        if code != 2:
            p.append(f"exit {code}, not 2")
        if len(lines) != 1:
            p.append(f"{len(lines)} lines on stderr")
        if "No space left on device" not in err or out_name not in err:
            p.append("stderr does not name the output and the reason")
        if ".work-" in err or ".partial-" in err or ".tmp" in err:
            p.append("stderr names a hidden file")
        left = [n for n in hidden_left(fsdir)]
        if left:
            p.append("left " + ", ".join(left))
        if before is not None and os.path.isfile(out) and sha(out) != before:
            # Replaced by a publish: must be a readable file then.
            try:
                with h5py.File(out, "r") as f:
                    list(f.attrs)
            except Exception as e:  # noqa: BLE001 - any failure to read is the finding
                p.append(f"published output unreadable: {e}")
        if before is not None and not os.path.exists(out):
            p.append("the existing output is gone")
        if p:
            problems.append(f"{name}: {'; '.join(p)}; stderr: {err.strip()[:300]}")


def sim(dynshare, out, *extra):
    return [dynshare, "simulate", "--quiet", "--backend", "cpu", "-o", out, *extra]


def case_full_disk(dynshare, problems, skipped, trainer):
    small = ["--set", "run.presentations=3", "--set", "layer.neurons=10"]
    big = ["--set", "run.presentations=400", "--set", "layer.neurons=300", "--set", "layer.kernel=20",
           "--set", "run.record_every=1"]

    def old_sim(d):
        run(sim(dynshare, os.path.join(d, "run.h5"), *small))

    full_disk_case(dynshare, "full disk: simulate, new output", lambda d: None,
                   lambda d: sim(dynshare, os.path.join(d, "new.h5"), *big), "new.h5", problems, skipped)
    full_disk_case(dynshare, "full disk: simulate --overwrite", old_sim,
                   lambda d: sim(dynshare, os.path.join(d, "run.h5"), *big, "--overwrite"), "run.h5",
                   problems, skipped)
    full_disk_case(dynshare, "full disk: simulate stacked", lambda d: None,
                   lambda d: sim(dynshare, os.path.join(d, "stack.h5"), STACK, "--set", "run.presentations=40"),
                   "stack.h5", problems, skipped, leave=24 << 10)

    def sweep_yaml(d):
        path = os.path.join(d, "sweep.yaml")
        with open(path, "w") as f:
            f.write("base: " + EXP + "/fig4b.yaml\nset: {run.presentations: 200, layer.neurons: 200, layer.kernel: 9, "
                    "run.record_every: 1}\ngrid: {dynamics.alpha: [3, 5, 8, 10]}\n")
        return path

    full_disk_case(dynshare, "full disk: sweep", lambda d: sweep_yaml(d),
                   lambda d: [dynshare, "sweep", os.path.join(d, "sweep.yaml"), "-o", os.path.join(d, "sw.h5"),
                              "--quiet", "--backend", "cpu", "--threads", "2"], "sw.h5", problems, skipped)

    # merge: the shards live outside the small file system, the output inside it.
    shards = tempfile.mkdtemp(prefix="dynshare_fulldisk_shards_")
    try:
        sw = sweep_yaml(shards)
        for i in range(2):
            run([dynshare, "sweep", sw, "-o", os.path.join(shards, f"s{i}.h5"), "--shard", f"{i}/2", "--quiet",
                 "--backend", "cpu"], timeout=300)
        full_disk_case(dynshare, "full disk: merge", lambda d: None,
                       lambda d: [dynshare, "merge", os.path.join(d, "m.h5"), os.path.join(shards, "s0.h5"),
                                  os.path.join(shards, "s1.h5"), "--quiet"], "m.h5", problems, skipped)
    finally:
        shutil.rmtree(shards, ignore_errors=True)

    if not trainer:
        skipped.append("full disk: train (no trainer)")
        return

    def tiny(d):
        path = os.path.join(d, "..", os.path.basename(d) + "_tiny.yaml")
        with open(path, "w") as f:
            f.write(TINY)
        return path

    cfgdir = tempfile.mkdtemp(prefix="dynshare_fulldisk_cfg_")
    try:
        cfg = os.path.join(cfgdir, "tiny.yaml")
        with open(cfg, "w") as f:
            f.write(TINY)
        for leave, label in ((4 << 10, "metrics"), (40 << 10, "checkpoint")):
            name = f"full disk: train ({label})"
            with Tmpfs(64 << 20) as fsdir:
                if fsdir is None:
                    skipped.append(name)
                    continue
                fill(fsdir, leave)
                rundir = os.path.join(fsdir, "run")
                code, _, err = run([dynshare, "train", cfg, "-o", rundir], timeout=300)
                p = []
                if code != 2:
                    p.append(f"exit {code}, not 2")
                if len(one_line(err)) != 1 or "No space left on device" not in err:
                    p.append("not one line naming the reason")
                left = [n for n in (os.listdir(rundir) if os.path.isdir(rundir) else []) if n.endswith(".tmp")]
                if left:
                    p.append("left " + ", ".join(left))
                if os.path.isdir(rundir) and os.path.exists(os.path.join(rundir, "checkpoint.pt")):
                    # A checkpoint that was written must resume.
                    os.remove(os.path.join(fsdir, "filler"))
                    c2, _, e2 = run([dynshare, "train", cfg, "-o", rundir, "--resume"], timeout=300)
                    if c2 != 0:
                        p.append(f"--resume exit {c2}: {e2.strip()[:200]}")
                if p:
                    problems.append(f"{name}: {'; '.join(p)}; stderr: {err.strip()[:300]}")
    finally:
        shutil.rmtree(cfgdir, ignore_errors=True)


def expect_refusal(name, argv, want, problems, timeout=60, env=None, max_seconds=None):
    """Exit 2, one line on stderr naming `want`; returns stderr."""
    import time
    t0 = time.time()
    code, _, err = run(argv, timeout=timeout, env=env)
    secs = time.time() - t0
    p = []
    if code != 2:
        p.append(f"exit {code}, not 2")
    if len(one_line(err)) != 1:
        p.append(f"{len(one_line(err))} lines on stderr")
    if want not in err:
        p.append(f"stderr does not name '{want}'")
    if max_seconds is not None and secs > max_seconds:
        p.append(f"took {secs:.1f} s (more than {max_seconds} s)")
    if p:
        problems.append(f"{name}: {'; '.join(p)}; stderr: {err.strip()[:300]}")
    return err


def case_special_files(dynshare, problems, skipped, trainer):
    d = tempfile.mkdtemp(prefix="dynshare_special_")
    try:
        small = ["--set", "run.presentations=3", "--set", "layer.neurons=10"]
        # A FIFO as output, with --overwrite: refused, the FIFO stays a FIFO.
        fifo = os.path.join(d, "fifo.h5")
        os.mkfifo(fifo)
        expect_refusal("output is a FIFO", sim(dynshare, fifo, *small, "--overwrite"), "regular file", problems)
        if not stat_is(fifo, "fifo"):
            problems.append("output is a FIFO: the FIFO was replaced")
        # A character device (made here, as root: the null device's numbers).
        if os.geteuid() == 0:
            dev = os.path.join(d, "null.h5")
            os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))
            expect_refusal("output is a character device", sim(dynshare, dev, *small, "--overwrite"),
                           "regular file", problems)
            if not stat_is(dev, "chr"):
                problems.append("output is a character device: the device was replaced")
        else:
            skipped.append("output is a character device (needs root for mknod)")
        # A link to a folder.
        os.makedirs(os.path.join(d, "sub"))
        os.symlink("sub", os.path.join(d, "tosub.h5"))
        expect_refusal("output links to a folder", sim(dynshare, os.path.join(d, "tosub.h5"), *small, "--overwrite"),
                       "directory", problems)
        # A config that is a FIFO with no writer: refused at once, not a hang.
        cfifo = os.path.join(d, "cfg.yaml")
        os.mkfifo(cfifo)
        expect_refusal("config is a FIFO", [dynshare, "simulate", cfifo, "-o", os.path.join(d, "n.h5")], "cfg.yaml",
                       problems, timeout=20)
        expect_refusal("sweep file is a FIFO", [dynshare, "sweep", cfifo, "-o", os.path.join(d, "n.h5")], "cfg.yaml",
                       problems, timeout=20)
        if trainer:
            expect_refusal("train config is a FIFO", [dynshare, "train", cfifo, "-o", os.path.join(d, "r")],
                           "cfg.yaml", problems, timeout=20)
        # The output is the command's own config (through a link): refused, the YAML kept.
        cfg = os.path.join(d, "own.yaml")
        with open(cfg, "w") as f:
            f.write("run: {presentations: 2}\nlayer: {neurons: 10}\n")
        os.symlink("own.yaml", os.path.join(d, "own_link.h5"))
        before = sha(cfg)
        expect_refusal("output is the config", sim(dynshare, cfg, "--overwrite") + [cfg], "own.yaml", problems)
        expect_refusal("output links to the config", sim(dynshare, os.path.join(d, "own_link.h5"), "--overwrite") + [cfg],
                       "own", problems)
        if sha(cfg) != before:
            problems.append("output is the config: the config changed")
        # A dangling link as a new output: the link's target is written, the link stays a link.
        os.symlink("target.h5", os.path.join(d, "dangling.h5"))
        code, _, err = run(sim(dynshare, os.path.join(d, "dangling.h5"), *small))
        if code != 0 or not os.path.islink(os.path.join(d, "dangling.h5")) or \
                not os.path.isfile(os.path.join(d, "target.h5")):
            problems.append(f"dangling link as output: exit {code}, link kept {os.path.islink(os.path.join(d, 'dangling.h5'))}: {err.strip()[:200]}")
        # --resume through a link updates the target, and the link stays.
        link = os.path.join(d, "link.h5")
        target = os.path.join(d, "real.h5")
        env = dict(os.environ)
        run(sim(dynshare, target, "--set", "run.presentations=400", "--set", "layer.neurons=50",
                "--set", "run.checkpoint_every=10"), timeout=2)  # killed by the timeout: an incomplete file
        code, _, err = run([dynshare, "simulate", "--set", "run.presentations=40", "--set", "layer.neurons=10",
                            "--set", "run.checkpoint_every=10", "-o", target, "--quiet", "--overwrite"])
        interrupted_copy(dynshare, target, problems)
        os.symlink("real.h5", link)
        code, _, err = run([dynshare, "simulate", "--resume", link, "--quiet"], env=env)
        if not os.path.islink(link):
            problems.append("--resume through a link: the link was replaced by a file")
        else:
            with h5py.File(target, "r") as f:
                if int(f.attrs["complete"]) != 1:
                    problems.append(f"--resume through a link: the target is not complete (exit {code}: {err.strip()[:200]})")
        # A name whose hidden sibling would exceed NAME_MAX.
        expect_refusal("output name too long", sim(dynshare, os.path.join(d, "x" * 250 + ".h5"), *small),
                       "too long", problems)
        left = [n for n in os.listdir(d) if ".partial-" in n or ".work-" in n]
        if left:
            problems.append("special files: left " + ", ".join(left))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def stat_is(path, kind):
    import stat
    mode = os.lstat(path).st_mode
    return stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)


def interrupted_copy(dynshare, path, problems):
    """Marks the complete simulate output `path` as interrupted at its last checkpoint (complete = 0)."""
    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = 0
        f.attrs["status"] = "interrupted"


def case_refusals_in_time(dynshare, problems, skipped, trainer):
    d = tempfile.mkdtemp(prefix="dynshare_fast_")
    try:
        expect_refusal("neurons 2e9 refused within 1 s",
                       sim(dynshare, os.path.join(d, "n.h5"), "--set", "layer.neurons=2000000000"), "layer.neurons",
                       problems, max_seconds=1.0)
        with open(os.path.join(d, "sw.yaml"), "w") as f:
            f.write("base: " + EXP + "/fig4b.yaml\ngrid: {layer.neurons: [10, 2000000000]}\n")
        expect_refusal("sweep with a 2e9-neuron run refused within 1 s",
                       [dynshare, "sweep", os.path.join(d, "sw.yaml"), "-o", os.path.join(d, "n.h5")], "run 1",
                       problems, max_seconds=1.0)
        if os.listdir(d) != ["sw.yaml"]:
            problems.append("refusals in time: created " + ", ".join(os.listdir(d)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def case_signals(dynshare, problems, skipped, trainer):
    import signal
    import time
    d = tempfile.mkdtemp(prefix="dynshare_signals_")
    try:
        # SIGTERM in the first milliseconds: 130, like SIGINT, never 143.
        for delay in (0.15, 0.3, 0.6):
            p = subprocess.Popen(sim(dynshare, os.path.join(d, f"t{delay}.h5"), "--set", "run.presentations=20000"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=120)
            if code != 130:
                problems.append(f"SIGTERM after {delay} s: exit {code}, not 130")
        # SIGINT during a merge: exit 130, no .OUT.partial-PID left, OUT absent.
        with open(os.path.join(d, "sw.yaml"), "w") as f:
            f.write("base: " + EXP + "/fig4b.yaml\nset: {run.presentations: 20, layer.neurons: 10, layer.kernel: 3}\n"
                    "grid: {dynamics.alpha: [3, 4, 5, 6, 7, 8, 9, 10]}\ntrials: 60\n")
        run([dynshare, "sweep", os.path.join(d, "sw.yaml"), "-o", os.path.join(d, "s.h5"), "--quiet",
             "--backend", "cpu"], timeout=300)
        t0 = time.time()
        run([dynshare, "merge", os.path.join(d, "full.h5"), os.path.join(d, "s.h5"), "--quiet"])
        full = time.time() - t0
        os.remove(os.path.join(d, "full.h5"))
        for frac in (0.3, 0.6):
            p = subprocess.Popen([dynshare, "merge", os.path.join(d, "m.h5"), os.path.join(d, "s.h5"), "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(full * frac)
            p.send_signal(signal.SIGINT)
            code = p.wait(timeout=120)
            left = [n for n in os.listdir(d) if ".partial-" in n]
            if left:
                problems.append(f"SIGINT during merge: left {', '.join(left)}")
            if code not in (0, 130):
                problems.append(f"SIGINT during merge: exit {code}")
            if code == 130 and os.path.exists(os.path.join(d, "m.h5")):
                problems.append("SIGINT during merge: exit 130 but m.h5 exists")
            if os.path.exists(os.path.join(d, "m.h5")):
                os.remove(os.path.join(d, "m.h5"))
        # bench --python with a program that never exits: stopped after --numpy-timeout, the report written.
        sleeper = os.path.join(d, "sleeper")
        with open(sleeper, "w") as f:
            f.write("#!/bin/sh\nexec sleep 1000\n")
        os.chmod(sleeper, 0o755)
        t0 = time.time()
        code, _, err = run([dynshare, "bench", "-o", os.path.join(d, "r.md"), "--kernels", "3", "--presentations", "20",
                            "--numpy-presentations", "2", "--repeats", "1", "--python", sleeper, "--numpy-timeout", "2"],
                           timeout=120)
        if code != 0 or time.time() - t0 > 60 or "numpy-timeout" not in open(os.path.join(d, "r.md")).read():
            problems.append(f"bench --python that never exits: exit {code} after {time.time() - t0:.0f} s: "
                            f"{str(err).strip()[:200]}")
        # A stale .OUT.partial-PID of a dead process is removed by the next merge.
        stale = os.path.join(d, ".m.h5.partial-999999999")
        with open(stale, "wb") as f:
            f.write(b"left by a killed merge")
        run([dynshare, "merge", os.path.join(d, "m.h5"), os.path.join(d, "s.h5"), "--quiet"])
        if os.path.exists(stale):
            problems.append("a stale .m.h5.partial-PID was not removed by the next merge")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def case_run_folders(dynshare, problems, skipped, trainer):
    import time
    if not trainer:
        skipped.append("run folders (no trainer)")
        return
    d = tempfile.mkdtemp(prefix="dynshare_runfolder_")
    try:
        cfg = os.path.join(d, "tiny.yaml")
        with open(cfg, "w") as f:
            f.write(TINY)
        rundir = os.path.join(d, "run")
        code, _, err = run([dynshare, "train", cfg, "-o", rundir], timeout=300)
        if code != 0:
            problems.append(f"train tiny: exit {code}: {err.strip()[:300]}")
            return
        metrics = sha(os.path.join(rundir, "metrics.h5"))
        # Finished (max_iterations): --resume has nothing to do, adds no epoch.
        code, _, err = run([dynshare, "train", cfg, "-o", rundir, "--resume"], timeout=300)
        if code != 0 or "nothing to do" not in err or sha(os.path.join(rundir, "metrics.h5")) != metrics:
            problems.append(f"resume of a finished run: exit {code}, metrics changed "
                            f"{sha(os.path.join(rundir, 'metrics.h5')) != metrics}: {err.strip()[:200]}")
        # Another config: refused, naming the key; a changeable key is accepted.
        for key, value in (("train.lr", "0.5"), ("train.seed", "9"), ("sharing.mode", "hebbian"),
                           ("data.limit_train", "96")):
            expect_refusal(f"resume with another {key}",
                           [dynshare, "train", cfg, "-o", rundir, "--resume", "--set", f"{key}={value}"], key, problems,
                           timeout=300)
        code, _, err = run([dynshare, "train", cfg, "-o", rundir, "--resume", "--set", "train.threads=2"], timeout=300)
        if code != 0:
            problems.append(f"resume with another train.threads (changeable): exit {code}: {err.strip()[:200]}")
        # --overwrite killed before the new run's first checkpoint: the old run whole, nothing mixed.
        import signal
        ck = sha(os.path.join(rundir, "checkpoint.pt"))
        metrics = sha(os.path.join(rundir, "metrics.h5"))
        slow = os.path.join(d, "slow.yaml")
        with open(slow, "w") as f:
            f.write(TINY.replace("max_iterations: 1", "max_iterations: 0").replace("limit_train: 64",
                                                                                 "limit_train: 60000"))
        p = subprocess.Popen([dynshare, "train", slow, "-o", rundir, "--overwrite"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(6)
        p.send_signal(signal.SIGINT)  # stops in the first epoch: a checkpoint, no metrics yet
        p.wait()
        new_ck = sha(os.path.join(rundir, "checkpoint.pt")) != ck
        old_metrics = os.path.exists(os.path.join(rundir, "metrics.h5")) and \
            sha(os.path.join(rundir, "metrics.h5")) == metrics
        if new_ck and old_metrics:
            problems.append("--overwrite stopped in its first epoch: a new checkpoint.pt beside the old metrics.h5")
        if not new_ck and not old_metrics:
            problems.append("--overwrite stopped in its first epoch: the old run lost its metrics.h5")
        if [n for n in os.listdir(d) if n.startswith(".run.")]:
            problems.append("--overwrite stopped in its first epoch: a hidden folder left")
        # A finished --overwrite replaces the folder whole and leaves no hidden folder.
        code, _, err = run([dynshare, "train", cfg, "-o", rundir, "--overwrite", "--set", "train.seed=3"], timeout=300)
        left = [n for n in os.listdir(d) if n.startswith(".run.")]
        if code != 0 or left:
            problems.append(f"--overwrite: exit {code}, left {left}: {err.strip()[:200]}")
        else:
            with h5py.File(os.path.join(rundir, "metrics.h5"), "r") as f:
                if "seed: 3" not in f.attrs["config"]:
                    problems.append("--overwrite: metrics.h5 is not the new run's")
        # Two trainers on one new folder: the second is refused in one line.
        long_cfg = os.path.join(d, "long.yaml")
        with open(long_cfg, "w") as f:
            f.write(TINY.replace("max_iterations: 1", "max_iterations: 0").replace("epochs: 1", "epochs: 200"))
        two = os.path.join(d, "two")
        first = subprocess.Popen([dynshare, "train", long_cfg, "-o", two], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        for _ in range(300):
            if os.path.exists(os.path.join(two, ".lock")):
                break
            time.sleep(0.05)
        expect_refusal("second trainer on one run folder", [dynshare, "train", long_cfg, "-o", two], "in use", problems,
                       timeout=300)
        first.terminate()
        first.wait(timeout=120)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def write_idx(folder, split, n, size, labels):
    import struct
    with open(os.path.join(folder, f"{split}-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, size, size) + bytes(n * size * size))
    with open(os.path.join(folder, f"{split}-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(labels))


def case_data(dynshare, problems, skipped, trainer):
    if not trainer:
        skipped.append("data (no trainer)")
        return
    d = tempfile.mkdtemp(prefix="dynshare_data_")
    try:
        for name, train_labels, test_size in (("labels outside the classes", [3, 12] * 32, 28),
                                              ("test images of another size", [1, 2] * 32, 20)):
            data = os.path.join(d, name.replace(" ", "_"))
            os.makedirs(data)
            write_idx(data, "train", 64, 28, train_labels)
            write_idx(data, "t10k", 32, test_size, [0, 1] * 16)
            cfg = os.path.join(d, "tiny.yaml")
            with open(cfg, "w") as f:
                f.write(TINY.replace("/usr/share/datasets/fashion-mnist", data))
            rundir = os.path.join(d, "run_" + name.replace(" ", "_"))
            expect_refusal(f"data: {name}", [dynshare, "train", cfg, "-o", rundir], data, problems, timeout=300)
            if os.path.exists(rundir):
                problems.append(f"data: {name}: left the run folder {os.listdir(rundir)}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def case_lone_rank(dynshare, problems, skipped, trainer):
    """Rank 0 of a 2-rank job started alone: one line, exit 2, after about one timeout."""
    import time
    if not trainer:
        skipped.append("lone rank (no trainer)")
        return
    d = tempfile.mkdtemp(prefix="dynshare_rank_")
    try:
        cfg = os.path.join(d, "tiny.yaml")
        with open(cfg, "w") as f:
            f.write(TINY)
        env = dict(os.environ, WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 400), DYNSHARE_DIST_TIMEOUT="4")
        t0 = time.time()
        expect_refusal("lone rank 0 of a 2-rank job", [dynshare, "train", cfg, "-o", os.path.join(d, "run")], "joined",
                       problems, timeout=120, env=env)
        # Alone it took (startup + one 4 s timeout); the process group's own
        # second wait would add another 4 s.
        print(f"lone rank 0: refused after {time.time() - t0:.1f} s (DYNSHARE_DIST_TIMEOUT=4)")
    finally:
        shutil.rmtree(d, ignore_errors=True)


CASES = [("full disk", case_full_disk), ("special files", case_special_files),
         ("refusals in time", case_refusals_in_time), ("signals", case_signals), ("run folders", case_run_folders),
         ("data", case_data), ("lone rank", case_lone_rank)]


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    dynshare = os.path.abspath(args[0])
    only = args[args.index("-k") + 1] if "-k" in args else None
    trainer = run([dynshare, "train", "--help"])[0] == 0
    problems, skipped, ran = [], [], 0
    for name, fn in CASES:
        if only and only not in name:
            continue
        ran += 1
        fn(dynshare, problems, skipped, trainer)
    for s in skipped:
        print(f"SKIP {s} (needs root and mount -t tmpfs)" if "trainer" not in s else f"SKIP {s}")
    for p in problems:
        print("FAIL " + p)
    print(f"nothing_lost: {len(problems)} failed, {len(skipped)} skipped")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
