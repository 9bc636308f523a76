// SPDX-License-Identifier: BSD-3-Clause
// The trainer's Eq. 4 is models/ideal.hpp's, instantiated on whole tensors
// (share_hebbian, share_hebbian_authors): on fp64 tensors it gives the bits of
// the per-weight scalar form, weight by weight; on fp32 tensors those of the
// scalar form in float.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/ideal.hpp"

using namespace dynshare;

namespace {

template <class S>
void expect_tensor_step_is_scalar_step(torch::ScalarType type) {
    torch::manual_seed(8);
    const auto opt = torch::TensorOptions().dtype(type);
    torch::Tensor w = torch::randn({3, 7, 5}, opt), w0 = torch::randn({3, 7, 5}, opt);
    const torch::Tensor z = torch::randn({3, 7, 5}, opt), zbar = torch::randn({3, 7, 5}, opt);
    const torch::Tensor x = torch::randn({3, 7, 5}, opt);
    const double gamma = 0.037, eta = 0.21;
    const torch::Tensor start = w.clone();
    const torch::Tensor hebb = ideal_centered(z, zbar) * x;
    torch::Tensor view = w.view({21, 5});  // a view, as the trainer's: updated in place
    ideal_batch_step(view, w0.view({21, 5}), hebb.view({21, 5}), gamma, eta);
    const auto wa = w.contiguous(), sa = start.contiguous(), w0a = w0.contiguous();
    const auto za = z.contiguous(), zba = zbar.contiguous(), xa = x.contiguous();
    for (int64_t i = 0; i < w.numel(); ++i) {
        S ws = sa.data_ptr<S>()[i];
        const S h = ideal_centered(za.data_ptr<S>()[i], zba.data_ptr<S>()[i]) * xa.data_ptr<S>()[i];
        ideal_batch_step(ws, w0a.data_ptr<S>()[i], h, static_cast<S>(gamma), static_cast<S>(eta));
        EXPECT_EQ(wa.data_ptr<S>()[i], ws) << "weight " << i;
    }
    EXPECT_FALSE(torch::equal(w, start));
}

TEST(IdealTensor, Fp64TensorStepIsTheScalarStepBitForBit) { expect_tensor_step_is_scalar_step<double>(torch::kDouble); }

TEST(IdealTensor, Fp32TensorStepIsTheScalarStepInFloat) { expect_tensor_step_is_scalar_step<float>(torch::kFloat); }

}  // namespace
