#!/usr/bin/python3
"""Shared helpers for reading dynshare HDF5 output (fig4.py, sweep.py).

A *run* is an HDF5 group holding /snr (and usually /weights) plus attributes:
either the root of a single-run file, or one /runs/<index> group of a sweep
file. `load_runs(inputs)` turns any mix of run files, sweep files and
directories into a list of `Run` objects with the data read into memory.

Parameters are looked up by `Run.param(key)` in this order:
  1. an attribute with exactly that name (e.g. "dynamics.alpha" on sweep runs);
  2. the short root attribute for well-known keys ("layer.kernel" -> "kernel");
  3. a row of /sweep/params for this run (sweep files only);
  4. the `config` attribute (the resolved YAML), parsed by a tiny
     indentation-aware regex parser (no PyYAML needed).
"""
import math
import os
import re
import sys

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - reported as a usage error
    h5py = None


class InputError(Exception):
    """A missing/unreadable input or a file without the expected layout."""


def die(msg, code=2):
    """Print a one-line error message and exit (status 2 by default)."""
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "dynshare"
    print(f"{prog}: error: {' '.join(str(msg).split())}", file=sys.stderr)
    sys.exit(code)


def warn(msg):
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "dynshare"
    print(f"{prog}: warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Values and the tiny YAML reader
# ---------------------------------------------------------------------------

def to_py(value):
    """HDF5 attribute -> plain Python value (str, int, float, bool or list)."""
    if isinstance(value, bytes):
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


_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_scalar(text):
    """YAML-ish scalar: int, float, bool, null or (unquoted) string."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~", ""):
        return None
    if low in (".inf", "+.inf", "inf"):
        return math.inf
    if low in ("-.inf", "-inf"):
        return -math.inf
    if low in (".nan", "nan"):
        return math.nan
    if _NUM_RE.match(t):
        if re.match(r"^[+-]?\d+$", t):
            return int(t)
        return float(t)
    return t


_LINE_RE = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?(?P<key>[A-Za-z_][\w.\-]*)\s*:(?:\s+(?P<val>.*))?\s*$")
_FLOW_ITEM_RE = re.compile(r"([A-Za-z_][\w.\-]*)\s*:\s*([^,{}]*)")


def _strip_comment(line):
    out, quote = [], None
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out).rstrip()


def parse_config(text):
    """Flatten simple block-style YAML into {"section.key": value}.

    Handles nested mappings by indentation, flow mappings ({a: 1, b: 2}),
    lists of mappings (keys become "section.list.<i>.key") and comments.
    Anything fancier is skipped rather than guessed.
    """
    flat = {}
    if not text:
        return flat
    stack = []          # [(indent, prefix)]
    list_counters = {}  # prefix -> current list index
    for raw in str(text).splitlines():
        line = _strip_comment(raw)
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        m = _LINE_RE.match(line)
        if not m:
            continue
        indent = len(m.group("indent"))
        key, val = m.group("key"), m.group("val")
        if m.group("dash"):
            # "- key: val" starts a new list element under the open prefix
            # (the dash may sit at the same indent as its parent key).
            while stack and stack[-1][0] > indent:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            idx = list_counters.get(parent, -1) + 1
            list_counters[parent] = idx
            elem = f"{parent}.{idx}" if parent else str(idx)
            indent = indent + len(m.group("dash"))
            stack.append((indent - 1, elem))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        prefix = stack[-1][1] if stack else ""
        full = f"{prefix}.{key}" if prefix else key
        if val is None or val == "":
            stack.append((indent, full))
        elif val.startswith("{") and val.endswith("}"):
            for k2, v2 in _FLOW_ITEM_RE.findall(val[1:-1]):
                flat[f"{full}.{k2}"] = parse_scalar(v2)
        elif val.startswith("[") and val.endswith("]"):
            inner = val[1:-1].strip()
            flat[full] = [parse_scalar(v) for v in inner.split(",")] if inner else []
        else:
            flat[full] = parse_scalar(val)
    return flat


# Short root attributes written by the C++ program, and their YAML key paths.
SHORT_ATTRS = {
    "layer.kernel": "kernel",
    "layer.neurons": "neurons",
    "plasticity.gamma": "gamma",
    "dynamics.alpha": "alpha",
    "run.seed": "seed",
}
ALIASES = {v: k for k, v in SHORT_ATTRS.items()}   # "kernel" -> "layer.kernel"
ALIASES["model"] = "model"

# Per-run attributes that are bookkeeping, never "swept keys".
BOOKKEEPING = {"config", "version", "complete", "index", "name", "run"}


def canonical_key(key):
    """'kernel' -> 'layer.kernel'; other keys are returned unchanged."""
    return ALIASES.get(key, key)


def values_equal(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def format_value(v):
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------

class Run:
    """One simulation run, data in memory."""

    def __init__(self, source, group, attrs, snr, weights=None, table_row=None):
        self.source = source          # file path
        self.group = group            # "/" or "/runs/<i>"
        self.attrs = attrs            # {name: python value}
        self.step = snr["step"]
        self.time = snr.get("time")
        self.neg_log_snr = snr["neg_log_snr"]   # (records,) or (layers, records)
        self.theory_min = snr.get("theory_min")
        self.weights = weights or {}
        self.table_row = table_row or {}
        self._config = None

    # -- identification --------------------------------------------------
    @property
    def name(self):
        return self.source if self.group == "/" else f"{self.source}:{self.group}"

    @property
    def config(self):
        if self._config is None:
            self._config = parse_config(self.attrs.get("config", ""))
        return self._config

    # -- parameters -------------------------------------------------------
    def param(self, key, default=None):
        """Value of a parameter (see module docstring for the lookup order)."""
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
        """1 for ideal runs; round(presentation / dt) for ei_rate runs.

        dt comes from the config, else from /snr/time ÷ /snr/step."""
        if self.model == "ideal":
            return 1.0
        if getattr(self, "_spp", None) is None:
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
            with _quiet_nan_warnings():
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


_MISSING = object()


def _read_attrs(obj):
    out = {}
    for k, v in obj.attrs.items():
        try:
            out[k] = to_py(v)
        except Exception:  # unreadable attribute types are ignored
            pass
    return out


def _read_run(h5file, group, path, table_row=None, load_weights=False):
    g = h5file[group]
    if "snr" not in g or not isinstance(g["snr"], h5py.Group):
        raise InputError(f"{path}{'' if group == '/' else ':' + group}: no /snr group")
    s = g["snr"]
    if "neg_log_snr" not in s:
        raise InputError(f"{path}:{s.name}: no neg_log_snr dataset")
    y = np.asarray(s["neg_log_snr"][()], dtype=float)
    if y.ndim not in (1, 2):
        raise InputError(f"{path}:{s.name}/neg_log_snr has shape {y.shape}, expected (records,) or (layers, records)")
    n = y.shape[-1]
    if n == 0:
        raise InputError(f"{path}:{s.name}/neg_log_snr has no records")
    if "step" in s:
        step = np.asarray(s["step"][()], dtype=np.int64).reshape(-1)
    else:
        warn(f"{path}:{s.name}: no step dataset; numbering records 1..{n}")
        step = np.arange(1, n + 1, dtype=np.int64)
    time = np.asarray(s["time"][()], dtype=float).reshape(-1) if "time" in s else None
    if step.shape[0] != n:
        # Tolerate a dataset written with an extra/missing record: truncate.
        m = min(step.shape[0], n)
        warn(f"{path}:{s.name}: step has {step.shape[0]} records, neg_log_snr {n}; using {m}")
        step, y = step[:m], y[..., :m]
        time = time[:m] if time is not None else None
    theory = None
    if "theory_min" in s:
        theory = np.asarray(s["theory_min"][()], dtype=float)
        theory = float(theory) if theory.size == 1 else theory
    weights = {}   # name -> array (load_weights=True) or just its shape
    if "weights" in g and isinstance(g["weights"], h5py.Group):
        for name, ds in g["weights"].items():
            if isinstance(ds, h5py.Dataset):
                weights[name] = np.asarray(ds[()]) if load_weights else ds.shape
    attrs = _read_attrs(h5file) if group == "/" else {**_root_inherit(h5file), **_read_attrs(g)}
    return Run(path, group, attrs, {"step": step, "time": time, "neg_log_snr": y,
                                    "theory_min": theory}, weights, table_row)


def _root_inherit(h5file):
    """Root attributes of a sweep file that runs inherit unless they set them."""
    a = _read_attrs(h5file)
    return {k: v for k, v in a.items() if k in ("version",)}


def _sweep_table(h5file):
    """/sweep/params as {run_index: {key: value}} (empty if absent/unusable)."""
    if "sweep" not in h5file or "params" not in h5file["sweep"]:
        return {}, []
    ds = h5file["sweep"]["params"]
    try:
        data = ds[()]
    except Exception:
        return {}, []
    rows, keys = {}, []
    if data.dtype.names:  # compound table, one row per run
        keys = [k for k in data.dtype.names]
        idx_field = next((k for k in ("index", "run", "run_index") if k in keys), None)
        for i, row in enumerate(np.atleast_1d(data)):
            d = {k: to_py(row[k]) for k in keys}
            ri = int(d[idx_field]) if idx_field else i
            rows[ri] = {k: v for k, v in d.items() if k != idx_field}
        keys = [k for k in keys if k != idx_field]
    elif data.ndim == 2:  # plain 2D table with column names in an attribute
        names = None
        for attr in ("columns", "keys", "names", "fields", "column_names"):
            if attr in ds.attrs:
                names = to_py(ds.attrs[attr])
                if isinstance(names, str):
                    names = [n.strip() for n in re.split(r"[,\s]+", names) if n.strip()]
                break
        if names is None or len(names) != data.shape[1]:
            return {}, []
        keys = list(names)
        idx_field = next((k for k in ("index", "run", "run_index") if k in keys), None)
        for i, row in enumerate(data):
            d = {k: to_py(v) for k, v in zip(keys, row)}
            ri = int(d[idx_field]) if idx_field else i
            rows[ri] = {k: v for k, v in d.items() if k != idx_field}
        keys = [k for k in keys if k != idx_field]
    return rows, keys


def _run_sort_key(name):
    return (0, int(name)) if name.isdigit() else (1, name)


def _load_file(path, load_weights=False):
    """All runs of one file (single-run or sweep). Raises InputError."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except Exception as e:  # not HDF5, permissions, truncated ...
        raise InputError(f"{path}: cannot open as HDF5 ({e.__class__.__name__}: {e})")
    try:
        with f:
            if "runs" in f and isinstance(f["runs"], h5py.Group):
                table, table_keys = _sweep_table(f)
                names = sorted(f["runs"].keys(), key=_run_sort_key)
                if not names:
                    raise InputError(f"{path}: /runs is empty")
                runs, skipped = [], []
                for name in names:
                    row = table.get(int(name)) if name.isdigit() else None
                    try:
                        r = _read_run(f, f"/runs/{name}", path, row, load_weights)
                    except InputError as e:   # e.g. a run of an unfinished sweep
                        skipped.append(str(e))
                        continue
                    r.sweep_keys = table_keys
                    runs.append(r)
                if not runs:
                    raise InputError(skipped[0] if len(skipped) == 1 else
                                     f"{path}: no usable run in /runs ({skipped[0]}; ...)")
                if skipped:
                    warn(f"{path}: skipped {len(skipped)} of {len(names)} runs, e.g. {skipped[0]}")
                return runs
            run = _read_run(f, "/", path, None, load_weights)
            run.sweep_keys = []
            return [run]
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: unreadable ({e.__class__.__name__}: {e})")


H5_EXTENSIONS = (".h5", ".hdf5", ".he5")


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
    """Every run found in `inputs` (files, sweep files, directories).

    Weights are only read when load_weights is True (else their shapes)."""
    if h5py is None:
        raise InputError("h5py is not available in this Python (use /usr/bin/python3)")
    runs = []
    for path in expand_inputs(inputs):
        runs.extend(_load_file(path, load_weights))
    return runs


# ---------------------------------------------------------------------------
# Grouping and statistics
# ---------------------------------------------------------------------------

def swept_keys(runs):
    """Keys that identify sweep points: /sweep/params columns, dotted run
    attributes, plus any known parameter whose value differs between runs."""
    keys = []
    for r in runs:
        for k in getattr(r, "sweep_keys", []):
            if k not in keys:
                keys.append(k)
        for k in r.attrs:
            if "." in k and k not in keys and k not in BOOKKEEPING:
                keys.append(k)
    candidates = ["model", "layer.kernel", "layer.neurons", "plasticity.gamma",
                  "dynamics.alpha", "seed"]
    for k in candidates:
        if k in keys or (k == "seed" and "run.seed" in keys):
            continue
        vals = [r.param(k) for r in runs]
        if any(v is not None for v in vals) and len({format_value(v) for v in vals}) > 1:
            keys.append(k)
    return keys


def available_keys(runs):
    """Every key any run can answer (attributes, table and config)."""
    keys = set()
    for r in runs:
        keys.update(k for k in r.attrs if k not in ("config",))
        keys.update(r.table_row)
        keys.update(r.config)
    keys.update(k for k in SHORT_ATTRS if any(r.has_param(k) for r in runs))
    return sorted(keys)


def check_key(runs, key, what="key"):
    """Raise InputError listing the swept keys when no run knows `key`."""
    if any(r.has_param(key) for r in runs):
        return canonical_key(key)
    sk = swept_keys(runs)
    raise InputError(f"unknown {what} '{key}'; swept keys: {', '.join(sk) if sk else '(none)'}")


def parse_slice(text):
    """'a=1,b=x' -> [("a", 1), ("b", "x")]."""
    items = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise InputError(f"bad slice item '{part}', expected KEY=VALUE")
        k, v = part.split("=", 1)
        items.append((k.strip(), parse_scalar(v)))
    return items


def filter_runs(runs, slice_items):
    for k, _ in slice_items:
        check_key(runs, k)
    out = [r for r in runs if all(values_equal(r.param(k), v) for k, v in slice_items)]
    if not out:
        desc = "; ".join(f"{k} in {{{', '.join(sorted({format_value(r.param(k)) for r in runs}))}}}"
                         for k, _ in slice_items)
        raise InputError(f"no run matches {', '.join(f'{k}={format_value(v)}' for k, v in slice_items)} "
                         f"(available: {desc})")
    return out


def group_runs(runs, keys):
    """{tuple(values of keys): [runs]} with insertion order sorted by the values."""
    groups = {}
    for r in runs:
        groups.setdefault(tuple(r.param(k) for k in keys), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: tuple(sort_key(v) for v in kv[0])))


def sort_key(v):
    if v is None:
        return (2, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v))
    return (1, str(v))


def align_curves(xs, ys):
    """Put curves with (possibly different) x grids onto one grid.

    If every x grid is a prefix of the longest one (same record spacing, some
    runs shorter/incomplete) the shorter ones are NaN-padded; otherwise each
    curve is linearly interpolated onto the longest grid (NaN outside its range).
    Returns x (n,), Y (trials, n)."""
    ref = max(xs, key=len)
    Y = np.full((len(ys), len(ref)), np.nan)
    for i, (x, y) in enumerate(zip(xs, ys)):
        if len(x) == 0:
            continue
        if len(x) <= len(ref) and np.allclose(x, ref[:len(x)], rtol=1e-9, atol=1e-9):
            Y[i, :len(y)] = y
        else:
            inside = (ref >= x[0]) & (ref <= x[-1])
            Y[i, inside] = np.interp(ref[inside], x, y)
    return ref, Y


def band_stats(Y, band):
    """Mean over trials and the band (lo, hi): 'minmax', 'std' or 'none'."""
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        mean = np.nanmean(Y, axis=0)
        if band == "std":
            sd = np.nanstd(Y, axis=0)
            return mean, mean - sd, mean + sd
        if band == "minmax":
            return mean, np.nanmin(Y, axis=0), np.nanmax(Y, axis=0)
        return mean, None, None


class _quiet_nan_warnings:
    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


BAND_LABEL = {"minmax": "min–max over trials", "std": "±1 std over trials"}


def setup_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
