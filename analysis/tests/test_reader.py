# SPDX-License-Identifier: BSD-3-Clause
"""The reader on every kind of dynshare file."""
import math

import h5py
import numpy as np
import pytest

import h5fixtures as fx
from dynshare_analysis import reader
from dynshare_analysis.errors import InputError


# ---------------------------------------------------------------------------
# The config YAML (PyYAML, with the floats dynshare writes)

def test_parse_config_reads_dynshares_yaml_numbers_and_nesting():
    text = fx.sim_config_yaml({"dynamics.alpha": "1e4", "plasticity.gamma": ".nan"},
                              stack={"c_in": 3, "h": 8, "w": 8, "layers": [(4, 3), (8, 2)]})
    flat = reader.parse_config(text)
    assert flat["plasticity.lr"] == 3e-4 and isinstance(flat["plasticity.lr"], float)   # "3e-04"
    assert flat["dynamics.abs_tol"] == 1e-8                                              # "1e-08"
    assert flat["dynamics.alpha"] == 10000.0                                             # "1e4"
    assert math.isnan(flat["plasticity.gamma"])
    assert flat["layer.kernel"] == 9 and isinstance(flat["layer.kernel"], int)
    assert flat["input.presentation"] == 0.15
    assert flat["model"] == "ei_rate"
    assert flat["stack.normalize"] is True
    assert flat["stack.layers.1.channels"] == 8 and flat["stack.layers.0.kernel"] == 3
    assert flat["stack.layers.0.init_std"] == -1.0
    assert "stack.layers" not in flat


def test_parse_config_keeps_scalar_lists_and_colon_strings():
    flat = reader.parse_config("train:\n  lr_decay_epochs: [10, 13]\nstack:\n  connectivity: period:3\n"
                               "a: {b: -.inf, c: 1.5e-3, d: '1e-3', e: 7}\n")
    assert flat == {"train.lr_decay_epochs": [10, 13], "stack.connectivity": "period:3",
                    "a.b": -math.inf, "a.c": 0.0015, "a.d": "1e-3", "a.e": 7}


def test_parse_value_for_command_line_slices():
    assert reader.parse_value("10") == 10
    assert reader.parse_value("1e-3") == 0.001
    assert reader.parse_value("ideal") == "ideal"
    assert reader.parse_value("true") is True
    assert reader.parse_value("[1,") == "[1,"


# ---------------------------------------------------------------------------
# Single run

def test_single_run(tmp_path):
    p = str(tmp_path / "a.h5")
    step = np.array([0, 1500, 3000, 4500], dtype=np.int64)
    nls = np.array([0.5, -1.0, -np.inf, -2.5])
    fx.write_run_file(p, kernel=6, neurons=5, gamma=0.01, alpha=3.0, seed=7, step=step, nls=nls,
                      theory_min=-3.25)
    assert reader.inspect_file(p) == (reader.RUN, None)
    (run,) = reader.load_runs([p])
    assert run.kind == reader.RUN and run.group == "/" and run.name == p
    # parameters: short root attributes, their key paths and the config
    assert run.param("kernel") == 6 and run.param("layer.kernel") == 6 and run.kernel == 6
    assert run.gamma == 0.01 and run.alpha == 3.0 and run.param("seed") == 7
    assert run.param("plasticity.lr") == 3e-4
    assert run.param("dynamics.dt") == 0.001
    assert run.param("no.such.key", "dflt") == "dflt" and not run.has_param("no.such.key")
    assert run.model == "ei_rate" and run.complete
    # x axis: steps / steps_per_presentation (150)
    np.testing.assert_allclose(run.iterations(), [0, 10, 20, 30])
    # -inf (identical weights) becomes a gap; final = last finite record
    np.testing.assert_array_equal(np.isnan(run.curve()), [False, False, True, False])
    assert run.final() == -2.5
    assert run.theory() == -3.25
    assert run.weights == {"initial": (5, 36), "final": (5, 36)}
    assert run.schema_version is None


