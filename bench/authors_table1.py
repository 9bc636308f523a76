# SPDX-License-Identifier: BSD-3-Clause
"""Table 1's conv, LC and ws(1) rows trained by the authors' own code, beside dynshare's.

    /usr/bin/python3 bench/authors_table1.py AUTHORS_REPO --row conv|lc|lc_ws1 [--seed 0] -o OUT_DIR
    (one thread; OUT_DIR/result.json: train top-1 per epoch, test top-1/top-5 at epochs 15 and 30)
    /usr/bin/python3 bench/authors_table1.py table OUT_DIR...   (mean and spread per row)

AUTHORS_REPO is a checkout of github.com/romanpogodin/towards-bio-plausible-conv (nothing is
downloaded). Their modules are imported from it; what runs is

  theirs: networks/locally_connected_utils.LocallyConnected2d (the LC layer, its init, its
          forward, its share_weights_instantly = ws(n)); networks/network_utils.traverse_module,
          Conv2dTrackerCreator and create_locally_connected_layer (how their networks are turned
          into LC ones); utils.build_optimizer_and_parameters (AdamW + MultiStepLR) and
          utils.train_network -> train_one_epoch / test_one_epoch (the epoch loop, the sharing
          every n iterations, the running train accuracy, the test evaluation, the scheduler);
          their ResNets' init (kaiming_normal_ fan_out on Conv2d, BN weight 1 / bias 0).
  glue (here): the data (their datasets.py needs torchvision and builds CIFAR/ImageNet only),
          the small 4-layer net (their repo has ResNets only), argparse-free arguments, and a
          tee of their printed running train accuracy (train_one_epoch prints it, returns only
          the loss).
  options (off by default, not part of their loop): --bn-reestimate N re-estimates BatchNorm's
          statistics before each evaluation as dynshare's train.bn_update: before_eval does;
          --bn-check evaluates a finished run's checkpoint both ways (no training).

The data are dynshare's exactly (src/trainer/datasets.cpp, batches.cpp): the first 1,000
Fashion-MNIST training images, each at a random offset fixed by the seed in a 44x44 canvas
filled with the images' mean (mt19937_64 + libstdc++'s uniform_int_distribution, reimplemented
below), normalised by the training set's mean and std, padding 4 (zeros after normalisation,
as the authors' fill=mean) and a random 44x44 crop; all 10,000 test images, no padding.
tests/python/test_authors_table1.py checks the images against dynshare's own loader.
The net, hyperparameters and schedule come from experiments/train_t1_<row>.yaml.
"""
import argparse
import contextlib
import gzip
import io
import json
import os
import re
import struct
import sys
import time
import types

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = {"conv": "train_t1_conv.yaml", "lc": "train_t1_lc.yaml", "lc_ws1": "train_t1_lc_ws1.yaml"}
MASK64 = (1 << 64) - 1


# --- dynshare's deterministic canvas placement --------------------------------------------
class MT19937_64:
    """std::mt19937_64 (the C++ standard's parameters)."""

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & MASK64
        for i in range(1, 312):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK64
        self.index = 312

    def _twist(self):
        mt = self.mt
        for i in range(312):
            x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + 156) % 312] ^ xa
        self.index = 0

    def __call__(self):
        if self.index >= 312:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64


def uniform_int(rng, lo, hi):
    """libstdc++ (GCC >= 11) std::uniform_int_distribution<int64_t>(lo, hi) on a 64-bit engine:
    Lemire's multiply-and-shift with rejection (bits/uniform_int_dist.h, _S_nd)."""
    r = hi - lo + 1
    product = rng() * r
    low = product & MASK64
    if low < r:
        threshold = ((1 << 64) - r) % r
        while low < threshold:
            product = rng() * r
            low = product & MASK64
    return lo + (product >> 64)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 0x803:
        h, w = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w).copy()
    return np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)


def find_file(directory, name):
    for cand in (name, name + ".gz"):
        if os.path.exists(os.path.join(directory, cand)):
            return os.path.join(directory, cand)
    raise SystemExit(f"authors_table1: no {name} in {directory} (data.path)")


