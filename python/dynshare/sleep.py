# SPDX-License-Identifier: BSD-3-Clause
"""dynshare.sleep_phase: the trainer's simulated sleep phase (Eq. 8 over
stacked LC layers, Section 4.1) on weights a Python training loop holds."""
import numbers

import numpy as np

from . import _config, _core

LAYOUTS = ("dynshare", "authors")
GEOMETRY_KEYS = ("c_in", "h_in", "w_in", "c_out", "k", "stride", "padding")
# Keys the chain's geometry and the phase's own arguments set: refused in config.
FORBIDDEN = ("run.", "stack.layers", "stack.input", "stack.connectivity", "stack.period", "stack.enabled", "layer.")


def _geometry(geometry):
    if not isinstance(geometry, (list, tuple)) or not geometry:
        raise TypeError("geometry: expected a non-empty list with one entry per LC layer")
    out = []
    for i, g in enumerate(geometry):
        if isinstance(g, dict):
            d = dict(g)
            if "kernel" in d and "k" not in d:
                d["k"] = d.pop("kernel")
            d.setdefault("stride", 1)
            if "k" in d:
                d.setdefault("padding", (int(d["k"]) - 1) // 2)
            unknown = sorted(set(d) - set(GEOMETRY_KEYS))
            missing = [k for k in GEOMETRY_KEYS if k not in d]
            if unknown or missing:
                raise ValueError(f"geometry[{i}]: expected keys {', '.join(GEOMETRY_KEYS)} "
                                 f"(stride default 1, padding default (k - 1) // 2); "
                                 + (f"unknown {unknown}" if unknown else f"missing {missing}"))
            vals = [d[k] for k in GEOMETRY_KEYS]
        elif isinstance(g, (list, tuple)) and len(g) == 7:
            vals = list(g)
        else:
            raise TypeError(f"geometry[{i}]: expected a dict with keys {', '.join(GEOMETRY_KEYS)} "
                            f"or a 7-tuple in that order, got {g!r}")
        for k, v in zip(GEOMETRY_KEYS, vals):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"geometry[{i}].{k} = {v!r}: expected an integer")
        vals = [int(v) for v in vals]
        c_in, h_in, w_in, c_out, k, stride, padding = vals
        if min(c_in, h_in, w_in, c_out, k, stride) < 1 or padding < 0:
            raise ValueError(f"geometry[{i}] = {dict(zip(GEOMETRY_KEYS, vals))}: sizes must be >= 1, padding >= 0")
        h_out = (h_in + 2 * padding - k) // stride + 1
        w_out = (w_in + 2 * padding - k) // stride + 1
        if h_out < 1 or w_out < 1:
            raise ValueError(f"geometry[{i}]: kernel {k} does not fit a {h_in}x{w_in} input with padding {padding}")
        if i > 0:
            p = out[-1]
            if (c_in, h_in, w_in) != (p["c_out"], p["h_out"], p["w_out"]):
                raise ValueError(f"geometry[{i}]: input {c_in}x{h_in}x{w_in} is not layer {i - 1}'s output "
                                 f"{p['c_out']}x{p['h_out']}x{p['w_out']} (the sleep phase runs over a chain)")
        out.append(dict(zip(GEOMETRY_KEYS, vals), h_out=h_out, w_out=w_out))
    return out


def _as_array(w, i):
    """The caller's storage as a numpy array (no copy), checked; TypeError or
    ValueError naming weights[i]."""
    name = f"weights[{i}]"
    if hasattr(w, "detach") and hasattr(w, "device") and hasattr(w, "is_contiguous"):  # a torch tensor
        if w.device.type != "cpu":
            raise ValueError(f"{name}: a tensor on {w.device}; dynshare.sleep_phase takes CPU tensors "
                             "(dynshare's CUDA backend takes device tensors only inside dynshare-train)")
        if str(w.dtype) not in ("torch.float32", "torch.float64"):
            raise TypeError(f"{name}: dtype {w.dtype}; expected torch.float32 or torch.float64")
        if not w.is_contiguous():
            raise ValueError(f"{name}: not contiguous; expected a contiguous tensor (the phase works in place "
                             "on its storage: call .contiguous() and assign it back to the parameter first)")
        a = w.detach().numpy()   # shares the tensor's storage
    elif isinstance(w, np.ndarray):
        a = w
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: dtype {a.dtype}; expected float32 or float64")
        if not a.flags.c_contiguous:
            raise ValueError(f"{name}: not C-contiguous; expected a C-contiguous array (np.ascontiguousarray "
                             "makes a copy, which the in-place phase would not update)")
        if not a.flags.writeable:
            raise ValueError(f"{name}: read-only; the phase updates the weights in place")
    else:
        raise TypeError(f"{name}: expected a numpy array or a CPU torch tensor, got {type(w).__name__}")
    return a


