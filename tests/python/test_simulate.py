# SPDX-License-Identifier: BSD-3-Clause
"""dynshare.simulate against the CLI: the same config in three forms, the
same file bit for bit, the CLI's error messages, Ctrl-C, no half-written file."""
import glob
import os
import signal
import subprocess
import threading
import time

import h5py
import numpy as np
import pytest

import dynshare
from conftest import SMALL, STACK_YAML
from h5compare import differences

SMALL_YAML = "run:\n  presentations: 40\nlayer:\n  neurons: 20\n  kernel: 3\n"
SMALL_DICT = {"run": {"presentations": 40}, "layer": {"neurons": 20, "kernel": 3}}


def test_dict_yaml_string_and_path_give_the_same_run(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SMALL_YAML)
    runs = [dynshare.simulate(SMALL_DICT, seed=3), dynshare.simulate(SMALL_YAML, seed=3),
            dynshare.simulate(str(p), seed=3), dynshare.simulate(p, seed=3),
            dynshare.simulate(set=SMALL, seed=3)]
    for r in runs[1:]:
        assert r.config == runs[0].config
        assert r.neg_log_snr.tobytes() == runs[0].neg_log_snr.tobytes()
        assert r.weights_final.tobytes() == runs[0].weights_final.tobytes()
    other = dynshare.simulate(SMALL_DICT, seed=4)
    assert other.weights_final.tobytes() != runs[0].weights_final.tobytes()


def test_run_equals_the_cli_file_bit_for_bit(tmp_path, cli):
    sets = [f"--set={k}={v}" for k, v in SMALL.items()]
    subprocess.run([cli, "simulate", "-o", str(tmp_path / "cli.h5"), "--seed", "7", "--quiet"] + sets, check=True)
    run = dynshare.simulate(set=SMALL, seed=7, out=tmp_path / "py.h5", threads=2)
    assert differences(tmp_path / "cli.h5", tmp_path / "py.h5") == []
    with h5py.File(tmp_path / "cli.h5", "r") as f:
        assert run.neg_log_snr.tobytes() == f["snr/neg_log_snr"][()].tobytes()
        assert run.weights_final.tobytes() == f["weights/final"][()].tobytes()
        assert run.weights_initial.tobytes() == f["weights/initial"][()].tobytes()
        assert np.array_equal(run.step, f["snr/step"][()])
        assert run.config_yaml == f.attrs["config"]
    spp = run.config["input"]["presentation"] / run.config["dynamics"]["dt"]
    assert np.allclose(run.presentation, run.step / round(spp))
    assert run.presentation[-1] == 40
    assert run.status == "complete" and run.complete and run.path == str(tmp_path / "py.h5")


def test_stacked_run_equals_the_cli_file(tmp_path, cli):
    sets = ["--set=run.presentations=6", "--set=run.record_every=300"]
    subprocess.run([cli, "simulate", STACK_YAML, "-o", str(tmp_path / "cli.h5"), "--quiet"] + sets, check=True)
    run = dynshare.simulate(STACK_YAML, set={"run.presentations": 6, "run.record_every": 300},
                            out=str(tmp_path / "py.h5"))
    assert differences(tmp_path / "cli.h5", tmp_path / "py.h5") == []
    assert run.kind == "stack" and run.neg_log_snr.shape[0] == 3
    assert len(run.weights_final) == 3 and run.weights_final[0].shape == (4, 32, 32, 27)
    ds = run.to_xarray()
    assert ds["neg_log_snr"].dims == ("layer", "presentation")


def test_to_xarray(tmp_path):
    run = dynshare.simulate(set=SMALL)
    ds = run.to_xarray()
    assert ds["neg_log_snr"].dims == ("presentation",)
    assert np.array_equal(ds["neg_log_snr"].values, run.neg_log_snr)
    assert ds.attrs["layer.kernel"] == 3 and ds.attrs["dynamics.alpha"] == 10.0


def test_threads_do_not_change_the_bits():
    a = dynshare.simulate(set={**SMALL, "dynamics.integrator": "exponential"}, threads=1)
    b = dynshare.simulate(set={**SMALL, "dynamics.integrator": "exponential"}, threads=2)
    assert a.weights_final.tobytes() == b.weights_final.tobytes()


