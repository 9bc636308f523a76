# SPDX-License-Identifier: BSD-3-Clause
"""Runs and sweeps in memory, read from the files dynshare writes, through
the one reader (dynshare_analysis.reader)."""
import numpy as np
import yaml

from dynshare_analysis import reader
from dynshare_analysis.errors import InputError


class Run:
    """One simulation run: a `dynshare simulate` file (one layer or stacked
    LC layers) or one run of a sweep, all of it in memory (numpy arrays).

    Arrays (records are taken every run.record_every integration steps):
      step            int64 (records,): integration steps done at each record
      time            float64 (records,): simulated time of each record, seconds
      presentation    float64 (records,): presentations done at each record
                      (step / steps per presentation; iterations for model ideal)
      neg_log_snr     float64 (records,) or, stacked, (layers, records):
                      -log SNR_w (Eq. 6, module-averaged), dimensionless
      mean_abs_over_std  float64 (layers, records) (stacked runs): mean over
                      modules and inputs of |mean w| / std w, dimensionless
      theory_min      float (one layer): -log SNR_w of the Eq. 5 fixed point
      weights_initial, weights_final
                      one layer: float64 (neurons, k^2); stacked: a list with one
                      float64 (c_out, h_out, w_out, c_in k^2) array per layer
                      (dimensionless synaptic weights); weights_final is None when
                      the run did not complete
    Other attributes: config (the full resolved config, nested dicts),
    config_yaml (the same as YAML text), attrs (every HDF5 attribute of the
    run), status ("complete", "interrupted", "diverged"), complete (bool),
    kind ("run" or "stack"), path (the file, None for an in-memory result).
    """

    def __init__(self, data, path, layers=None):
        self._data = data
        self.path = path
        self.kind = data.kind
        self.attrs = data.attrs
        self.config_yaml = str(data.attrs.get("config", ""))
        self.config = yaml.safe_load(self.config_yaml) or {}
        self.step = data.step
        self.time = data.time
        self.presentation = data.iterations()
        self.neg_log_snr = data.neg_log_snr
        self.mean_abs_over_std = data.mean_abs_over_std
        self.theory_min = data.theory_min
        self.status = str(data.attrs.get("status", "complete"))
        self.complete = data.complete
        if layers is not None:
            self.layers = layers
            self.weights_initial = [l.weights_initial for l in layers]
            self.weights_final = None if any(l.weights_final is None for l in layers) else \
                [l.weights_final for l in layers]
        else:
            self.layers = None
            self.weights_initial = data.weights.get("initial")
            self.weights_final = data.weights.get("final")

    def param(self, key, default=None):
        """A parameter by dotted key path ("dynamics.alpha"), from the run's attributes or config."""
        return self._data.param(key, default)

    def curve(self, layer=None):
        """-log SNR_w per record (stacked: one layer, or the mean over layers)."""
        return self._data.curve(layer)

    def final(self, layer=None):
        """The last finite value of curve(layer)."""
        return self._data.final(layer)

    def to_xarray(self):
        """An xarray.Dataset: neg_log_snr (and mean_abs_over_std) over the
        dimension `presentation` (and `layer` for stacks), coordinates step
        and time (s), the config's scalar keys as attributes."""
        import xarray as xr
        dims = ("presentation",) if self.neg_log_snr.ndim == 1 else ("layer", "presentation")
        coords = {"presentation": self.presentation, "step": ("presentation", self.step)}
        if self.time is not None:
            coords["time"] = ("presentation", self.time)
        data = {"neg_log_snr": (dims, self.neg_log_snr)}
        if self.mean_abs_over_std is not None:
            data["mean_abs_over_std"] = (dims, self.mean_abs_over_std)
        if len(dims) == 2:
            coords["layer"] = np.arange(self.neg_log_snr.shape[0])
        ds = xr.Dataset(data, coords=coords, attrs=_scalar_attrs(self.config))
        ds["neg_log_snr"].attrs.update(long_name="-log SNR_w (Eq. 6)", units="1")
        ds["presentation"].attrs.update(long_name="presentations", units="1")
        if "time" in ds.coords:
            ds["time"].attrs.update(units="s")
        if self.theory_min is not None and np.size(self.theory_min) == 1:
            ds.attrs["theory_min"] = float(self.theory_min)
        return ds

    def __repr__(self):
        where = self.path or "memory"
        return (f"<dynshare.Run {self.kind} {self.status}, {len(self.step)} records, "
                f"final -log SNR_w {self.final():.4g} ({where})>")


def _scalar_attrs(config):
    out = {}
    for k, v in reader.flatten(config).items() if isinstance(config, dict) else []:
        if isinstance(v, (bool, int, float, str)):
            out[k] = int(v) if isinstance(v, bool) else v
    return out


