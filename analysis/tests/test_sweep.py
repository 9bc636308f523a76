# SPDX-License-Identifier: BSD-3-Clause
"""Sweep slicing (selecting and grouping runs by parameter values) and sweep.py's plots."""
import numpy as np
import pytest

import h5fixtures as fx
from dynshare_analysis import reader, select, sweep
from dynshare_analysis.errors import InputError

ALPHAS, GAMMAS, KERNELS, TRIALS = [1.0, 10.0, 100.0], [0.1, 0.01], [3, 9], 3


def final_of(alpha, gamma, k, trial):
    """The final -log SNR_w given to each run: distinct per point and trial."""
    return -np.log10(alpha) - 10 * gamma - 0.1 * k + 0.25 * trial


@pytest.fixture
def sweep_file(tmp_path):
    grid = {"dynamics.alpha": ALPHAS, "plasticity.gamma": GAMMAS, "layer.kernel": KERNELS}

    def run(v, t):
        final = final_of(v["dynamics.alpha"], v["plasticity.gamma"], v["layer.kernel"], t)
        return {"alpha": v["dynamics.alpha"], "gamma": v["plasticity.gamma"], "kernel": v["layer.kernel"],
                "nls": [0.0, final / 2, final]}
    return fx.write_sweep_file(str(tmp_path / "agk.h5"), fx.grid_runs(grid, TRIALS, run), list(grid))


def test_swept_keys_and_key_checks(sweep_file):
    runs = reader.load_runs([sweep_file])
    assert len(runs) == len(ALPHAS) * len(GAMMAS) * len(KERNELS) * TRIALS
    assert select.swept_keys(runs) == ["dynamics.alpha", "plasticity.gamma", "layer.kernel", "seed"]
    assert select.check_key(runs, "alpha") == "dynamics.alpha"
    assert select.check_key(runs, "dynamics.dt") == "dynamics.dt"      # known from the config
    with pytest.raises(InputError) as e:
        select.check_key(runs, "dynamics.beta", "--x key")
    assert str(e.value) == ("unknown --x key 'dynamics.beta'; swept keys: dynamics.alpha, plasticity.gamma, "
                            "layer.kernel, seed")


def test_slice_selects_exactly_the_matching_runs(sweep_file):
    runs = reader.load_runs([sweep_file])
    items = select.parse_slice("dynamics.alpha=10, plasticity.gamma=0.01")
    assert items == [("dynamics.alpha", 10), ("plasticity.gamma", 0.01)]
    sel = select.filter_runs(runs, items)
    # grid order: alpha slowest, then gamma, then kernel; index = point * trials + trial
    points = [(a, g, k) for a in ALPHAS for g in GAMMAS for k in KERNELS]
    want = [p * TRIALS + t for p, (a, g, k) in enumerate(points) if a == 10 and g == 0.01 for t in range(TRIALS)]
    assert [r.attrs["index"] for r in sel] == want
    assert select.filter_runs(runs, select.parse_slice("kernel=9,seed=%d" % runs[5].param("seed"))) == [runs[5]]


def test_slice_without_a_match_lists_the_values(sweep_file):
    runs = reader.load_runs([sweep_file])
    with pytest.raises(InputError) as e:
        select.filter_runs(runs, select.parse_slice("dynamics.alpha=5"))
    assert str(e.value) == "no run matches dynamics.alpha=5 (available: dynamics.alpha in {1, 10, 100})"
    with pytest.raises(InputError, match="bad slice item 'alpha', expected KEY=VALUE"):
        select.parse_slice("alpha")


def test_grouping_by_parameter_values(sweep_file):
    runs = reader.load_runs([sweep_file])
    groups = select.group_runs(runs, ["plasticity.gamma", "layer.kernel"])
    assert list(groups) == [(0.01, 3), (0.01, 9), (0.1, 3), (0.1, 9)]
    for (g, k), members in groups.items():
        assert len(members) == len(ALPHAS) * TRIALS
        assert {r.param("plasticity.gamma") for r in members} == {g}
        assert {r.param("layer.kernel") for r in members} == {k}
    parts = select.split_by(runs, "alpha")
    assert [v for v, _ in parts] == ALPHAS and all(len(m) == 12 for _, m in parts)
    assert select.unique_sorted([0.1, 0.1 + 1e-12, 0.01, "x", None]) == [0.01, 0.1, "x", None]


