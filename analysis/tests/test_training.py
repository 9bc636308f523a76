# SPDX-License-Identifier: BSD-3-Clause
"""training.py: the three panels of trainer runs."""
import numpy as np

import h5fixtures as fx
from dynshare_analysis import reader, training


def texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def two_runs(tmp_path):
    sleep = fx.write_metrics(
        str(tmp_path / "lc_sleep10_s0"), top1=[0.5, np.nan, 0.7], mode="simulated", every=10,
        snr=[[1.0, 2.0], [0.5, 1.5], [0.25, 1.0]], sleep_iteration=[10, 20, 30],
        snr_before=[[1.0, 3.0], [np.nan, np.nan], [2.0, 6.0]], snr_after=[[-1.0, -3.0], [np.nan, np.nan], [-2.0, -8.0]])
    lc = fx.write_metrics(str(tmp_path / "lc_s0"), top1=[0.4, 0.45, 0.6], snr=[[3, 3], [2, 2], [1, 1]])
    return [reader.load_training(str(tmp_path / "lc_sleep10_s0")), reader.load_training(str(tmp_path / "lc_s0"))], (sleep, lc)


def test_panels_labels_legends_and_data(tmp_path):
    runs, _ = two_runs(tmp_path)
    fig = training.plot_training(runs)
    acc, snr, sl = fig.axes
    assert (acc.get_xlabel(), acc.get_ylabel(), acc.get_title()) == ("epoch", "test top-1 (%)", "accuracy")
    assert (snr.get_xlabel(), snr.get_ylabel()) == ("epoch", "-log SNR_w")
    assert (sl.get_xlabel(), sl.get_ylabel()) == ("training iteration", "mean -log SNR_w over layers")
    assert texts(acc) == ["lc_sleep10_s0", "lc_s0"]
    assert texts(snr) == ["LC layer 0", "LC layer 1"]
    assert texts(sl) == ["lc_sleep10_s0"]          # the run without sleep phases has none
    # accuracy in percent, the epoch without an evaluation (NaN) left out
    np.testing.assert_allclose(acc.get_lines()[0].get_xdata(), [1, 3])
    np.testing.assert_allclose(acc.get_lines()[0].get_ydata(), [50, 70])
    # per-layer SNR: 2 layers x 2 runs
    assert len(snr.get_lines()) == 4
    np.testing.assert_allclose(snr.get_lines()[1].get_ydata(), [2.0, 1.5, 1.0])
    # sleep phases: before (v) and after (^) as the mean over layers, NaN phases left out
    before, after = sl.get_lines()
    np.testing.assert_allclose(before.get_xdata(), [10, 30])
    np.testing.assert_allclose(before.get_ydata(), [2.0, 4.0])
    np.testing.assert_allclose(after.get_ydata(), [-2.0, -5.0])
    assert (before.get_marker(), after.get_marker()) == ("v", "^")
    # one colour per run in every panel
    assert acc.get_lines()[0].get_color() == snr.get_lines()[0].get_color() == after.get_color()
    assert acc.get_lines()[1].get_color() != acc.get_lines()[0].get_color()


def test_main_writes_png(tmp_path, capsys):
    two_runs(tmp_path)
    out = tmp_path / "training.png"
    assert training.main([str(tmp_path / "lc_sleep10_s0"), str(tmp_path / "lc_s0") + "/", "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert capsys.readouterr().out == f"training.py: wrote {out}\n"
