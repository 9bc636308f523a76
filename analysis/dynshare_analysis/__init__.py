# SPDX-License-Identifier: BSD-3-Clause
"""dynshare_analysis: read dynshare's HDF5 output and draw its figures.

Modules:
  reader        the one reader of every dynshare HDF5 file (single run, stacked
                run, sweep, trainer metrics.h5); `Run`, `load_runs`,
                `load_training`, `load_stack_layers`, `parse_config`
  select        slicing and grouping runs by parameter values, curve statistics
  fig4, sweep, training, table1, module_means
                the functions behind the scripts of the same name in analysis/,
                each with a `main(argv)` command-line entry point
  cli           error handling shared by the entry points (one line, exit 2)
"""

from .errors import InputError  # noqa: F401

__all__ = ["InputError"]
