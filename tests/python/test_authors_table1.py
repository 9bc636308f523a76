# SPDX-License-Identifier: BSD-3-Clause
"""bench/authors_table1.py's glue against dynshare's own trainer: the same images (canvas
placement, order, normalisation), augmentation that only pads and crops, and nets of the same
size for Table 1's conv and LC rows. Needs a checkout of the authors' repository
(romanpogodin/towards-bio-plausible-conv) at $DYNSHARE_AUTHORS_REPO or /work/authors; skips
without one (CI has none). No training."""
import importlib.util
import os
import subprocess

import numpy as np
import pytest

from conftest import BUILD, ROOT

torch = pytest.importorskip("torch")

AUTHORS = os.environ.get("DYNSHARE_AUTHORS_REPO", "/work/authors")
REFERENCE = os.path.join(BUILD, "dynshare_trainer_data_reference")
TEST_IMAGES = 500

pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(AUTHORS, "networks", "locally_connected_utils.py")),
    reason=f"no checkout of the authors' repository at {AUTHORS} (set DYNSHARE_AUTHORS_REPO)")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("authors_table1", os.path.join(ROOT, "bench", "authors_table1.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def authors(script):
    return script.import_authors(AUTHORS)


def reference(row, seed, out):
    if not os.access(REFERENCE, os.X_OK):
        pytest.fail(f"no {REFERENCE} (build the trainer with tests first: bash scripts/build.sh)")
    yaml = os.path.join(ROOT, "experiments", f"train_t1_{row}.yaml")
    os.makedirs(out, exist_ok=True)
    subprocess.run([REFERENCE, yaml, str(seed), str(out), str(TEST_IMAGES)], check=True)
    n_train, n_test, c, h, w = (int(v) for v in open(os.path.join(out, "shape.txt")).read().split())
    raw = lambda name, dtype: np.fromfile(os.path.join(out, name), dtype)  # noqa: E731
    return {
        "train_x": raw("train_images.bin", np.uint8).reshape(n_train, c, h, w),
        "train_y": raw("train_labels.bin", np.int64),
        "test_x": raw("test_images.bin", np.uint8).reshape(n_test, c, h, w),
        "test_y": raw("test_labels.bin", np.int64),
        "mean_std": np.loadtxt(os.path.join(out, "mean_std.txt"), ndmin=2),
        "batch": raw("batch.bin", np.float32).reshape(-1, c, h, w),
        "parameters": int(open(os.path.join(out, "parameters.txt")).read()),
    }


def data_cfg(script, row):
    cfg = script.load_row(row)
    if not os.path.isdir(cfg["data"]["path"]):
        pytest.skip(f"no Fashion-MNIST at {cfg['data']['path']}")
    return cfg


@pytest.mark.parametrize("seed", [0, 1])
def test_same_images_as_dynshare(script, tmp_path, seed):
    cfg = data_cfg(script, "conv")
    ref = reference("conv", seed, tmp_path)
    data = script.load_data(cfg["data"], seed)
    tr_x, tr_y = data["train"]
    te_x, te_y = data["test"]
    assert tr_x.shape == ref["train_x"].shape == (1000, 1, 44, 44)
    np.testing.assert_array_equal(tr_x, ref["train_x"])  # placement, background and order
    np.testing.assert_array_equal(tr_y, ref["train_y"])
    assert len(te_y) == 10000
    np.testing.assert_array_equal(te_x[:TEST_IMAGES], ref["test_x"])
    np.testing.assert_array_equal(te_y[:TEST_IMAGES], ref["test_y"])
    np.testing.assert_allclose(data["mean"].numpy(), ref["mean_std"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(data["std"].numpy(), ref["mean_std"][:, 1], rtol=1e-6)
    # One batch as the trainer's BatchMaker normalises it (before its crop).
    batch = script.normalise(tr_x[:32], data["mean"], data["std"]).numpy()
    np.testing.assert_allclose(batch, ref["batch"], rtol=0, atol=1e-5)


def test_training_batches_only_pad_and_crop(script):
    cfg = data_cfg(script, "conv")
    data = script.load_data(cfg["data"], 0)
    t = cfg["train"]
    train_loader, test_loader = script.build_loaders(data, cfg["data"], int(t["batch_size"]), 500, 0)
    x, y = next(iter(train_loader))
    assert x.shape == (32, 1, 44, 44)
    clean = script.normalise(data["train"][0], data["mean"], data["std"])
    labels = torch.from_numpy(data["train"][1])
    p = int(cfg["data"]["padding"])
    padded = torch.nn.functional.pad(clean, (p, p, p, p))
    shifted = 0
    for xi, yi in zip(x, y):
        # Each augmented image is a 44x44 window of some padded training image of its label.
        hits = [(i, oy, ox) for i in torch.nonzero(labels == yi).flatten().tolist()
                for oy in range(2 * p + 1) for ox in range(2 * p + 1)
                if torch.equal(padded[i, :, oy:oy + 44, ox:ox + 44], xi)]
        assert hits, "a training image that is not a padded crop of the training set"
        shifted += any((oy, ox) != (p, p) for _, oy, ox in hits)
    assert shifted > 16  # the crops are random, not centred
    xt, yt = next(iter(test_loader))  # the test set: no padding, in order
    torch.testing.assert_close(xt, script.normalise(data["test"][0][:500], data["mean"], data["std"]))


@pytest.mark.parametrize("row", ["conv", "lc"])
def test_same_net_size_as_dynshare(script, authors, tmp_path, row):
    cfg = data_cfg(script, row)
    ref = reference(row, 0, tmp_path)
    net = script.build_net(cfg["network"], (1, 44, 44), 10, authors)
    assert sum(p.numel() for p in net.parameters()) == ref["parameters"]
    lc = [m for m in net.modules() if isinstance(m, authors["lc"].LocallyConnected2d)]
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    if row == "lc":
        assert len(lc) == 4 and not convs  # every layer is the authors' LC layer
        assert [tuple(m.out_size) for m in lc] == [(44, 44), (22, 22), (11, 11), (11, 11)]
    else:
        assert len(convs) == 4 and not lc
    assert net(torch.zeros(2, 1, 44, 44)).shape == (2, 10)
