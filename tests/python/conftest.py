# SPDX-License-Identifier: BSD-3-Clause
"""The Python package's tests run against the build: BUILD/python (the
package) and BUILD/dynshare (the CLI it is compared with). BUILD is
$DYNSHARE_BUILD or <repo>/build."""
import os
import signal
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("DYNSHARE_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
sys.path.insert(0, os.path.join(ROOT, "analysis", "tests"))  # h5fixtures: files of every kind

CLI = os.path.join(BUILD, "dynshare")
STACK_YAML = os.path.join(ROOT, "tests", "data", "fingerprints", "stack_small.yaml")
# A small single-layer run: 3 records of 150 steps... in 40 presentations.
SMALL = {"run.presentations": 40, "layer.neurons": 20, "layer.kernel": 3}


@pytest.fixture
def cli():
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"no CLI at {CLI} (build first: bash scripts/build.sh)")
    return CLI


@pytest.fixture
def terminal_sigint():
    """SIGINT as a terminal user has it: Python's KeyboardInterrupt handler.
    A process started in the background by a non-interactive shell (`cmd &`,
    nohup) inherits SIGINT as ignored, and Python then installs no handler, so
    the Ctrl-C tests install it themselves and restore what was there."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)
