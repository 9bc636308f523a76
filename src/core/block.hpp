// SPDX-License-Identifier: BSD-3-Clause
// Blocked presentations (dynamics.block = P > 1): P presentations of one
// layer as a handful of matrix products plus an O(N P^2) scalar recursion,
// with the trajectory of the per-presentation path (docs/history.md).
//
// Within a block every neuron's weight and momentum stay in the span of the
// block-start w^S, v^S, w^init (shared scalar coefficients) and the block's
// inputs x_1..x_P (per-neuron coefficients Cw, Cv):
//   w_i = aw w_i^S + av v_i^S + a0 w_i^init + sum_q Cw_iq x_q
//   v_i = bw w_i^S + bv v_i^S + b0 w_i^init + sum_q Cv_iq x_q.
// The dot products a presentation needs (w.x, v.x, (w - w0).x, x.x) then come
// from W X, V X, W0 X (GEMMs once per block) and the Gram matrix X^T X; after
// the presentation its reduced coordinates (A, B, F, G, c, e) fold into the
// coefficients (the materialisation of models/anti_hebbian.hpp, applied to
// coefficients instead of weights). The block's end materialises w, v with
// one rank-P product C X^T; it is deferred to the next block's start and
// done there chunk by chunk, each chunk's new rows multiplied by the next
// inputs while in cache (one pass over W and W0 for both), unless the
// engine needs the weights first (records, checkpoints, the result).
//
// That fold maps every neuron's (Cw_r, Cv_r) by the same 2 x 2 matrix, so the
// coefficients are kept raw (each presentation's c, e as the integrator left
// them) with one product matrix per presentation for all neurons: a
// presentation reads each earlier c_r, e_r once and writes none of them.
// Per-presentation arrays (drives, coefficients) are presentation-major, so
// each presentation streams contiguous runs over the neurons. The GEMMs read
// the weights where they are (rows by pointer, core/block_gemm.hpp): no copy
// into slot order.
//
// Neurons that see the same input row in every presentation form a group
// (one layer: all neurons; stacked LC layers: the positions whose receptive
// fields coincide, InputGroups from the input source). Neurons are handled in
// slot order (group by group); each group's GEMMs run on fixed chunks of
// rows, one chunk per task, each chunk single-threaded (core/block_gemm.hpp's
// kernels): the results do not depend on the number of threads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/block_gemm.hpp"
#include "core/first_touch.hpp"
#include "core/layer_block.hpp"
#include "core/presentation.hpp"

