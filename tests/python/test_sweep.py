# SPDX-License-Identifier: BSD-3-Clause
"""dynshare.sweep against `dynshare sweep`, and its xarray form."""
import subprocess

import numpy as np
import pytest

import dynshare
from h5compare import differences

SWEEP = {"set": {"run.presentations": 20, "layer.neurons": 10, "layer.kernel": 3},
         "grid": {"plasticity.gamma": [0.1, 0.01], "dynamics.alpha": [3, 10]}, "trials": 2}


def test_sweep_file_equals_the_cli_file(tmp_path, cli):
    base = tmp_path / "base.yaml"
    base.write_text("layer:\n  neurons: 10\n  kernel: 3\n")
    sw = tmp_path / "sw.yaml"
    sw.write_text("base: base.yaml\nset: {run.presentations: 20}\ngrid: {plasticity.gamma: [0.1, 0.01]}\ntrials: 2\n")
    subprocess.run([cli, "sweep", str(sw), "-o", str(tmp_path / "cli.h5"), "--quiet", "--threads", "2"],
                   check=True, cwd=tmp_path)
    s = dynshare.sweep(sw, out=tmp_path / "py.h5", threads=1)
    assert differences(tmp_path / "cli.h5", tmp_path / "py.h5") == []
    assert len(s) == 4 and s.keys == ["plasticity.gamma"]


def test_dict_base_equals_the_same_base_as_a_file(tmp_path, cli):
    """A nested-dict `base` (numpy scalars included) runs what the same base as a YAML file runs."""
    base = tmp_path / "base.yaml"
    base.write_text("layer:\n  neurons: 10\n  kernel: 3\n")
    sw = {"set": {"run.presentations": 20}, "grid": {"plasticity.gamma": [0.1, 0.01]}, "trials": 1}
    a = dynshare.sweep(dict(sw, base=str(base)), out=tmp_path / "file.h5", threads=1)
    b = dynshare.sweep(dict(sw, base={"layer": {"neurons": np.int64(10), "kernel": 3}}), out=tmp_path / "dict.h5",
                       threads=1)
    assert len(a) == len(b) == 2
    for ra, rb in zip(a.runs, b.runs):
        assert ra.weights_final.tobytes() == rb.weights_final.tobytes()
        assert ra.neg_log_snr.tobytes() == rb.neg_log_snr.tobytes()


def test_dict_without_base_sweeps_the_default_config(cli, tmp_path):
    s = dynshare.sweep(SWEEP)
    assert len(s.runs) == 8 and s.keys == ["plasticity.gamma", "dynamics.alpha"]
    # each run is the CLI's `simulate` of the default config with its values and seed
    r = next(r for r in s.runs if r.param("plasticity.gamma") == 0.01 and r.param("dynamics.alpha") == 3)
    seed = int(r.attrs["seed"])
    subprocess.run([cli, "simulate", "-o", str(tmp_path / "one.h5"), "--quiet", "--seed", str(seed),
                    "--set", "run.presentations=20", "--set", "layer.neurons=10", "--set", "layer.kernel=3",
                    "--set", "plasticity.gamma=0.01", "--set", "dynamics.alpha=3"], check=True)
    one = dynshare.read(tmp_path / "one.h5")
    assert one.weights_final.tobytes() == r.weights_final.tobytes()
    assert one.neg_log_snr.tobytes() == r.neg_log_snr.tobytes()


def test_to_xarray_dims_are_the_swept_keys_and_trials():
    s = dynshare.sweep(SWEEP)
    ds = s.to_xarray()
    da = ds["neg_log_snr"]
    assert da.dims == ("plasticity.gamma", "dynamics.alpha", "trial", "presentation")
    assert list(ds["plasticity.gamma"].values) == [0.01, 0.1]
    assert list(ds["dynamics.alpha"].values) == [3, 10]
    assert list(ds["trial"].values) == [0, 1]
    for r in s.runs:
        cell = da.sel({"plasticity.gamma": r.param("plasticity.gamma"), "dynamics.alpha": r.param("dynamics.alpha"),
                       "trial": int(r.attrs["trial"])}).values
        assert cell.tobytes() == r.neg_log_snr.tobytes()
    assert not np.isnan(da.values).any()


def test_yaml_string_sweep_and_errors():
    s = dynshare.sweep("set: {run.presentations: 10, layer.neurons: 10, layer.kernel: 3}\n"
                       "lists: {dynamics.alpha: [3, 5]}\n", threads=2)
    assert len(s) == 2 and s.keys == ["dynamics.alpha"]
    with pytest.raises(dynshare.ConfigError, match="unknown key 'colour'"):
        dynshare.sweep({**SWEEP, "colour": "red"})
    with pytest.raises(dynshare.ConfigError, match="dynamics.alpha"):
        dynshare.sweep(SWEEP, set={"dynamics.alpha": 5})


def test_ctrl_c_stops_a_sweep_and_keeps_a_valid_file(terminal_sigint, tmp_path):
    import os
    import signal
    import threading
    import time

    import h5py
    out = tmp_path / "long.h5"
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        dynshare.sweep({"set": {"run.presentations": 10 ** 6}, "lists": {"dynamics.alpha": [3, 5]}}, out=out,
                       threads=2, progress=False)
    timer.join()
    assert time.monotonic() - t0 < 5.0
    with h5py.File(out, "r") as f:  # valid and resumable: no run finished, complete = 0
        assert f.attrs["complete"] == 0 and f.attrs["runs_total"] == 2
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []
