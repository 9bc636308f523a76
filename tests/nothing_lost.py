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
import contextlib
import hashlib
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP = os.path.join(ROOT, "experiments")
STACK = os.path.join(ROOT, "tests", "data", "fingerprints", "stack_small.yaml")
TINY = """network: {arch: small, connectivity: lc, width: 4, depth: 1}
data: {dataset: fashion_mnist, path: /usr/share/datasets/fashion-mnist, limit_train: 64, limit_test: 32, validation: 0}
train: {epochs: 1, batch_size: 32, max_iterations: 1, threads: 1}
"""


@contextlib.contextmanager
def workdir(prefix):
    """A fresh folder under the temp dir, removed afterwards."""
    d = tempfile.mkdtemp(prefix=f"dynshare_{prefix}_")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def tiny_config(folder, name="tiny.yaml", replace=()):
    """TINY (a one-iteration trainer run) in folder/name, with the text replacements (old, new) in `replace`."""
    text = TINY
    for old, new in replace:
        text = text.replace(old, new)
    return write(os.path.join(folder, name), text)


# A trainer run that lasts: the whole training set, no iteration limit.
SLOW = (("max_iterations: 1", "max_iterations: 0"), ("limit_train: 64", "limit_train: 60000"))


def sweep_yaml(folder, body):
    """folder/sw.yaml: a sweep over experiments/fig4b.yaml with `body` (set/grid/trials lines)."""
    return write(os.path.join(folder, "sw.yaml"), "base: " + EXP + "/fig4b.yaml\n" + body)


def limit_memory(gib, binary):
    """A preexec_fn capping the child's address space: an allocation sized by a bad config fails at once
    (std::bad_alloc, exit 1) instead of paging the shared machine. None for an AddressSanitizer build:
    ASan reserves terabytes of shadow address space at start-up and aborts under any such cap, while its
    own allocator already aborts on an oversized allocation, so a plan sized before the check still fails."""
    with open(binary, "rb") as f:
        if b"__asan_init" in f.read():
            return None
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))
    return apply


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(argv, timeout=120, env=None, preexec_fn=None):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True, env=env,
                           preexec_fn=preexec_fn)
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

    sweep_body = "set: {run.presentations: 200, layer.neurons: 200, layer.kernel: 9, run.record_every: 1}\n" \
                 "grid: {dynamics.alpha: [3, 5, 8, 10]}\n"
    full_disk_case(dynshare, "full disk: sweep", lambda d: sweep_yaml(d, sweep_body),
                   lambda d: [dynshare, "sweep", os.path.join(d, "sw.yaml"), "-o", os.path.join(d, "sw.h5"),
                              "--quiet", "--backend", "cpu", "--threads", "2"], "sw.h5", problems, skipped)

    # merge: the shards live outside the small file system, the output inside it.
    with workdir("fulldisk_shards") as shards:
        sw = sweep_yaml(shards, sweep_body)
        for i in range(2):
            run([dynshare, "sweep", sw, "-o", os.path.join(shards, f"s{i}.h5"), "--shard", f"{i}/2", "--quiet",
                 "--backend", "cpu"], timeout=300)
        full_disk_case(dynshare, "full disk: merge", lambda d: None,
                       lambda d: [dynshare, "merge", os.path.join(d, "m.h5"), os.path.join(shards, "s0.h5"),
                                  os.path.join(shards, "s1.h5"), "--quiet"], "m.h5", problems, skipped)
    case_disk_filled_during_merge(dynshare, problems, skipped)

    if not trainer:
        skipped.append("full disk: train (no trainer)")
        return
    with workdir("fulldisk_cfg") as cfgdir:
        cfg = tiny_config(cfgdir)
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


