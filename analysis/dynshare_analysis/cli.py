# SPDX-License-Identifier: BSD-3-Clause
"""What every entry point shares: the Agg backend, saving figures, and turning
bad input into one line on stderr with exit status 2."""
import argparse
import os
import sys

from .errors import InputError, one_line, set_prog


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def keep_outside(fig, artist):
    """Let savefig(bbox_inches="tight") make room for an artist placed outside
    the axes (e.g. a legend right of the last panel)."""
    artist.set_in_layout(False)
    extra = getattr(fig, "dynshare_extra_artists", [])
    extra.append(artist)
    fig.dynshare_extra_artists = extra


def save_figure(fig, path, dpi=150, tight=True):
    """Writes the figure as PNG (creating the directory); InputError naming
    the file when it cannot be written."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if tight:
            fig.savefig(path, dpi=dpi, bbox_inches="tight",
                        bbox_extra_artists=fig.get_default_bbox_extra_artists()
                        + getattr(fig, "dynshare_extra_artists", []))
        else:
            fig.savefig(path, dpi=dpi)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})")


def parser(prog, doc):
    """An ArgumentParser whose messages name the script (`fig4.py: error: ...`)."""
    head, _, rest = doc.partition("\n\n")
    return argparse.ArgumentParser(prog=prog, description=head, epilog=rest or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def fail(prog, msg, code=2):
    print(f"{prog}: error: {one_line(msg)}", file=sys.stderr)
    return code


def run(prog, body, argv):
    """Runs body(argv) for script `prog`: InputError -> one line and status 2,
    an unwritable output -> one line and status 2; returns the exit status."""
    set_prog(prog)
    try:
        return body(argv) or 0
    except InputError as e:
        return fail(prog, e)
    except BrokenPipeError:   # e.g. piped into head; the output is already written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
