// SPDX-License-Identifier: BSD-3-Clause
#include "core/inputs.hpp"

#include <Eigen/Dense>

namespace dynshare {

SingleLayerInputs::SingleLayerInputs(const SimConfig& cfg)
    : key_(make_key(cfg.run.seed, cfg.run.stream)),
      n_(cfg.layer.neurons),
      k_(int64_t(cfg.layer.kernel) * cfg.layer.kernel),
      noise_std_(cfg.input.noise_std),
      init_mean_(cfg.layer.init_mean),
      init_std_(cfg.layer.init_std) {}

void SingleLayerInputs::shared(int64_t p, double* x) const {
    fill_normals(key_, Stream::input, static_cast<uint32_t>(p), static_cast<uint32_t>(p >> 32), x,
                 static_cast<int>(k_));
}

int64_t SingleLayerInputs::fill(int64_t p, std::vector<double>& x) const {
    if (noise_std_ == 0.0) {
        x.resize(k_);
        shared(p, x.data());
        return 0;
    }
    x.resize((n_ + 1) * k_);
    double* base = &x[n_ * k_];  // the shared part, after the n rows
    shared(p, base);
    for (int64_t i = 0; i < n_; ++i) {
        double* row = &x[i * k_];
        fill_normals(key_, Stream::input_noise, static_cast<uint32_t>(p), static_cast<uint32_t>(i), row,
                     static_cast<int>(k_));
        for (int64_t j = 0; j < k_; ++j) row[j] = base[j] + noise_std_ * row[j];
    }
    return k_;
}

std::vector<double> SingleLayerInputs::initial_weights() const {
    std::vector<double> w(n_ * k_);
    for (int64_t i = 0; i < n_; ++i) {
        double* row = &w[i * k_];
        fill_normals(key_, Stream::initial_weights, static_cast<uint32_t>(i), 0u, row, static_cast<int>(k_));
        for (int64_t j = 0; j < k_; ++j) row[j] = init_mean_ + init_std_ * row[j];
    }
    return w;
}

std::vector<double> SingleLayerInputs::covariance(int64_t presentations) const {
    // Blocks of 256 presentations through a rank update (a GEMM), in a fixed
    // order, so C is the same whether the run was interrupted or not.
    const int64_t block = 256;
    Eigen::MatrixXd X(block, k_);
    Eigen::MatrixXd C = Eigen::MatrixXd::Zero(k_, k_);
    std::vector<double> x(k_);
    for (int64_t p0 = 0; p0 < presentations; p0 += block) {
        const int64_t rows = std::min(block, presentations - p0);
        for (int64_t r = 0; r < rows; ++r) {
            shared(p0 + r, x.data());
            for (int64_t j = 0; j < k_; ++j) X(r, j) = x[j];
        }
        C.noalias() += X.topRows(rows).transpose() * X.topRows(rows);
    }
    if (presentations > 0) C /= static_cast<double>(presentations);
    std::vector<double> out(k_ * k_);
    for (int64_t a = 0; a < k_; ++a)
        for (int64_t b = 0; b < k_; ++b) out[a * k_ + b] = C(a, b);
    return out;
}

}  // namespace dynshare

#include <type_traits>

#include "core/stack_patterns.hpp"

namespace dynshare {

template <class T>
void SingleLayerSource<T>::begin_presentation(int64_t p) {
    stride_ = inputs_.fill(p, x_);
    if constexpr (!std::is_same_v<T, double>) xt_.assign(x_.begin(), x_.end());
}

template <class T>
InputView<T> SingleLayerSource<T>::inputs(int) const {
    if constexpr (std::is_same_v<T, double>) return InputView<T>{x_.data(), stride_, nullptr};
    else return InputView<T>{xt_.data(), stride_, nullptr};
}

// Per-neuron noise: no shared rows, presentation by presentation (documented
// in docs/blocked_presentations.md: a block would cost per-neuron Gram matrices).
template <class T>
bool SingleLayerSource<T>::block_groups(int, InputGroups& out) {
    if (noise_) return false;
    out = single_group(n_);
    return true;
}

template <class T>
std::unique_ptr<InputSource<T>> make_input_source(const SimConfig& cfg, const RunPlan& plan) {
    if (plan.kind == PlanKind::stack) return std::make_unique<StackPatterns<T>>(cfg, plan);
    return std::make_unique<SingleLayerSource<T>>(cfg);
}

template class SingleLayerSource<double>;
template class SingleLayerSource<float>;
template std::unique_ptr<InputSource<double>> make_input_source<double>(const SimConfig&, const RunPlan&);
template std::unique_ptr<InputSource<float>> make_input_source<float>(const SimConfig&, const RunPlan&);

}  // namespace dynshare
