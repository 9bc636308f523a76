#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plain numpy implementation of one Fig. 4A curve (Pogodin et al. 2021, Eq. 4).

One iteration per presentation, every neuron sees the same x ~ N(0, I_K):
    z = w x,  g_i = (z_i - mean_j z_j) x + gamma (w_i - w_i^init)
    v = mu v + g,  w -= eta(t) v
-log SNR_w (Eq. 6) is recorded every `record_every` iterations; the Eq. 5
fixed point for the empirical input covariance gives theory_min. Timing
baseline for the C++ ideal model; same semantics, not the same random numbers.

    bench/numpy_ideal.py --kernel 9 --iterations 2000 --json
"""
import argparse
import json
import math
import sys
import time

import numpy as np


def lr_at(t, lr, schedule, t0, delay):
    """Learning rate at iteration t (0 before the delay)."""
    if t < delay:
        return 0.0
    t = t - delay
    if schedule == "inv_sqrt":
        return lr / math.sqrt(1.0 + t / t0)
    if schedule == "inv":
        return lr / (t0 + t)
    return lr


def neg_log_snr(w):
    """-log SNR_w, Eq. 6: mean over inputs j of mean_i(w_ij)^2 / var_i(w_ij)."""
    return -math.log(np.mean(w.mean(axis=0) ** 2 / w.var(axis=0)))


def theory_min(w0, C, gamma):
    """-log SNR_w of the Eq. 5 fixed point for input covariance C."""
    K = C.shape[0]
    rhs = (C @ w0.mean(axis=0))[None, :] + gamma * w0
    wstar = np.linalg.solve(C + gamma * np.eye(K), rhs.T).T
    return neg_log_snr(wstar)


def simulate(a):
    rng = np.random.default_rng(a.seed)
    N, K = a.neurons, a.kernel * a.kernel
    gamma, mu = a.gamma, a.momentum

    w = a.init_mean + a.init_std * rng.standard_normal((N, K))
    w0 = w.copy()
    v = np.zeros_like(w)
    C = np.zeros((K, K))
    noisy = a.noise_std > 0

    rec_step, rec_val = [], []
    t_start = time.perf_counter()
    for t in range(a.iterations):
        x = rng.standard_normal(K)
        C += np.outer(x, x)
        eta = lr_at(t, a.lr, a.schedule, a.t0, a.delay)
        if noisy:
            X = x + a.noise_std * rng.standard_normal((N, K))
            z = np.einsum("ij,ij->i", w, X)
            hebb = (z - z.mean())[:, None] * X
        else:
            z = w @ x
            hebb = np.outer(z - z.mean(), x)
        if eta > 0:
            g = hebb + gamma * (w - w0)
            v = mu * v + g
            w -= eta * v
        if (t + 1) % a.record_every == 0:
            rec_step.append(t + 1)
            rec_val.append(neg_log_snr(w))
    seconds = time.perf_counter() - t_start
    C /= max(a.iterations, 1)
    tmin = theory_min(w0, C, gamma)

    out = {"steps": a.iterations, "seconds": seconds,
           "us_per_step": 1e6 * seconds / max(a.iterations, 1),
           "final_neg_log_snr": rec_val[-1] if rec_val else neg_log_snr(w),
           "theory_min": tmin, "records": len(rec_val)}
    if a.h5:
        write_h5(a, rec_step, rec_val, w0, w, tmin)
    return out


def config_yaml(a):
    return "\n".join([
        "model: ideal",
        "layer:", f"  neurons: {a.neurons}", f"  kernel: {a.kernel}",
        f"  init_mean: {a.init_mean}", f"  init_std: {a.init_std}",
        "plasticity:", f"  lr: {a.lr}", f"  gamma: {a.gamma}", f"  momentum: {a.momentum}",
        f"  schedule: {a.schedule}", f"  schedule_t0: {a.t0}", f"  delay_steps: {a.delay}",
        "input:", f"  noise_std: {a.noise_std}",
        "run:", f"  presentations: {a.iterations}", f"  record_every: {a.record_every}",
        f"  seed: {a.seed}", ""])


def write_h5(a, steps, vals, w0, w, tmin):
    """Same layout as a C++ single-run file, so analysis/fig4.py can plot it."""
    import h5py
    with h5py.File(a.h5, "w") as f:
        f.attrs["config"] = config_yaml(a)
        f.attrs["version"] = "numpy-baseline"
        f.attrs["seed"] = np.int64(a.seed)
        f.attrs["complete"] = np.int32(1)
        f.attrs["model"] = "ideal"
        f.attrs["kernel"] = np.int32(a.kernel)
        f.attrs["neurons"] = np.int32(a.neurons)
        f.attrs["gamma"] = float(a.gamma)
        f.attrs["alpha"] = float("inf")
        g = f.create_group("snr")
        g["step"] = np.asarray(steps, dtype=np.int64)
        g["time"] = np.asarray(steps, dtype=float)   # ideal: one unit per iteration
        g["neg_log_snr"] = np.asarray(vals, dtype=float)
        g["theory_min"] = float(tmin)
        g = f.create_group("weights")
        g["initial"] = w0
        g["final"] = w


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--neurons", type=int, default=100)
    p.add_argument("--kernel", type=int, default=9, help="k; k*k inputs per neuron")
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.95)
    p.add_argument("--schedule", choices=["inv", "inv_sqrt", "constant"], default="inv")
    p.add_argument("--t0", type=float, default=1000.0, help="schedule t0 (iterations)")
    p.add_argument("--delay", type=int, default=0, help="iterations with learning rate 0")
    p.add_argument("--iterations", "--presentations", dest="iterations", type=int, default=2000)
    p.add_argument("--record-every", type=int, default=10)
    p.add_argument("--noise-std", type=float, default=0.0)
    p.add_argument("--init-mean", type=float, default=1.0)
    p.add_argument("--init-std", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--h5", metavar="PATH", help="also write the run as a dynshare HDF5 file")
    a = p.parse_args(argv)
    for name in ("neurons", "kernel", "iterations", "record_every"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")

    out = simulate(a)
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{out['steps']} iterations in {out['seconds']:.3f} s ({out['us_per_step']:.2f} us/iter); "
              f"final -log SNR_w = {out['final_neg_log_snr']:.4f}, theory {out['theory_min']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
