# SPDX-License-Identifier: BSD-3-Clause
"""table1: the table's numbers from known runs; unfinished runs skipped and named."""
import os

import numpy as np
import pytest

import h5fixtures as fx
from dynshare_analysis import table1


@pytest.fixture
def runs_dir(tmp_path):
    d = tmp_path / "table1"
    m = fx.write_metrics
    m(str(d / "conv_s0"), top1=[0.5, 0.7, 0.80], train_top1=[0.5, 0.8, 0.90], top5=[0.9, 0.95, 0.99], seconds=[60] * 3, connectivity="conv")
    m(str(d / "conv_s1"), top1=[0.5, 0.7, 0.84], train_top1=[0.5, 0.8, 0.94], top5=[0.9, 0.95, 0.97], seconds=[120] * 3, connectivity="conv")
    m(str(d / "lc_s0"), top1=[0.5, 0.6, 0.70], train_top1=[0.5, 0.9, 0.99], top5=[0.9, 0.9, 0.95], seconds=[100] * 3)
    m(str(d / "lc_reps4_s0"), top1=[0.5, 0.6, 0.83], top5=[0.9, 0.9, 0.99], seconds=[300] * 3, repetitions=4)
    m(str(d / "lc_ws10_s0"), top1=[0.5, 0.6, 0.75], top5=[0.9, 0.9, 0.96], seconds=[90] * 3, mode="instant",
      every=10, snr_before=np.ones((2, 2)), snr_after=np.zeros((2, 2)), sleep_seconds=[1.0, 2.0])
    m(str(d / "lc_ws10_s1"), top1=[0.5, 0.6, 0.78], top5=[0.9, 0.9, 0.94], seconds=[90] * 3, mode="instant",
      every=10, snr_before=np.ones((1, 2)), snr_after=np.zeros((1, 2)), sleep_seconds=[3.0])
    # unfinished: 2 of 3 epochs; the last epoch without a test evaluation; no metrics.h5 yet
    m(str(d / "lc_sleep10_s0"), top1=[0.5, 0.6], mode="simulated", every=10, epochs=3)
    m(str(d / "lc_sleep100_s0"), top1=[0.5, 0.6, np.nan], mode="simulated", every=100)
    os.makedirs(d / "lc_hebb_s0")
    return d


def test_rows_from_known_runs(runs_dir):
    results, skipped = table1.collect([str(runs_dir / "*")])
    rows = table1.table_rows(results)
    assert [r.name for r in rows] == ["conv", "LC", "LC - 4 reps", "LC - ws(10)"]
    conv, lc, reps, ws = rows
    assert (conv.n, conv.epochs) == (2, 3)
    assert conv.top1 == pytest.approx(82.0) and conv.top1_spread == pytest.approx(2.0) and conv.top1_diff is None
    assert conv.train_top1 == pytest.approx(92.0) and lc.train_top1 == pytest.approx(99.0)
    assert conv.top5 == pytest.approx(98.0) and conv.top5_spread == pytest.approx(1.0)
    assert conv.train_hours == pytest.approx((180 + 360) / 2 / 3600) and conv.sleep_hours == 0
    assert lc.n == 1 and lc.top1 == pytest.approx(70.0) and lc.top1_spread is None
    assert lc.top1_diff == pytest.approx(-12.0) and lc.top5_diff == pytest.approx(-3.0)
    assert reps.top1_diff == pytest.approx(1.0)
    assert ws.top1 == pytest.approx(76.5) and ws.top1_spread == pytest.approx(1.5)
    assert ws.top1_diff == pytest.approx(-5.5) and ws.top5 == pytest.approx(95.0)
    assert ws.sleep_hours == pytest.approx(3.0 / 3600)
    assert sorted((os.path.basename(s), why) for s, why in skipped) == [
        ("lc_hebb_s0", "unfinished (no metrics.h5 yet)"),
        ("lc_sleep100_s0", "unfinished (epoch 3 has no test evaluation)"),
        ("lc_sleep10_s0", "unfinished (2 of 3 epochs)")]


def test_row_names():
    class R:
        def __init__(self, **kw):
            self.config = {"network": {"connectivity": kw.get("conn", "lc")},
                           "data": {"repetitions": kw.get("reps", 1)},
                           "sharing": {"mode": kw.get("mode", "none"), "every": kw.get("every", 10)}}
            if "modules" in kw:
                self.config["sharing"]["modules"] = kw["modules"]
            self.path = "x"

        def cfg(self, key, *default):
            section, name = key.split(".")
            if default and name not in self.config[section]:
                return default[0]
            return self.config[section][name]

    assert table1.row_name(R(conn="conv", reps=8)) == (0, "conv")
    assert table1.row_name(R(reps=8, mode="instant")) == (1, "LC - 8 reps")
    assert table1.row_name(R()) == (0.5, "LC")
    assert table1.row_name(R(mode="hebbian", every=1)) == (3 + 1e-6, "LC - hebb(1)")
    assert table1.row_name(R(mode="simulated", every=100)) == (4 + 100e-6, "LC - sleep(100)")
    # issue 13's full-module check is its own row, after the sleep rows
    full = table1.row_name(R(mode="instant", every=1, modules="full"))
    assert full[1] == "LC - ws(1) full" and full > table1.row_name(R(mode="simulated", every=100))
    assert table1.row_name(R(mode="hebbian_authors", every=10))[1] == "LC - hebb_authors(10)"
    # ws(1) sorts before ws(100)
    assert table1.row_name(R(mode="instant", every=1)) < table1.row_name(R(mode="instant", every=100))


def test_main_prints_the_table_and_names_skipped_runs(runs_dir, capsys):
    dirs = sorted(str(p) + "/" for p in runs_dir.iterdir())   # as table1.sh passes "$out"/*/
    assert table1.main(dirs) == 0
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    assert lines[0].split() == ["row", "n", "epochs", "train", "top-1", "(%)", "gap", "diff", "top-5", "(%)", "diff",
                                "train", "h", "sleep", "h"]
    assert [l[:16].strip() for l in lines[1:]] == ["conv", "LC", "LC - 4 reps", "LC - ws(10)"]
    assert lines[1][16:].split() == ["2", "3", "92.0", "82.0", "±", "2.0", "10.0", "-", "98.0", "±", "1.0", "-", "0.07", "0.00"]
    assert lines[2][16:].split() == ["1", "3", "99.0", "70.0", "±", "-", "29.0", "-12.0", "95.0", "±", "-", "-3.0", "0.08", "0.00"]
    assert lines[4][16:].split() == ["2", "3", "76.5", "76.5", "±", "1.5", "0.0", "-5.5", "95.0", "±", "1.0", "-3.0", "0.07", "0.00"]
    assert cap.err.splitlines() == [
        f"table1.py: skipping {runs_dir}/lc_hebb_s0/: unfinished (no metrics.h5 yet)",
        f"table1.py: skipping {runs_dir}/lc_sleep100_s0/: unfinished (epoch 3 has no test evaluation)",
        f"table1.py: skipping {runs_dir}/lc_sleep10_s0/: unfinished (2 of 3 epochs)"]


def test_main_without_finished_runs(runs_dir, capsys):
    assert table1.main([str(runs_dir / "lc_sleep10_s0")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "table1.py: error: no finished runs among 1 given"
