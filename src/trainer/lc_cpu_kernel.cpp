// SPDX-License-Identifier: BSD-3-Clause
// Layout: the input is transposed once to xt = (h_pad, w_pad, c_in, B), padding
// included, so that for output position l the patch row of input (ci, ky, kx)
// is a contiguous run of B numbers, xt[y s + ky][x s + kx][ci][:], and the
// patch matrix P^T (F x B, F = c_in k^2) needs no copy at all: only F row
// pointers. Outputs and output gradients are held as (L, c_out, B). Then
//   forward        out_l^T = W_l P^T             (c_out x B)
//   weight grad    dW_l    = G_l P               (c_out x F), G_l = dL/dout_l^T
//   input grad     dP^T    = W_l^T G_l           (F x B), added into dxt rows
// The first two are split over positions (each thread owns whole W_l), the
// third over batch columns (each thread owns whole images of dxt), so no two
// threads ever add to the same number, and every entry is summed in the same
// order whatever the number of threads. The two GEMMs are lc_gemm_body.hpp's,
// compiled for each instruction set and chosen at run time (lc_gemm.hpp).
#include "trainer/lc_cpu_kernel.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "trainer/lc_gemm.hpp"

namespace dynshare::trainer {
namespace {

// dst[c * dst_ld + r] = src[r * src_ld + c] for r < rows, c < cols, in 16 x 16
// tiles (the batch-minor layouts below are transposes of LibTorch's NCHW,
// which a strided permute().contiguous() copies several times slower).
template <class T>
void transpose(const T* src, int64_t src_ld, T* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
    constexpr int64_t t = 16;
    for (int64_t r0 = 0; r0 < rows; r0 += t)
        for (int64_t c0 = 0; c0 < cols; c0 += t) {
            const int64_t r1 = std::min(rows, r0 + t), c1 = std::min(cols, c0 + t);
            for (int64_t r = r0; r < r1; ++r)
                for (int64_t c = c0; c < c1; ++c) dst[c * dst_ld + r] = src[r * src_ld + c];
        }
}

// Shapes of one call, and the F row pointers of position l into a
// (h_pad, w_pad, c_in, B) array (the patch rows, in (ci, ky, kx) order).
struct Shape {
    LcGeometry g;
    int64_t B, L, F, C, hp, wp;
    explicit Shape(const LcGeometry& geo, int64_t batch)
        : g(geo), B(batch), L(int64_t(geo.h_out()) * geo.w_out()), F(geo.fan_in()), C(geo.c_out),
          hp(geo.h_in + 2 * geo.padding), wp(geo.w_in + 2 * geo.padding) {}

