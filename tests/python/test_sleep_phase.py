# SPDX-License-Identifier: BSD-3-Clause
"""dynshare.sleep_phase: the trainer's own phase (bit for bit), in place on
torch tensors and numpy arrays, both layouts, and bad input refused before
any weight is touched."""
import os
import subprocess

import numpy as np
import pytest
import torch

import dynshare
from conftest import BUILD

GEO = [dict(c_in=1, h_in=8, w_in=8, c_out=2, k=3, stride=1, padding=1),
       dict(c_in=2, h_in=8, w_in=8, c_out=2, k=3, stride=1, padding=1)]


def weights(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(0.3 + 0.2 * rng.standard_normal((g["c_out"], 8, 8, g["c_in"] * 9))).astype(dtype) for g in GEO]


def test_equals_the_trainers_sleep_phase(tmp_path):
    ref = os.path.join(BUILD, "dynshare_trainer_sleep_reference")
    if not os.access(ref, os.X_OK):
        pytest.skip("no trainer in this build (LibTorch missing): nothing to compare with")
    presentations, seed, phase = 30, 5, 3
    subprocess.run([ref, str(tmp_path), "2", str(presentations), str(seed), str(phase)], check=True)
    geo = [tuple(int(x) for x in line.split()) for line in open(tmp_path / "geometry.txt")]
    assert len(geo) == 2
    tensors, expected = [], []
    for l, (c_in, h_in, w_in, c_out, k, stride, padding) in enumerate(geo):
        h = (h_in + 2 * padding - k) // stride + 1
        w = (w_in + 2 * padding - k) // stride + 1
        shape = (c_out, h, w, c_in * k * k)
        tensors.append(torch.from_numpy(np.fromfile(tmp_path / f"before_{l}.bin", np.float32).reshape(shape)))
        expected.append(np.fromfile(tmp_path / f"after_{l}.bin", np.float32).reshape(shape))
    ptrs = [t.data_ptr() for t in tensors]
    before = [t.clone() for t in tensors]
    snr = dynshare.sleep_phase(tensors, geo, seed=seed, phase=phase, presentations=presentations)
    assert [t.data_ptr() for t in tensors] == ptrs, "the tensors' storage changed"
    for l, t in enumerate(tensors):
        assert not torch.equal(t, before[l]), "the phase did not move the weights"
        assert t.numpy().tobytes() == expected[l].tobytes(), f"layer {l} differs from the trainer's phase"
    ref_snr = [tuple(float(x) for x in line.split()) for line in open(tmp_path / "snr.txt")]
    assert snr == ref_snr


def test_in_place_on_numpy_and_torch():
    a = weights()
    t = [torch.from_numpy(x.copy()) for x in a]
    ids = [id(x) for x in a]
    snr = dynshare.sleep_phase(a, GEO, seed=1, presentations=20)
    assert [id(x) for x in a] == ids
    snr_t = dynshare.sleep_phase(t, GEO, seed=1, presentations=20)
    assert snr == snr_t
    for x, y in zip(a, t):
        assert x.tobytes() == y.numpy().tobytes()
    assert len(snr) == 2 and all(after < before for before, after in snr)
    # a tensor that requires grad (an nn.Parameter) works too
    p = [torch.nn.Parameter(torch.from_numpy(x)) for x in weights()]
    dynshare.sleep_phase(p, GEO, seed=1, presentations=20)
    assert p[0].detach().numpy().tobytes() == a[0].tobytes()


def test_float64_and_six_dimensional_dynshare_layout():
    a32 = weights()
    a64 = [x.astype(np.float64) for x in a32]
    six = [x.reshape(g["c_out"], 8, 8, g["c_in"], 3, 3).copy() for x, g in zip(a32, GEO)]
    s32 = dynshare.sleep_phase(a32, GEO, seed=2, phase=1, presentations=10)
    s64 = dynshare.sleep_phase(a64, GEO, seed=2, phase=1, presentations=10)
    s6 = dynshare.sleep_phase(six, GEO, seed=2, phase=1, presentations=10)
    # The engine starts from the same doubles (float -> double is exact), so
    # the float64 result rounded to float32 is the float32 result; SNR after
    # is of the weights as stored (rounded or not).
    assert s32 == s6
    assert [b for b, _ in s32] == [b for b, _ in s64]
    assert np.allclose([a for _, a in s32], [a for _, a in s64], rtol=1e-5)
    for x32, x64, x6 in zip(a32, a64, six):
        assert x64.astype(np.float32).tobytes() == x32.tobytes()
        assert x6.reshape(x32.shape).tobytes() == x32.tobytes()


