# SPDX-License-Identifier: BSD-3-Clause
"""Errors and messages shared by the reader and the command-line entry points."""
import os
import sys


class InputError(Exception):
    """Bad user input: a missing file, a file that is not HDF5 or not of the
    kind a script reads, an unknown key. The entry points print it as one line
    (`<script>: error: <message>`) and exit with status 2."""


# The name in front of messages; the entry points set it to their script's name.
_prog = None


def set_prog(name):
    global _prog
    _prog = name


def prog():
    if _prog:
        return _prog
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "dynshare_analysis"


def one_line(text):
    return " ".join(str(text).split())


def warn(msg):
    print(f"{prog()}: warning: {one_line(msg)}", file=sys.stderr)


def note(msg):
    """A plain message on stderr (`<script>: <message>`)."""
    print(f"{prog()}: {one_line(msg)}", file=sys.stderr)