def test_single_run_weights_loaded_on_request(tmp_path):
    p = fx.write_run_file(str(tmp_path / "a.h5"), kernel=3, neurons=2)
    (run,) = reader.load_runs([p], load_weights=True)
    with h5py.File(p) as f:
        np.testing.assert_array_equal(run.weights["initial"], f["weights/initial"][()])
    assert run.weights["final"].shape == (2, 9)


def test_ideal_run_counts_iterations_and_diverged_run_is_incomplete(tmp_path):
    p = fx.write_run_file(str(tmp_path / "i.h5"), model="ideal", spp=1, step=[0, 10, 20],
                          nls=[0.0, -1.0, np.nan], status="diverged")
    (run,) = reader.load_runs([p])
    np.testing.assert_allclose(run.iterations(), [0, 10, 20])
    assert not run.complete and run.attrs["status"] == "diverged"
    assert "final" not in run.weights
    assert run.final() == -1.0


def test_schema_version_is_read_but_not_required(tmp_path):
    p = fx.write_run_file(str(tmp_path / "v.h5"), schema_version=1, kernel=3)
    assert reader.inspect_file(p) == (reader.RUN, 1)
    (run,) = reader.load_runs([p])
    assert run.schema_version == 1 and run.kernel == 3
    assert "schema_version" in reader.BOOKKEEPING


# ---------------------------------------------------------------------------
# Stacked run

def test_stacked_run(tmp_path):
    p = str(tmp_path / "s.h5")
    nls = np.array([[0.0, -1.0, -2.0], [1.0, np.inf, -4.0]])
    fx.write_stack_file(p, nls=nls, layers=((2, 2), (3, 2)), gamma=0.05)
    assert reader.inspect_file(p)[0] == reader.STACK
    (run,) = reader.load_runs([p])
    assert run.kind == reader.STACK and run.n_layers == 2
    np.testing.assert_allclose(run.curve(), [0.5, -1.0, -3.0])    # mean over the finite layers
    np.testing.assert_allclose(run.curve(1), [1.0, np.nan, -4.0])
    assert run.final() == -3.0 and run.final(0) == -2.0
    np.testing.assert_allclose(run.mean_abs_over_std, np.abs(nls) + 1.0)
    assert run.gamma == 0.05 and run.param("stack.layers.1.channels") == 3
    assert run.theory() is None
    with pytest.raises(InputError, match="--layer 2 out of range"):
        run.curve(2)


def test_stack_layers(tmp_path):
    p = str(tmp_path / "s.h5")
    fx.write_stack_file(p, nls=np.zeros((2, 2)), c_in=1, h=4, w=4, layers=((2, 2), (3, 3)))
    layers = reader.load_stack_layers(p)
    assert [l.index for l in layers] == [0, 1]
    # stride 1, padding 1: h_out = h + 2 - k + 1
    assert layers[0].weights_initial.shape == (2, 5, 5, 1 * 2 * 2)
    assert layers[1].weights_final.shape == (3, 5, 5, 2 * 3 * 3)
    assert layers[1].period == 3 and layers[1].attrs["c_in"] == 2 and layers[1].attrs["nonlinearity"] == "relu"


def test_interrupted_stack_has_no_final_weights(tmp_path):
    p = str(tmp_path / "s.h5")
    fx.write_stack_file(p, nls=np.zeros((1, 2)), layers=((2, 2),), status="interrupted")
    with pytest.raises(InputError, match=r"s\.h5: no /layers/0/weights_final \(status interrupted"):
        reader.load_stack_layers(p)
    (layer,) = reader.load_stack_layers(p, need_final=False)
    assert layer.weights_final is None


# ---------------------------------------------------------------------------
# Sweep files

def _sweep(tmp_path, name="sw.h5", **kw):
    runs = fx.grid_runs({"dynamics.alpha": [3.0, 10.0], "layer.kernel": [3, 6]}, 2,
                        lambda v, t: {"alpha": v["dynamics.alpha"], "kernel": v["layer.kernel"],
                                      "nls": [0.0, -v["dynamics.alpha"] - t]})
    return str(fx.write_sweep_file(str(tmp_path / name), runs, ["dynamics.alpha", "layer.kernel"], **kw)), runs


