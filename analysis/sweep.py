#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plot a dynshare parameter sweep: final -log SNR_w against swept keys.

Command-line wrapper over dynshare_analysis.sweep (next to this script); run
`/usr/bin/python3 analysis/sweep.py --help` for the options.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynshare_analysis.sweep import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
