# SPDX-License-Identifier: BSD-3-Clause
"""fig4: the panels, the single-run plot, and the PNG written by main()."""
import numpy as np
import pytest

import h5fixtures as fx
from dynshare_analysis import fig4, reader
from dynshare_analysis.errors import InputError

Y = "−log SNR$_w$"


def legend_texts(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def curve_of(k, g, trial, model):
    """Trial curves: distinct per (k, gamma, trial), so a wrong grouping shows."""
    return [1.0, -k * g * 10 - trial, -k * g * 20 - 2 * trial, -k * g * 30 - 3 * trial]


def panel_files(tmp_path):
    def make(model, spp):
        def run(v, t):
            k, g = v["layer.kernel"], v["plasticity.gamma"]
            return {"model": model, "kernel": k, "gamma": g, "alpha": 10.0, "spp": spp,
                    "step": np.array([0, 10, 20, 30]) * spp, "nls": curve_of(k, g, t, model),
                    "theory_min": -k * g * 100 - t}
        return run
    grid = {"layer.kernel": [3, 6], "plasticity.gamma": [0.1, 0.01]}
    keys = list(grid)
    a = fx.write_sweep_file(str(tmp_path / "fig4a.h5"), fx.grid_runs(grid, 2, make("ideal", 1)), keys)
    b = fx.write_sweep_file(str(tmp_path / "fig4b.h5"), fx.grid_runs(grid, 2, make("ei_rate", 150)), keys)
    return a, b


def test_two_panels_labels_legend_and_curves(tmp_path):
    a, b = panel_files(tmp_path)
    fig, runs = fig4.make_figure(reader.load_runs([a, b]))
    assert len(runs) == 16
    ax_a, ax_b = fig.axes
    assert ax_a.get_xlabel() == "iteration"
    assert ax_b.get_xlabel() == "presentation (150 ms each)"
    assert ax_a.get_ylabel() == Y and ax_b.get_ylabel() == Y
    assert ax_a.get_title(loc="left") == "A. Eq. (4), ideal weight sharing"
    assert ax_b.get_title(loc="left") == "B. Eq. (8), α = 10"
    assert ax_a.get_xscale() == "log"
    assert legend_texts(ax_b) == ["k = 3", "k = 6", "γ = 0.01", "γ = 0.1", "theory min (Eq. 5)",
                                  "mean, band: min–max over trials\n(n = 2 trials per curve)"]
    # Panel A: one mean curve per (k, gamma), in order k=3 (γ=0.01, 0.1), k=6 (...);
    # x > 0 only, mean over the two trials.
    curves = [l for l in ax_a.get_lines() if l.get_linestyle() != "--"]
    assert len(curves) == 4
    expected = [(3, 0.01), (3, 0.1), (6, 0.01), (6, 0.1)]
    for line, (k, g) in zip(curves, expected):
        np.testing.assert_allclose(line.get_xdata(), [10, 20, 30])
        want = np.mean([curve_of(k, g, t, "ideal")[1:] for t in (0, 1)], axis=0)
        np.testing.assert_allclose(line.get_ydata(), want)
    # Theory lines (dashed, black) only in panel A, at each group's mean theory_min.
    theory = sorted(l.get_ydata()[0] for l in ax_a.get_lines() if l.get_linestyle() == "--")
    assert theory == pytest.approx(sorted(-k * g * 100 - 0.5 for k, g in expected))
    assert not [l for l in ax_b.get_lines() if l.get_linestyle() == "--"]
    # Panel B's x axis is in presentations: step / 150
    np.testing.assert_allclose(ax_b.get_lines()[0].get_xdata(), [10, 20, 30])


def test_band_std_and_theory_option(tmp_path):
    a, b = panel_files(tmp_path)
    opts = fig4.Fig4Options(panel="B", band="std", theory=True)
    fig, runs = fig4.make_figure(reader.load_runs([a, b]), opts)
    assert {r.model for r in runs} == {"ei_rate"}
    (ax,) = fig.axes
    texts = legend_texts(ax)
    assert texts[-2:] == ["theory min (Eq. 5)", "mean, band: ±1 std over trials\n(n = 2 trials per curve)"]
    assert len([l for l in ax.get_lines() if l.get_linestyle() == "--"]) == 4


def test_panel_without_its_model_is_an_input_error(tmp_path):
    a, _ = panel_files(tmp_path)
    with pytest.raises(InputError, match="--panel B needs ei_rate runs; inputs hold only ideal"):
        fig4.make_figure(reader.load_runs([a]), fig4.Fig4Options(panel="B"))


def test_single_run_plot(tmp_path):
    p = fx.write_run_file(str(tmp_path / "default.h5"), kernel=9, neurons=100, gamma=0.1, alpha=10.0, seed=0,
                          step=[0, 150, 1500, 15000], nls=[0.0, -1.0, -2.0, -3.0])
    fig, _ = fig4.make_figure(reader.load_runs([p]))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "presentation (150 ms each)" and ax.get_ylabel() == Y
    assert legend_texts(ax) == [Y]           # ei_rate: no theory line by default
    assert ax.get_title() == "ei_rate, k = 9, N = 100, γ = 0.1, α = 10, seed = 0"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [1, 10, 100])
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [-1, -2, -3])
    assert ax.texts[0].get_text() == "final: -3.000"


def test_single_ideal_run_has_its_theory_line(tmp_path):
    p = fx.write_run_file(str(tmp_path / "i.h5"), model="ideal", spp=1, kernel=3, gamma=0.01,
                          step=[0, 1, 2], nls=[0.0, -1.0, -1.5], theory_min=-1.75, status="diverged")
    fig, _ = fig4.make_figure(reader.load_runs([p]))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "iteration"
    assert legend_texts(ax) == [Y, "theory min (Eq. 5)"]
    assert ax.get_lines()[1].get_ydata()[0] == -1.75
    assert ax.get_title().endswith("INCOMPLETE")


def test_single_stacked_run_plots_every_layer(tmp_path):
    nls = np.array([[0.0, -1.0, -2.0], [0.0, -3.0, -5.0], [0.0, -2.0, np.nan]])
    p = fx.write_stack_file(str(tmp_path / "s.h5"), nls=nls, layers=((2, 2), (2, 2), (2, 2)))
    fig, _ = fig4.make_figure(reader.load_runs([p]))
    (ax,) = fig.axes
    assert legend_texts(ax) == ["layer 0", "layer 1", "layer 2", "mean over layers"]
    np.testing.assert_allclose(ax.get_lines()[3].get_ydata(), [-2.0, -3.5])
    assert ax.get_title().startswith("ei_rate, 3 stacked LC layers, γ = 0.1")
    fig, _ = fig4.make_figure(reader.load_runs([p]), fig4.Fig4Options(layer=1))
    assert legend_texts(fig.axes[0]) == [Y + ", layer 1"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [-3.0, -5.0])


def test_main_writes_a_png(tmp_path, capsys):
    a, b = panel_files(tmp_path)
    out = tmp_path / "figs" / "fig4.png"
    assert fig4.main([a, b, "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == f"wrote {out} (16 runs)\n"