def case_disk_filled_during_merge(dynshare, problems, skipped):
    """Another process fills the disk while merge copies runs (after its up-front free-space check): merge
    either finishes (the space it needs was reserved when it started) or stops with one line naming OUT and
    the reason, exit 2; never a crash, never a partial file left, the existing OUT as it was or replaced
    by a complete merge."""
    name = "full disk: filled by another process during merge"
    with workdir("fillmerge_shards") as shards:
        sw = sweep_yaml(shards, "set: {run.presentations: 100, layer.neurons: 100, layer.kernel: 9, "
                                "run.record_every: 1}\ngrid: {dynamics.alpha: [3, 4, 5, 6, 7, 8, 9, 10]}\n"
                                "trials: 8\n")
        run([dynshare, "sweep", sw, "-o", os.path.join(shards, "s.h5"), "--quiet", "--backend", "cpu"], timeout=600)
        old = os.path.join(shards, "old.h5")
        run([dynshare, "merge", old, os.path.join(shards, "s.h5"), "--quiet"])
        for trial in range(3):
            with Tmpfs(96 << 20) as fsdir:
                if fsdir is None:
                    skipped.append(name)
                    return
                out = os.path.join(fsdir, "m.h5")
                shutil.copy(old, out)  # the published output, to be replaced with --overwrite
                before = sha(out)
                p = subprocess.Popen([dynshare, "merge", out, os.path.join(shards, "s.h5"), "--quiet",
                                      "--overwrite"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                # Fill the disk the moment the partial file appears (each trial a little later).
                t0 = time.time()
                while p.poll() is None and time.time() - t0 < 60:
                    if [n for n in os.listdir(fsdir) if ".partial-" in n]:
                        time.sleep(0.01 * trial)
                        try:
                            fill(fsdir, 0)
                        except OSError:
                            pass  # the disk is full: that is the point
                        break
                    time.sleep(0.001)
                _, err = p.communicate(timeout=300)
                code = p.returncode
                left = hidden_left(fsdir)
                q = []
                if code not in (0, 2):
                    q.append(f"exit {code}")
                if code == 2 and (len(one_line(err)) != 1 or "No space left on device" not in err or "m.h5" not in err):
                    q.append("not one line naming m.h5 and the reason")
                if left:
                    q.append("left " + ", ".join(left))
                if code == 2 and sha(out) != before:
                    q.append("the existing m.h5 changed")
                if code == 0:
                    with h5py.File(out, "r") as f:
                        if int(f.attrs["complete"]) != 1:
                            q.append("exit 0 but m.h5 is not complete")
                if q:
                    problems.append(f"{name} (trial {trial}): {'; '.join(q)}; stderr: {err.strip()[:300]}")
                    return


def expect_refusal(name, argv, want, problems, timeout=60, env=None, max_seconds=None, preexec_fn=None):
    """Exit 2, one line on stderr naming `want`; returns stderr."""
    t0 = time.time()
    code, _, err = run(argv, timeout=timeout, env=env, preexec_fn=preexec_fn)
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
    with workdir("special") as d:
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
            os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
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
        cfg = write(os.path.join(d, "own.yaml"), "run: {presentations: 2}\nlayer: {neurons: 10}\n")
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
        target = incomplete_run(dynshare, d, "real.h5")
        os.symlink("real.h5", link)
        code, _, err = run([dynshare, "simulate", "--resume", link, "--quiet"])
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


def stat_is(path, kind):
    mode = os.lstat(path).st_mode
    return stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)


def incomplete_run(dynshare, folder, name):
    """folder/name: a small finished simulate output marked as interrupted at its last checkpoint
    (complete = 0), i.e. a file `--resume` continues."""
    path = os.path.join(folder, name)
    run([dynshare, "simulate", "--set", "run.presentations=40", "--set", "layer.neurons=10",
         "--set", "run.checkpoint_every=10", "-o", path, "--quiet", "--overwrite"])
    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = 0
        f.attrs["status"] = "interrupted"
    return path


def case_refusals_in_time(dynshare, problems, skipped, trainer):
    """Oversized runs are refused from the config alone, in well under a second, before anything is
    allocated or created: every plan kind (one layer, stacked, each run of a sweep) and simulate --resume.
    Run with the address space capped at 4 GiB, so that a plan sized before the check fails at once
    (exit 1) rather than paging the machine."""
    cap = limit_memory(4, dynshare)
    with workdir("fast") as d:
        def refused(name, argv, want):
            expect_refusal(name, argv, want, problems, max_seconds=1.0, preexec_fn=cap)

        refused("neurons 2e9 refused within 1 s",
                sim(dynshare, os.path.join(d, "n.h5"), "--set", "layer.neurons=2000000000"), "layer.neurons")
        sweep_yaml(d, "grid: {layer.neurons: [10, 2000000000]}\n")
        refused("sweep with a 2e9-neuron run refused within 1 s",
                [dynshare, "sweep", os.path.join(d, "sw.yaml"), "-o", os.path.join(d, "n.h5")], "run 1")
        # Stacks: a layer of 16,000 channels (16.4 M neurons, the most a layer may have) and a module
        # period whose cell -> module table would hold 4 x 10^10 entries.
        refused("stacked: a 16,000-channel layer refused within 1 s",
                sim(dynshare, os.path.join(d, "n.h5"), STACK, "--set",
                    "stack.layers=[{channels: 16000, kernel: 3, stride: 1, padding: 1}]"), "stack.layers[0]")
        refused("stacked: --set stack.connectivity=period:100000 refused within 1 s",
                sim(dynshare, os.path.join(d, "n.h5"), STACK, "--set", "stack.connectivity=period:100000"),
                "stack.layers[")
        write(os.path.join(d, "sw.yaml"), f"base: {STACK}\nlists: {{stack.connectivity: [grid, 'period:100000']}}\n")
        refused("sweep of stacks with an oversized run refused within 1 s",
                [dynshare, "sweep", os.path.join(d, "sw.yaml"), "-o", os.path.join(d, "n.h5")], "run 1")
        if sorted(os.listdir(d)) != ["sw.yaml"]:
            problems.append("refusals in time: created " + ", ".join(os.listdir(d)))
        # simulate --resume goes through the same check: a file whose stored config is oversized.
        path = incomplete_run(dynshare, d, "resume.h5")
        with h5py.File(path, "r+") as f:
            f.attrs["config"] = f.attrs["config"].replace("neurons: 10\n", "neurons: 2000000000\n")
        before = sha(path)
        refused("simulate --resume of an oversized run refused within 1 s",
                [dynshare, "simulate", "--resume", path, "--quiet"], "layer.neurons")
        if sha(path) != before or hidden_left(d):
            problems.append(f"--resume refusal: the file changed or left {hidden_left(d)}")


def case_signals(dynshare, problems, skipped, trainer):
    with workdir("signals") as d:
        # SIGTERM in the first milliseconds: before the executable's first constructor the default action
        # kills the process (status -15, i.e. 143 from a shell), which has then opened no file, so it leaves
        # nothing; from that constructor on, exit 130, with nothing written or a valid file.
        early_kills = []
        for delay in (0.0, 0.001, 0.002, 0.004, 0.008, 0.015, 0.03, 0.06, 0.15, 0.3, 0.6):
            sub = os.path.join(d, f"t{delay}")
            os.makedirs(sub)
            p = subprocess.Popen(sim(dynshare, os.path.join(sub, "t.h5"), "--set", "run.presentations=20000"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=120)
            left = os.listdir(sub)
            if code == -signal.SIGTERM:
                early_kills.append(delay)
                if left:
                    problems.append(f"SIGTERM after {delay} s killed dynshare, which left {left}")
            elif code != 130:
                problems.append(f"SIGTERM after {delay} s: exit {code}, not 130")
            elif left not in ([], ["t.h5"]):
                problems.append(f"SIGTERM after {delay} s: left {left}")
            elif left:
                with h5py.File(os.path.join(sub, "t.h5"), "r") as f:
                    if int(f.attrs["complete"]) != 0:
                        problems.append(f"SIGTERM after {delay} s: exit 130 but the file is complete")
            if delay >= 0.15 and code != 130:
                problems.append(f"SIGTERM after {delay} s: exit {code}, not 130 (handlers come before main)")
        print(f"signals: SIGTERM killed dynshare before its handlers at delays {early_kills} s (nothing left)")
        # SIGINT during a merge: exit 130, no .OUT.partial-PID left, OUT absent.
        sw = sweep_yaml(d, "set: {run.presentations: 20, layer.neurons: 10, layer.kernel: 3}\n"
                           "grid: {dynamics.alpha: [3, 4, 5, 6, 7, 8, 9, 10]}\ntrials: 60\n")
        run([dynshare, "sweep", sw, "-o", os.path.join(d, "s.h5"), "--quiet", "--backend", "cpu"], timeout=300)
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
        sleeper = write(os.path.join(d, "sleeper"), "#!/bin/sh\nexec sleep 1000\n")
        os.chmod(sleeper, 0o755)
        t0 = time.time()
        code, _, err = run([dynshare, "bench", "-o", os.path.join(d, "r.md"), "--kernels", "3", "--presentations", "20",
                            "--numpy-presentations", "2", "--repeats", "1", "--python", sleeper, "--numpy-timeout", "2"],
                           timeout=120)
        if code != 0 or time.time() - t0 > 60 or "numpy-timeout" not in open(os.path.join(d, "r.md")).read():
            problems.append(f"bench --python that never exits: exit {code} after {time.time() - t0:.0f} s: "
                            f"{str(err).strip()[:200]}")
        # A stale .OUT.partial-PID of a dead process is removed by the next merge.
        stale = write(os.path.join(d, ".m.h5.partial-999999999"), "left by a killed merge")
        run([dynshare, "merge", os.path.join(d, "m.h5"), os.path.join(d, "s.h5"), "--quiet"])
        if os.path.exists(stale):
            problems.append("a stale .m.h5.partial-PID was not removed by the next merge")


def wait_for(predicate, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def case_run_folders(dynshare, problems, skipped, trainer):
    if not trainer:
        skipped.append("run folders (no trainer)")
        return
    with workdir("runfolder") as d:
        cfg = tiny_config(d)
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
        # --overwrite stopped before the new run's first checkpoint: the old run whole, nothing mixed.
        ck = sha(os.path.join(rundir, "checkpoint.pt"))
        metrics = sha(os.path.join(rundir, "metrics.h5"))
        slow = tiny_config(d, "slow.yaml", SLOW)
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
        case_killed_overwrite(dynshare, d, cfg, rundir, problems)
        case_checkpoint_without_config(dynshare, d, cfg, problems, skipped)
        # Two trainers on one new folder: the second is refused in one line.
        long_cfg = tiny_config(d, "long.yaml", (("max_iterations: 1", "max_iterations: 0"), ("epochs: 1", "epochs: 200")))
        two = os.path.join(d, "two")
        first = subprocess.Popen([dynshare, "train", long_cfg, "-o", two], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(os.path.join(two, ".lock")), 15)
        expect_refusal("second trainer on one run folder", [dynshare, "train", long_cfg, "-o", two], "in use", problems,
                       timeout=300)
        first.terminate()
        first.wait(timeout=120)


def case_killed_overwrite(dynshare, d, cfg, rundir, problems):
    """kill -9 of train --overwrite before its first checkpoint leaves its staging folder .run.new-PID; the
    next trainer on the run folder, in any mode (here a plain start, refused), removes it (and says so), and
    the old run is whole. A
    staging folder whose pid is alive again (reused) but whose lock is free is removed too."""
    ck, metrics = sha(os.path.join(rundir, "checkpoint.pt")), sha(os.path.join(rundir, "metrics.h5"))
    p = subprocess.Popen([dynshare, "train", tiny_config(d, "slow.yaml", SLOW), "-o", rundir, "--overwrite"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = os.path.join(d, f".run.new-{p.pid}")
    seen = wait_for(lambda: os.path.isdir(staging), 30)
    time.sleep(0.5)
    p.kill()
    p.wait()
    if not seen or not os.path.isdir(staging):
        problems.append(f"kill -9 of --overwrite: no staging folder {os.path.basename(staging)} to clean up "
                        f"(the test cannot check the cleanup): {os.listdir(d)}")
        return
    if sha(os.path.join(rundir, "checkpoint.pt")) != ck or sha(os.path.join(rundir, "metrics.h5")) != metrics:
        problems.append("kill -9 of --overwrite before its first checkpoint: the old run changed")
    # A reused pid: pid 1 is alive, but this folder's lock is held by no one.
    reused = os.path.join(d, ".run.new-1")
    os.makedirs(reused)
    write(os.path.join(reused, ".lock"), "")
    # Not --overwrite: even a plain start, refused since the folder holds a run, cleans up.
    code, _, err = run([dynshare, "train", cfg, "-o", rundir], timeout=300)
    left = [n for n in os.listdir(d) if n.startswith(".run.")]
    if code != 2 or "already holds a run" not in err or left:
        problems.append(f"kill -9 of --overwrite: the next train exit {code}, left {left}: {err.strip()[-300:]}")
    elif "removed" not in err or os.path.basename(staging) not in err:
        problems.append(f"kill -9 of --overwrite: the cleanup is not reported: {err.strip()[:300]}")
    if sha(os.path.join(rundir, "checkpoint.pt")) != ck or sha(os.path.join(rundir, "metrics.h5")) != metrics:
        problems.append("kill -9 of --overwrite, then the cleanup: the old run changed")


def case_checkpoint_without_config(dynshare, d, cfg, problems, skipped):
    """A checkpoint written before checkpoints stored their config (its `config` empty, as the loader reads
    an absent one): --resume checks the config against metrics.h5's instead, and with no metrics.h5 resumes
    with one warning line naming what was not checked."""
    try:
        import torch
    except ImportError:
        skipped.append("checkpoint without a config (needs Python's torch to edit the checkpoint)")
        return
    rundir = os.path.join(d, "old")
    run([dynshare, "train", cfg, "-o", rundir, "--set", "train.max_iterations=0", "--set", "train.epochs=1",
         "--set", "train.checkpoint_every=1"], timeout=300)
    ckpt = os.path.join(rundir, "checkpoint.pt")
    m = torch.jit.load(ckpt)
    m._c.setattr("config", "")
    m.save(ckpt)
    more = ["--set", "train.max_iterations=0", "--set", "train.epochs=2"]
    expect_refusal("resume an old checkpoint (no config) with another train.lr: checked against metrics.h5",
                   [dynshare, "train", cfg, "-o", rundir, "--resume", *more, "--set", "train.lr=0.5"], "train.lr",
                   problems, timeout=300)
    os.remove(os.path.join(rundir, "metrics.h5"))
    code, _, err = run([dynshare, "train", cfg, "-o", rundir, "--resume", *more], timeout=300)
    warn = [l for l in one_line(err) if "warning" in l]
    if code != 0 or len(warn) != 1 or "stores no config" not in warn[0]:
        problems.append(f"resume an old checkpoint with no config and no metrics.h5: exit {code}, "
                        f"not one warning: {err.strip()[:300]}")


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
    with workdir("data") as d:
        for name, train_labels, test_size in (("labels outside the classes", [3, 12] * 32, 28),
                                              ("test images of another size", [1, 2] * 32, 20)):
            data = os.path.join(d, name.replace(" ", "_"))
            os.makedirs(data)
            write_idx(data, "train", 64, 28, train_labels)
            write_idx(data, "t10k", 32, test_size, [0, 1] * 16)
            cfg = tiny_config(d, replace=(("/usr/share/datasets/fashion-mnist", data),))
            rundir = os.path.join(d, "run_" + name.replace(" ", "_"))
            expect_refusal(f"data: {name}", [dynshare, "train", cfg, "-o", rundir], data, problems, timeout=300)
            if os.path.exists(rundir):
                problems.append(f"data: {name}: left the run folder {os.listdir(rundir)}")


def case_lone_rank(dynshare, problems, skipped, trainer):
    """Rank 0 of a 2-rank job started alone: one line, exit 2, after about one timeout."""
    if not trainer:
        skipped.append("lone rank (no trainer)")
        return
    with workdir("rank") as d:
        cfg = tiny_config(d)
        env = dict(os.environ, WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 400), DYNSHARE_DIST_TIMEOUT="4")
        t0 = time.time()
        expect_refusal("lone rank 0 of a 2-rank job", [dynshare, "train", cfg, "-o", os.path.join(d, "run")], "joined",
                       problems, timeout=120, env=env)
        # Alone it took (startup + one 4 s timeout); the process group's own
        # second wait would add another 4 s.
        print(f"lone rank 0: refused after {time.time() - t0:.1f} s (DYNSHARE_DIST_TIMEOUT=4)")


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