    template <class P, class T>
    void patch_rows(int64_t l, T* base, P* rows) const {
        const int64_t y = l / g.w_out(), x = l % g.w_out(), k = g.k;
        for (int64_t ci = 0; ci < g.c_in; ++ci)
            for (int64_t ky = 0; ky < k; ++ky)
                for (int64_t kx = 0; kx < k; ++kx) {
                    const int64_t iy = y * g.stride + ky, ix = x * g.stride + kx;
                    rows[(ci * k + ky) * k + kx] = base + ((iy * wp + ix) * g.c_in + ci) * B;
                }
    }
};

// x (B, c_in, h, w) -> xt (h_pad, w_pad, c_in, B), the padding zero.
template <class T>
void to_batch_minor_padded(const Shape& s, const T* x, T* xt) {
    const LcGeometry& g = s.g;
    const int64_t p = g.padding, ci_n = g.c_in, plane = int64_t(g.h_in) * g.w_in;
    std::fill_n(xt, s.hp * s.wp * ci_n * s.B, T(0));
    at::parallel_for(0, ci_n * g.h_in, 1, [&](int64_t begin, int64_t end) {
        for (int64_t j = begin; j < end; ++j) {
            const int64_t ci = j / g.h_in, iy = j % g.h_in;
            transpose(x + ci * plane + iy * g.w_in, ci_n * plane, xt + (((iy + p) * s.wp + p) * ci_n + ci) * s.B,
                      ci_n * s.B, s.B, g.w_in);
        }
    });
}

// dxt (h_pad, w_pad, c_in, B) -> dx (B, c_in, h, w), the padding dropped.
template <class T>
void from_batch_minor_padded(const Shape& s, const T* dxt, T* dx) {
    const LcGeometry& g = s.g;
    const int64_t p = g.padding, ci_n = g.c_in, plane = int64_t(g.h_in) * g.w_in;
    at::parallel_for(0, ci_n * g.h_in, 1, [&](int64_t begin, int64_t end) {
        for (int64_t j = begin; j < end; ++j) {
            const int64_t ci = j / g.h_in, iy = j % g.h_in;
            transpose(dxt + (((iy + p) * s.wp + p) * ci_n + ci) * s.B, ci_n * s.B, dx + ci * plane + iy * g.w_in,
                      ci_n * plane, g.w_in, s.B);
        }
    });
}

// (B, C, L) <-> (L, C, B), one transpose per channel.
template <class T>
void nchw_to_lcb(const Shape& s, const T* src, T* dst) {
    at::parallel_for(0, s.C, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) transpose(src + c * s.L, s.C * s.L, dst + c * s.B, s.C * s.B, s.B, s.L);
    });
}
template <class T>
void lcb_to_nchw(const Shape& s, const T* src, T* dst) {
    at::parallel_for(0, s.C, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) transpose(src + c * s.B, s.C * s.B, dst + c * s.L, s.C * s.L, s.L, s.B);
    });
}

// out_t (L, C, B) from xt and W (C, L, F).
template <class T>
void forward_impl(const LcGemm<T>& gemm, const Shape& s, const T* xt, const T* W, T* out_t) {
    at::parallel_for(0, s.L, 1, [&](int64_t begin, int64_t end) {
        std::vector<const T*> prow(static_cast<size_t>(s.F));
        std::vector<T*> orow(static_cast<size_t>(s.C));
        for (int64_t l = begin; l < end; ++l) {
            s.patch_rows(l, xt, prow.data());
            for (int64_t c = 0; c < s.C; ++c) orow[c] = out_t + (l * s.C + c) * s.B;
            // A(m = c, k = f) = W[c][l][f]
            gemm.rows(s.C, s.B, s.F, W + l * s.F, s.L * s.F, 1, prow.data(), 0, orow.data(), 0, false);
        }
    });
}

// dW (C, L, F) from xt and G_t (L, C, B).
template <class T>
void weight_grad_impl(const LcGemm<T>& gemm, const Shape& s, const T* xt, const T* Gt, T* dW) {
    at::parallel_for(0, s.L, 1, [&](int64_t begin, int64_t end) {
        std::vector<const T*> prow(static_cast<size_t>(s.F));
        for (int64_t l = begin; l < end; ++l) {
            s.patch_rows(l, xt, prow.data());
            gemm.dots(s.C, s.F, s.B, Gt + l * s.C * s.B, s.B, prow.data(), dW + l * s.F, s.L * s.F);
        }
    });
}

// dxt (h_pad, w_pad, c_in, B), zeroed, from G_t (L, C, B) and W (C, L, F).
// Batch columns are split in multiples of the vector width.
template <class T>
void input_grad_impl(const LcGemm<T>& gemm, const Shape& s, const T* Gt, const T* W, T* dxt) {
    const int64_t V = gemm.lanes;
    const int64_t chunks = (s.B + V - 1) / V;
    at::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
        const int64_t b0 = cb * V, b1 = std::min(s.B, ce * V);
        std::vector<T*> drow(static_cast<size_t>(s.F));
        std::vector<const T*> grow(static_cast<size_t>(s.C));
        for (int64_t l = 0; l < s.L; ++l) {
            s.patch_rows(l, dxt, drow.data());
            for (int64_t c = 0; c < s.C; ++c) grow[c] = Gt + (l * s.C + c) * s.B;
            // A(m = f, k = c) = W[c][l][f]; rows of one position never alias.
            gemm.rows(s.F, b1 - b0, s.C, W + l * s.F, 1, s.L * s.F, grow.data(), b0, drow.data(), b0, true);
        }
    });
}

