#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Table-driven bad-input suite for every command (issue 12).

Each case runs one command line against a fresh copy of a folder that holds
existing outputs, and asserts:
  - exit status 2;
  - stderr is one line that names the key, option or file (a substring);
  - no file or folder was created (hidden partial files included);
  - every existing file is byte-for-byte unchanged (SHA-256 before and after).

    /usr/bin/python3 tests/bad_input.py BUILD/dynshare [--list] [-k NAME]

Runs with any dynshare binary, so the same table measures an older build
(`... bad_input.py OLD/dynshare` prints how many cases held there). Exit
status 0 when every case holds. Cases for `dynshare train` are skipped when
the binary has no trainer (it then says so in one line).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXP = os.path.join(ROOT, "experiments")
STACK = os.path.join(ROOT, "tests", "data", "fingerprints", "stack_small.yaml")

# (name, argv after the binary, substring stderr must contain). "{d}" is the
# case's folder, which holds: run.h5 (a complete simulate output), sweep.h5
# (a finished 2-run sweep from sweep.yaml), other.yaml (another sweep),
# report.md, a folder sub/, an empty file empty.yaml, bad.yaml (not YAML),
# a trainer run folder run/ with metrics.h5, and tiny.yaml (a quick training).
CASES = [
    # --- simulate ---------------------------------------------------------------
    ("sim unknown option", "simulate --bogus -o {d}/n.h5", "--bogus"),
    ("sim unknown key", "simulate --set layer.foo=1 -o {d}/n.h5", "foo"),
    ("sim negative tau", "simulate --set dynamics.tau=-1 -o {d}/n.h5", "dynamics.tau"),
    ("sim precision fp16", "simulate --set run.precision=fp16 -o {d}/n.h5", "run.precision"),
    ("sim kernel too large for memory", "simulate --set layer.kernel=100000 -o {d}/n.h5", "layer.kernel"),
    ("sim kernel too large, overwrite", "simulate --set layer.kernel=100000 -o {d}/run.h5 --overwrite", "layer.kernel"),
    ("sim alpha nan", "simulate --set dynamics.alpha=.nan -o {d}/n.h5", "dynamics.alpha"),
    ("sim presentations 1e20", "simulate --set run.presentations=1e20 -o {d}/n.h5", "run.presentations"),
    ("sim threads -1", "simulate --threads -1 -o {d}/n.h5", "--threads"),
    ("sim threads 0", "simulate --threads 0 -o {d}/n.h5", "--threads"),
    ("sim threads 100000", "simulate --threads 100000 -o {d}/n.h5", "--threads"),
    ("sim threads abc", "simulate --threads abc -o {d}/n.h5", "--threads"),
    ("sim missing config", "simulate {d}/missing.yaml -o {d}/n.h5", "missing.yaml"),
    ("sim config is a folder", "simulate {d}/sub -o {d}/n.h5", "sub"),
    ("sim config not yaml", "simulate {d}/bad.yaml -o {d}/n.h5", "bad.yaml"),
    ("sim output exists", "simulate --set run.presentations=2 -o {d}/run.h5", "run.h5"),
    ("sim output folder missing", "simulate --set run.presentations=2 -o {d}/nodir/n.h5", "nodir"),
    ("sim output is a folder", "simulate --set run.presentations=2 -o {d}/sub", "sub"),
    ("sim backend gpu", "simulate --backend gpu -o {d}/n.h5", "--backend"),
    ("sim backend cuda, overwrite", "simulate " + STACK + " --backend cuda -o {d}/run.h5 --overwrite", "--backend cuda"),
    ("sim weights without stack", "simulate --weights {d}/run.h5 -o {d}/n.h5", "--weights"),
    ("sim weights file missing", "simulate " + STACK + " --weights {d}/nope.h5 -o {d}/n.h5", "nope.h5"),
    ("sim block kernel form unknown (environment)",
     "DYNSHARE_BLOCK_KERNEL=sse9 simulate --set dynamics.block=4 -o {d}/run.h5 --overwrite", "DYNSHARE_BLOCK_KERNEL=sse9"),
    ("sim resume missing", "simulate --resume {d}/nope.h5", "nope.h5"),
    ("sim resume a sweep file", "simulate --resume {d}/sweep.h5", "sweep.h5"),
    ("sim resume complete", "simulate --resume {d}/run.h5", "complete"),
    ("sim resume with -o", "simulate --resume {d}/run.h5 -o {d}/n.h5", "--resume"),
    ("sim two configs", "simulate " + EXP + "/fig4a.yaml " + EXP + "/fig4b.yaml -o {d}/n.h5", "CONFIG"),
    ("sim seed abc", "simulate --seed abc -o {d}/n.h5", "run.seed"),
    ("sim stack stride", "simulate {d}/stackbad.yaml -o {d}/n.h5", "stack.layers[1]"),
    # --- sweep -------------------------------------------------------------------
    ("sweep no -o", "sweep {d}/sweep.yaml", "-o"),
    ("sweep missing file", "sweep {d}/nope.yaml -o {d}/n.h5", "nope.yaml"),
    ("sweep unknown key", "sweep {d}/badkey.yaml -o {d}/n.h5", "unknown key"),
    ("sweep set on swept key", "sweep {d}/sweep.yaml -o {d}/n.h5 --set dynamics.alpha=5", "dynamics.alpha"),
    ("sweep shard 3/2", "sweep {d}/sweep.yaml -o {d}/n.h5 --shard 3/2", "--shard"),
    ("sweep threads 0", "sweep {d}/sweep.yaml -o {d}/n.h5 --threads 0", "--threads"),
    ("sweep threads 100000", "sweep {d}/sweep.yaml -o {d}/n.h5 --threads 100000", "--threads"),
    ("sweep output exists", "sweep {d}/sweep.yaml -o {d}/sweep.h5", "sweep.h5"),
    ("sweep output folder missing", "sweep {d}/sweep.yaml -o {d}/nodir/n.h5", "nodir"),
    ("sweep resume and overwrite", "sweep {d}/sweep.yaml -o {d}/sweep.h5 --resume --overwrite", "--resume"),
    ("sweep resume missing", "sweep {d}/sweep.yaml -o {d}/nope.h5 --resume", "nope.h5"),
    ("sweep resume other sweep", "sweep {d}/other.yaml -o {d}/sweep.h5 --resume", "sweep.h5"),
    ("sweep backend cuda", "sweep {d}/sweep.yaml -o {d}/n.h5 --backend cuda", "--backend cuda"),
    ("sweep stacked config, bad drive", "sweep {d}/stacksweep.yaml -o {d}/n.h5", "stack.drive"),
    # --- merge -------------------------------------------------------------------
    ("merge only output", "merge {d}/n.h5", "merge"),
    ("merge output exists", "merge {d}/run.h5 {d}/sweep.h5", "run.h5"),
    ("merge input missing", "merge {d}/n.h5 {d}/nope.h5", "nope.h5"),
    ("merge input not a sweep", "merge {d}/n.h5 {d}/run.h5", "run.h5"),
    ("merge input is output", "merge {d}/sweep.h5 {d}/sweep.h5 --overwrite", "sweep.h5"),
    ("merge output folder missing", "merge {d}/nodir/n.h5 {d}/sweep.h5", "nodir"),
    # --- bench -------------------------------------------------------------------
    ("bench report exists", "bench -o {d}/report.md --kernels 3 --presentations 2", "report.md"),
    ("bench report folder missing", "bench -o {d}/nodir/r.md --kernels 3 --presentations 2", "nodir"),
    ("bench kernels 0", "bench -o {d}/r.md --kernels 0", "--kernels"),
    ("bench repeats 0", "bench -o {d}/r.md --repeats 0", "--repeats"),
    ("bench presentations -5", "bench -o {d}/r.md --presentations -5", "--presentations"),
    ("bench numpy missing", "bench -o {d}/r.md --numpy {d}/nope.py", "nope.py"),
    ("bench unknown option", "bench --bogus", "--bogus"),
    ("bench --sleep block 0", "bench --sleep -o {d}/r.md --block 20,0", "--block"),
    ("bench --sleep repeats 0", "bench --sleep -o {d}/r.md --repeats 0", "--repeats"),
    ("bench --sleep report exists", "bench --sleep -o {d}/report.md --presentations 2", "report.md"),
    # --- train -------------------------------------------------------------------
    ("train missing config", "train {d}/nope.yaml -o {d}/newrun", "nope.yaml"),
    ("train config is a folder", "train {d}/sub -o {d}/newrun", "sub"),
    ("train empty config", "train {d}/empty.yaml -o {d}/newrun", "empty.yaml"),
    ("train unknown key", "train {d}/tiny.yaml -o {d}/newrun --set train.foo=1", "foo"),
    ("train run exists", "train {d}/tiny.yaml -o {d}/run", "run"),
    ("train resume and overwrite", "train {d}/tiny.yaml -o {d}/run --resume --overwrite", "--resume"),
    ("train data missing", "train {d}/tiny.yaml -o {d}/newrun --set data.path={d}/nodata", "nodata"),
    ("train no -o", "train {d}/tiny.yaml", "-o"),
    ("train init", "train {d}/tiny.yaml -o {d}/newrun --set network.init=he", "network.init"),
    ("train sharing counter", "train {d}/tiny.yaml -o {d}/newrun --set sharing.counter=daily", "sharing.counter"),
    ("train sharing modules", "train {d}/tiny.yaml -o {d}/newrun --set sharing.modules=all", "sharing.modules"),
    ("train sharing gradient", "train {d}/tiny.yaml -o {d}/newrun --set sharing.gradient=sum", "sharing.gradient"),
    ("train bn_update", "train {d}/tiny.yaml -o {d}/newrun --set train.bn_update=always", "train.bn_update"),
    ("train bn_update_batches", "train {d}/tiny.yaml -o {d}/newrun --set train.bn_update_batches=0",
     "train.bn_update_batches"),
    ("train repetition_batch", "train {d}/tiny.yaml -o {d}/newrun --set data.repetition_batch=double",
     "data.repetition_batch"),
    ("train full modules, hebbian, padded layer",
     "train {d}/tiny.yaml -o {d}/newrun --set sharing.modules=full --set sharing.mode=hebbian", "layer0"),
    ("train needs more memory than the machine has",
     "train {d}/tiny.yaml -o {d}/newrun --set network.width=4096 --set network.depth=3", "network.width = 4096"),
    ("train sleep precision", "train {d}/tiny.yaml -o {d}/newrun --set sleep.precision=fp16", "sleep.precision"),
    # --- issue 28: outputs, inputs, identity, silent surprises ---------------------
    ("sim output is its own config", "simulate {d}/cfg.yaml -o {d}/cfg.yaml --overwrite", "cfg.yaml"),
    ("sim output is the weights file", "simulate " + STACK + " --weights {d}/run.h5 -o {d}/run.h5 --overwrite", "run.h5"),
    ("sweep output is its sweep file", "sweep {d}/sweep.yaml -o {d}/sweep.yaml --overwrite", "sweep.yaml"),
    ("sweep output is its base config", "sweep {d}/cfgsweep.yaml -o {d}/cfg.yaml --overwrite", "cfg.yaml"),
    ("sim output name too long (hidden sibling over NAME_MAX)", "simulate -o {d}/" + "y" * 240 + ".h5", "too long"),
    ("sim empty config", "simulate {d}/empty.yaml -o {d}/n.h5", "empty.yaml"),
    ("sim comment-only config", "simulate {d}/comment.yaml -o {d}/n.h5", "comment.yaml"),
    ("sim two YAML documents", "simulate {d}/twodocs.yaml -o {d}/n.h5", "twodocs.yaml"),
    ("sim list-shaped config", "simulate {d}/list.yaml -o {d}/n.h5", "list.yaml"),
    ("sweep empty base config", "sweep {d}/emptybase.yaml -o {d}/n.h5", "empty.yaml"),
    ("sweep list-shaped sweep file", "sweep {d}/list.yaml -o {d}/n.h5", "list.yaml"),
    ("sweep SLURM task id without count", "SLURM_ARRAY_TASK_ID=1 sweep {d}/sweep.yaml -o {d}/n.h5",
     "SLURM_ARRAY_TASK_COUNT"),
    ("sweep resume with another shard", "sweep {d}/sweep.yaml -o {d}/sweep.h5 --resume --shard 1/2", "shard 0/1"),
    ("sim resume, complete of the wrong type", "simulate --resume {d}/badcomplete.h5", "complete"),
    ("sim resume, presentation past the run", "simulate --resume {d}/farck.h5", "presentation"),
    ("sim resume, negative presentation", "simulate --resume {d}/negck.h5", "presentation"),
    ("merge input is a folder", "merge {d}/n.h5 {d}/sub", "sub"),
    ("merge run without /snr", "merge {d}/n.h5 {d}/nosnr.h5", "snr"),
    ("sim 2e9 neurons (refused before anything is sized)", "simulate --set layer.neurons=2000000000 -o {d}/n.h5",
     "layer.neurons"),
    ("train two YAML documents", "train {d}/twodocs.yaml -o {d}/newrun", "twodocs.yaml"),
    ("train resume with another lr", "train {d}/tiny.yaml -o {d}/done --resume --set train.lr=0.5", "train.lr"),
    ("train resume with another seed", "train {d}/tiny.yaml -o {d}/done --resume --set train.seed=5", "train.seed"),
    ("train LC kernel form unknown (environment)", "DYNSHARE_LC_KERNEL=sse9 train {d}/tiny.yaml -o {d}/newrun",
     "DYNSHARE_LC_KERNEL=sse9"),
]