def test_curves_table_and_figure(sweep_file):
    runs = reader.load_runs([sweep_file])
    opts = sweep.SweepOptions(x="dynamics.alpha", hue="plasticity.gamma", facet="layer.kernel")
    runs, swept = sweep.prepare(runs, opts)
    fig, table = sweep.plot_curves(runs, opts, swept)
    expected = []
    for k in KERNELS:
        for g in GAMMAS[::-1]:            # hue levels sorted: 0.01, 0.1
            for a in ALPHAS:
                v = np.array([final_of(a, g, k, t) for t in range(TRIALS)])
                expected.append((k, g, a, TRIALS, v.mean(), v.std(), v.min(), v.max()))
    assert len(table) == len(expected)
    for row, want in zip(table, expected):
        assert row[:4] == want[:4]
        assert row[4:] == pytest.approx(want[4:])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["layer.kernel = 3", "layer.kernel = 9"]
    for ax in axes:
        assert ax.get_xlabel() == "dynamics.alpha" and ax.get_ylabel() == "final −log SNR$_w$"
        assert ax.get_xscale() == "log"   # positive values spanning 100x
    leg = axes[-1].get_legend()
    assert leg.get_title().get_text() == "plasticity.gamma"
    assert [t.get_text() for t in leg.get_texts()] == ["0.01", "0.1", "single trials",
                                                       "mean, band: min–max over trials"]
    # the k = 3, gamma = 0.1 curve: means over trials at each alpha
    line = axes[0].get_lines()[1]
    np.testing.assert_allclose(line.get_xdata(), ALPHAS)
    np.testing.assert_allclose(line.get_ydata(), [np.mean([final_of(a, 0.1, 3, t) for t in range(TRIALS)])
                                                  for a in ALPHAS])
    text = sweep.format_curves_table(table, opts).splitlines()
    assert text[0] == "layer.kernel\tplasticity.gamma\tdynamics.alpha\tn\tmean\tstd\tmin\tmax"
    k, g, a, n, m, sd, lo, hi = expected[0]
    assert text[1] == f"3\t0.01\t1\t3\t{m:.4f}\t{sd:.4f}\t{lo:.4f}\t{hi:.4f}"


def test_where_slice_and_pooling_warning(sweep_file, capsys):
    runs = reader.load_runs([sweep_file])
    opts = sweep.SweepOptions(x="alpha", where="layer.kernel=9")
    runs, swept = sweep.prepare(runs, opts)
    assert opts.x == "dynamics.alpha" and {r.param("layer.kernel") for r in runs} == {9}
    fig, table = sweep.plot_curves(runs, opts, swept)
    assert "pooling over plasticity.gamma (0.01, 0.1)" in capsys.readouterr().err
    for (_, _, a, n, m, *_rest) in table:   # gamma pooled: 2 gammas x 3 trials
        assert n == 2 * TRIALS
        assert m == pytest.approx(np.mean([final_of(a, g, 9, t) for g in GAMMAS for t in range(TRIALS)]))


def test_heatmap_cells(sweep_file):
    runs = reader.load_runs([sweep_file])
    opts = sweep.SweepOptions(x="dynamics.alpha", heatmap="plasticity.gamma", where="layer.kernel=3")
    runs, swept = sweep.prepare(runs, opts)
    fig, text = sweep.plot_heatmap(runs, opts, swept)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "dynamics.alpha" and ax.get_ylabel() == "plasticity.gamma"
    M = ax.get_images()[0].get_array()
    for i, g in enumerate([0.01, 0.1]):
        for j, a in enumerate(ALPHAS):
            assert M[i, j] == pytest.approx(np.mean([final_of(a, g, 3, t) for t in range(TRIALS)]))
    assert [t.get_text() for t in ax.texts][0] == f"{M[0, 0]:.2f}"
    assert fig.axes[-1].get_ylabel() == "mean final −log SNR$_w$"   # the colour bar
    lines = text.splitlines()
    assert lines[0] == "plasticity.gamma\tdynamics.alpha\tn\tmean" and len(lines) == 1 + 6


def test_trajectories_of_a_slice(sweep_file):
    runs = reader.load_runs([sweep_file])
    opts = sweep.SweepOptions(trajectories="layer.kernel=9,plasticity.gamma=0.1")
    runs, swept = sweep.prepare(runs, opts)
    fig, sel = sweep.plot_trajectories(runs, opts, swept)
    assert len(sel) == len(ALPHAS) * TRIALS
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(sel)
    assert ax.get_xlabel() == "presentation" and ax.get_ylabel() == "−log SNR$_w$"
    leg = ax.get_legend()   # coloured by the first swept key that varies in the slice
    assert leg.get_title().get_text() == "dynamics.alpha"
    assert [t.get_text() for t in leg.get_texts()] == ["1", "10", "100"]


def test_main_writes_png_and_prints_the_table(sweep_file, tmp_path, capsys):
    out = tmp_path / "agk.png"
    rc = sweep.main([sweep_file, "-o", str(out), "--x", "dynamics.alpha", "--hue", "plasticity.gamma",
                     "--facet", "layer.kernel"])
    assert rc == 0 and out.read_bytes()[:4] == b"\x89PNG"
    cap = capsys.readouterr()
    assert cap.out.splitlines()[0] == "layer.kernel\tplasticity.gamma\tdynamics.alpha\tn\tmean\tstd\tmin\tmax"
    assert len(cap.out.splitlines()) == 1 + 12
    assert cap.err.strip().endswith(f"wrote {out}")


def test_main_unknown_key_is_one_line(sweep_file, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert sweep.main([sweep_file, "-o", str(out), "--x", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == ("sweep.py: error: unknown --x key 'nope'; swept keys: dynamics.alpha, plasticity.gamma, "
                   "layer.kernel, seed\n")
    assert not out.exists()
