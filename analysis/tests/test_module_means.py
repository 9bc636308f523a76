# SPDX-License-Identifier: BSD-3-Clause
"""module_means.py on a hand-computed case."""
import math

import numpy as np

import h5fixtures as fx
from dynshare_analysis import module_means


def layer_weights(means, deviation):
    """(1, 4, 4, 1) weights, period 2: the module of (y mod 2, x mod 2) has mean
    means[y % 2][x % 2]; its four members deviate by +-deviation."""
    w = np.zeros((1, 4, 4, 1))
    for y in range(4):
        for x in range(4):
            sign = 1 if (y // 2 + x // 2) % 2 == 0 else -1
            w[0, y, x, 0] = means[y % 2][x % 2] + sign * deviation
    return w


def test_module_stats_by_hand():
    w = layer_weights([[1, 2], [3, 4]], 0.5)
    means, spread = module_means.module_stats(w, 2)
    assert means == math.sqrt(4 * (1 + 4 + 9 + 16))   # every neuron carries its module mean
    assert spread == math.sqrt(16 * 0.25)
    # period 1: one module; mean 2.5 over all 16 weights
    means, spread = module_means.module_stats(w, 1)
    assert means == math.sqrt(16 * 2.5 ** 2)
    assert spread == math.sqrt(float(((w - 2.5) ** 2).sum()))


def test_main_prints_each_layer(tmp_path, capsys):
    # one layer: c_in 1, 3x3 input, k 2, padding 1 -> 4x4 output, fan_in 4
    w0 = np.repeat(layer_weights([[1, 2], [3, 4]], 0.5), 4, axis=3)
    w1 = np.repeat(layer_weights([[1, 2], [3, 4]], 0.1), 4, axis=3)
    p = fx.write_stack_file(str(tmp_path / "alpha1e4_periodic.h5"), nls=np.zeros((1, 2)), c_in=1, h=3, w=3,
                            layers=((1, 2),), weights_initial=[w0], weights_final=[w1])
    assert module_means.main([p]) == 0
    head, row = capsys.readouterr().out.splitlines()
    assert head.split() == ["file", "layer", "|means|", "before", "after", "ratio", "spread", "before",
                            "after", "ratio"]
    m = math.sqrt(4 * 4 * 30)
    assert row.split() == [p[-28:], "0", f"{m:.4f}", f"{m:.4f}", "1.0000",
                           f"{math.sqrt(64 * 0.25):.4f}", f"{math.sqrt(64 * 0.01):.4f}", "0.2000"]