def test_sweep_runs_and_their_parameters(tmp_path):
    p, written = _sweep(tmp_path)
    assert reader.inspect_file(p)[0] == reader.SWEEP
    runs = reader.load_runs([p])
    assert [r.group for r in runs] == [f"/runs/{i}" for i in range(8)]
    assert [r.name for r in runs][:1] == [f"{p}:/runs/0"]
    for r, w in zip(runs, written):
        assert r.attrs["index"] == w["index"] and r.attrs["trial"] == w["trial"]
        assert r.param("dynamics.alpha") == w["values"]["dynamics.alpha"]
        assert r.param("kernel") == w["values"]["layer.kernel"]
        assert r.param("seed") == w["seed"]
        assert r.table_row == {"dynamics.alpha": w["values"]["dynamics.alpha"],
                               "layer.kernel": w["values"]["layer.kernel"]}
        assert r.final() == -w["values"]["dynamics.alpha"] - w["trial"]
        assert r.sweep_keys == ["dynamics.alpha", "layer.kernel"]
        assert r.attrs["version"] == "0.9.0"


def test_sweep_table_rows_follow_sweep_index_in_a_shard(tmp_path):
    """A shard file holds runs 1, 3, 5, 7: row i of /sweep/params belongs to
    /sweep/index[i], not to run i. Without the run attributes (lookup level 3)
    the values must still come out right."""
    runs = fx.grid_runs({"plasticity.gamma": [0.1, 0.01, 0.001, 0.0001]}, 2,
                        lambda v, t: {"gamma": 0.5})   # the short attribute says 0.5: not consulted first
    odd = [r for r in runs if r["index"] % 2 == 1]
    p = fx.write_sweep_file(str(tmp_path / "shard.h5"), odd, ["plasticity.gamma"], runs_total=8, shard=(1, 2),
                            omit_run_attrs=True)
    loaded = reader.load_runs([p])
    assert [r.attrs["index"] for r in loaded] == [1, 3, 5, 7]
    assert [r.table_row["plasticity.gamma"] for r in loaded] == [0.1, 0.01, 0.001, 0.0001]


def test_sweep_text_values_are_nan_in_the_table_and_read_from_attributes(tmp_path):
    runs = fx.grid_runs({"dynamics.integrator": ["euler", "rk4"]}, 1, lambda v, t: {})
    p = fx.write_sweep_file(str(tmp_path / "t.h5"), runs, ["dynamics.integrator"])
    loaded = reader.load_runs([p])
    assert [r.param("dynamics.integrator") for r in loaded] == ["euler", "rk4"]
    assert all(r.table_row == {} for r in loaded)


def test_sweep_skips_a_run_left_running(tmp_path, capsys):
    p, _ = _sweep(tmp_path, unfinished={2})
    loaded = reader.load_runs([p])
    assert [r.attrs["index"] for r in loaded] == [0, 1, 3, 4, 5, 6, 7]
    err = capsys.readouterr().err
    assert "skipped 1 of 8 runs" in err and "/runs/2: unfinished (status running)" in err


def test_sweep_schema_version_reaches_every_run(tmp_path):
    p, _ = _sweep(tmp_path, schema_version=2)
    runs = reader.load_runs([p])
    assert {r.schema_version for r in runs} == {2}
    assert {r.attrs["schema_version"] for r in runs} == {2}


def test_directories_are_searched_and_files_counted_once(tmp_path):
    d = tmp_path / "out"
    (d / "sub").mkdir(parents=True)
    a = fx.write_run_file(str(d / "a.h5"), kernel=3)
    fx.write_run_file(str(d / "sub" / "b.h5"), kernel=6)
    runs = reader.load_runs([str(d), a])
    assert sorted(r.kernel for r in runs) == [3, 6]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: directory contains no .h5 files"):
        reader.load_runs([str(tmp_path / "empty")])