def translate_to_canvas(images, canvas, seed):
    """datasets.cpp translate_to_canvas: background = the set's rounded per-channel mean."""
    n, c, h, w = images.shape
    mean = np.round(torch.from_numpy(images).float().mean(dim=(0, 2, 3)).numpy()).astype(np.uint8)
    out = np.empty((n, c, canvas, canvas), np.uint8)
    out[:] = mean.reshape(1, c, 1, 1)
    rng = MT19937_64(seed)
    for i in range(n):
        oy = uniform_int(rng, 0, canvas - h)  # C++17: narrow(1, oy..) is evaluated before ox
        ox = uniform_int(rng, 0, canvas - w)
        out[i, :, oy:oy + h, ox:ox + w] = images[i]
    return out


def load_data(data_cfg, seed):
    """datasets.cpp load_data for Fashion-MNIST with validation 0: uint8 train/test sets in
    dynshare's order, and the per-channel mean/std the batches are normalised with."""
    d = data_cfg["path"]
    tr_x, tr_y = read_idx(find_file(d, "train-images-idx3-ubyte")), read_idx(find_file(d, "train-labels-idx1-ubyte"))
    te_x, te_y = read_idx(find_file(d, "t10k-images-idx3-ubyte")), read_idx(find_file(d, "t10k-labels-idx1-ubyte"))
    lim = int(data_cfg.get("limit_train", 0))
    if lim > 0:
        tr_x, tr_y = tr_x[:lim], tr_y[:lim]
    lim = int(data_cfg.get("limit_test", 0))
    if lim > 0:
        te_x, te_y = te_x[:lim], te_y[:lim]
    canvas = int(data_cfg.get("canvas", 0))
    if canvas > 0:
        tr_x = translate_to_canvas(tr_x, canvas, seed * 2 + 1)
        te_x = translate_to_canvas(te_x, canvas, seed * 2 + 2)
    if int(data_cfg.get("validation", 0)) != 0:
        raise SystemExit("authors_table1: data.validation must be 0 (Table 1's rows use the test set)")
    perm = torch.randperm(len(tr_x), generator=torch.Generator().manual_seed(seed + 7)).numpy()
    tr_x, tr_y = tr_x[perm], tr_y[perm]
    f = torch.from_numpy(tr_x).float()
    mean, std = f.mean(dim=(0, 2, 3)), f.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return {"train": (tr_x, tr_y), "test": (te_x, te_y), "mean": mean, "std": std}


def normalise(images_u8, mean, std):
    """batches.cpp BatchMaker::make before the crop: (x - mean) * (1 / std) in float32."""
    c = mean.numel()
    x = torch.from_numpy(np.ascontiguousarray(images_u8)).float()
    return (x - mean.view(1, c, 1, 1)) * (1.0 / std.view(1, c, 1, 1))


class CanvasSet(torch.utils.data.Dataset):
    """Per-item transform, as the authors' torchvision datasets: normalise, pad, random crop
    (their RandomCrop pads with the mean pixel, which is zero after their Normalize)."""

    def __init__(self, images_u8, labels, mean, std, padding, generator=None):
        self.x = normalise(images_u8, mean, std)
        self.y = torch.from_numpy(np.asarray(labels, np.int64))
        self.padding, self.generator = padding, generator

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i]
        p = self.padding
        if p > 0 and self.generator is not None:
            h, w = x.shape[-2:]
            padded = nn.functional.pad(x, (p, p, p, p), value=0.0)
            oy, ox = torch.randint(0, 2 * p + 1, (2,), generator=self.generator).tolist()
            x = padded[:, oy:oy + h, ox:ox + w]
        return x, self.y[i]


def build_loaders(data, data_cfg, batch_size, eval_batch_size, seed):
    """The authors' build_loaders minus torchvision: shuffle=True, no drop_last (the last
    batch of an epoch is smaller, as in dynshare's epoch_batches)."""
    g_crop = torch.Generator().manual_seed(seed * 104729 + 1)
    g_order = torch.Generator().manual_seed(seed * 7919)
    train = CanvasSet(*data["train"], data["mean"], data["std"], int(data_cfg.get("padding", 0)), g_crop)
    test = CanvasSet(*data["test"], data["mean"], data["std"], 0)
    if data_cfg.get("flip", False) or int(data_cfg.get("repetitions", 1)) != 1:
        raise SystemExit("authors_table1: data.flip must be false and data.repetitions 1 (Table 1's rows)")
    train_loader = torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=0,
                                               generator=g_order)
    test_loader = torch.utils.data.DataLoader(test, batch_size=eval_batch_size, shuffle=False, num_workers=0)
    return train_loader, test_loader