def test_authors_layout_equals_dynshare_layout():
    a = weights(seed=4)
    # the authors' LocallyConnected2d.weights: (c_in, c_out, h_out, w_out, k_h, k_w)
    authors = [torch.from_numpy(np.ascontiguousarray(
        x.reshape(g["c_out"], 8, 8, g["c_in"], 3, 3).transpose(3, 0, 1, 2, 4, 5)).copy()) for x, g in zip(a, GEO)]
    s_ours = dynshare.sleep_phase(a, GEO, seed=3, presentations=15)
    s_theirs = dynshare.sleep_phase(authors, GEO, seed=3, presentations=15, layout="authors")
    assert s_ours == s_theirs
    for x, t, g in zip(a, authors, GEO):
        back = t.numpy().transpose(1, 2, 3, 0, 4, 5).reshape(g["c_out"], 8, 8, g["c_in"] * 9)
        assert np.ascontiguousarray(back).tobytes() == x.tobytes()


def test_phases_and_config_change_the_result():
    base = dynshare.sleep_phase(weights(), GEO, seed=1, presentations=10)
    assert dynshare.sleep_phase(weights(), GEO, seed=1, phase=1, presentations=10) != base
    assert dynshare.sleep_phase(weights(), GEO, {"dynamics": {"alpha": 100.0}}, seed=1, presentations=10) != base
    assert dynshare.sleep_phase(weights(), GEO, "plasticity:\n  gamma: 0.1\n", seed=1, presentations=10) == base


BAD = [
    ("int dtype", lambda w: [w[0], w[1].astype(np.int32)], {}, TypeError, "weights[1]"),
    ("float16 tensor", lambda w: [w[0], torch.from_numpy(w[1]).half()], {}, TypeError, "weights[1]"),
    ("non-contiguous", lambda w: [w[0], np.asfortranarray(w[1])], {}, ValueError, "weights[1]"),
    ("non-contiguous tensor", lambda w: [w[0], torch.from_numpy(w[1]).transpose(0, 1)], {}, ValueError, "weights[1]"),
    ("device tensor", lambda w: [w[0], torch.empty(w[1].shape, device="meta")], {}, ValueError, "weights[1]"),
    ("shape", lambda w: [w[0], w[1][:, :4].copy()], {}, ValueError, "geometry[1]"),
    ("NaN", lambda w: [w[0], np.where(np.arange(w[1].size).reshape(w[1].shape) == 7, np.nan, w[1]).astype(np.float32)],
     {}, ValueError, "weights[1]"),
    ("read-only", lambda w: [w[0], np.broadcast_to(w[1], w[1].shape)], {}, ValueError, "weights[1]"),
    ("not an array", lambda w: [w[0], w[1].tolist()], {}, TypeError, "weights[1]"),
    ("count", lambda w: [w[0]], {}, ValueError, "weights"),
    ("layout", lambda w: w, {"layout": "conv"}, ValueError, "layout"),
    ("authors shape", lambda w: w, {"layout": "authors"}, ValueError, "weights[0]"),
    ("config key", lambda w: w, {"config": {"dynamics": {"alpah": 3}}}, dynshare.ConfigError, "alpah"),
    ("config value", lambda w: w, {"config": {"dynamics": {"alpha": -3}}}, dynshare.ConfigError, "dynamics.alpha"),
    ("config geometry key", lambda w: w, {"config": {"run": {"presentations": 3}}}, dynshare.ConfigError,
     "run.presentations"),
    ("geometry chain", lambda w: w, {"geometry": [GEO[0], dict(GEO[1], c_in=3)]}, ValueError, "geometry[1]"),
    ("geometry key", lambda w: w, {"geometry": [GEO[0], dict(GEO[1], kernel_size=3)]}, ValueError, "geometry[1]"),
    ("presentations", lambda w: w, {"presentations": 0}, ValueError, "presentations"),
]


@pytest.mark.parametrize("name,make,kwargs,error,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_before_any_weight_is_touched(name, make, kwargs, error, needle):
    w = weights()
    args = make(w)
    kept = [np.array(x, copy=True) if isinstance(x, np.ndarray) else None for x in args]
    geometry = kwargs.pop("geometry", GEO)
    with pytest.raises(error) as e:
        dynshare.sleep_phase(args, geometry, presentations=kwargs.pop("presentations", 5), **kwargs)
    assert needle in str(e.value) and "\n" not in str(e.value)
    for x, k in zip(args, kept):
        if k is not None:
            assert np.array_equal(x, k, equal_nan=True), "a weight was touched"
