# SPDX-License-Identifier: BSD-3-Clause
"""Bit-for-bit comparison of two HDF5 files (datasets and attributes)."""
import h5py
import numpy as np

# Differ between any two runs: wall-clock timings, the program's version text.
VOLATILE = {"seconds", "layer_seconds", "pattern_seconds"}


def items(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out["D " + name] = obj[()]
            for k, v in obj.attrs.items():
                out[f"A {name}@{k}"] = v
        for k, v in f.attrs.items():
            out[f"A /@{k}"] = v
        f.visititems(visit)
    return out


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc":
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return a.shape == b.shape and bool(np.all(a == b))


def differences(path_a, path_b):
    """Names of datasets/attributes that differ (timings excluded)."""
    a, b = items(path_a), items(path_b)
    diff = sorted(set(a) ^ set(b))
    for k in sorted(set(a) & set(b)):
        if k.split("/")[-1].split("@")[-1] in VOLATILE or "timing" in k:
            continue
        if not same_bits(a[k], b[k]):
            diff.append(k)
    return diff
