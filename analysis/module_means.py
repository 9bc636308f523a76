#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Module means and spreads of a stacked run's weights, before and after.

Command-line wrapper over dynshare_analysis.module_means (next to this script); run
`/usr/bin/python3 analysis/module_means.py --help` for the options.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynshare_analysis.module_means import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