namespace dynshare {

// Fixed chunks of at most 256 slots of one group: the unit of every parallel
// loop over slots, so no sum's order depends on the thread count.
struct BlockTask {
    int64_t g, r0, r1;  // group, slots [r0, r1)
};

// A run of a task's slots whose neurons are consecutive: slot r0 + j0 + j is
// neuron i0 + j (j < len). The per-slot loops go run by run, as contiguous
// vectors, rather than neuron by neuron through the slot -> neuron map.
struct SlotRun {
    int64_t j0, i0, len;
};

// Presentations per sub-block of BlockedLayer's corrections (below).
inline constexpr int64_t kBlockSub = 8;

// Neurons that share one input row in every presentation.
struct InputGroups {
    std::vector<int64_t> members;  // slot -> block position (empty: the identity)
    std::vector<int64_t> offsets;  // group g = slots [offsets[g], offsets[g + 1])
    int64_t groups() const { return static_cast<int64_t>(offsets.size()) - 1; }
    bool identity() const { return members.empty(); }
};

// The drives of a block's start weights, W X, W0 X, V X (presentation-major).
// They are written by a block's start and read by its presentations only, so
// layers whose blocks run one after another (the engine's run_block: start,
// presentations, end, layer after layer) can share one set, sized for the
// largest layer: ResNet-20's 19 layers then fault in one layer's drives
// instead of 19 (0.10 GiB less in fp64 at block 40, measured).
template <class T>
struct BlockDrives {
    UninitVector<T> wx, w0x, vx;
};

// Bytes a BlockedLayer keeps between blocks: its own arrays, and its drives
// (BlockDrives, which layers may share). Not a block boundary's per-thread
// scratch (block_scratch_bytes, core/block_plan.hpp).
struct BlockBytes {
    long double own = 0, drives = 0;
};

template <class T>
class BlockedLayer {
public:
    // n neurons with k inputs, at most max_p presentations per block;
    // momentum: the discrete form (v evolves); false: continuous (v is constant).
    // drives: shared with other layers (BlockDrives: only if no other
    // layer's start comes between this layer's start and its block's last
    // presentation); null: its own.
    void setup(int64_t n, int64_t k, InputGroups groups, int64_t max_p, bool momentum,
               std::shared_ptr<BlockDrives<T>> drives = nullptr);
    const InputGroups& groups() const { return groups_; }
    // Where group g's input of presentation q of the next block goes (k
    // values). Two input buffers: the next block's inputs can be given while
    // the last block's end is still to be done (end_block).
    T* input(int64_t g, int64_t q) { return inputs(fill_, g) + q * k_; }
    // Begins a block of nb presentations (inputs already given): GEMMs. If
    // the last block's end was deferred, it is done here, fused with them.
    void start(LayerBlock<T>& b, int64_t nb);
    // Presentation q of the block: its dot products, `steps` integrator steps
    // from global step s0, and the fold of its coordinates. z (block order,
    // optional) receives w_i . x_i at the presentation's start; `alongside`
    // (optional) runs on one thread during the integration, once z is written
    // (PresentationIntegrator::advance_to).
    void presentation(int64_t q, PresentationIntegrator<T>& it, LayerBlock<T>& b, int64_t s0, int64_t steps, T* z,
                      const std::function<void()>& alongside = {});
    // Ends the block; its weights are materialised by the next start, fused
    // with it, or by finish(). Until then b's w (and v) are stale.
    void end_block() { pending_ = true; }
    // Materialises w (and v) if a block's end is pending.
    void finish(LayerBlock<T>& b);
    bool pending() const { return pending_; }
    bool coefficients_finite() const;
    // Floating-point operations of the block's matrix products (benchmark).
    double flops(int64_t nb) const;
    // What its arrays hold now (capacities), for the memory estimate's test.
    BlockBytes held() const;
    const BlockDrives<T>* drives() const { return dr_.get(); }

private:
    int64_t n_ = 0, k_ = 0, pmax_ = 0, nb_ = 0;
    int64_t ld_ = 0;  // row stride of the transposed inputs in start: pmax rounded up to 64 bytes
    bool momentum_ = true;
    InputGroups groups_;
    std::vector<int64_t> slot_group_;    // slot -> group
    // Two buffers (G k pmax apart), each per group (k pmax apart): k x pmax,
    // column q = presentation q's input. fill_: where the next block's go.
    UninitVector<T> X_;
    int fill_ = 0;
    bool pending_ = false;  // the last block's end is still to be done
    T* inputs(int buf, int64_t g) { return X_.data() + (buf * groups_.groups() + g) * k_ * pmax_; }
    void boundary(LayerBlock<T>& b, bool end, int64_t nb);
    std::vector<std::vector<T>> gram_;   // per group: pmax x pmax (column-major)
    std::shared_ptr<BlockDrives<T>> dr_;  // pmax x slot (presentation-major): drives of the block-start weights
    // The raw coordinates c_q (and e_q) of each presentation, as the
    // integrator left them, presentation-major: c_q of slot s at q n + s,
    // e_q at (pmax + q) n + s. Presentation q's are stored by presentation
    // q + 1's tasks (the block's last presentation stores its own).
    UninitVector<T> ce_;
    std::vector<BlockTask> tasks_;
    std::vector<SlotRun> runs_;         // task t's runs: runs_[run_off_[t], run_off_[t + 1])
    std::vector<int64_t> run_off_;
    // Presentation r's coefficients along x_r now: cw_r = f00 c_r + f01 e_r,
    // cv_r = f10 c_r + f11 e_r. Each later presentation multiplies every
    // (cw, cv) by the same 2 x 2 matrix, so one product per r serves all neurons.
    struct Fold {
        double f00 = 1, f01 = 0, f10 = 0, f11 = 1;
    };
    std::vector<Fold> fold_;             // pmax
    // Sub-blocks: the corrections from presentations r < q0 (q0 a multiple
    // of kSub) enter presentations q0 .. q0 + kSub - 1 through
    //   z_q = sum_{r < q0} fold_r(q0) (c_r, e_r) <x_r, x_q>
    // taken once at q0 (pre_: those weights per group), times sub_, the
    // product of the folds since q0 (fold_r(q) = sub_ fold_r(q0)). So each
    // earlier c_r, e_r is read once per sub-block, not once per presentation:
    // the O(N P^2) reads shrink by about kSub.
    static constexpr int64_t kSub = kBlockSub;
    std::vector<T> pre_;                 // per group: 4 x pmax x kSub
    std::vector<T> z_;                   // kSub x slot (and kSub more with momentum): z_q, presentation-major
    Fold sub_;
    std::vector<T> corr_;                // per group, 4 x pmax: fold_ times the Gram column of this presentation
    BlockGemm<T> gemm_{};                // the kernels of the instruction set in use
    double aw_ = 1, av_ = 0, a0_ = 0, bw_ = 0, bv_ = 1, b0_ = 0;
};

template <class T>
BlockBytes BlockedLayer<T>::held() const {
    auto bytes = [](const auto& v) { return static_cast<long double>(v.capacity()) * sizeof(v[0]); };
    BlockBytes b;
    b.own = bytes(X_) + bytes(ce_) + bytes(z_) + bytes(corr_) + bytes(pre_) + bytes(fold_) + bytes(slot_group_) +
            bytes(tasks_) + bytes(runs_) + bytes(run_off_) + bytes(groups_.members) + bytes(groups_.offsets);
    for (const std::vector<T>& g : gram_) b.own += bytes(g) + sizeof(g);
    if (dr_) b.drives = bytes(dr_->wx) + bytes(dr_->w0x) + bytes(dr_->vx);
    return b;
}

extern template class BlockedLayer<double>;
extern template class BlockedLayer<float>;

// A group of all n neurons (one layer, shared x).
InputGroups single_group(int64_t n);

}  // namespace dynshare
