# SPDX-License-Identifier: BSD-3-Clause
"""dynshare's simulated sleep phase inside a plain PyTorch training loop.

A small locally connected (LC) network written in PyTorch alone (unfold-based
LC layers, no dynshare code) trains on Fashion-MNIST; every `--every`
iterations dynshare.sleep_phase runs the sleep phase of Section 4.1 on the LC
layers' weight tensors, in place, and prints -log SNR_w (Eq. 6) of every
layer before and after it (lower = closer to a convolution).

    PYTHONPATH=build/python python3 examples/pytorch_sleep.py [--iterations 300] [--every 50]
    DYNSHARE_TOY=1 ...   toy sizes, as CI runs it

Data: /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "build", "python"))
import dynshare  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(name, data_dir):
    path = os.path.join(data_dir, name)
    opener = gzip.open if not os.path.exists(path) else open
    path = path if os.path.exists(path) else path + ".gz"
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


class LocallyConnected2d(torch.nn.Module):
    """An LC layer: a Conv2d whose kernel differs at every output position.
    weight: (c_out, h_out, w_out, c_in k^2), dynshare's layout (Conv2d's
    (c_in, ky, kx) order within a neuron)."""

    def __init__(self, c_in, h_in, w_in, c_out, k, stride=1, padding=None):
        super().__init__()
        self.geometry = dict(c_in=c_in, h_in=h_in, w_in=w_in, c_out=c_out, k=k, stride=stride,
                             padding=(k - 1) // 2 if padding is None else padding)
        p = self.geometry["padding"]
        self.h_out = (h_in + 2 * p - k) // stride + 1
        self.w_out = (w_in + 2 * p - k) // stride + 1
        fan_in = c_in * k * k
        self.weight = torch.nn.Parameter(torch.randn(c_out, self.h_out, self.w_out, fan_in) * (2.0 / fan_in) ** 0.5)
        self.bias = torch.nn.Parameter(torch.zeros(c_out, self.h_out, self.w_out))

    def forward(self, x):
        g = self.geometry
        cols = F.unfold(x, g["k"], padding=g["padding"], stride=g["stride"])    # (B, c_in k^2, L)
        cols = cols.view(x.shape[0], 1, -1, self.h_out, self.w_out)             # (B, 1, F, h, w)
        w = self.weight.permute(0, 3, 1, 2).unsqueeze(0)                        # (1, c_out, F, h, w)
        return (cols * w).sum(2) + self.bias


class Net(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lc1 = LocallyConnected2d(1, 28, 28, width, 3)
        self.lc2 = LocallyConnected2d(width, 28, 28, width, 3)
        self.fc = torch.nn.Linear(width * 7 * 7, 10)

    def lc_layers(self):
        return [self.lc1, self.lc2]

    def forward(self, x):
        x = F.relu(self.lc1(x))
        x = F.relu(self.lc2(x))
        x = F.avg_pool2d(x, 4)
        return self.fc(x.flatten(1))


def main(argv=None):
    toy = os.environ.get("DYNSHARE_TOY", "0") == "1"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=20 if toy else 300)
    ap.add_argument("--every", type=int, default=10 if toy else 50, help="iterations between sleep phases")
    ap.add_argument("--presentations", type=int, default=10 if toy else 100, help="presentations per sleep phase")
    ap.add_argument("--width", type=int, default=4 if toy else 8, help="channels of each LC layer")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--data", default=DATA)
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    images = load_idx("train-images-idx3-ubyte", args.data)
    labels = load_idx("train-labels-idx1-ubyte", args.data)
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    net = Net(args.width)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    geometry = [lc.geometry for lc in net.lc_layers()]
    phase = 0
    for it in range(1, args.iterations + 1):
        idx = torch.randint(0, len(x_all), (args.batch,))
        loss = F.cross_entropy(net(x_all[idx]), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % args.every == 0:
            # In place on the parameters' own storage (the same data_ptr()).
            snr = dynshare.sleep_phase([lc.weight for lc in net.lc_layers()], geometry, seed=0, phase=phase,
                                       presentations=args.presentations)
            phase += 1
            text = ", ".join(f"layer {l}: {b:.3f} -> {a:.3f}" for l, (b, a) in enumerate(snr))
            print(f"iteration {it}: loss {loss.item():.3f}; sleep phase {phase}: -log SNR_w {text}", flush=True)
    with torch.no_grad():
        acc = (net(x_all[:1000]).argmax(1) == y_all[:1000]).float().mean().item()
    print(f"done: {args.iterations} iterations, {phase} sleep phases, train accuracy (first 1000) {acc:.3f}")


if __name__ == "__main__":
    main()
