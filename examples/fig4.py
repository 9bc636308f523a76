# SPDX-License-Identifier: BSD-3-Clause
# %% [markdown]
# # Fig. 4A and 4B from Python
# Pogodin et al. (NeurIPS 2021), Fig. 4: -log SNR_w of one layer's weights
# over presentations, for kernel sizes k = 3, 6, 9 and decay gamma = 0.1,
# 0.01, 0.001. 4A: the ideal dynamics (Eq. 4); 4B: the rate network (Eq. 8).
# Run as a script (`python3 examples/fig4.py`) or cell by cell (`# %%`).
# DYNSHARE_TOY=1 runs toy sizes (as CI does): fewer presentations and trials.

# %%
import os
import sys

import matplotlib
matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "build", "python"))
import dynshare  # noqa: E402

TOY = os.environ.get("DYNSHARE_TOY", "0") == "1"
EXP = os.path.join(here, "..", "experiments")
trials = 2 if TOY else 10
grid = {"layer.kernel": [3, 6, 9], "plasticity.gamma": [1e-1, 1e-2, 1e-3]}

# %% Fig. 4A: the ideal dynamics (experiments/fig4a.yaml)
fig4a = dynshare.sweep({"base": os.path.join(EXP, "fig4a.yaml"), "grid": grid, "trials": trials,
                        "set": {"run.presentations": 200} if TOY else {}})

# %% Fig. 4B: the rate network (experiments/fig4b.yaml)
fig4b = dynshare.sweep({"base": os.path.join(EXP, "fig4b.yaml"), "grid": grid, "trials": trials,
                        "set": {"run.presentations": 100} if TOY else {}})

# %% Plot both panels from to_xarray(): mean over trials, one line per (k, gamma)
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
for ax, sweep, title in ((axes[0], fig4a, "A: ideal (Eq. 4)"), (axes[1], fig4b, "B: rate network (Eq. 8)")):
    y = sweep.to_xarray()["neg_log_snr"].mean("trial")
    for k in y["layer.kernel"].values:
        for gamma in y["plasticity.gamma"].values:
            line = y.sel({"layer.kernel": k, "plasticity.gamma": gamma})
            ax.plot(line["presentation"], line, label=f"k={k}, gamma={gamma:g}")
    ax.set_xscale("log")
    ax.set_xlabel("iterations" if sweep is fig4a else "presentations")
    ax.set_ylabel("-log SNR_w")
    ax.set_title(title)
axes[1].legend(fontsize=7, ncol=3)
fig.tight_layout()
out = os.environ.get("FIG4_OUT", "fig4.png")
fig.savefig(out, dpi=120)
print(f"wrote {out}: {len(fig4a)} + {len(fig4b)} runs")
