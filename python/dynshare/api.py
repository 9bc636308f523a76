# SPDX-License-Identifier: BSD-3-Clause
"""dynshare.simulate and dynshare.sweep: the CLI's runs from Python."""
import os
import shutil
import tempfile
import warnings

import yaml

from . import _config, _core
from ._progress import Progress
from .run import read


def _output(out, overwrite, name):
    """(path to write, temporary folder or None)."""
    if out is None:
        tmp = tempfile.mkdtemp(prefix="dynshare_")
        return os.path.join(tmp, name), tmp
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out: expected a file path, got {type(out).__name__}")
    return os.fspath(out), None


def simulate(config=None, *, set=None, seed=None, threads=None, backend="auto", progress=None, out=None,
             overwrite=False):
    """Runs one simulation, as `dynshare simulate`, and returns it as a Run.

    config     a path to a YAML config, a YAML string, or a nested dict (the
               CLI's schema and validation); None: the built-in default, one
               Fig. 4B curve (ei_rate, N = 100 neurons, k = 9, alpha = 10,
               gamma = 0.1, 10,000 presentations of 0.15 s, dt = 1 ms). A
               `stack` section runs the sleep phase over stacked LC layers.
    set        overrides, like --set: a dict of dotted key paths
               ({"dynamics.alpha": 30, "run.presentations": 2000}) or a list
               of "key.path=value" strings; applied after config.
    seed       run.seed (an int >= 0); the same seed gives the same bits as
               `dynshare simulate --seed`, on any thread count.
    threads    OpenMP threads for this run (None: OpenMP's default); results
               do not depend on it.
    backend    "auto" (the GPU when usable and able to run the config, else
               the CPU), "cpu" or "cuda".
    progress   True: a tqdm bar of presentations; None (default): only in an
               interactive session (REPL, IPython, Jupyter); False: none.
    out        also keep the HDF5 file `dynshare simulate -o OUT` writes
               (None: written to a temporary file, read and removed).
    overwrite  replace an existing `out` (else ConfigError).

    Returns a Run (see help(dynshare.Run)): presentation (records,),
    step (records,) integration steps, time (records,) simulated seconds,
    neg_log_snr (records,) or (layers, records) (-log SNR_w, dimensionless),
    weights_initial/weights_final (dimensionless), config (nested dict),
    attrs, status, and to_xarray().

    Raises ConfigError (a ValueError) with the CLI's one-line message for a
    bad config, key, value, backend or output, before anything is written.
    The GIL is released while the engine runs. Ctrl-C raises
    KeyboardInterrupt at the engine's next presentation boundary (every
    presentation, or every dynamics.block presentations); `out` is then the
    valid, resumable file of the interrupted run (complete = 0, `dynshare
    simulate --resume OUT` continues it), never a half-written one. A run
    that diverges returns with status "diverged" and a RuntimeWarning.
    """
    path, text, origin = _config.source(config)
    sets = _config.sets(set, seed)
    threads = _config.threads_arg(threads)
    backend = _config.backend_arg(backend)
    target, tmp = _output(out, overwrite, "run.h5")
    bar = Progress(progress, "presentations")
    try:
        try:
            info = _core.simulate(path, text, origin, sets, target, bool(overwrite), threads, backend, bar.callback())
        except _core.ConfigError as e:
            raise _config.python_wording(e) from None
        bar.close()
        run = read(target)
    finally:
        bar.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    run.path = None if tmp is not None else target
    run.backend = info["backend"]
    run.seconds = info["seconds"]
    if info["status"] == "diverged":
        warnings.warn(f"dynshare.simulate: the run diverged: {info['message']}", RuntimeWarning, stacklevel=2)
    return run


def _sweep_file(sweep, folder):
    """The sweep as a file the C++ loader reads: a path as given; a YAML
    string or dict written into `folder` (without `base`: the built-in
    default config, written beside it)."""
    if isinstance(sweep, os.PathLike) or (isinstance(sweep, str) and _config.source(sweep)[0] is not None):
        return os.fspath(sweep)
    if isinstance(sweep, str):
        tree = yaml.safe_load(sweep)
        if not isinstance(tree, dict):
            raise _core.ConfigError("sweep: expected a mapping with keys base, set, grid, lists, trials")
    elif isinstance(sweep, dict):
        tree = _config._plain(sweep)
    else:
        raise TypeError(f"sweep: expected a path, a YAML string or a dict, got {type(sweep).__name__}")
    tree = dict(tree)
    base = tree.get("base")
    if base is None:
        base_path = os.path.join(folder, "default.yaml")
        with open(base_path, "w") as f:
            f.write(_core.resolve_config(None, None, "", []))
        tree["base"] = base_path
    elif isinstance(base, dict):
        base_path = os.path.join(folder, "base.yaml")
        _, text, origin = _config.source(base, "base")  # the one dict -> YAML conversion
        with open(base_path, "w") as f:
            f.write(_core.resolve_config(None, text, origin, []))
        tree["base"] = base_path
    elif isinstance(base, (str, os.PathLike)):
        tree["base"] = os.path.abspath(os.fspath(base))
    path = os.path.join(folder, "sweep.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(tree, f, sort_keys=False)
    return path


def sweep(sweep, *, set=None, threads=None, backend="auto", progress=None, out=None, overwrite=False):
    """Runs every run of a parameter sweep, as `dynshare sweep`, and returns a Sweep.

    sweep      a path to a sweep YAML file, a YAML string, or a dict with the
               sweep file's keys: base (a config path, or a config dict;
               absent: the built-in default, one Fig. 4B curve), set
               (overrides for every run), grid (dotted key -> list of values,
               Cartesian product), lists (zipped), trials (runs per point,
               each with its own derived seed).
    set        extra overrides for every run (a dict of dotted keys or
               "key=value" strings), folded into the sweep's `set`.
    threads    runs in parallel, one thread each (None: all cores); results
               do not depend on it.
    backend    "auto", "cpu" or "cuda" (on the GPU all runs go in one batch).
    progress   a tqdm bar of presentations (None: only when interactive).
    out        also keep the HDF5 file `dynshare sweep -o OUT` writes.
    overwrite  replace an existing `out`.

    Returns a Sweep: runs (each a Run), keys (the swept dotted key paths),
    and to_xarray() with dimensions = the swept keys (named by their dotted
    paths, e.g. "plasticity.gamma"), trial and presentation; the variable
    neg_log_snr is -log SNR_w (dimensionless).

    ConfigError (a ValueError) with the CLI's message for a bad sweep or
    config. Ctrl-C raises KeyboardInterrupt within 50 ms of the engine's
    next presentation boundary; `out` then holds the finished runs
    (complete = 0; `dynshare sweep --resume` finishes it).
    """
    sets = _config.sets(set, None)
    threads = _config.threads_arg(threads)
    backend = _config.backend_arg(backend)
    folder = tempfile.mkdtemp(prefix="dynshare_sweep_")
    bar = Progress(progress, "presentations")
    try:
        sweep_path = _sweep_file(sweep, folder)
        target = os.path.join(folder, "sweep.h5") if out is None else os.fspath(out)
        try:
            _core.sweep(sweep_path, sets, target, bool(overwrite), threads, backend, bar.callback())
        except _core.ConfigError as e:
            raise _config.python_wording(e) from None
        bar.close()
        result = read(target)
    finally:
        bar.close()
        shutil.rmtree(folder, ignore_errors=True)
    result.path = None if out is None else target
    return result