# ---------------------------------------------------------------------------
# Trainer metrics.h5

def test_training_run(tmp_path):
    d = tmp_path / "lc_ws10_s0"
    top1 = [0.5, np.nan, 0.75]
    before = [[1.0, 2.0], [np.nan, np.nan], [3.0, 5.0]]
    fx.write_metrics(str(d), top1=top1, snr=[[1, 2], [3, 4], [5, 6]], snr_before=before,
                     snr_after=[[-1.0, -2.0], [np.nan, np.nan], [-3.0, -4.0]], sleep_iteration=[10, 20, 30],
                     mode="instant", every=10)
    with h5py.File(d / "metrics.h5") as f:   # the file is what the C++ writes: bytes attributes
        assert isinstance(f.attrs["lc_layers"], bytes)
    run = reader.load_training(str(d))
    assert reader.inspect_file(str(d / "metrics.h5"))[0] == reader.TRAINING
    assert run.label == "lc_ws10_s0" and run.path == str(d / "metrics.h5")
    assert run.lc_layers == ["lc0", "lc1"]
    assert run.cfg("sharing.mode") == "instant" and run.cfg("sharing.every") == 10
    assert run.cfg("train.weight_decay") == 1e-4 and run.cfg("train.lr_decay_epochs") == [10, 13]
    assert run.cfg("missing.key", None) is None
    with pytest.raises(InputError, match="the config has no key missing.key"):
        run.cfg("missing.key")
    np.testing.assert_array_equal(run.epochs["test_top1"], top1)
    assert run.epochs["snr"].shape == (3, 2)
    np.testing.assert_array_equal(run.sleep["iteration"], [10, 20, 30])
    np.testing.assert_array_equal(run.sleep["snr_before"], before)
    # the file itself works as well as its directory
    assert reader.load_training(str(d / "metrics.h5")).label == "metrics.h5"


def test_training_run_without_sleep_phases(tmp_path):
    run = reader.load_training(fx.write_metrics(str(tmp_path / "conv"), top1=[0.1, 0.2], lc_layers=(),
                                                connectivity="conv"))
    assert run.lc_layers == [] and run.epochs["snr"].shape == (2, 0)
    assert run.sleep["snr_before"].shape == (0, 0) and run.sleep["iteration"].shape == (0,)


def test_run_directory_without_metrics(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(reader.MissingMetrics, match="r: no metrics.h5"):
        reader.load_training(str(tmp_path / "r"))


# ---------------------------------------------------------------------------
# Files of the wrong kind, or no HDF5 at all

def test_bad_files(tmp_path):
    run = fx.write_run_file(str(tmp_path / "run.h5"))
    metrics = fx.write_metrics(str(tmp_path / "t"), top1=[0.5])
    stack = fx.write_stack_file(str(tmp_path / "stack.h5"), nls=np.zeros((1, 2)), layers=((2, 2),))
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5\n")
    other = str(tmp_path / "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = 1
    missing = str(tmp_path / "missing.h5")

    def msg(fn, arg):
        with pytest.raises(InputError) as e:
            fn(arg)
        return str(e.value)

    assert msg(reader.load_runs, [missing]) == f"{missing}: no such file"
    assert msg(reader.load_runs, [str(text)]) == f"{text}: not an HDF5 file"
    assert msg(reader.load_runs, [other]) == f"{other}: not a dynshare output file (no /snr, /runs or /epochs)"
    assert msg(reader.load_runs, [metrics]) == (f"{metrics}: a trainer metrics file (dynshare train), but this "
                                                "script reads dynshare simulate or sweep output")
    assert msg(reader.load_training, run) == (f"{run}: a single-run file (dynshare simulate), but this script "
                                              "reads trainer runs (RUN_DIR/metrics.h5 of dynshare train)")
    assert msg(reader.load_training, stack).startswith(f"{stack}: a stacked-layer run file")
    assert msg(reader.load_stack_layers, run).startswith(f"{run}: a single-run file (dynshare simulate), but")
    assert msg(reader.load_training, missing) == f"{missing}: no such file"