class Sweep:
    """Every finished run of a `dynshare sweep` file, in memory.

    runs    list of Run, in run index order (each with .attrs["index"],
            ["trial"], ["point"], ["seed"] and the swept values)
    keys    the swept dotted key paths ("plasticity.gamma", ...)
    attrs   the file's root attributes (sweep = the resolved sweep YAML,
            runs_total, runs_done, complete, ...)
    """

    def __init__(self, runs, keys, attrs, path):
        self.runs = runs
        self.keys = list(keys)
        self.attrs = attrs
        self.path = path

    def __len__(self):
        return len(self.runs)

    def __iter__(self):
        return iter(self.runs)

    def __getitem__(self, i):
        return self.runs[i]

    def to_xarray(self):
        """An xarray.Dataset with neg_log_snr over the dimensions: every swept
        key (named by its dotted path, e.g. "plasticity.gamma"), `trial`,
        (`layer` for stacks) and `presentation`. Combinations the sweep did
        not run (zipped `lists` keys) and records a shorter run lacks are NaN."""
        import xarray as xr
        if not self.runs:
            raise ValueError(f"{self.path}: the sweep holds no finished run")
        levels = {k: _levels([r.param(k) for r in self.runs]) for k in self.keys}
        trials = sorted({int(r.attrs.get("trial", 0)) for r in self.runs})
        longest = max(self.runs, key=lambda r: len(r.presentation))
        pres = longest.presentation
        stacked = longest.neg_log_snr.ndim == 2
        nl = longest.neg_log_snr.shape[0] if stacked else None
        shape = [len(levels[k]) for k in self.keys] + [len(trials)] + ([nl] if stacked else []) + [len(pres)]
        y = np.full(shape, np.nan)
        for r in self.runs:
            idx = tuple(levels[k].index(_level(r.param(k))) for k in self.keys) + \
                (trials.index(int(r.attrs.get("trial", 0))),)
            n = r.neg_log_snr.shape[-1]
            y[idx + (Ellipsis, slice(0, n))] = r.neg_log_snr
        dims = list(self.keys) + ["trial"] + (["layer"] if stacked else []) + ["presentation"]
        coords = {k: levels[k] for k in self.keys}
        coords.update(trial=trials, presentation=pres)
        if stacked:
            coords["layer"] = np.arange(nl)
        ds = xr.Dataset({"neg_log_snr": (dims, y)}, coords=coords,
                        attrs={k: v for k, v in self.attrs.items() if isinstance(v, (int, float, str))})
        ds["neg_log_snr"].attrs.update(long_name="-log SNR_w (Eq. 6)", units="1")
        return ds

    def __repr__(self):
        return f"<dynshare.Sweep {len(self.runs)} runs over {', '.join(self.keys) or 'no key'} ({self.path})>"


def _level(v):
    return v.item() if isinstance(v, np.generic) else v


def _levels(values):
    vals = [_level(v) for v in values]
    uniq = []
    for v in vals:
        if v not in uniq:
            uniq.append(v)
    try:
        return sorted(uniq)
    except TypeError:
        return uniq


def read(path):
    """Reads any file dynshare writes into memory.

    A `dynshare simulate` file (one layer or stacked) -> Run; a
    `dynshare sweep`/`merge` file -> Sweep; a trainer RUN_DIR or its
    metrics.h5 -> dynshare_analysis.reader.TrainingRun (epochs: {series: (E,)
    arrays}, sleep: {"iteration", "seconds" (s), "snr_before", "snr_after":
    (phases, layers) -log SNR_w}). Raises dynshare.InputError (one line,
    starting with the path) for a file of none of these kinds."""
    import os
    path = os.fspath(path)
    if os.path.isdir(path):
        return reader.load_training(path)
    kind, _schema = reader.inspect_file(path)
    if kind == reader.TRAINING:
        return reader.load_training(path)
    if kind not in reader.SIMULATION_KINDS:
        raise reader.wrong_kind(path, kind, "dynshare output")
    runs = reader.load_file(path, load_weights=True)
    if kind == reader.SWEEP:
        with reader.open_h5(path) as f:
            attrs = reader._read_attrs(f)
            _table, keys = reader.sweep_table(f)
        if not keys:
            keys = list(runs[0].sweep_keys) if getattr(runs[0], "sweep_keys", None) else []
        return Sweep([Run(r, path, _stack_layers_of_sweep_run(path, r) if r.neg_log_snr.ndim == 2 else None)
                      for r in runs], keys, attrs, path)
    layers = reader.load_stack_layers(path, need_final=False) if kind == reader.STACK else None
    return Run(runs[0], path, layers)


def _stack_layers_of_sweep_run(path, run):
    """The /runs/<i>/layers/<l> of a stacked run in a sweep."""
    with reader.open_h5(path) as f:
        g = f[run.group]
        if "layers" not in g:
            return None
        out = []
        for n in sorted((n for n in g["layers"] if n.isdigit()), key=int):
            lg = g["layers"][n]
            final = np.asarray(lg["weights_final"][()]) if "weights_final" in lg else None
            out.append(reader.StackLayer(int(n), reader._read_attrs(lg), np.asarray(lg["weights_initial"][()]), final))
        return out


__all__ = ["Run", "Sweep", "read", "InputError"]
