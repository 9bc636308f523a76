#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Table 1 from trainer runs: final test accuracy per row, mean and spread over seeds.

Command-line wrapper over dynshare_analysis.table1 (next to this script); run
`/usr/bin/python3 analysis/table1.py --help` for the options.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynshare_analysis.table1 import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
