# SPDX-License-Identifier: BSD-3-Clause
"""dynshare from Python: the simulator of dynamic weight sharing (Pogodin et
al., NeurIPS 2021) as a package.

    import dynshare
    run = dynshare.simulate(set={"run.presentations": 2000}, seed=1)
    run.presentation, run.neg_log_snr        # numpy arrays; run.to_xarray()
    sw = dynshare.sweep({"grid": {"plasticity.gamma": [0.1, 0.01]}, "trials": 2})
    dynshare.sleep_phase([lc.weight for lc in net.lc_layers], geometry)  # in place

Functions: simulate, sweep, read, sleep_phase (help() on each gives the
arguments and the units of every array). Classes: Run, Sweep. Errors:
ConfigError (a ValueError, the CLI's one-line message), DivergenceError,
InputError (a file that is not dynshare's). The reader and figures of
analysis/ are this package's reader: dynshare.analysis (= dynshare_analysis).
"""
import dynshare_analysis as analysis  # noqa: F401  (the one reader, re-exported)
from dynshare_analysis.errors import InputError  # noqa: F401

from ._core import ConfigError, DivergenceError, __version__  # noqa: F401
from .api import simulate, sweep  # noqa: F401
from .run import Run, Sweep, read  # noqa: F401
from .sleep import sleep_phase  # noqa: F401

__all__ = ["simulate", "sweep", "read", "sleep_phase", "Run", "Sweep", "ConfigError", "DivergenceError",
           "InputError", "analysis", "__version__"]
