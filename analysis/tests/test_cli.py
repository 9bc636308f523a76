# SPDX-License-Identifier: BSD-3-Clause
"""Bad input: one line on stderr, `<script>: error: <file>: <why>`, exit status 2,
no traceback and no output file; and the scripts run from any directory."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import h5fixtures as fx
from dynshare_analysis import fig4, module_means, sweep, table1, training

ANALYSIS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAINS = {"fig4.py": fig4.main, "sweep.py": sweep.main, "training.py": training.main,
         "table1.py": table1.main, "module_means.py": module_means.main}


@pytest.fixture
def files(tmp_path):
    text = tmp_path / "text.h5"
    text.write_text("not hdf5\n")
    other = str(tmp_path / "other.h5")
    with h5py.File(other, "w") as f:
        f["data"] = np.arange(3)
    return {
        "missing": str(tmp_path / "missing.h5"),
        "text": str(text),
        "other": other,
        "run": fx.write_run_file(str(tmp_path / "run.h5")),
        "metrics": fx.write_metrics(str(tmp_path / "train_run"), top1=[0.5]),
        "out": str(tmp_path / "out.png"),
    }


def argv(script, path, out):
    return {"fig4.py": [path, "-o", out], "sweep.py": [path, "-o", out, "--x", "dynamics.alpha"],
            "training.py": [path, "-o", out], "table1.py": [path], "module_means.py": [path]}[script]


SIM_WANTED = "dynshare simulate or sweep output"
TRAIN_WANTED = "trainer runs (RUN_DIR/metrics.h5 of dynshare train)"
WRONG_KIND = {   # script -> (file of the wrong kind, its description, what the script reads)
    "fig4.py": ("metrics", "a trainer metrics file (dynshare train)", SIM_WANTED),
    "sweep.py": ("metrics", "a trainer metrics file (dynshare train)", SIM_WANTED),
    "training.py": ("run", "a single-run file (dynshare simulate)", TRAIN_WANTED),
    "table1.py": ("run", "a single-run file (dynshare simulate)", TRAIN_WANTED),
    "module_means.py": ("run", "a single-run file (dynshare simulate)",
                        "stacked-layer runs (dynshare simulate with a stack section)"),
}


def expected_line(script, case, files):
    path = files[case]
    why = {"missing": "no such file", "text": "not an HDF5 file",
           "other": "not a dynshare output file (no /snr, /runs or /epochs)"}.get(case)
    if why is None:
        _, what, wanted = WRONG_KIND[script]
        why = f"{what}, but this script reads {wanted}"
    return f"{script}: error: {path}: {why}"


@pytest.mark.parametrize("script", sorted(MAINS))
@pytest.mark.parametrize("case", ["missing", "text", "other", "wrong_kind"])
def test_bad_input_is_one_line_and_status_2(script, case, files, capsys):
    if case == "wrong_kind":
        case = WRONG_KIND[script][0]
    rc = MAINS[script](argv(script, files[case], files["out"]))
    cap = capsys.readouterr()
    assert rc == 2
    assert cap.err == expected_line(script, case, files) + "\n"
    assert cap.out == ""
    assert not os.path.exists(files["out"])


def test_training_run_directory_without_metrics(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert training.main([str(tmp_path / "r"), "-o", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err == (f"training.py: error: {tmp_path / 'r'}: no metrics.h5 in this directory "
                                       "(no epoch finished yet, or not a dynshare train run directory)\n")


def test_fig4_unwritable_output(tmp_path, capsys):
    run = fx.write_run_file(str(tmp_path / "run.h5"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = str(blocker / "x.png")     # a directory that cannot be created
    assert fig4.main([run, "-o", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fig4.py: error: {out}: cannot write (") and err.count("\n") == 1


def run_script(script, args, cwd):
    return subprocess.run([sys.executable, os.path.join(ANALYSIS, script)] + args, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", sorted(MAINS))
def test_scripts_from_another_directory_give_one_line(script, files, tmp_path):
    """As a user runs them (/usr/bin/python3 analysis/X.py ...), from outside the repository."""
    case = WRONG_KIND[script][0]
    p = run_script(script, argv(script, files[case], files["out"]), cwd=str(tmp_path))
    assert p.returncode == 2
    assert p.stderr == expected_line(script, case, files) + "\n"
    assert "Traceback" not in p.stderr


def test_fig4_script_from_the_repository_root_and_elsewhere(tmp_path):
    run = fx.write_run_file(str(tmp_path / "default.h5"))
    repo = os.path.dirname(ANALYSIS)
    for cwd, out in ((repo, str(tmp_path / "a.png")), (str(tmp_path), "b.png")):
        p = subprocess.run([sys.executable, "analysis/fig4.py" if cwd == repo else os.path.join(ANALYSIS, "fig4.py"),
                            run, "-o", out], cwd=cwd, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert p.stdout == f"wrote {out} (1 run)\n"
        assert open(os.path.join(cwd, out), "rb").read(4) == b"\x89PNG"


def test_help_names_the_script():
    p = run_script("sweep.py", ["--help"], cwd=ANALYSIS)
    assert p.returncode == 0 and p.stdout.startswith("usage: sweep.py ")
