# SPDX-License-Identifier: BSD-3-Clause
"""Small dynshare HDF5 files, written the way the C++ program writes them.

Layouts, types and attributes follow the writers:
  src/io/h5.cpp         string attributes are scalar variable-length UTF-8;
                        integers int64, seeds uint64, numbers float64;
                        records are chunked datasets extendible along their
                        last axis (1-D chunk 1024; 2-D chunk (rows, 4096 // rows))
  src/io/run_file.cpp   one run (the root of a `simulate` file, or /runs/<i>)
  src/io/stack_file.cpp stacked run
  src/io/sweep_file.cpp sweep file (+ /sweep/{params, index, seed})
  src/trainer/metrics.cpp  metrics.h5: fixed-length NUL-terminated ASCII string
                        attributes, float64 (H5T_IEEE_F64LE) datasets, matrices
                        (rows, layers) (an empty one is (0, layers))
and the resolved config YAML is written like src/io/config_yaml.cpp's to_yaml
(block style; doubles in their shortest form, e.g. 3e-04, with ".0" added to
integral values).
"""
import os

import h5py
import numpy as np

# ---------------------------------------------------------------------------
# The resolved config (to_yaml of SimConfig), as text.

SIM_DEFAULTS = [
    ("model", "ei_rate"),
    ("layer", [("neurons", "100"), ("kernel", "9"), ("init_mean", "1.0"), ("init_std", "1.0")]),
    ("dynamics", [("tau", "0.03"), ("dt", "0.001"), ("alpha", "10.0"), ("bias", "1.0"), ("integrator", "euler"),
                  ("macro_step", "0.0"), ("abs_tol", "1e-08"), ("rel_tol", "1e-08")]),
    ("plasticity", [("lr", "3e-04"), ("gamma", "0.1"), ("momentum", "0.95"), ("schedule", "inv_sqrt"),
                    ("schedule_t0", "2.0"), ("delay_steps", "50"), ("form", "auto"), ("tau_w", "0.0"),
                    ("lr_scaling", "none")]),
    ("input", [("presentation", "0.15"), ("noise_std", "0.0")]),
    ("run", [("presentations", "10000"), ("record_every", "150"), ("seed", "0"), ("stream", "0"),
             ("checkpoint_every", "500")]),
]

STACK_SECTION = """stack:
  input:
    channels: {c_in}
    height: {h}
    width: {w}
  layers:
{layers}  connectivity: grid
  schedule: simultaneous
  normalize: true
  drive: 1.0
  border: zero
"""
STACK_LAYER = """    - channels: {c_out}
      kernel: {k}
      stride: 1
      padding: 1
      nonlinearity: relu
      init_mean: 0.0
      init_std: -1.0
"""


def sim_config_yaml(overrides=None, stack=None):
    """to_yaml text of a SimConfig: the defaults with `overrides` {"section.key": text}.
    `stack`: dict(c_in, h, w, layers=[(c_out, k), ...]) adds the stack section."""
    overrides = dict(overrides or {})
    lines = []
    for section, value in SIM_DEFAULTS:
        if isinstance(value, str):
            lines.append(f"{section}: {overrides.pop(section, value)}")
            continue
        lines.append(f"{section}:")
        for key, text in value:
            lines.append(f"  {key}: {overrides.pop(f'{section}.{key}', text)}")
    assert not overrides, f"unknown keys {overrides}"
    text = "\n".join(lines) + "\n"
    if stack:
        layers = "".join(STACK_LAYER.format(c_out=c, k=k) for c, k in stack["layers"])
        text += STACK_SECTION.format(c_in=stack["c_in"], h=stack["h"], w=stack["w"], layers=layers)
    return text


def yaml_number(x):
    """A double as format_double writes it: shortest of fixed and scientific
    (fixed on a tie), ".0" added when neither has a dot or an exponent."""
    fixed = np.format_float_positional(x, trim="-")
    sci = np.format_float_scientific(x, trim="-", exp_digits=2)
    s = fixed if len(fixed) <= len(sci) else sci
    return s if any(c in s for c in ".e") else s + ".0"


# ---------------------------------------------------------------------------
# Low-level writers