struct LcFunction : public torch::autograd::Function<LcFunction> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& w_in, std::vector<int64_t> geo) {
        const LcGeometry g{int(geo[0]), int(geo[1]), int(geo[2]), int(geo[3]), int(geo[4]), int(geo[5]), int(geo[6])};
        const Shape s(g, x.size(0));
        auto xc = x.contiguous();
        auto w = w_in.contiguous();
        auto xt = torch::empty({s.hp, s.wp, g.c_in, s.B}, x.options());
        auto out_t = torch::empty({s.L, s.C, s.B}, x.options());
        auto out = torch::empty({s.B, s.C, g.h_out(), g.w_out()}, x.options());
        AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lc_forward_cpu", [&] {
            to_batch_minor_padded<scalar_t>(s, xc.data_ptr<scalar_t>(), xt.data_ptr<scalar_t>());
            forward_impl<scalar_t>(lc_gemm<scalar_t>(lc_isa()), s, xt.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                                   out_t.data_ptr<scalar_t>());
            lcb_to_nchw<scalar_t>(s, out_t.data_ptr<scalar_t>(), out.data_ptr<scalar_t>());
        });
        ctx->save_for_backward({xt, w});
        ctx->saved_data["geometry"] = geo;
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const auto& xt = saved[0];
        const auto& w = saved[1];
        const auto v = ctx->saved_data["geometry"].toIntVector();
        const LcGeometry g{int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), int(v[6])};
        const Shape s(g, xt.size(3));
        (void)v;
        if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};  // output unused
        auto G = grads[0].contiguous();
        auto Gt = torch::empty({s.L, s.C, s.B}, G.options());
        torch::Tensor dx, dw;
        AT_DISPATCH_FLOATING_TYPES(xt.scalar_type(), "lc_backward_cpu", [&] {
            nchw_to_lcb<scalar_t>(s, G.data_ptr<scalar_t>(), Gt.data_ptr<scalar_t>());
            if (ctx->needs_input_grad(1)) {
                dw = torch::empty_like(w);
                weight_grad_impl<scalar_t>(lc_gemm<scalar_t>(lc_isa()), s, xt.data_ptr<scalar_t>(),
                                           Gt.data_ptr<scalar_t>(), dw.data_ptr<scalar_t>());
            }
            if (ctx->needs_input_grad(0)) {
                auto dxt = torch::zeros_like(xt);
                input_grad_impl<scalar_t>(lc_gemm<scalar_t>(lc_isa()), s, Gt.data_ptr<scalar_t>(),
                                          w.data_ptr<scalar_t>(), dxt.data_ptr<scalar_t>());
                dx = torch::empty({s.B, g.c_in, g.h_in, g.w_in}, xt.options());
                from_batch_minor_padded<scalar_t>(s, dxt.data_ptr<scalar_t>(), dx.data_ptr<scalar_t>());
            }
        });
        return {dx, dw, torch::Tensor()};
    }
};

}  // namespace

torch::Tensor lc_forward_cpu(const torch::Tensor& x, const torch::Tensor& weight, const LcGeometry& g) {
    TORCH_CHECK(x.is_cpu() && weight.is_cpu(), "lc_forward_cpu: CPU tensors only");
    TORCH_CHECK(x.dim() == 4 && x.size(1) == g.c_in && x.size(2) == g.h_in && x.size(3) == g.w_in,
                "lc_forward_cpu: input shape does not match the geometry");
    return LcFunction::apply(x, weight,
                             std::vector<int64_t>{g.c_in, g.h_in, g.w_in, g.c_out, g.k, g.stride, g.padding});
}

}  // namespace dynshare::trainer
