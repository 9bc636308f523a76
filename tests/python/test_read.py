# SPDX-License-Identifier: BSD-3-Clause
"""dynshare.read on every kind of file, and the one reader behind it."""
import os

import numpy as np
import pytest

import dynshare
import dynshare_analysis
import h5fixtures


def test_reader_is_the_analysis_package():
    assert dynshare.analysis is dynshare_analysis
    from dynshare_analysis import reader
    assert dynshare.run.reader is reader


def test_read_single_and_stacked_files(tmp_path):
    h5fixtures.write_run_file(str(tmp_path / "run.h5"))
    r = dynshare.read(tmp_path / "run.h5")
    assert isinstance(r, dynshare.Run) and r.kind == "run" and r.neg_log_snr.ndim == 1
    nls = np.array([[1.0, 2.0, 3.0], [0.5, 0.25, 0.125]])
    h5fixtures.write_stack_file(str(tmp_path / "stack.h5"), nls=nls)
    s = dynshare.read(tmp_path / "stack.h5")
    assert s.kind == "stack" and np.array_equal(s.neg_log_snr, nls) and len(s.layers) == 2


def test_read_training_metrics(tmp_path):
    run_dir = tmp_path / "train"
    os.makedirs(run_dir)
    h5fixtures.write_metrics(str(run_dir), top1=[0.5, 0.6])
    t = dynshare.read(run_dir)
    assert np.allclose(t.epochs["test_top1"], [0.5, 0.6])
    assert dynshare.read(run_dir / "metrics.h5").epochs["test_top1"].shape == (2,)


def test_read_rejects_other_files(tmp_path):
    p = tmp_path / "x.h5"
    p.write_bytes(b"not hdf5")
    with pytest.raises(dynshare.InputError, match="x.h5"):
        dynshare.read(p)


def test_the_module_links_no_libtorch():
    import subprocess
    from dynshare import _core
    libs = subprocess.run(["ldd", _core.__file__], capture_output=True, text=True, check=True).stdout
    assert "libtorch" not in libs and "libc10" not in libs
