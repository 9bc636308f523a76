# SPDX-License-Identifier: BSD-3-Clause
"""Slicing and grouping runs by parameter values, and statistics over trials.

Keys are YAML key paths (dynamics.alpha, plasticity.gamma, layer.kernel,
seed, ...) or their short aliases (kernel, gamma, alpha, neurons); values are
compared with a relative tolerance of 1e-9 for numbers, as text otherwise.
"""
import math
import warnings

import numpy as np

from .errors import InputError
from .reader import BOOKKEEPING, SHORT_ATTRS, canonical_key, parse_value


def values_equal(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def format_value(v):
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def sort_key(v):
    if v is None:
        return (2, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v))
    return (1, str(v))


def is_numeric(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def unique_sorted(values):
    """Unique values (numbers compared with tolerance), sorted."""
    out = []
    for v in sorted(values, key=sort_key):
        if not out or not values_equal(out[-1], v):
            out.append(v)
    return out


def index_of(levels, v):
    for i, u in enumerate(levels):
        if values_equal(u, v):
            return i
    raise KeyError(v)


def swept_keys(runs):
    """Keys that identify sweep points: /sweep/params columns, dotted run
    attributes, plus any well-known parameter whose value differs between runs."""
    keys = []
    for r in runs:
        for k in r.sweep_keys:
            if k not in keys:
                keys.append(k)
        for k in r.attrs:
            if "." in k and k not in keys and k not in BOOKKEEPING:
                keys.append(k)
    for k in ["model", "layer.kernel", "layer.neurons", "plasticity.gamma", "dynamics.alpha", "seed"]:
        if k in keys or (k == "seed" and "run.seed" in keys):
            continue
        vals = [r.param(k) for r in runs]
        if any(v is not None for v in vals) and len({format_value(v) for v in vals}) > 1:
            keys.append(k)
    return keys


def available_keys(runs):
    """Every key any run can answer (attributes, /sweep/params and config)."""
    keys = set()
    for r in runs:
        keys.update(k for k in r.attrs if k != "config")
        keys.update(r.table_row)
        keys.update(r.config)
    keys.update(k for k in SHORT_ATTRS if any(r.has_param(k) for r in runs))
    return sorted(keys)


def check_key(runs, key, what="key"):
    """The canonical key; InputError listing the swept keys when no run knows it."""
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
        items.append((k.strip(), parse_value(v)))
    return items


def filter_runs(runs, slice_items):
    """The runs whose parameters equal every (key, value) of the slice."""
    for k, _ in slice_items:
        check_key(runs, k)
    out = [r for r in runs if all(values_equal(r.param(k), v) for k, v in slice_items)]
    if not out:
        desc = "; ".join(f"{k} in {{{', '.join(format_value(v) for v in unique_sorted([r.param(k) for r in runs]))}}}"
                         for k, _ in slice_items)
        raise InputError(f"no run matches {', '.join(f'{k}={format_value(v)}' for k, v in slice_items)} "
                         f"(available: {desc})")
    return out


def group_runs(runs, keys):
    """{tuple(values of keys): [runs]}, ordered by the values."""
    groups = {}
    for r in runs:
        groups.setdefault(tuple(r.param(k) for k in keys), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: tuple(sort_key(v) for v in kv[0])))


def split_by(runs, key):
    """[(value, runs with that value)] for each value of key, in order."""
    levels = unique_sorted([r.param(key) for r in runs])
    return [(v, [r for r in runs if values_equal(r.param(key), v)]) for v in levels]


def align_curves(xs, ys):
    """Put curves with (possibly different) x grids onto one grid.

    If every x grid is a prefix of the longest one (same record spacing, some
    runs shorter) the shorter ones are NaN-padded; otherwise each curve is
    linearly interpolated onto the longest grid (NaN outside its range).
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
    """Mean over trials (axis 0) and the band (lo, hi): 'minmax', 'std' or 'none'."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(Y, axis=0)
        if band == "std":
            sd = np.nanstd(Y, axis=0)
            return mean, mean - sd, mean + sd
        if band == "minmax":
            return mean, np.nanmin(Y, axis=0), np.nanmax(Y, axis=0)
        return mean, None, None


BAND_LABEL = {"minmax": "min–max over trials", "std": "±1 std over trials"}