def set_str(obj, name, value):
    """Scalar variable-length UTF-8 string attribute (h5::set_attr)."""
    obj.attrs.create(name, value, dtype=h5py.string_dtype("utf-8"))


def set_fixed_str(obj, name, value):
    """Fixed-length NUL-terminated ASCII string attribute (metrics.cpp write_string_attr)."""
    raw = value.encode()
    t = h5py.h5t.C_S1.copy()
    t.set_size(len(raw) + 1)
    t.set_strpad(h5py.h5t.STR_NULLTERM)
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    a = h5py.h5a.create(obj.id, name.encode(), t, space)
    a.write(np.array(raw, dtype=f"S{len(raw) + 1}"))


def appendable(group, path, data, dtype):
    """A dataset extendible along its last axis, as h5::Appendable creates it."""
    data = np.asarray(data, dtype=dtype)
    if data.ndim == 1:
        return group.create_dataset(path, data=data, maxshape=(None,), chunks=(1024,))
    rows = data.shape[0]
    return group.create_dataset(path, data=data, maxshape=(rows, None), chunks=(rows, max(1, 4096 // rows)))


# ---------------------------------------------------------------------------
# One run (run_file.cpp)

def write_run_group(g, *, model="ei_rate", kernel=9, neurons=4, gamma=0.1, alpha=10.0, seed=0,
                    spp=150, step=None, time=None, nls=None, theory_min=-2.0, status="complete",
                    presentations_done=None, config=None, dt=0.001, rng=None):
    """The attributes and datasets RunGroupWriter writes, for a finished run."""
    rng = rng or np.random.default_rng(0)
    if spp is None:
        spp = 1 if model == "ideal" else 150
    if step is None:
        step = np.arange(0, 5 if nls is None else len(nls)) * spp * 10
    step = np.asarray(step, dtype=np.int64)
    if time is None:
        time = step.astype(float) if model == "ideal" else step * dt
    if nls is None:
        nls = np.linspace(0.0, -2.0, len(step))
    if config is None:
        config = sim_config_yaml({"model": model, "layer.kernel": str(kernel), "layer.neurons": str(neurons),
                                  "plasticity.gamma": yaml_number(gamma), "dynamics.alpha": yaml_number(alpha),
                                  "run.seed": str(seed)})
    set_str(g, "config", config)
    set_str(g, "version", "0.9.0")
    g.attrs.create("seed", np.uint64(seed))
    g.attrs.create("complete", np.int64(0))
    set_str(g, "status", "running")
    set_str(g, "model", model)
    set_str(g, "integrator", "euler")
    g.attrs.create("kernel", np.int64(kernel))
    g.attrs.create("neurons", np.int64(neurons))
    g.attrs.create("gamma", np.float64(gamma))
    g.attrs.create("alpha", np.float64(alpha))
    g.attrs.create("steps_per_presentation", np.int64(spp))
    appendable(g, "snr/step", step, np.int64)
    appendable(g, "snr/time", time, np.float64)
    appendable(g, "snr/neg_log_snr", nls, np.float64)
    k2 = kernel * kernel
    w0 = 1.0 + rng.standard_normal((neurons, k2))
    g.create_dataset("weights/initial", data=w0)
    cp = g.create_group("checkpoint")
    last = int(step[-1]) // max(spp, 1)
    cp.attrs.create("presentation", np.int64(last))
    cp.attrs.create("step", np.int64(step[-1]))
    for name in ("w", "w0", "v"):
        cp.create_dataset(name, data=w0 if name != "v" else np.zeros_like(w0))
    cp.create_dataset("r", data=np.ones(neurons))
    cp.create_dataset("r_inh", data=np.zeros(1))
    if status == "diverged":
        set_str(g, "message", "rates became non-finite between steps 10 and 20")
    else:
        g.create_dataset("weights/final", data=w0 * 0.5)
    g.create_dataset("snr/theory_min", data=np.float64(theory_min))
    g.attrs.create("presentations_done", np.int64(presentations_done if presentations_done is not None else last))
    set_str(g, "status", status)
    g.attrs.create("complete", np.int64(1 if status == "complete" else 0))


def write_run_file(path, schema_version=None, **kw):
    with h5py.File(path, "w") as f:
        write_run_group(f, **kw)
        if schema_version is not None:
            f.attrs.create("schema_version", np.int64(schema_version))
    return path


# ---------------------------------------------------------------------------
# Stacked run (stack_file.cpp)

def write_stack_file(path, *, nls, mas=None, step=None, c_in=1, h=4, w=4, layers=((2, 2), (2, 2)),
                     weights_initial=None, weights_final=None, status="complete", gamma=0.1, alpha=10.0,
                     seed=1, spp=150):
    """nls, mas: (layers, records). layers: [(c_out, k)], stride 1, padding 1 -> h_out = h + 3 - k."""
    nls = np.asarray(nls, dtype=float)
    L, R = nls.shape
    assert L == len(layers)
    if step is None:
        step = np.arange(R, dtype=np.int64) * spp
    if mas is None:
        mas = np.abs(nls) + 1.0
    cfg = sim_config_yaml({"plasticity.gamma": yaml_number(gamma), "dynamics.alpha": yaml_number(alpha),
                           "run.seed": str(seed)},
                          stack={"c_in": c_in, "h": h, "w": w, "layers": list(layers)})
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        set_str(f, "config", cfg)
        set_str(f, "version", "0.9.0")
        f.attrs.create("seed", np.uint64(seed))
        f.attrs.create("complete", np.int64(0))
        set_str(f, "status", "running")
        set_str(f, "model", "ei_rate")
        set_str(f, "integrator", "exponential")
        f.attrs.create("gamma", np.float64(gamma))
        f.attrs.create("alpha", np.float64(alpha))
        f.attrs.create("steps_per_presentation", np.int64(spp))
        f.attrs.create("layers", np.int64(L))
        set_str(f, "connectivity", "grid")
        set_str(f, "schedule", "simultaneous")
        f.attrs.create("pattern_period", np.int64(layers[0][1]))
        cin, hin, win = c_in, h, w
        shapes = []
        for l, (c_out, k) in enumerate(layers):
            g = f.create_group(f"layers/{l}")
            hout, wout = hin + 2 - k + 1, win + 2 - k + 1
            for name, v in (("c_in", cin), ("h_in", hin), ("w_in", win), ("c_out", c_out), ("k", k),
                            ("stride", 1), ("padding", 1), ("h_out", hout), ("w_out", wout), ("period", k)):
                g.attrs.create(name, np.int64(v))
            g.attrs.create("modules", np.int64(c_out * k * k))
            set_str(g, "nonlinearity", "relu")
            shapes.append((c_out, hout, wout, cin * k * k))
            cin, hin, win = c_out, hout, wout
        appendable(f, "snr/step", step, np.int64)
        appendable(f, "snr/time", step * 0.001, np.float64)
        appendable(f, "snr/neg_log_snr", nls, np.float64)
        appendable(f, "snr/mean_abs_over_std", mas, np.float64)
        for l, shape in enumerate(shapes):
            w0 = weights_initial[l] if weights_initial is not None else rng.standard_normal(shape)
            f.create_dataset(f"layers/{l}/weights_initial", data=np.asarray(w0, dtype=float))
        cp = f.create_group("checkpoint")
        cp.attrs.create("presentation", np.int64(0))
        cp.attrs.create("step", np.int64(0))
        if status == "complete":
            for l, shape in enumerate(shapes):
                w1 = weights_final[l] if weights_final is not None else 0.5 * rng.standard_normal(shape)
                f.create_dataset(f"layers/{l}/weights_final", data=np.asarray(w1, dtype=float))
        else:   # interrupted: a checkpoint with the layer state, no weights_final
            cp.attrs.create("presentation", np.int64(R))
            for l, shape in enumerate(shapes):
                n, fan = shape[0] * shape[1] * shape[2], shape[3]
                for name in ("w", "v"):
                    cp.create_dataset(f"layers/{l}/{name}", data=np.zeros((n, fan)))
                cp.create_dataset(f"layers/{l}/r", data=np.ones(n))
                cp.create_dataset(f"layers/{l}/r_inh", data=np.zeros(shape[0] * layers[l][1] ** 2))
        f.create_dataset("timing/layer_seconds", data=np.full(L, 0.5))
        f.create_dataset("timing/pattern_seconds", data=np.full(L, 0.1))
        f.attrs.create("seconds", np.float64(1.5))
        f.attrs.create("presentations_done", np.int64(R))
        set_str(f, "status", status)
        f.attrs.create("complete", np.int64(1 if status == "complete" else 0))
    return path


# ---------------------------------------------------------------------------
# Sweep file (sweep_file.cpp)

def write_sweep_file(path, runs, keys, *, runs_total=None, shard=(0, 1), omit_run_attrs=False,
                     unfinished=(), schema_version=None):
    """runs: list of dicts with index, point, trial, seed, values ({key: number or
    text}) and the keyword arguments of write_run_group (as `run`).
    unfinished: indices written with status "running" (a crash inside the writer).
    omit_run_attrs: leave the swept keys off the run groups (so only /sweep/params has them)."""
    runs_total = runs_total if runs_total is not None else len(runs)
    with h5py.File(path, "w") as f:
        set_str(f, "sweep", "base: fig4b.yaml\ngrid: {" + ", ".join(f"{k}: [...]" for k in keys) + "}\ntrials: 2\n")
        set_str(f, "version", "0.9.0")
        f.attrs.create("runs_total", np.int64(runs_total))
        f.attrs.create("shard_index", np.int64(shard[0]))
        f.attrs.create("shard_count", np.int64(shard[1]))
        set_str(f, "shard", f"{shard[0]}/{shard[1]}")
        f.attrs.create("complete", np.int64(0))
        if schema_version is not None:
            f.attrs.create("schema_version", np.int64(schema_version))
        f.create_group("runs")
        for r in sorted(runs, key=lambda r: r["index"]):
            g = f.create_group(f"runs/{r['index']}")
            if not omit_run_attrs:
                for k, v in r["values"].items():
                    if isinstance(v, str):
                        set_str(g, k, v)
                    else:
                        g.attrs.create(k, np.float64(v))
            g.attrs.create("trial", np.int64(r["trial"]))
            g.attrs.create("point", np.int64(r["point"]))
            g.attrs.create("index", np.int64(r["index"]))
            write_run_group(g, seed=r["seed"], **r["run"])
            g.attrs.create("seed", np.uint64(r["seed"]))
            if r["index"] in unfinished:
                set_str(g, "status", "running")
                g.attrs.create("complete", np.int64(0))
        done = [r for r in sorted(runs, key=lambda r: r["index"]) if r["index"] not in unfinished]
        params = np.array([[float(r["values"][k]) if not isinstance(r["values"][k], str) else np.nan
                            for k in keys] for r in done], dtype=float).reshape(len(done), len(keys))
        ds = f.create_dataset("sweep/params", data=params)
        ds.attrs.create("columns", keys, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("sweep/index", data=np.array([r["index"] for r in done], dtype=np.int64))
        f.create_dataset("sweep/seed", data=np.array([r["seed"] for r in done], dtype=np.uint64))
        f.attrs.create("runs_done", np.int64(len(done)))
        f.attrs.create("runs_diverged", np.int64(sum(r["run"].get("status") == "diverged" for r in done)))
        f.attrs.create("complete", np.int64(1 if len(done) == runs_total else 0))
    return path


def grid_runs(grid, trials, make_run, first_seed=1000):
    """Runs of a Cartesian grid {key: [values]} (first key slowest) x trials:
    index = point * trials + trial, as sweep_config.hpp numbers them.
    make_run(values, trial) -> the keyword arguments of write_run_group."""
    keys = list(grid)
    points = [[]]
    for k in keys:
        points = [p + [v] for p in points for v in grid[k]]
    runs = []
    for point, vals in enumerate(points):
        values = dict(zip(keys, vals))
        for trial in range(trials):
            index = point * trials + trial
            runs.append({"index": index, "point": point, "trial": trial, "seed": first_seed + index,
                         "values": values, "run": make_run(values, trial)})
    return runs


# ---------------------------------------------------------------------------
# Trainer metrics.h5 (metrics.cpp)

def train_config_yaml(*, connectivity="lc", repetitions=1, mode="none", every=10, epochs=3):
    """to_yaml text of a trainer RunConfig (src/trainer/train_config.cpp), abridged
    to the sections' leading keys plus everything table1 reads."""
    return f"""network:
  arch: small
  connectivity: {connectivity}
  width: 16
  depth: 4
  kernel: 3
  first_conv_layers: 0
  conv_1x1: true
  conv_init_eps: -1
  batch_norm: true
  lc_algorithm: auto
data:
  dataset: fashion_mnist
  path: /usr/share/datasets/fashion-mnist
  canvas: 44
  padding: 4
  flip: false
  repetitions: {repetitions}
  validation: 0
  final_test: true
  limit_train: 10000
  limit_test: 0
sharing:
  mode: {mode}
  every: {every}
  presentations: 100
  lr: 0.0001
  gamma: 0.1
train:
  epochs: {epochs}
  batch_size: 128
  lr: 0.001
  weight_decay: 1e-04
  lr_decay_epochs: [10, 13]
  lr_decay: 0.25
  max_iterations: 0
  seed: 0
  device: cpu
  threads: 0
  checkpoint_every: 1
  eval_batch_size: 500
  eval_every: 1
  progress: never
sleep:
  dynamics:
    tau: 0.03
    dt: 0.001
    alpha: 10000.0
  stack:
    normalize: true
    drive: 1.0
"""


def write_metrics(run_dir, *, top1, train_top1=None, top5=None, seconds=None, snr=None, sleep_iteration=None,
                  sleep_seconds=None, snr_before=None, snr_after=None, lc_layers=("lc0", "lc1"),
                  config=None, **config_kw):
    """RUN_DIR/metrics.h5 as write_metrics_h5 writes it; returns its path."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "metrics.h5")
    top1 = np.asarray(top1, dtype=float)
    E, L = len(top1), len(lc_layers)
    top5 = np.asarray(top5 if top5 is not None else np.minimum(top1 + 0.1, 1.0), dtype=float)
    train_top1 = np.asarray(train_top1 if train_top1 is not None else top1, dtype=float)
    seconds = np.asarray(seconds if seconds is not None else np.full(E, 60.0), dtype=float)
    snr = np.asarray(snr if snr is not None else np.zeros((E, L)), dtype=float).reshape(E, L)
    S = 0 if snr_before is None else len(snr_before)
    before = np.asarray(snr_before if snr_before is not None else np.zeros((0, L)), dtype=float).reshape(S, L)
    after = np.asarray(snr_after if snr_after is not None else np.zeros((0, L)), dtype=float).reshape(S, L)
    it = np.asarray(sleep_iteration if sleep_iteration is not None else 10.0 * np.arange(1, S + 1), dtype=float)
    secs = np.asarray(sleep_seconds if sleep_seconds is not None else np.full(S, 2.0), dtype=float)
    f64 = "<f8"
    with h5py.File(path, "w") as f:
        set_fixed_str(f, "config", config if config is not None else train_config_yaml(**{"epochs": E, **config_kw}))
        set_fixed_str(f, "network", "small lc 16x4")
        set_fixed_str(f, "lc_layers", "\n".join(lc_layers))
        ep = f.create_group("epochs")
        nan = np.full(E, np.nan)
        for name, data in (("train_loss", np.linspace(2, 1, E)), ("train_top1", train_top1), ("test_loss", np.ones(E)),
                           ("test_top1", top1), ("test_top5", top5), ("val_loss", nan), ("val_top1", nan),
                           ("val_top5", nan), ("lr", np.full(E, 1e-3)), ("seconds", seconds),
                           ("iterations", 79.0 * np.arange(1, E + 1)), ("world_size", np.ones(E))):
            ep.create_dataset(name, data=np.asarray(data, dtype=float), dtype=f64)
        ep.create_dataset("snr", data=snr, dtype=f64)
        sl = f.create_group("sleep")
        sl.create_dataset("iteration", data=it, dtype=f64)
        sl.create_dataset("seconds", data=secs, dtype=f64)
        sl.create_dataset("snr_before", data=before, dtype=f64)
        sl.create_dataset("snr_after", data=after, dtype=f64)
    return path