SWEEP = "base: " + EXP + "/fig4b.yaml\nset: {run.presentations: 2, layer.neurons: 10, layer.kernel: 3}\n" \
        "grid: {dynamics.alpha: [3, 10]}\n"
OTHER = SWEEP.replace("[3, 10]", "[3, 30]")
TINY = """network: {arch: small, connectivity: lc, width: 4, depth: 1}
data: {dataset: fashion_mnist, path: /usr/share/datasets/fashion-mnist, limit_train: 64, limit_test: 32, validation: 0}
train: {epochs: 1, batch_size: 32, max_iterations: 1, threads: 1}
"""


def split_env(line):
    """Leading NAME=value words of a case are environment variables."""
    words, env = line.split(), dict(os.environ)
    while words and "=" in words[0] and words[0].split("=")[0].isupper():
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return words, env


def run(argv, timeout=60, env=None):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True, env=env)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return f"timeout after {timeout} s", "", err
    return p.returncode, p.stdout, p.stderr


def snapshot(folder):
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            state[os.path.relpath(os.path.join(dirpath, name), folder) + "/"] = "dir"
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                state[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return state


def make_fixture(dynshare, folder):
    os.makedirs(os.path.join(folder, "sub"))
    open(os.path.join(folder, "empty.yaml"), "w").close()
    with open(os.path.join(folder, "bad.yaml"), "w") as f:
        f.write("layer: [unclosed\n")
    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write("# an earlier report\n")
    with open(os.path.join(folder, "sweep.yaml"), "w") as f:
        f.write(SWEEP)
    with open(os.path.join(folder, "other.yaml"), "w") as f:
        f.write(OTHER)
    with open(os.path.join(folder, "badkey.yaml"), "w") as f:
        f.write(SWEEP + "colour: red\n")
    with open(os.path.join(folder, "stacksweep.yaml"), "w") as f:
        f.write("base: " + STACK + "\nset: {run.presentations: 1}\ngrid: {stack.drive: [0.5, -1]}\n")
    with open(os.path.join(folder, "stackbad.yaml"), "w") as f:  # grid k = 3 then k = 2: modules cannot match
        f.write("stack:\n  input: {channels: 1, height: 8, width: 8}\n  layers:\n"
                "    - {channels: 2, kernel: 3, stride: 1, padding: 1}\n"
                "    - {channels: 2, kernel: 2, stride: 1, padding: 0}\n")
    with open(os.path.join(folder, "tiny.yaml"), "w") as f:
        f.write(TINY)
    code, _, err = run([dynshare, "simulate", "--set", "run.presentations=3", "--set", "layer.neurons=10",
                        "--quiet", "--backend", "cpu", "-o", os.path.join(folder, "run.h5")])
    if code != 0:
        sys.exit("bad_input: fixture run.h5 failed: " + err)
    code, _, err = run([dynshare, "sweep", os.path.join(folder, "sweep.yaml"), "-o", os.path.join(folder, "sweep.h5"),
                        "--quiet", "--backend", "cpu"])
    if code != 0:
        sys.exit("bad_input: fixture sweep.h5 failed: " + err)
    import h5py
    texts = {"cfg.yaml": "run: {presentations: 2}\nlayer: {neurons: 10}\n", "comment.yaml": "# only a comment\n",
             "twodocs.yaml": "run: {presentations: 2}\n---\nrun: {presentations: 3}\n", "list.yaml": "- 1\n- 2\n",
             "emptybase.yaml": "base: empty.yaml\ngrid: {dynamics.alpha: [3, 10]}\n",
             "cfgsweep.yaml": "base: cfg.yaml\ngrid: {dynamics.alpha: [3, 10]}\n"}
    for name, text in texts.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    for name, edit in (("badcomplete.h5", lambda f: f.attrs.__setitem__("complete", "no")),
                       ("farck.h5", lambda f: f["checkpoint"].attrs.__setitem__("presentation", 10 ** 6)),
                       ("negck.h5", lambda f: f["checkpoint"].attrs.__setitem__("presentation", -3))):
        shutil.copy(os.path.join(folder, "run.h5"), os.path.join(folder, name))
        with h5py.File(os.path.join(folder, name), "r+") as f:
            f.attrs["complete"] = 0
            edit(f)
    shutil.copy(os.path.join(folder, "sweep.h5"), os.path.join(folder, "nosnr.h5"))
    with h5py.File(os.path.join(folder, "nosnr.h5"), "r+") as f:
        del f["runs/0/snr"]
    if has_trainer(dynshare):
        code, _, err = run([dynshare, "train", os.path.join(folder, "tiny.yaml"), "-o", os.path.join(folder, "done")],
                           timeout=300)
        if code != 0:
            sys.exit("bad_input: fixture run folder done/ failed: " + err)
    os.makedirs(os.path.join(folder, "run"))
    with open(os.path.join(folder, "run", "metrics.h5"), "wb") as f:
        f.write(b"stands for an earlier training run\n")


def has_trainer(dynshare):
    code, out, err = run([dynshare, "train", "--help"])
    return code == 0


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    dynshare = os.path.abspath(args[0])
    only = args[args.index("-k") + 1] if "-k" in args else None
    if "--list" in args:
        for name, argv, want in CASES:
            print(f"{name}: dynshare {argv}  [{want}]")
        return 0
    trainer = has_trainer(dynshare)
    base = tempfile.mkdtemp(prefix="dynshare_bad_input_")
    try:
        fixture = os.path.join(base, "fixture")
        make_fixture(dynshare, fixture)
        before = snapshot(fixture)
        held, failed, skipped = 0, [], 0
        for i, (name, argv, want) in enumerate(CASES):
            if only and only not in name:
                continue
            if split_env(argv)[0][0] == "train" and not trainer:
                skipped += 1
                continue
            d = os.path.join(base, f"case{i}")
            shutil.copytree(fixture, d)
            line = argv.replace("{d}", d)
            words, env = split_env(line)
            code, out, err = run([dynshare] + words, env=env)
            after = snapshot(d)
            problems = []
            if code != 2:
                problems.append(f"exit {code}, not 2")
            lines = [l for l in err.splitlines() if l.strip()]
            if len(lines) != 1:
                problems.append(f"{len(lines)} lines on stderr, not 1")
            if want not in err:
                problems.append(f"stderr does not name '{want}'")
            new = sorted(set(after) - set(before))
            gone = sorted(set(before) - set(after))
            changed = sorted(k for k in before if k in after and before[k] != after[k])
            if new:
                problems.append("created " + ", ".join(new))
            if gone:
                problems.append("removed " + ", ".join(gone))
            if changed:
                problems.append("changed " + ", ".join(changed))
            if problems:
                failed.append((name, line, problems, err.strip()[:300]))
            else:
                held += 1
            shutil.rmtree(d, ignore_errors=True)
        for name, line, problems, err in failed:
            print(f"FAIL {name}: dynshare {line}\n     {'; '.join(problems)}\n     stderr: {err}")
        total = held + len(failed)
        print(f"bad_input: {held} of {total} cases held" + (f" ({skipped} train cases skipped: no trainer)" if skipped else ""))
        print(f"{held} passed, {len(failed)} failed" + (f", {skipped} skipped" if skipped else ""))
        return 0 if not failed else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