def cli_error(cli, args, tmp_path):
    p = subprocess.run([cli, "simulate", "-o", str(tmp_path / "cli_err.h5")] + args, capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    prefix = "dynshare simulate: error: "
    assert line.startswith(prefix) and "\n" not in line
    return line[len(prefix):]


# A representative sample of tests/bad_input.py's simulate cases: the
# Python call, the CLI arguments, and the substring both must name.
BAD = [
    ("unknown key", dict(set={"layer.foo": 1}), ["--set", "layer.foo=1"], "foo"),
    ("negative tau", dict(set={"dynamics.tau": -1}), ["--set", "dynamics.tau=-1"], "dynamics.tau"),
    ("precision fp16", dict(set={"run.precision": "fp16"}), ["--set", "run.precision=fp16"], "run.precision"),
    # The memory bound counts each thread's block scratch: both sides on 2 threads, since
    # OpenMP's default in this process may have been changed (importing torch does).
    ("kernel too large for memory", dict(set={"layer.kernel": 100000}, threads=2),
     ["--set", "layer.kernel=100000", "--threads", "2"], "layer.kernel"),
    ("alpha nan", dict(set={"dynamics.alpha": float("nan")}), ["--set", "dynamics.alpha=.nan"], "dynamics.alpha"),
    ("presentations 1e20", dict(set=["run.presentations=1e20"]), ["--set", "run.presentations=1e20"],
     "run.presentations"),
    ("missing config", dict(config="{d}/missing.yaml"), ["{d}/missing.yaml"], "missing.yaml"),
    ("config not yaml", dict(config="{d}/bad.yaml"), ["{d}/bad.yaml"], "bad.yaml"),
    ("backend gpu", dict(backend="gpu"), ["--backend", "gpu"], "gpu"),
    ("stack stride", dict(config="{d}/stackbad.yaml"), ["{d}/stackbad.yaml"], "stack.layers[1]"),
    # Sized from the config before the plan's tables (a 4 x 10^10-entry cell -> module map): src/cli/memory_first.hpp
    ("stack module period too large for memory", dict(config="{d}/stackbig.yaml"), ["{d}/stackbig.yaml"],
     "stack.layers[0]"),
    ("yaml string unknown section", dict(config="dynamcs:\n  alpha: 3\n"), None, "dynamcs"),
]


@pytest.mark.parametrize("name,kwargs,args,needle", BAD, ids=[b[0] for b in BAD])
def test_config_errors_carry_the_cli_message(name, kwargs, args, needle, tmp_path, cli, capfd):
    (tmp_path / "bad.yaml").write_text("dynamics: [1, 2\n")
    (tmp_path / "stackbad.yaml").write_text(  # grid k = 3 then k = 2: modules cannot match (bad_input.py)
        "stack:\n  input: {channels: 1, height: 8, width: 8}\n  layers:\n"
        "    - {channels: 2, kernel: 3, stride: 1, padding: 1}\n"
        "    - {channels: 2, kernel: 2, stride: 1, padding: 0}\n")
    (tmp_path / "stackbig.yaml").write_text(
        "stack:\n  input: {channels: 3, height: 32, width: 32}\n  connectivity: period:100000\n  layers:\n"
        "    - {channels: 4, kernel: 3, stride: 1, padding: 1}\n")
    kw = {k: (v.format(d=tmp_path) if isinstance(v, str) else v) for k, v in kwargs.items()}
    out = tmp_path / "py_err.h5"
    capfd.readouterr()
    with pytest.raises(dynshare.ConfigError) as e:
        dynshare.simulate(**kw, out=out)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg
    if args is not None:
        expected = cli_error(cli, [a.format(d=tmp_path) for a in args], tmp_path)
        assert msg == expected
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == "", "something was printed"
    assert os.listdir(tmp_path) == [] or not any(n.startswith(("py_err", ".py_err")) for n in os.listdir(tmp_path))


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"precious")
    with pytest.raises(dynshare.ConfigError, match="run.h5: the file exists; pass overwrite=True"):
        dynshare.simulate(set=SMALL, out=out)
    assert out.read_bytes() == b"precious"
    dynshare.simulate(set=SMALL, out=out, overwrite=True)
    assert dynshare.read(out).complete


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="config"):
        dynshare.simulate(3.5)
    with pytest.raises(ValueError, match="threads"):
        dynshare.simulate(set=SMALL, threads=0)
    with pytest.raises(TypeError, match="seed"):
        dynshare.simulate(set=SMALL, seed=-1)


def test_ctrl_c_raises_keyboard_interrupt_and_leaves_a_valid_file(terminal_sigint, tmp_path):
    out = tmp_path / "long.h5"
    # A run of minutes: a SIGINT from another thread after 0.5 s must end it
    # within one presentation (+ the 50 ms poll).
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        dynshare.simulate(set={"run.presentations": 10 ** 6, "dynamics.block": 1}, out=out, progress=False)
    elapsed = time.monotonic() - t0
    timer.join()
    assert elapsed < 5.0, elapsed
    with h5py.File(out, "r") as f:  # the interrupted run's valid, resumable file
        assert f.attrs["complete"] == 0 and f.attrs["status"] == "interrupted"
        done = int(f.attrs["presentations_done"])
    assert 0 < done < 10 ** 6
    assert glob.glob(str(tmp_path / ".*")) == [], "working copies left behind"


def test_ctrl_c_without_out_removes_the_temporary_file(terminal_sigint, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        dynshare.simulate(set={"run.presentations": 10 ** 6}, progress=False)
    timer.join()
    assert os.listdir(tmp_path) == []


def test_progress_bar(capfd):
    dynshare.simulate(set=SMALL, progress=True)
    assert "presentations" in capfd.readouterr().err
    dynshare.simulate(set=SMALL)  # not interactive: no bar
    assert capfd.readouterr().err == ""


def test_help_documents_units():
    doc = dynshare.simulate.__doc__
    for word in ("config", "set", "seed", "threads", "backend", "progress", "out", "seconds", "dimensionless"):
        assert word in doc
    assert "s" in dynshare.Run.__doc__ and "dimensionless" in dynshare.Run.__doc__
