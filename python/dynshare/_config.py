# SPDX-License-Identifier: BSD-3-Clause
"""The three forms of a config (path, YAML string, dict) and `set` overrides,
turned into what the C++ parser takes: the CLI's parser, schema and messages."""
import json
import math
import os

import numpy as np
import yaml


def _plain(v):
    """numpy scalars/arrays -> Python values (for YAML and JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def source(config, what="config"):
    """(path, text, origin) for the C++ side: a path, YAML text, or neither (default)."""
    if config is None:
        return None, None, ""
    if isinstance(config, os.PathLike):
        return os.fspath(config), None, ""
    if isinstance(config, dict):
        return None, yaml.safe_dump(_plain(config), sort_keys=False), what
    if isinstance(config, str):
        # A string that names an existing file, or that has no YAML mapping
        # syntax, is a path (a missing file then gets the CLI's message).
        if os.path.exists(config) or ("\n" not in config and ":" not in config and "{" not in config):
            return config, None, ""
        return None, config, what
    raise TypeError(f"{what}: expected a path, a YAML string or a dict, got {type(config).__name__}")


def yaml_value(v):
    """One value as the YAML text that `--set key=TEXT` takes."""
    v = _plain(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    if isinstance(v, str):
        return v
    return json.dumps(v)


def sets(overrides, seed=None, what="set"):
    """`set` (a dict of dotted keys, or a list of "key=value" strings) and
    `seed` as the CLI's --set arguments."""
    out = []
    if overrides is None:
        pass
    elif isinstance(overrides, dict):
        for k, v in overrides.items():
            if not isinstance(k, str):
                raise TypeError(f"{what}: keys must be dotted key paths (str), got {k!r}")
            out.append(f"{k}={yaml_value(v)}")
    elif isinstance(overrides, (list, tuple)):
        for s in overrides:
            if not isinstance(s, str):
                raise TypeError(f"{what}: expected 'key.path=value' strings, got {s!r}")
            out.append(s)
    else:
        raise TypeError(f"{what}: expected a dict of dotted keys or a list of 'key=value' strings, "
                        f"got {type(overrides).__name__}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError(f"seed: expected a non-negative integer, got {seed!r}")
        out.append(f"run.seed={int(seed)}")
    return out


def flatten(tree, prefix=""):
    """{'dynamics': {'alpha': 3}} -> {'dynamics.alpha': 3} (lists are leaves)."""
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def load_tree(config, what="config"):
    """A dict, YAML text or path as a dict (None -> {})."""
    if config is None:
        return {}
    path, text, _ = source(config, what)
    if path is not None:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise ValueError(f"{what}: cannot read '{path}': {e.strerror}") from None
    if isinstance(config, dict):
        return _plain(config)
    tree = yaml.safe_load(text) or {}
    if not isinstance(tree, dict):
        raise ValueError(f"{what}: expected a mapping of sections, got {type(tree).__name__}")
    return tree


def threads_arg(threads):
    """`threads` -> the C++ side's int (0 = unchanged)."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads = {threads!r}: expected an integer >= 1 (or None: OpenMP's default)")
    return int(threads)


def backend_arg(backend):
    """The C++ side checks the value (the CLI's --backend message)."""
    if not isinstance(backend, str):
        raise TypeError(f"backend: expected 'auto', 'cpu' or 'cuda', got {backend!r}")
    return backend


def python_wording(error):
    """A ConfigError from the CLI's code, worded for keyword arguments where it names a flag."""
    msg = str(error)
    fixed = msg.replace("pass --overwrite", "pass overwrite=True")
    return error if fixed == msg else type(error)(fixed)
