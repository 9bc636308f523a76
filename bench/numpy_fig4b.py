#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plain numpy implementation of one Fig. 4B curve (Pogodin et al. 2021, Eq. 8).

Excitatory rates r_i and one inhibitory rate r_inh, forward Euler (Eq. 8a/8b):
    tau dr_i/dt    = -r_i + w_i.x - alpha r_inh + b
    tau dr_inh/dt  = -r_inh + mean_j r_j - b
with the anti-Hebbian update -(r_i - b) x of Eq. 9 plus the regulariser
gamma (w_i - w_i^init) of Eq. 4, applied every dt step with discrete momentum
    v <- mu v + (r - b) x^T + gamma (w - w^init),   w <- w - eta(s) v
and the learning-rate schedule eta(s). -log SNR_w (Eq. 6) is recorded every
`record_every` steps. This is the benchmark baseline of dynshare's Euler path.

It is a per-step loop over the full N x k^2 weights: a Python loop over dt
steps, each step vectorised over neurons and inputs (O(N k^2) work per step),
which is what one writes from the equations. It does NOT use dynshare's
reduced coordinates (within a presentation x is constant, so the weights stay
in a small span and a step costs O(N)); that algorithmic advantage is what the
dynshare/numpy ratio is meant to show. To be a fair baseline it is as fast as
we could make such a loop: preallocated float64 buffers and in-place ufuncs
(out=), no temporaries in the loop, BLAS matrix-vector products for w.x, the
Hebbian outer product as a broadcast copy of r - b times the row-tiled x (one
contiguous multiply; faster than np.multiply.outer at N = 100), the weights
kept as E = gamma (w - w^init) (the regulariser then costs nothing, and
w.x = w^init.x + E.x / gamma with w^init.x once per presentation), the rates
kept as u = r - b, and a presentation's learning rates computed in one call.
Timings against the previous version and the authors' loop:
bench/numpy_baseline.md. Same semantics as dynshare's Euler path (checked
against a per-neuron reference loop by bench/test_numpy_fig4b.py); not the
same random numbers as dynshare, but the same as earlier versions of this
script for a given --seed.

    bench/numpy_fig4b.py --kernel 9 --presentations 10000 --json