def _strides(a, g, layout, i):
    """Element strides of the engine's (c_out, y, x, c_in, ky, kx) in the caller's array."""
    k, c_in, c_out, h, w = g["k"], g["c_in"], g["c_out"], g["h_out"], g["w_out"]
    if layout == "dynshare":
        ok = (a.shape == (c_out, h, w, c_in * k * k) or a.shape == (c_out, h, w, c_in, k, k))
        want = f"({c_out}, {h}, {w}, {c_in * k * k}) or ({c_out}, {h}, {w}, {c_in}, {k}, {k})"
        order = (0, 1, 2, 3, 4, 5)
        shape6 = (c_out, h, w, c_in, k, k)
    else:  # the authors' LocallyConnected2d.weights: (c_in, c_out, h_out, w_out, k, k)
        ok = a.shape == (c_in, c_out, h, w, k, k)
        want = f"({c_in}, {c_out}, {h}, {w}, {k}, {k}) (c_in, c_out, h_out, w_out, k, k)"
        order = (1, 2, 3, 0, 4, 5)
        shape6 = (c_in, c_out, h, w, k, k)
    if not ok:
        raise ValueError(f"weights[{i}]: shape {tuple(a.shape)} does not match geometry[{i}] "
                         f"in layout '{layout}': expected {want}")
    contiguous = np.cumprod((1,) + shape6[::-1][:-1])[::-1]  # element strides of shape6
    return [int(contiguous[d]) for d in order]


def sleep_phase(weights, geometry, config=None, *, seed=0, phase=0, presentations=100, threads=None,
                layout="dynshare"):
    """Runs the simulated sleep phase of dynshare's trainer (Eq. 8 over the
    stacked LC layers, Section 4.1) on `weights`, in place.

    weights        a list with one LC weight tensor per layer of a chain:
                   numpy float32/float64 arrays or CPU torch tensors (contiguous;
                   torch tensors are reached through .numpy(), which shares their
                   storage: data_ptr() is unchanged). Dimensionless synaptic weights.
    geometry       one dict per layer: c_in, h_in, w_in (input channels and
                   size, pixels), c_out, k (kernel size, pixels), stride (default
                   1), padding (default (k - 1) // 2); or 7-tuples in that order.
                   Layer l + 1's input is layer l's output.
    config         the trainer's `sleep` section (a dict, YAML string or path):
                   dynamics, plasticity, input and stack.{drive, border,
                   normalize, schedule} over the trainer's defaults (exponential
                   integrator, alpha = 1e4, lr = 0.008 with lr_scaling fan_in,
                   gamma = 0.1, stack.drive = 1, stack.border = periodic).
    seed           the random patterns' seed (the trainer's train.seed).
    phase          the phase's index: successive phases draw different patterns
                   (the trainer's phase counter 0, 1, 2, ...; the patterns'
                   stream is seed * 1000003 + phase, as the trainer's).
    presentations  presentations of the phase (the trainer's sharing.presentations).
    threads        OpenMP threads (None: OpenMP's default); results do not depend on it.
    layout         "dynshare": dynshare's LC layer, (c_out, h_out, w_out, c_in k^2)
                   or (c_out, h_out, w_out, c_in, k, k), Conv2d's (c_in, ky, kx)
                   order within a neuron; "authors": the `weights` parameter of
                   Pogodin et al.'s LocallyConnected2d (networks/
                   locally_connected_utils.py), (c_in, c_out, h_out, w_out, k, k).

    Returns a list with one (snr_before, snr_after) per layer: -log SNR_w
    (Eq. 6, module-averaged over non-border neurons, modules of period k;
    dimensionless) of the weights as stored before and after the phase (the
    trainer's /sleep/snr_before and snr_after).

    The numbers are the trainer's (dynshare-train, sharing.mode simulated,
    on the CPU) for the same weights, config, seed and phase: the same engine
    config (sleep_phase_config), the same conversion to doubles and back, the
    same run_sleep_phase. Bad input (dtype, contiguity, device, shape, NaN or
    infinite weights, config keys) raises one TypeError/ValueError naming
    the argument before any weight is touched (ConfigError, a ValueError,
    for config). The GIL is released during the phase; Ctrl-C takes effect
    when it returns.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout = {layout!r}: expected 'dynshare' or 'authors'")
    geo = _geometry(geometry)
    if not isinstance(weights, (list, tuple)):
        raise TypeError("weights: expected a list with one weight tensor per layer")
    if len(weights) != len(geo):
        raise ValueError(f"weights: {len(weights)} tensors for {len(geo)} layers in geometry")
    for name, v in (("seed", seed), ("phase", phase), ("presentations", presentations)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (1 if name == "presentations" else 0):
            raise ValueError(f"{name} = {v!r}: expected an integer >= {1 if name == 'presentations' else 0}")
    arrays, strides = [], []
    for i, (w, g) in enumerate(zip(weights, geo)):
        a = _as_array(w, i)
        strides.append(_strides(a, g, layout, i))
        if not np.isfinite(a).all():
            raise ValueError(f"weights[{i}]: holds NaN or infinite values")
        arrays.append(a)
    seen = set()
    for i, a in enumerate(arrays):
        base = a.__array_interface__["data"][0]
        if base in seen:
            raise ValueError(f"weights[{i}]: the same storage as an earlier layer's")
        seen.add(base)
    tree = _config.flatten(_config.load_tree(config, "config"))
    for key in tree:
        if key.startswith(FORBIDDEN) or key in ("model",) and tree[key] != "ei_rate":
            raise _core.ConfigError(f"config: {key} cannot be set here (the chain's geometry, seed, phase and "
                                    "presentations arguments set it; the sleep phase is model ei_rate)")
    sets = [f"{k}={_config.yaml_value(v)}" for k, v in tree.items()]
    geometry7 = [[g[k] for k in GEOMETRY_KEYS] for g in geo]
    result, _engine_seconds = _core.sleep_phase(arrays, geometry7, strides, sets, int(presentations), int(seed),
                                                int(phase), _config.threads_arg(threads))
    return [tuple(x) for x in result]
