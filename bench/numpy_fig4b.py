#!/usr/bin/python3
"""Plain numpy implementation of one Fig. 4B curve (Pogodin et al. 2021, Eq. 8).

Excitatory rates r_i and one inhibitory rate r_inh, forward Euler (Eq. 8a/8b):
    tau dr_i/dt    = -r_i + w_i.x - alpha r_inh + b
    tau dr_inh/dt  = -r_inh + mean_j r_j - b
with the anti-Hebbian update -(r_i - b) x of Eq. 9 plus the regulariser
gamma (w_i - w_i^init) of Eq. 4, applied every dt step with momentum SGD and a
learning-rate schedule. -log SNR_w (Eq. 6) is recorded every `record_every`
steps. This is the benchmark baseline of the C++ plain Euler loop: vectorised
over neurons, a Python loop over time steps; same semantics, not the same
random numbers.

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


def simulate(a):
    rng = np.random.default_rng(a.seed)
    N, K = a.neurons, a.kernel * a.kernel
    b, alpha, gamma, mu = a.bias, a.alpha, a.gamma, a.momentum
    h = a.dt / a.tau
    S = int(round(a.presentation / a.dt))

    w = a.init_mean + a.init_std * rng.standard_normal((N, K))
    w0 = w.copy()
    v = np.zeros_like(w)
    r = np.full(N, b)
    r_inh = 0.0
    C = np.zeros((K, K)) if a.h5 else None

    rec_step, rec_val = [], []
    s = 0
    t_start = time.perf_counter()
    noisy = a.noise_std > 0
    for _ in range(a.presentations):
        x = rng.standard_normal(K)                 # shared by all neurons
        if noisy:
            X = x + a.noise_std * rng.standard_normal((N, K))   # x_i = x + s xi_i
        if C is not None:
            C += np.outer(x, x)
        for _ in range(S):
            eta = lr_at(s, a.lr, a.schedule, a.t0, a.delay)
            z = np.einsum("ij,ij->i", w, X) if noisy else w @ x
            m = r.mean()
            r_new = r + h * (-r + z - alpha * r_inh + b)
            rinh_new = r_inh + h * (-r_inh + m - b)
            if eta > 0:
                hebb = (r - b)[:, None] * X if noisy else np.outer(r - b, x)
                g = hebb + gamma * (w - w0)
                v = mu * v + g
                w -= eta * v
            r, r_inh = r_new, rinh_new
            s += 1
            if s % a.record_every == 0:
                rec_step.append(s)
                rec_val.append(neg_log_snr(w))
    seconds = time.perf_counter() - t_start

    out = {"steps": s, "seconds": seconds, "us_per_step": 1e6 * seconds / max(s, 1),
           "final_neg_log_snr": rec_val[-1] if rec_val else neg_log_snr(w),
           "records": len(rec_val)}
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