"""
import argparse
import json
import math
import sys
import time

import numpy as np


def lr_at(s, lr, schedule, t0, delay):
    """Learning rate at global step s (0 before the delay)."""
    if s < delay:
        return 0.0
    t = s - delay
    if schedule == "inv_sqrt":
        return lr / math.sqrt(1.0 + t / t0)
    if schedule == "inv":
        return lr / (t0 + t)
    return lr


def lr_block(s0, n, lr, schedule, t0, delay):
    """Learning rates of steps s0 .. s0+n-1 as a list of floats (same values as lr_at)."""
    t = np.arange(s0 - delay, s0 - delay + n, dtype=float)
    before = t < 0
    t[before] = 0.0
    if schedule == "inv_sqrt":
        eta = lr / np.sqrt(1.0 + t / t0)
    elif schedule == "inv":
        eta = lr / (t0 + t)
    else:
        eta = np.full(n, float(lr))
    eta[before] = 0.0
    if lr == 0.0:
        eta[:] = 0.0
    return eta.tolist()


def neg_log_snr(w):
    """-log SNR_w, Eq. 6: mean over inputs j of mean_i(w_ij)^2 / var_i(w_ij)."""
    return -math.log(np.mean(w.mean(axis=0) ** 2 / w.var(axis=0)))


def theory_min(w0, C, gamma):
    """Eq. 5 fixed point for the input covariance C, and its -log SNR_w."""
    K = C.shape[0]
    wbar = w0.mean(axis=0)
    rhs = (C @ wbar)[None, :] + gamma * w0            # (N, K)
    wstar = np.linalg.solve(C + gamma * np.eye(K), rhs.T).T
    return neg_log_snr(wstar)


def integrate(w0, inputs, presentations, steps, h, alpha, gamma, mu, etas, record_every, on_record=None):
    """The per-step loop. Returns (w, v, r - b, r_inh, record steps, record values, s).

    w0: (N, K) initial weights; inputs(p) -> x of presentation p, shape (K,)
    (shared by all neurons) or (N, K) (one row per neuron); etas(s0, n) -> the
    learning rates of steps s0..s0+n-1. Rates start at r = b, r_inh = 0.
    """
    N, K = w0.shape
    # E = g (w - w0) with g = gamma (g = 1 if gamma = 0): the regulariser term of
    # the momentum is then E itself, and w.x = w0.x + E.(x / g).
    g = gamma if gamma != 0.0 else 1.0
    E = np.zeros((N, K))          # gamma (w - w0)
    v = np.zeros((N, K))          # momentum
    T = np.empty((N, K))          # scratch
    u = np.zeros(N)               # r - b
    zh = np.empty(N)              # h * (w . x)
    c0 = np.empty(N)              # h * (w0 . x), once per presentation
    inv_g = 1.0 / g
    q = 0.0                       # r_inh
    a = 1.0 - h                   # Euler decay of u and q
    ha = h * alpha
    inv_n = 1.0 / N
    dot, mul, add, sub, copyto = np.dot, np.multiply, np.add, np.subtract, np.copyto
    ucol = u[:, None]             # view of u as a column
    rec_step, rec_val = [], []
    W = np.empty((N, K))
    s = 0
    for p in range(presentations):
        x = np.asarray(inputs(p), dtype=float)
        shared = x.ndim == 1
        if shared:                                  # shared by all neurons: w.x is a matvec
            hx = h * x
            dot(w0, hx, out=c0)
            hx *= inv_g
            X = np.tile(x, (N, 1))
        else:                                       # one row per neuron: row-wise dots
            X = x
            hX = h * X
            np.einsum("ij,ij->i", w0, hX, out=c0)
            hX *= inv_g
        for eta in etas(s, steps):
            # z = w.x with the weights before this step's update (h z, to save a multiply)
            if shared:
                dot(E, hx, out=zh)
            else:
                np.einsum("ij,ij->i", E, hX, out=zh)
            zh += c0
            m = float(add.reduce(u)) * inv_n            # mean_j r_j - b (old r)
            if eta > 0.0:
                # v <- mu v + (r - b) x^T + gamma (w - w0);  w <- w - eta v   (old r), i.e.
                # v <- mu v + u x^T + E;  E <- E - g eta v
                copyto(T, ucol)                         # T_ij = u_i (faster than multiply.outer)
                mul(T, X, out=T)                        # T_ij = u_i x_ij
                if gamma != 0.0:
                    add(T, E, out=T)
                mul(v, mu, out=v)
                add(v, T, out=v)
                mul(v, g * eta, out=T)
                sub(E, T, out=E)
            # Euler: u <- u + h(-u + z - alpha r_inh),  r_inh <- r_inh + h(-r_inh + mean u)
            mul(u, a, out=u)
            add(u, zh, out=u)
            sub(u, ha * q, out=u)
            q = a * q + h * m
            s += 1
            if s % record_every == 0:
                mul(E, inv_g, out=W)
                add(W, w0, out=W)
                rec_step.append(s)
                rec_val.append(neg_log_snr(W))
                if on_record is not None:
                    on_record(s, W)
    return w0 + E * inv_g, v, u, q, rec_step, rec_val, s


def simulate(a):
    rng = np.random.default_rng(a.seed)
    N, K = a.neurons, a.kernel * a.kernel
    b, alpha, gamma, mu = a.bias, a.alpha, a.gamma, a.momentum
    h = a.dt / a.tau
    S = int(round(a.presentation / a.dt))

    if a.inputs:
        data = np.load(a.inputs)
        w0 = np.array(data["w0"], dtype=float)
        xs = np.array(data["x"], dtype=float)
        if w0.shape != (N, K) or xs.shape[0] < a.presentations or xs.shape[1:] not in ((K,), (N, K)):
            raise SystemExit(f"{a.inputs}: need w0 ({N}, {K}) and x (>= {a.presentations}, {K}) "
                             f"or (>= {a.presentations}, {N}, {K}); got {w0.shape}, {xs.shape}")
        inputs = xs.__getitem__
        C = np.zeros((K, K)) if a.h5 else None
        if C is not None:
            for p in range(a.presentations):
                x = xs[p] if xs.ndim == 2 else xs[p].mean(axis=0)
                C += np.outer(x, x)
    else:
        w0 = a.init_mean + a.init_std * rng.standard_normal((N, K))
        C = np.zeros((K, K)) if a.h5 else None
        noisy = a.noise_std > 0

        def inputs(p):
            x = rng.standard_normal(K)                 # shared by all neurons
            if C is not None:
                C.__iadd__(np.outer(x, x))
            if noisy:
                return x + a.noise_std * rng.standard_normal((N, K))   # x_i = x + s xi_i
            return x

    def etas(s0, n):
        return lr_block(s0, n, a.lr, a.schedule, a.t0, a.delay)

    t_start = time.perf_counter()
    w, _, _, _, rec_step, rec_val, s = integrate(w0, inputs, a.presentations, S, h, alpha, gamma, mu,
                                                 etas, a.record_every)
    seconds = time.perf_counter() - t_start

    out = {"steps": s, "seconds": seconds, "us_per_step": 1e6 * seconds / max(s, 1),
           "final_neg_log_snr": rec_val[-1] if rec_val else neg_log_snr(w),
           "records": len(rec_val)}
    if a.curve:
        np.savetxt(a.curve, np.column_stack([rec_step, rec_val]), header="step neg_log_snr")
    if a.h5:
        C /= max(a.presentations, 1)
        write_h5(a, rec_step, rec_val, w0, w, theory_min(w0, C, gamma))
    return out


def config_yaml(a):
    return "\n".join([
        "model: ei_rate",
        "layer:", f"  neurons: {a.neurons}", f"  kernel: {a.kernel}",
        f"  init_mean: {a.init_mean}", f"  init_std: {a.init_std}",
        "dynamics:", f"  tau: {a.tau}", f"  dt: {a.dt}", f"  alpha: {a.alpha}",
        f"  bias: {a.bias}", "  integrator: euler",
        "plasticity:", f"  lr: {a.lr}", f"  gamma: {a.gamma}", f"  momentum: {a.momentum}",
        f"  schedule: {a.schedule}", f"  schedule_t0: {a.t0}", f"  delay_steps: {a.delay}",
        "input:", f"  presentation: {a.presentation}", f"  noise_std: {a.noise_std}",
        "run:", f"  presentations: {a.presentations}", f"  record_every: {a.record_every}",
        f"  seed: {a.seed}", ""])


def write_h5(a, steps, vals, w0, w, tmin):
    """Same layout as a C++ single-run file, so analysis/fig4.py can plot it."""
    import h5py
    with h5py.File(a.h5, "w") as f:
        f.attrs["config"] = config_yaml(a)
        f.attrs["version"] = "numpy-baseline"
        f.attrs["seed"] = np.int64(a.seed)
        f.attrs["complete"] = np.int32(1)
        f.attrs["model"] = "ei_rate"
        f.attrs["kernel"] = np.int32(a.kernel)
        f.attrs["neurons"] = np.int32(a.neurons)
        f.attrs["gamma"] = float(a.gamma)
        f.attrs["alpha"] = float(a.alpha)
        g = f.create_group("snr")
        g["step"] = np.asarray(steps, dtype=np.int64)
        g["time"] = np.asarray(steps, dtype=float) * a.dt
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
    p.add_argument("--tau", type=float, default=0.03)
    p.add_argument("--dt", type=float, default=0.001)
    p.add_argument("--alpha", type=float, default=10.0)
    p.add_argument("--bias", type=float, default=1.0)
    p.add_argument("--presentation", type=float, default=0.15, help="seconds per input")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.95)
    p.add_argument("--schedule", choices=["inv_sqrt", "inv", "constant"], default="inv_sqrt")
    p.add_argument("--t0", type=float, default=2.0, help="schedule t0 (steps)")
    p.add_argument("--delay", type=int, default=50, help="steps with learning rate 0")
    p.add_argument("--record-every", type=int, default=150)
    p.add_argument("--presentations", type=int, default=10000)
    p.add_argument("--noise-std", type=float, default=0.0)
    p.add_argument("--init-mean", type=float, default=1.0)
    p.add_argument("--init-std", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inputs", metavar="NPZ",
                   help="take the initial weights and inputs from NPZ instead of drawing them: "
                        "w0 (N, K) and x (P, K) shared or (P, N, K) per neuron")
    p.add_argument("--curve", metavar="PATH", help="also write the recorded (step, -log SNR_w) as text")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--h5", metavar="PATH", help="also write the run as a dynshare HDF5 file")
    a = p.parse_args(argv)
    for name in ("neurons", "kernel", "presentations", "record_every"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.dt <= 0 or a.tau <= 0 or a.presentation < a.dt:
        p.error("need dt > 0, tau > 0 and presentation >= dt")

    out = simulate(a)
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{out['steps']} steps in {out['seconds']:.2f} s ({out['us_per_step']:.2f} us/step); "
              f"final -log SNR_w = {out['final_neg_log_snr']:.4f} ({out['records']} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
