#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fig. 4 of Pogodin et al. (NeurIPS 2021): -log SNR_w over training.

Command-line wrapper over dynshare_analysis.fig4 (next to this script); run
`/usr/bin/python3 analysis/fig4.py --help` for the options.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynshare_analysis.fig4 import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
