# SPDX-License-Identifier: BSD-3-Clause
"""The one reader of dynshare's HDF5 files.

Four kinds of file (README.md, "HDF5 layout"; written by src/io/run_file.cpp,
src/io/stack_file.cpp, src/io/sweep_file.cpp and src/trainer/metrics.cpp):

  run       `dynshare simulate`: root attributes + /snr/{step,time,neg_log_snr
            (records), theory_min}, /weights/{initial,final} (N, k^2)
  stack     `dynshare simulate` with a `stack` section: /snr/neg_log_snr and
            /snr/mean_abs_over_std are (layers, records); /layers/<l>/
            {weights_initial, weights_final} (c_out, h_out, w_out, c_in k^2)
  sweep     `dynshare sweep`/`merge`: root attribute `sweep`, /runs/<index>
            (each a `run` group with the swept key paths as attributes),
            /sweep/{params (runs, keys) + attribute `columns`, index, seed}
  training  `dynshare train` RUN_DIR/metrics.h5: root attributes config,
            network, lc_layers; /epochs/*, /sleep/*

A root attribute `schema_version` is read when present (`schema_version`
below) and never required.

Simulation runs (`run`, `stack` and every /runs/<i> of a sweep) become `Run`
objects (`load_runs`), trainer files `TrainingRun` objects (`load_training`),
and the layers of a stacked run `StackLayer` objects (`load_stack_layers`).
Every problem with an input raises `InputError` with a message that starts
with the file's path.

`Run.param(key)` looks a parameter up in this order:
  1. a run attribute with exactly that name (e.g. "dynamics.alpha" on sweep runs);
  2. the short root attribute for well-known keys ("layer.kernel" -> "kernel");
  3. this run's row of /sweep/params (sweep files only; NaN = not a number there);
  4. the `config` attribute (the resolved YAML, read with PyYAML).
"""
import math
import os
import re
import warnings

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - reported as a usage error
    h5py = None
import yaml

from .errors import InputError, warn

RUN, STACK, SWEEP, TRAINING = "run", "stack", "sweep", "training"
SIMULATION_KINDS = (RUN, STACK, SWEEP)
KIND_TEXT = {
    RUN: "a single-run file (dynshare simulate)",
    STACK: "a stacked-layer run file (dynshare simulate with a stack section)",
    SWEEP: "a sweep file (dynshare sweep)",
    TRAINING: "a trainer metrics file (dynshare train)",
}
H5_EXTENSIONS = (".h5", ".hdf5", ".he5")


# ---------------------------------------------------------------------------
# Values and YAML
# ---------------------------------------------------------------------------

def to_py(value):
    """HDF5 attribute -> plain Python value (str, int, float, bool or list)."""
    if isinstance(value, bytes):   # fixed-length strings (metrics.h5) come back as bytes
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.shape == ():
            return to_py(value[()])
        if value.size == 1:
            return to_py(value.reshape(-1)[0])
        return [to_py(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.void):  # compound scalar
        return tuple(to_py(v) for v in value)
    return value


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats.

    dynshare writes doubles in their shortest form (src/io/config_yaml.cpp,
    format_double): 3e-4 is written `3e-04` and 1e-8 `1e-08`. PyYAML follows
    YAML 1.1, where a float needs a dot and a signed exponent, and would read
    those as strings; this loader reads them as floats."""


_FLOAT_TAG = "tag:yaml.org,2002:float"
YamlLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?
                   |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(text):
    """YAML text -> Python objects (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=YamlLoader)


def flatten(node, prefix=""):
    """Nested mappings -> {"section.key": value}. A list of mappings (e.g.
    stack.layers) gives "stack.layers.<i>.key"; a list of scalars stays a list."""
    out = {}
    if isinstance(node, dict):
        items = ((str(k), v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return {prefix: node} if prefix else {}
    for k, v in items:
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v)):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def parse_config(text):
    """The resolved YAML of a run (its `config` attribute) as {"section.key": value}."""
    if not text:
        return {}
    node = load_yaml(text)
    return flatten(node) if isinstance(node, (dict, list)) else {}


def parse_value(text):
    """A value typed on the command line (KEY=VALUE): number, bool or string."""
    t = text.strip()
    try:
        v = load_yaml(t)
    except yaml.YAMLError:
        return t
    return v if v is None or isinstance(v, (bool, int, float, str)) else t


# Short root attributes written by the C++ program, and their YAML key paths.
SHORT_ATTRS = {
    "layer.kernel": "kernel",
    "layer.neurons": "neurons",
    "plasticity.gamma": "gamma",
    "dynamics.alpha": "alpha",
    "run.seed": "seed",
}
ALIASES = {v: k for k, v in SHORT_ATTRS.items()}   # "kernel" -> "layer.kernel"

# Per-run attributes that are bookkeeping, never swept keys.
BOOKKEEPING = {"config", "version", "schema_version", "complete", "index", "name", "run"}


def canonical_key(key):
    """'kernel' -> 'layer.kernel'; other keys are returned unchanged."""
    return ALIASES.get(key, key)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def open_h5(path):
    """h5py.File opened read-only; InputError for a missing or non-HDF5 file."""
    if h5py is None:
        raise InputError("h5py is not available in this Python (use /usr/bin/python3)")
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")
    try:
        is_h5 = h5py.is_hdf5(path)
    except OSError:
        is_h5 = False
    if not is_h5:
        raise InputError(f"{path}: not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: cannot open as HDF5 ({e})")


def _is_group(f, name):
    return name in f and isinstance(f[name], h5py.Group)


def file_kind(f):
    """RUN, STACK, SWEEP, TRAINING, or None for an HDF5 file of none of these kinds."""
    if _is_group(f, "runs") or "sweep" in f.attrs or "runs_total" in f.attrs:
        return SWEEP
    if _is_group(f, "epochs") or "lc_layers" in f.attrs:
        return TRAINING
    if _is_group(f, "snr"):
        nls = f["snr"].get("neg_log_snr")
        if _is_group(f, "layers") or "layers" in f.attrs or (nls is not None and nls.ndim == 2):
            return STACK
        return RUN
    return None


def schema_version(f):
    """The root attribute `schema_version` (an int), or None when absent."""
    if "schema_version" not in f.attrs:
        return None
    v = to_py(f.attrs["schema_version"])
    try:
        return int(v)
    except (TypeError, ValueError):
        return v


def wrong_kind(path, kind, wanted):
    """InputError for a file of the wrong kind; `wanted` says what the script reads."""
    what = KIND_TEXT[kind] if kind else "not a dynshare output file (no /snr, /runs or /epochs)"
    if kind:
        return InputError(f"{path}: {what}, but this script reads {wanted}")
    return InputError(f"{path}: {what}")


def inspect_file(path):
    """(kind, schema_version) of a file; InputError when it cannot be read."""
    with open_h5(path) as f:
        return file_kind(f), schema_version(f)


# ---------------------------------------------------------------------------
# Simulation runs
# ---------------------------------------------------------------------------

_MISSING = object()


class Run:
    """One simulation run (a `run` or `stack` file, or one /runs/<i> of a sweep),
    its data in memory."""

    def __init__(self, source, group, attrs, snr, weights=None, table_row=None,
                 kind=RUN, schema=None, sweep_keys=()):
        self.source = source          # file path
        self.group = group            # "/" or "/runs/<i>"
        self.attrs = attrs            # {name: python value}
        self.kind = kind              # RUN or STACK (a sweep's runs are RUN)
        self.schema_version = schema  # root attribute schema_version, or None
        self.step = snr["step"]
        self.time = snr.get("time")
        self.neg_log_snr = snr["neg_log_snr"]   # (records,) or (layers, records)
        self.mean_abs_over_std = snr.get("mean_abs_over_std")
        self.theory_min = snr.get("theory_min")
        self.weights = weights or {}
        self.table_row = table_row or {}
        self.sweep_keys = list(sweep_keys)
        self._config = None
        self._spp = None

    # -- identification --------------------------------------------------
    @property
    def name(self):
        return self.source if self.group == "/" else f"{self.source}:{self.group}"

    @property
    def config(self):
        if self._config is None:
            try:
                self._config = parse_config(self.attrs.get("config", ""))
            except yaml.YAMLError as e:
                raise InputError(f"{self.name}: the config attribute is not valid YAML ({e})")
        return self._config

    # -- parameters -------------------------------------------------------
    def param(self, key, default=None):
        """Value of a parameter (see the module docstring for the lookup order)."""
        key = canonical_key(key)
        if key in self.attrs:
            return self.attrs[key]
        short = SHORT_ATTRS.get(key)
        if short and short in self.attrs:
            return self.attrs[short]
        if key in self.table_row:
            return self.table_row[key]
        if key in self.config:
            return self.config[key]
        return default

    def has_param(self, key):
        return self.param(key, _MISSING) is not _MISSING

    @property
    def model(self):
        return str(self.param("model", "ei_rate"))

    @property
    def kernel(self):
        v = self.param("layer.kernel")
        w = self.weights.get("final", self.weights.get("initial"))
        if v is None and w is not None:
            shape = w.shape if hasattr(w, "shape") else w
            if len(shape) == 2:
                v = int(round(math.sqrt(shape[-1])))
        return v

    @property
    def gamma(self):
        return self.param("plasticity.gamma")

    @property
    def alpha(self):
        return self.param("dynamics.alpha")

    @property
    def complete(self):
        return bool(self.attrs.get("complete", 1))

    @property
    def n_layers(self):
        return 1 if self.neg_log_snr.ndim == 1 else self.neg_log_snr.shape[0]

    # -- x axis -------------------------------------------------------------
    def presentation_seconds(self):
        v = self.param("input.presentation")
        return float(v) if v is not None else None

    def steps_per_presentation(self):
        """1 for ideal runs; the `steps_per_presentation` attribute, else
        round(presentation / dt) (dt from the config, else /snr/time / /snr/step)."""
        if self.model == "ideal":
            return 1.0
        if self._spp is None:
            self._spp = self._steps_per_presentation()
        return self._spp

    def _steps_per_presentation(self):
        v = self.param("steps_per_presentation")
        if v is not None:
            return float(v)
        pres = self.presentation_seconds()
        dt = self.param("dynamics.dt")
        if dt is None and self.time is not None:
            ok = self.step > 0
            if np.any(ok):
                dt = float(np.median(self.time[ok] / self.step[ok]))
        if pres is None:
            pres = 0.15
            warn(f"{self.name}: no input.presentation in attributes/config; assuming 0.15 s")
        if dt is None:
            dt = 0.001
            warn(f"{self.name}: no dynamics.dt and no /snr/time; assuming dt = 0.001 s")
        return max(1.0, float(round(pres / float(dt))))

    def iterations(self):
        """x axis of Fig. 4: iterations (ideal) or presentations (ei_rate)."""
        return self.step.astype(float) / self.steps_per_presentation()

    # -- y values -----------------------------------------------------------
    def curve(self, layer=None):
        """-log SNR_w per record; stacked runs: the given layer or the layer mean."""
        y = self.neg_log_snr
        y = np.where(np.isfinite(y), y, np.nan)   # -inf (identical weights) -> gap
        if y.ndim == 1:
            return y
        if layer is None:
            with warnings.catch_warnings():   # a record where every layer is NaN stays NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(y, axis=0)
        if not -y.shape[0] <= layer < y.shape[0]:
            raise InputError(f"{self.name}: --layer {layer} out of range (run has {y.shape[0]} layers)")
        return y[layer]

    def final(self, layer=None):
        """Last finite record of curve(layer); NaN when there is none."""
        y = self.curve(layer)
        finite = np.flatnonzero(np.isfinite(y))
        return float(y[finite[-1]]) if finite.size else math.nan

    def theory(self):
        if self.theory_min is None:
            return None
        t = np.asarray(self.theory_min, dtype=float)
        return float(np.nanmean(t)) if t.size else None


def _read_attrs(obj):
    out = {}
    for k, v in obj.attrs.items():
        try:
            out[k] = to_py(v)
        except Exception:  # unreadable attribute types are ignored
            pass
    return out


def _read_run(f, group, path, kind, schema, table_row=None, sweep_keys=(), load_weights=False):
    g = f[group]
    where = path if group == "/" else f"{path}:{group}"
    if not _is_group(g, "snr"):
        raise InputError(f"{where}: no /snr group")
    s = g["snr"]
    if "neg_log_snr" not in s:
        raise InputError(f"{where}: no snr/neg_log_snr dataset")
    y = np.asarray(s["neg_log_snr"][()], dtype=float)
    if y.ndim not in (1, 2):
        raise InputError(f"{where}: snr/neg_log_snr has shape {y.shape}, expected (records,) or (layers, records)")
    n = y.shape[-1]
    if n == 0:
        raise InputError(f"{where}: snr/neg_log_snr has no records")
    if "step" in s:
        step = np.asarray(s["step"][()], dtype=np.int64).reshape(-1)
    else:
        warn(f"{where}: no snr/step dataset; numbering records 1..{n}")
        step = np.arange(1, n + 1, dtype=np.int64)
    time = np.asarray(s["time"][()], dtype=float).reshape(-1) if "time" in s else None
    mas = np.asarray(s["mean_abs_over_std"][()], dtype=float) if "mean_abs_over_std" in s else None
    if step.shape[0] != n:
        m = min(step.shape[0], n)
        warn(f"{where}: snr/step has {step.shape[0]} records, snr/neg_log_snr {n}; using {m}")
        step, y = step[:m], y[..., :m]
        time = time[:m] if time is not None else None
        mas = mas[..., :m] if mas is not None else None
    theory = None
    if "theory_min" in s:
        theory = np.asarray(s["theory_min"][()], dtype=float)
        theory = float(theory) if theory.size == 1 else theory
    weights = {}   # name -> array (load_weights=True) or just its shape
    if _is_group(g, "weights"):
        for name, ds in g["weights"].items():
            if isinstance(ds, h5py.Dataset):
                weights[name] = np.asarray(ds[()]) if load_weights else ds.shape
    if group == "/":
        attrs = _read_attrs(f)
    else:   # a sweep's run inherits the file's version attributes
        root = _read_attrs(f)
        attrs = {**{k: v for k, v in root.items() if k in ("version", "schema_version")}, **_read_attrs(g)}
    return Run(path, group, attrs, {"step": step, "time": time, "neg_log_snr": y, "theory_min": theory,
                                    "mean_abs_over_std": mas},
               weights, table_row, kind=kind, schema=schema, sweep_keys=sweep_keys)


def sweep_table(f):
    """/sweep/params as ({run index: {key: value}}, [keys]); NaN cells (values
    that are not numbers) are left out. Rows belong to the runs in /sweep/index."""
    if not _is_group(f, "sweep") or "params" not in f["sweep"]:
        return {}, []
    ds = f["sweep"]["params"]
    data = np.asarray(ds[()])
    if data.ndim != 2 or "columns" not in ds.attrs:
        return {}, []
    keys = to_py(ds.attrs["columns"])
    keys = [keys] if isinstance(keys, str) else list(keys)
    if len(keys) != data.shape[1]:
        return {}, []
    if "index" in f["sweep"]:
        index = [int(i) for i in np.asarray(f["sweep"]["index"][()]).reshape(-1)]
    else:
        index = list(range(data.shape[0]))
    if len(index) != data.shape[0]:
        return {}, keys
    rows = {}
    for ri, row in zip(index, data):
        rows[ri] = {k: float(v) for k, v in zip(keys, row) if np.isfinite(v)}
    return rows, keys


def _run_sort_key(name):
    return (0, int(name)) if name.isdigit() else (1, name)


def _sweep_runs(f, path, schema, load_weights):
    table, keys = sweep_table(f)
    names = sorted(f["runs"].keys(), key=_run_sort_key) if _is_group(f, "runs") else []
    if not names:
        raise InputError(f"{path}: sweep file without finished runs (/runs is empty)")
    runs, skipped = [], []
    for name in names:
        g = f["runs"][name]
        status = to_py(g.attrs["status"]) if "status" in g.attrs else None
        if status == "running":   # a crash inside the writer; dynshare drops it on --resume
            skipped.append(f"{path}:/runs/{name}: unfinished (status running)")
            continue
        row = table.get(int(name)) if name.isdigit() else None
        try:
            runs.append(_read_run(f, f"/runs/{name}", path, RUN, schema, row, keys, load_weights))
        except InputError as e:
            skipped.append(str(e))
    if not runs:
        raise InputError(skipped[0] if len(skipped) == 1 else
                         f"{path}: no usable run in /runs ({skipped[0]}; ...)")
    if skipped:
        warn(f"{path}: skipped {len(skipped)} of {len(names)} runs, e.g. {skipped[0]}")
    return runs


def load_file(path, load_weights=False):
    """Every simulation run of one file (single-run, stacked or sweep)."""
    with open_h5(path) as f:
        kind = file_kind(f)
        if kind not in SIMULATION_KINDS:
            raise wrong_kind(path, kind, "dynshare simulate or sweep output")
        schema = schema_version(f)
        try:
            if kind == SWEEP:
                return _sweep_runs(f, path, schema, load_weights)
            return [_read_run(f, "/", path, kind, schema, load_weights=load_weights)]
        except InputError:
            raise
        except Exception as e:   # a damaged file: report it, no traceback
            raise InputError(f"{path}: unreadable ({e.__class__.__name__}: {e})")


def expand_inputs(inputs):
    """Files and directories -> list of HDF5 file paths (dirs: recursive *.h5)."""
    files = []
    for p in inputs:
        if os.path.isdir(p):
            found = []
            for root, _dirs, names in os.walk(p):
                for n in names:
                    if n.lower().endswith(H5_EXTENSIONS):
                        found.append(os.path.join(root, n))
            if not found:
                raise InputError(f"{p}: directory contains no .h5 files")
            files.extend(sorted(found))
        else:
            files.append(p)
    seen, unique = set(), []
    for f in files:   # a file given twice (or inside a given directory) counts once
        real = os.path.realpath(f)
        if real not in seen:
            seen.add(real)
            unique.append(f)
    return unique


def load_runs(inputs, load_weights=False):
    """Every simulation run in `inputs` (run, stack and sweep files, directories).

    Weights are only read when load_weights is True (else their shapes)."""
    runs = []
    for path in expand_inputs(inputs):
        runs.extend(load_file(path, load_weights))
    return runs


# ---------------------------------------------------------------------------
# Stacked runs: per-layer weights
# ---------------------------------------------------------------------------

class StackLayer:
    """One layer of a stacked run: its geometry attributes and weights
    (c_out, h_out, w_out, c_in k^2); `weights_final` is None until the run completes."""

    def __init__(self, index, attrs, weights_initial, weights_final):
        self.index = index
        self.attrs = attrs
        self.weights_initial = weights_initial
        self.weights_final = weights_final

    @property
    def period(self):
        """Module period: the `period` attribute (grid connectivity: k)."""
        return int(self.attrs.get("period", self.attrs["k"]))


def load_stack_layers(path, need_final=True):
    """The /layers/<l> of a stacked run, in layer order."""
    with open_h5(path) as f:
        kind = file_kind(f)
        if kind != STACK:
            raise wrong_kind(path, kind, "stacked-layer runs (dynshare simulate with a stack section)")
        if not _is_group(f, "layers"):
            raise InputError(f"{path}: no /layers group")
        names = sorted((n for n in f["layers"] if n.isdigit()), key=int)
        if not names:
            raise InputError(f"{path}: /layers holds no layer")
        status = to_py(f.attrs.get("status", "")) or "unknown"
        layers = []
        for n in names:
            g = f["layers"][n]
            attrs = _read_attrs(g)
            if "k" not in attrs:
                raise InputError(f"{path}: /layers/{n} has no attribute k")
            if "weights_initial" not in g:
                raise InputError(f"{path}: no /layers/{n}/weights_initial")
            final = np.asarray(g["weights_final"][()]) if "weights_final" in g else None
            if final is None and need_final:
                raise InputError(f"{path}: no /layers/{n}/weights_final (status {status}: the run did not complete)")
            layers.append(StackLayer(int(n), attrs, np.asarray(g["weights_initial"][()]), final))
        return layers


# ---------------------------------------------------------------------------
# Trainer runs (RUN_DIR/metrics.h5)
# ---------------------------------------------------------------------------

class MissingMetrics(InputError):
    """A run directory without metrics.h5 (the trainer writes it after the first epoch)."""


EPOCH_SERIES = ("train_loss", "train_top1", "test_loss", "test_top1", "test_top5", "val_loss",
                "val_top1", "val_top5", "lr", "seconds", "iterations", "world_size")


class TrainingRun:
    """One `dynshare train` run: its metrics.h5 in memory.

    epochs: {name: (E,) array} for every /epochs series present, plus "snr" (E, L);
    sleep:  {"iteration", "seconds": (S,), "snr_before", "snr_after": (S, L)}."""

    def __init__(self, source, path, attrs, config, epochs, sleep, schema=None):
        self.source = source      # what was given: the run directory or the file
        self.path = path          # the metrics.h5 read
        self.attrs = attrs
        self.config = config      # the resolved YAML, nested dicts
        self.epochs = epochs
        self.sleep = sleep
        self.schema_version = schema

    @property
    def label(self):
        return os.path.basename(os.path.normpath(self.source))

    @property
    def lc_layers(self):
        return [n for n in str(self.attrs.get("lc_layers", "")).split("\n") if n]

    def cfg(self, key, default=_MISSING):
        """A config value by key path ("train.epochs"); InputError when absent
        and no default is given."""
        node = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is _MISSING:
                    raise InputError(f"{self.path}: the config has no key {key}")
                return default
            node = node[part]
        return node


def metrics_path(source):
    return os.path.join(source, "metrics.h5") if os.path.isdir(source) else source


def load_training(source):
    """A trainer run from its directory (RUN_DIR/metrics.h5) or the file itself."""
    path = metrics_path(source)
    if os.path.isdir(source) and not os.path.exists(path):
        raise MissingMetrics(f"{source}: no metrics.h5 in this directory (no epoch finished yet, "
                             "or not a dynshare train run directory)")
    with open_h5(path) as f:
        kind = file_kind(f)
        if kind != TRAINING:
            raise wrong_kind(path, kind, "trainer runs (RUN_DIR/metrics.h5 of dynshare train)")
        schema = schema_version(f)
        attrs = _read_attrs(f)
        try:
            config = load_yaml(attrs.get("config", "")) or {}
        except yaml.YAMLError as e:
            raise InputError(f"{path}: the config attribute is not valid YAML ({e})")
        if not isinstance(config, dict):
            raise InputError(f"{path}: the config attribute is not a YAML mapping")
        ep = f["epochs"]
        if "test_top1" not in ep:
            raise InputError(f"{path}: no /epochs/test_top1 dataset")
        epochs = {name: np.asarray(ep[name][()], dtype=float).reshape(-1) for name in EPOCH_SERIES if name in ep}
        n_layers = len([n for n in str(attrs.get("lc_layers", "")).split("\n") if n])
        epochs["snr"] = _matrix(ep, "snr", n_layers)
        sl = f["sleep"] if _is_group(f, "sleep") else {}
        sleep = {
            "snr_before": _matrix(sl, "snr_before", n_layers),
            "snr_after": _matrix(sl, "snr_after", n_layers),
            "seconds": np.asarray(sl["seconds"][()], dtype=float).reshape(-1) if "seconds" in sl else np.zeros(0),
        }
        n_phases = sleep["snr_before"].shape[0]
        sleep["iteration"] = (np.asarray(sl["iteration"][()], dtype=float).reshape(-1) if "iteration" in sl
                              else np.arange(n_phases, dtype=float))
    return TrainingRun(source, path, attrs, config, epochs, sleep, schema)


def _matrix(group, name, cols):
    if name not in group:
        return np.zeros((0, cols))
    m = np.asarray(group[name][()], dtype=float)
    return m.reshape(m.shape[0], -1) if m.ndim == 1 else m
