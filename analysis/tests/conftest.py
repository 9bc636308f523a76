# SPDX-License-Identifier: BSD-3-Clause
"""Shared set-up: the package and tests/h5fixtures.py importable, the Agg
backend, every figure closed after each test."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYSIS = os.path.dirname(HERE)
for p in (ANALYSIS, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

os.environ["MPLBACKEND"] = "Agg"
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
