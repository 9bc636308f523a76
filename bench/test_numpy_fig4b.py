# SPDX-License-Identifier: BSD-3-Clause
"""Checks bench/numpy_fig4b.py's vectorised per-step loop against a plain
per-neuron reference loop written from Eq. 8 (Pogodin et al. 2021) with the
discrete momentum update, on identical inputs.

    /usr/bin/python3 -m pytest -q bench/test_numpy_fig4b.py
"""
import importlib.util
import io
import json
import math
import contextlib
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("numpy_fig4b", os.path.join(HERE, "numpy_fig4b.py"))
nf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nf)


def reference(w_init, xs, steps, tau, dt, alpha, b, lr, gamma, mu, schedule, t0, delay, record_every):
    """Straightforward loop, one neuron and one weight at a time (as src/core/reference_euler.cpp).

    xs[p] is either a list of K inputs shared by all neurons or N lists of K.
    """
    N, K = len(w_init), len(w_init[0])
    w = [list(row) for row in w_init]
    w0 = [list(row) for row in w_init]
    v = [[0.0] * K for _ in range(N)]
    r = [b] * N
    r_inh = 0.0
    h = dt / tau
    s = 0
    recs = []
    for x in xs:
        xi = [x] * N if not isinstance(x[0], list) else x      # x_i of every neuron
        for _ in range(steps):
            eta = nf.lr_at(s, lr, schedule, t0, delay)
            z = [sum(w[i][j] * xi[i][j] for j in range(K)) for i in range(N)]
            mean_r = sum(r) / N
            if eta > 0:
                for i in range(N):
                    for j in range(K):
                        v[i][j] = mu * v[i][j] + ((r[i] - b) * xi[i][j] + gamma * (w[i][j] - w0[i][j]))
                        w[i][j] -= eta * v[i][j]
            r = [r[i] + h * (-r[i] + z[i] - alpha * r_inh + b) for i in range(N)]
            r_inh = r_inh + h * (-r_inh + mean_r - b)
            s += 1
            if s % record_every == 0:
                snr = 0.0
                for j in range(K):
                    col = [w[i][j] for i in range(N)]
                    m = sum(col) / N
                    var = sum((c - m) ** 2 for c in col) / N
                    snr += m * m / var
                recs.append((s, -math.log(snr / K)))
    return np.array(w), np.array(v), np.array(r), r_inh, recs


PARAMS = dict(tau=0.03, dt=0.001, alpha=10.0, b=1.0, lr=3e-4, gamma=0.1, mu=0.95,
              schedule="inv_sqrt", t0=2.0, delay=5)


def run_both(N, k, P, steps, noise=0.0, record_every=7, seed=1, **over):
    prm = dict(PARAMS, **over)
    rng = np.random.default_rng(seed)
    K = k * k
    w_init = 1.0 + rng.standard_normal((N, K))
    xs = [rng.standard_normal(K) for _ in range(P)]
    if noise > 0:
        xs = [x + noise * rng.standard_normal((N, K)) for x in xs]
    ref = reference(w_init.tolist(), [x.tolist() for x in xs], steps, prm["tau"], prm["dt"], prm["alpha"],
                    prm["b"], prm["lr"], prm["gamma"], prm["mu"], prm["schedule"], prm["t0"], prm["delay"],
                    record_every)

    def etas(s0, n):
        return nf.lr_block(s0, n, prm["lr"], prm["schedule"], prm["t0"], prm["delay"])

    got = nf.integrate(w_init.copy(), xs.__getitem__, P, steps, prm["dt"] / prm["tau"], prm["alpha"],
                       prm["gamma"], prm["mu"], etas, record_every)
    return ref, got, prm


def check(ref, got, b, tol=1e-12):
    w_r, v_r, r_r, q_r, recs = ref
    w, v, u, q, rec_step, rec_val, s = got
    scale = max(1.0, np.abs(w_r).max())
    assert np.abs(w - w_r).max() <= tol * scale
    assert np.abs(v - v_r).max() <= tol * max(1.0, np.abs(v_r).max())
    assert np.abs((u + b) - r_r).max() <= tol * max(1.0, np.abs(r_r).max())
    assert abs(q - q_r) <= tol * max(1.0, abs(q_r))
    assert rec_step == [st for st, _ in recs]
    assert np.allclose(rec_val, [val for _, val in recs], rtol=0, atol=tol)