# --- the net: dynshare's arch small, in the authors' style ----------------------------------
class SmallNet(nn.Module):
    """networks.cpp build_small: depth layers of k x k (padding k/2), channels width, 2 width,
    4 width, 4 width...; stride 2 in layers 1 and 2; each layer -> BN -> ReLU; global average
    pooling; Linear. Layers are nn.Conv2d so the authors' traverse_module can convert them."""

    def __init__(self, in_channels, classes, width, depth, kernel=3, batch_norm=True):
        super().__init__()
        layers, c_in = [], in_channels
        for i in range(depth):
            c = width << min(i, 2)
            stride = 2 if i in (1, 2) else 1
            layers += [nn.Conv2d(c_in, c, kernel, stride=stride, padding=kernel // 2, bias=not batch_norm),
                       nn.BatchNorm2d(c) if batch_norm else nn.Identity(), nn.ReLU(inplace=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, classes)
        for m in self.modules():  # the authors' ResNetCIFAR init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def build_net(net_cfg, in_shape, classes, authors):
    """The small net; for connectivity lc, converted by the authors' own functions (their
    convert_network_to_locally_connected, minus get_task_dimensions, which knows 28x28 MNIST
    only: the canvas is 44x44)."""
    if net_cfg.get("arch", "small") != "small":
        raise SystemExit("authors_table1: network.arch must be small")
    net = SmallNet(in_shape[0], classes, int(net_cfg.get("width", 16)), int(net_cfg.get("depth", 4)),
                   int(net_cfg.get("kernel", 3)), bool(net_cfg.get("batch_norm", True)))
    if net_cfg.get("connectivity", "conv") == "lc":
        nu = authors["network_utils"]
        args = types.SimpleNamespace(n_first_conv=int(net_cfg.get("first_conv_layers", 0)), conv_1x1=False,
                                     locally_connected_deviation_eps=float(net_cfg.get("conv_init_eps", -1.0)))
        nu.traverse_module(net, nu.Conv2dTrackerCreator())
        with torch.no_grad():
            net(torch.ones(1, *in_shape))
        nu.traverse_module(net, lambda child: nu.create_locally_connected_layer(child, args))
    return net


def reestimate_bn_before_eval(utils, net, train_set, batches, batch_size, seed):
    """Optional, dynshare's default (train.bn_update: before_eval, trainer.cpp reestimate_bn):
    before each evaluation, reset every BatchNorm's running statistics and re-estimate them as
    the cumulative average over `batches` batches of random augmented training images. Wraps
    the authors' test_one_epoch; their loop itself does not do this."""
    theirs = utils.test_one_epoch
    g = torch.Generator().manual_seed(seed * 6364136223846793005 % (1 << 63) + 17)

    def test_one_epoch(net_, device, data_loader):
        bns = [m for m in net_.modules() if isinstance(m, nn.BatchNorm2d)]
        momentum = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        was_training = net_.training
        net_.train()
        with torch.no_grad():
            for _ in range(batches):
                idx = torch.randint(0, len(train_set), (batch_size,), generator=g).tolist()
                net_(torch.stack([train_set[i][0] for i in idx]))
        for m, mom in zip(bns, momentum):
            m.momentum = mom
        net_.train(was_training)
        return theirs(net_, device, data_loader)

    utils.test_one_epoch = test_one_epoch


def import_authors(path):
    if not os.path.isfile(os.path.join(path, "networks", "locally_connected_utils.py")):
        raise SystemExit(f"authors_table1: {path} is not a checkout of towards-bio-plausible-conv "
                         "(no networks/locally_connected_utils.py)")
    sys.path.insert(0, os.path.abspath(path))
    import utils  # noqa: E402  (theirs)
    from networks import locally_connected_utils, network_utils  # noqa: E402
    return {"utils": utils, "network_utils": network_utils, "lc": locally_connected_utils}


def load_row(row):
    import yaml
    with open(os.path.join(ROOT, "experiments", ROWS[row])) as f:
        cfg = yaml.safe_load(f)
    sharing = cfg.get("sharing", {})
    if sharing.get("mode", "none") not in ("none", "instant"):
        raise SystemExit(f"authors_table1: row {row}: sharing.mode must be none or instant")
    return cfg


class Tee(io.TextIOBase):
    """Passes the authors' prints through and keeps the numbers their loop prints only."""

    def __init__(self, out, t0):
        self.out, self.t0, self.buf = out, t0, ""
        self.train_top1, self.epoch_start = [], []

    def write(self, s):
        self.out.write(s)
        self.out.flush()
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            if line.startswith("Epoch "):
                self.epoch_start.append(time.time() - self.t0)
            m = re.match(r"Running training accuracy \(top1, top5\):\s*\[\s*([0-9.eE+-]+)", line)
            if m:
                self.train_top1.append(float(m.group(1)))
        return len(s)


def bn_check(a, authors, cfg):
    """The same trained weights evaluated with the BatchNorm statistics the authors' loop kept
    and with dynshare's before_eval re-estimation: isolates that one difference of the loops."""
    t, dcfg = cfg["train"], cfg["data"]
    data = load_data(dcfg, a.seed)
    net = build_net(cfg["network"], tuple(data["train"][0].shape[1:]), 10, authors)
    ckpt = torch.load(os.path.join(a.out, "checkpoint.pt"))
    net.load_state_dict(ckpt["model_state_dict"])
    train_loader, test_loader = build_loaders(data, dcfg, int(t["batch_size"]), 500, a.seed)
    u = authors["utils"]
    theirs = u.test_one_epoch
    out = {"epoch": int(ckpt["epoch"]) - 1, "authors_running_stats": theirs(net, "cpu", test_loader).tolist()}
    reestimate_bn_before_eval(u, net, train_loader.dataset, 10, int(t["batch_size"]), a.seed)
    out["reestimated_10_batches"] = u.test_one_epoch(net, "cpu", test_loader).tolist()
    u.test_one_epoch = theirs
    print(json.dumps(out))
    with open(os.path.join(a.out, "bn_check.json"), "w") as f:
        json.dump(out, f, indent=1)
    return 0


def table(run_dirs):
    """`authors_table1.py table DIR...`: mean and spread ((max - min) / 2, as analysis/table1.py)
    over the seeds of each row's finished runs, last epoch."""
    rows = {}
    for d in run_dirs:
        p = os.path.join(d, "result.json")
        if not os.path.exists(p):
            continue
        r = json.load(open(p))
        rows.setdefault((r["row"], r["epochs"]), []).append(r)
    print(f"{'row':<8} {'n':>2} {'epochs':>6} {'train':>5} {'test top-1 (%)':>15} {'gap':>5} {'top-5':>6} {'s/epoch':>8}  seeds")
    for (row, epochs), rs in sorted(rows.items(), key=lambda kv: list(ROWS).index(kv[0][0])):
        tr = np.array([r["train_top1"][-1] for r in rs])
        te = np.array([r["test"][-1]["top1"] for r in rs])
        t5 = np.array([r["test"][-1]["top5"] for r in rs])
        per = np.array([r["seconds"] / r["epochs"] for r in rs])
        spread = f"{(te.max() - te.min()) / 2:4.1f}" if len(rs) > 1 else "   -"
        print(f"{row:<8} {len(rs):>2} {epochs:>6} {tr.mean():5.1f} {te.mean():8.1f} ± {spread} {tr.mean() - te.mean():5.1f} "
              f"{t5.mean():6.1f} {per.mean():8.1f}  {', '.join(str(r['seed']) for r in rs)}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "table":
        return table(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 epilog="authors_table1.py table OUT_DIR...: the finished runs' table")
    ap.add_argument("authors_repo", help="checkout of romanpogodin/towards-bio-plausible-conv")
    ap.add_argument("--row", required=True, choices=sorted(ROWS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", required=True, help="output folder (result.json, checkpoint.pt)")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (quick checks)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=None, help="override train.eval_every (test curves)")
    ap.add_argument("--bn-check", action="store_true",
                    help="no training: load OUT/checkpoint.pt (a finished run) and evaluate the test set with "
                         "the authors' running BatchNorm statistics and after dynshare's re-estimation "
                         "(10 batches); writes OUT/bn_check.json")
    ap.add_argument("--bn-reestimate", type=int, default=0, metavar="BATCHES",
                    help="before each test evaluation, re-estimate BatchNorm statistics on BATCHES random "
                         "augmented training batches, as dynshare's train.bn_update: before_eval (10); "
                         "default 0: the authors' loop as it is")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    authors = import_authors(a.authors_repo)
    cfg = load_row(a.row)
    t, dcfg, ncfg, scfg = cfg["train"], cfg["data"], cfg["network"], cfg.get("sharing", {})
    epochs = a.epochs if a.epochs is not None else int(t["epochs"])
    os.makedirs(a.out, exist_ok=True)
    result_path = os.path.join(a.out, "result.json")
    if a.bn_check:
        return bn_check(a, authors, cfg)
    if os.path.exists(result_path):
        raise SystemExit(f"authors_table1: {result_path} exists (a finished run); give another -o")

    torch.manual_seed(a.seed)
    data = load_data(dcfg, a.seed)
    classes = int(max(data["train"][1].max(), data["test"][1].max())) + 1
    in_shape = tuple(data["train"][0].shape[1:])
    net = build_net(ncfg, in_shape, classes, authors)
    train_loader, test_loader = build_loaders(data, dcfg, int(t["batch_size"]), int(t.get("eval_batch_size", 500)),
                                              a.seed)

    u = authors["utils"]
    if a.bn_reestimate > 0:
        reestimate_bn_before_eval(u, net, train_loader.dataset, a.bn_reestimate, int(t["batch_size"]), a.seed)
    opt_class, opt_args, sched_args = u.build_optimizer_and_parameters(
        "AdamW", float(t["lr"]), float(t["weight_decay"]), 0.9, [int(e) for e in t["lr_decay_epochs"]],
        float(t["lr_decay"]))
    optimizer = opt_class(net.parameters(), **opt_args)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, **sched_args)
    share = scfg.get("mode", "none") == "instant"
    every = int(scfg.get("every", 1))
    eval_every = min(a.eval_every or int(t.get("eval_every", epochs)), epochs)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"authors_table1: row {a.row} seed {a.seed}: {n_params} parameters, {len(data['train'][1])} training "
          f"images, {len(data['test'][1])} test images, sharing {'instant every %d' % every if share else 'none'}",
          flush=True)

    t0 = time.time()
    tee = Tee(sys.stdout, t0)
    with contextlib.redirect_stdout(tee):
        _, _, test_acc, snr = u.train_network(
            net, "cpu", nn.CrossEntropyLoss(), optimizer, scheduler, epochs, train_loader, None, test_loader,
            record_train_acc=False, record_val_acc=False, record_test_acc=True, print_results=True,
            stat_report_frequency=eval_every, weight_sharing_training=share, weight_sharing_frequency=every,
            with_amp=False, instant_weight_sharing=True, checkpoint_frequency=10 ** 9,
            checkpoint_path=os.path.join(a.out, "checkpoint.pt"))
    seconds = time.time() - t0
    tested = [(e, float(test_acc[e, 0]), float(test_acc[e, 1])) for e in range(len(test_acc)) if test_acc[e, 0] >= 0]
    res = {"row": a.row, "seed": a.seed, "epochs": epochs, "parameters": n_params, "seconds": seconds,
           "train_top1": tee.train_top1, "test": [{"epoch": e, "top1": t1, "top5": t5} for e, t1, t5 in tested],
           "epoch_start_s": tee.epoch_start, "threads": a.threads, "bn_reestimate": a.bn_reestimate,
           "authors_snr": None if snr is None else np.asarray(snr).tolist()}
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
    os.replace(tmp, result_path)
    last = tested[-1] if tested else (epochs, float("nan"), float("nan"))
    print(f"authors_table1: row {a.row} seed {a.seed}: train top-1 {tee.train_top1[-1]:.1f} test top-1 "
          f"{last[1]:.1f} (epoch {last[0]}), {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
