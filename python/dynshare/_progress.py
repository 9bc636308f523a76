# SPDX-License-Identifier: BSD-3-Clause
"""tqdm progress bars for runs: on when asked, or by default only in an
interactive session (a REPL, IPython, Jupyter)."""
import sys


def interactive():
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return True
    ipython = sys.modules.get("IPython")
    return bool(ipython and getattr(ipython, "get_ipython", lambda: None)())


class Progress:
    """A callback(done, total) that draws a tqdm bar of presentations; close() ends it."""

    def __init__(self, enabled, desc):
        self.enabled = interactive() if enabled is None else bool(enabled)
        self.desc = desc
        self.bar = None

    def callback(self):
        return self.update if self.enabled else None

    def update(self, done, total):
        if self.bar is None:
            if total <= 0:
                return
            from tqdm.auto import tqdm
            self.bar = tqdm(total=int(total), desc=self.desc, unit="pres", leave=True)
        self.bar.n = int(done)
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