@pytest.mark.parametrize("k", [2, 3])
def test_shared_input_matches_reference(k):
    ref, got, prm = run_both(N=12, k=k, P=3, steps=30)
    check(ref, got, prm["b"])
    assert got[6] == 90


def test_learning_changes_weights():
    # the comparison is not vacuous: the weights move and the rates leave b
    ref, got, prm = run_both(N=10, k=3, P=3, steps=30, lr=0.05)
    check(ref, got, prm["b"], tol=1e-11)
    w_init = 1.0 + np.random.default_rng(1).standard_normal((10, 9))
    assert np.abs(got[0] - w_init).max() > 1e-3
    assert np.abs(got[2]).max() > 1e-3


def test_per_neuron_noise_matches_reference():
    ref, got, prm = run_both(N=9, k=3, P=2, steps=25, noise=0.5)
    check(ref, got, prm["b"])


@pytest.mark.parametrize("schedule,gamma,lr,t0", [("inv", 0.1, 0.5, 1000.0), ("constant", 0.0, 1e-3, 2.0),
                                                 ("inv_sqrt", 0.3, 3e-3, 2.0)])
def test_schedules_and_gamma(schedule, gamma, lr, t0):
    ref, got, prm = run_both(N=8, k=3, P=2, steps=40, schedule=schedule, gamma=gamma, lr=lr, t0=t0, delay=11)
    check(ref, got, prm["b"])


def test_full_size_few_steps():
    # N = 100, k = 9 as in the benchmark, two short presentations past the delay
    ref, got, prm = run_both(N=100, k=9, P=2, steps=12, record_every=6, delay=3)
    check(ref, got, prm["b"])


@pytest.mark.parametrize("schedule", ["inv_sqrt", "inv", "constant"])
def test_lr_block_equals_lr_at(schedule):
    for s0 in (0, 37, 50, 151, 10000):
        blk = nf.lr_block(s0, 150, 3e-4, schedule, 2.0, 50)
        assert blk == [nf.lr_at(s, 3e-4, schedule, 2.0, 50) for s in range(s0, s0 + 150)]


def _cli(args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert nf.main(args) == 0
    return buf.getvalue()


def test_cli_json_as_parsed_by_dynshare_bench():
    # src/cli/cmd_bench.cpp runs `SCRIPT --kernel K --presentations Q --json` and reads the
    # number after "us_per_step":
    out = _cli(["--kernel", "3", "--presentations", "4", "--json"])
    lines = out.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert set(d) == {"steps", "seconds", "us_per_step", "final_neg_log_snr", "records"}
    assert d["steps"] == 600 and d["records"] == 4 and d["us_per_step"] > 0
    pos = lines[0].find('"us_per_step":')
    assert pos >= 0 and float(lines[0][pos + 14:].split(",")[0]) == d["us_per_step"]


def test_cli_inputs_file(tmp_path):
    # --inputs: the same initial weights and inputs give the reference loop's curve
    N, k, P = 10, 3, 3
    rng = np.random.default_rng(5)
    w0 = 1.0 + rng.standard_normal((N, k * k))
    xs = rng.standard_normal((P, k * k))
    npz = tmp_path / "in.npz"
    np.savez(npz, w0=w0, x=xs)
    curve = tmp_path / "curve.txt"
    _cli(["--neurons", str(N), "--kernel", str(k), "--presentations", str(P), "--inputs", str(npz),
          "--curve", str(curve), "--record-every", "50", "--json"])
    got = np.loadtxt(curve)
    p = PARAMS
    ref = reference(w0.tolist(), xs.tolist(), 150, p["tau"], p["dt"], p["alpha"], p["b"], p["lr"], p["gamma"],
                    p["mu"], p["schedule"], p["t0"], 50, 50)[4]
    assert np.allclose(got, np.array(ref), rtol=0, atol=1e-12)
