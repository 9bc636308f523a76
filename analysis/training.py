#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plots of trainer runs: accuracy, per-layer -log SNR_w and sleep phases.

Command-line wrapper over dynshare_analysis.training (next to this script); run
`/usr/bin/python3 analysis/training.py --help` for the options.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynshare_analysis.training import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
