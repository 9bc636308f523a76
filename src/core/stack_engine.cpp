#include "core/stack_engine.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/layer_block.hpp"
#include "core/presentation.hpp"
#include "core/step_params.hpp"
#include "dynshare/errors.hpp"

namespace dynshare {

namespace {

std::string layer_key(size_t l) { return "stack.layers[" + std::to_string(l) + "]"; }

// Four fixed lanes, as in presentation.cpp: vectorisable, fixed summation order.
double dot(const double* a, const double* b, int64_t k) {
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 4 <= k; j += 4)
        for (int l = 0; l < 4; ++l) acc[l] += a[j + l] * b[j + l];
    for (; j < k; ++j) acc[0] += a[j] * b[j];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// Module structure of one layer: sorted order, offsets, cell -> module map.
void build_modules(StackLayerPlan& pl) {
    const LcGeometry& g = pl.g;
    const int p = pl.period, ho = g.h_out(), wo = g.w_out();
    pl.order.clear();
    pl.order.reserve(static_cast<size_t>(g.neurons()));
    pl.module_offsets.assign(1, 0);
    pl.module_of_cell.assign(static_cast<size_t>(g.c_out) * p * p, -1);
    pl.snr_rows.clear();
    pl.snr_offsets.assign(1, 0);
    for (int c = 0; c < g.c_out; ++c)
        for (int a = 0; a < p; ++a)
            for (int b = 0; b < p; ++b) {
                const int64_t start = static_cast<int64_t>(pl.order.size());
                for (int y = a; y < ho; y += p)
                    for (int x = b; x < wo; x += p) pl.order.push_back(g.neuron(c, y, x));
                const int64_t end = static_cast<int64_t>(pl.order.size());
                if (end == start) continue;  // p larger than the output: no such module
                pl.module_of_cell[(static_cast<size_t>(c) * p + a) * p + b] = pl.modules();
                pl.module_offsets.push_back(end);
                int64_t inner = 0;
                for (int64_t s = start; s < end; ++s) {
                    const int64_t rem = pl.order[s] % (int64_t(ho) * wo);
                    if (!g.is_border(static_cast<int>(rem / wo), static_cast<int>(rem % wo))) {
                        pl.snr_rows.push_back(s);
                        ++inner;
                    }
                }
                if (inner >= 2) pl.snr_offsets.push_back(static_cast<int64_t>(pl.snr_rows.size()));
                else pl.snr_rows.resize(pl.snr_rows.size() - inner);  // SNR needs >= 2 neurons
            }
}

// Both metrics in one pass over the rows of each module; sums shifted by the
// module's first row, exactly as snr_w_rows does (snr.cpp).
LcSnr module_metrics(const double* w, int64_t k, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& offsets) {
    const int64_t modules = static_cast<int64_t>(offsets.size()) - 1;
    if (modules <= 0) return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
    std::vector<double> s1(k), s2(k);
    double snr_total = 0.0, mas_total = 0.0;
    for (int64_t m = 0; m < modules; ++m) {
        const int64_t r0 = offsets[m], n = offsets[m + 1] - offsets[m];
        std::fill(s1.begin(), s1.end(), 0.0);
        std::fill(s2.begin(), s2.end(), 0.0);
        const double* ref = w + rows[r0] * k;
        for (int64_t i = 1; i < n; ++i) {
            const double* wi = w + rows[r0 + i] * k;
            for (int64_t j = 0; j < k; ++j) {
                const double d = wi[j] - ref[j];
                s1[j] += d;
                s2[j] += d * d;
            }
        }
        const double inv_n = 1.0 / static_cast<double>(n);
        double snr = 0.0, mas = 0.0;
        for (int64_t j = 0; j < k; ++j) {
            const double md = s1[j] * inv_n;
            const double var = s2[j] * inv_n - md * md;
            const double mean = ref[j] + md;
            if (!(var > 0.0)) {
                snr = mas = std::numeric_limits<double>::infinity();
                break;
            }
            snr += mean * mean / var;
            mas += std::abs(mean) / std::sqrt(var);
        }
        snr_total += snr / static_cast<double>(k);
        mas_total += mas / static_cast<double>(k);
    }
    // -log of the SNR_w averaged over the modules (all channels' modules alike).
    return {-std::log(snr_total / static_cast<double>(modules)), mas_total / static_cast<double>(modules)};
}

// Smallest divisor of q that is >= min(k, q).
int first_pattern_period(int q, int k) {
    const int lo = std::min(k, q);
    for (int d = std::max(1, lo); d <= q; ++d)
        if (q % d == 0) return d;
    return q;
}

}  // namespace

int module_period(const StackParams& stack, const LcGeometry& g) {
    switch (stack.connectivity) {
        case Connectivity::grid: return g.k;
        case Connectivity::period: return stack.period;
        case Connectivity::full: return 1;
    }
    return g.k;
}

std::vector<LcGeometry> make_stack_geometry(const StackParams& stack) {
    if (stack.layers.empty()) throw UserError("stack.layers = []: needs at least one layer");
    std::vector<LcGeometry> out;
    int c = stack.input.channels, h = stack.input.height, w = stack.input.width;
    if (c < 1 || h < 1 || w < 1)
        throw UserError("stack.input: channels, height and width must be >= 1 (got " + std::to_string(c) + ", " +
                        std::to_string(h) + ", " + std::to_string(w) + ")");
    for (size_t l = 0; l < stack.layers.size(); ++l) {
        const StackLayer& s = stack.layers[l];
        LcGeometry g;
        g.c_in = c;
        g.h_in = h;
        g.w_in = w;
        g.c_out = s.channels;
        g.k = s.kernel;
        g.stride = s.stride;
        g.padding = s.padding;
        if (s.channels < 1 || s.kernel < 1 || s.stride < 1 || s.padding < 0)
            throw UserError(layer_key(l) + ": channels, kernel and stride must be >= 1 and padding >= 0");
        const int64_t ph = int64_t(h) + 2 * int64_t(s.padding), pw = int64_t(w) + 2 * int64_t(s.padding);
        if (s.kernel > ph || s.kernel > pw)
            throw UserError(layer_key(l) + ".kernel = " + std::to_string(s.kernel) +
                            ": larger than the layer's padded input " + std::to_string(ph) + "x" + std::to_string(pw));
        out.push_back(g);
        c = g.c_out;
        h = g.h_out();
        w = g.w_out();
    }
    return out;
}

StackPlan make_stack_plan(const StackParams& stack, const std::vector<LcGeometry>& geometry) {
    if (geometry.empty()) throw UserError("stack: needs at least one layer");
    if (geometry.size() > 255) throw UserError("stack.layers: at most 255 layers (got " + std::to_string(geometry.size()) + ")");
    StackPlan plan;
    plan.normalize = stack.normalize;
    plan.drive = stack.drive;
    plan.periodic_border = stack.border == BorderInput::periodic;
    for (size_t l = 0; l < geometry.size(); ++l) {
        const LcGeometry& g = geometry[l];
        if (g.c_in < 1 || g.h_in < 1 || g.w_in < 1 || g.c_out < 1 || g.k < 1 || g.stride < 1 || g.padding < 0 ||
            g.k > g.h_in + 2 * g.padding || g.k > g.w_in + 2 * g.padding)
            throw UserError("layer " + std::to_string(l) + ": invalid LC geometry (kernel " + std::to_string(g.k) +
                            " on a padded input " + std::to_string(g.h_in + 2 * g.padding) + "x" +
                            std::to_string(g.w_in + 2 * g.padding) + ")");
        if (l > 0) {
            const LcGeometry& q = geometry[l - 1];
            if (g.c_in != q.c_out || g.h_in != q.h_out() || g.w_in != q.w_out())
                throw UserError("layer " + std::to_string(l) + ": input " + std::to_string(g.c_in) + "x" +
                                std::to_string(g.h_in) + "x" + std::to_string(g.w_in) + " does not match layer " +
                                std::to_string(l - 1) + "'s output " + std::to_string(q.c_out) + "x" +
                                std::to_string(q.h_out()) + "x" + std::to_string(q.w_out()));
        }
        if (g.neurons() >= (int64_t(1) << 24))
            throw UserError(layer_key(l) + ": at most 2^24 output neurons per layer (got " +
                            std::to_string(g.neurons()) + ")");
        StackLayerPlan pl;
        pl.g = g;
        pl.period = module_period(stack, g);
        pl.phi = l < stack.layers.size() ? stack.layers[l].nonlinearity : Nonlinearity::relu;
        if (l == 0) {
            plan.pattern_period = first_pattern_period(pl.period * g.stride, g.k);
            pl.in_period = plan.pattern_period;
        } else {
            pl.in_period = plan.layers[l - 1].period;
        }
        const int64_t spacing = int64_t(pl.period) * g.stride;
        if (spacing % pl.in_period != 0) {
            const std::string conn = stack.connectivity == Connectivity::grid   ? "grid: the kernel"
                                     : stack.connectivity == Connectivity::full ? "full: 1"
                                                                                : "period:" + std::to_string(stack.period);
            throw UserError(layer_key(l) + ".stride = " + std::to_string(g.stride) + ": the members of a module (period " +
                            std::to_string(pl.period) + ", connectivity " + conn + ") are period * stride = " +
                            std::to_string(spacing) + " input pixels apart, which must be a multiple of the period " +
                            std::to_string(pl.in_period) + " of the layer's input pattern (layer " +
                            std::to_string(l - 1) + "'s module period) so that they see the same input; "
                            "use equal kernels (grid) or a stride that makes period * stride a multiple of " +
                            std::to_string(pl.in_period));
        }
        if (plan.periodic_border && (g.h_in < pl.in_period || g.w_in < pl.in_period))
            throw UserError(layer_key(l) + ": stack.border = periodic needs the layer's input (" + std::to_string(g.h_in) +
                            "x" + std::to_string(g.w_in) + ") to be at least one pattern period (" +
                            std::to_string(pl.in_period) + ") high and wide; use stack.border zero");
        build_modules(pl);
        plan.layers.push_back(std::move(pl));
    }
    return plan;
}

LcSnr lc_snr(const LcGeometry& g, const double* w, int period) {
    StackLayerPlan pl;
    pl.g = g;
    pl.period = std::max(1, period);
    build_modules(pl);
    std::vector<int64_t> rows(pl.snr_rows.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = pl.order[pl.snr_rows[i]];  // LC indices
    return module_metrics(w, g.fan_in(), rows, pl.snr_offsets);
}

std::vector<double> stack_initial_weights(const StackLayer& layer, const LcGeometry& g, int l, RngKey key) {
    const int64_t n = g.neurons(), k = g.fan_in();
    const double sd = layer.init_std >= 0 ? layer.init_std : std::sqrt(2.0 / static_cast<double>(k));
    std::vector<double> w(n * k);
#pragma omp parallel for schedule(static) if (n * k >= (int64_t(1) << 18))
    for (int64_t i = 0; i < n; ++i) {
        double* row = &w[i * k];
        fill_normals(key, Stream::initial_weights, static_cast<uint32_t>(i), static_cast<uint32_t>(l), row,
                     static_cast<int>(k));
        for (int64_t j = 0; j < k; ++j) row[j] = layer.init_mean + sd * row[j];
    }
    return w;
}

namespace {

// LC layout <-> the block's module order.
void block_from_state(const StackLayerPlan& pl, const StackLayerState& s, LayerBlock& b) {
    const int64_t n = b.n, k = b.k;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t src = pl.order[i];
        std::copy_n(&s.w[src * k], k, &b.w[i * k]);
        std::copy_n(&s.w0[src * k], k, &b.w0[i * k]);
        std::copy_n(&s.v[src * k], k, &b.v[i * k]);
        b.r[i] = s.r[src];
    }
    b.r_inh = s.r_inh;
}

void state_from_block(const StackLayerPlan& pl, const LayerBlock& b, StackLayerState& s) {
    const int64_t n = b.n, k = b.k;
    s.w.resize(n * k);
    s.w0.resize(n * k);
    s.v.resize(n * k);
    s.r.resize(n);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t dst = pl.order[i];
        std::copy_n(&b.w[i * k], k, &s.w[dst * k]);
        std::copy_n(&b.w0[i * k], k, &s.w0[dst * k]);
        std::copy_n(&b.v[i * k], k, &s.v[dst * k]);
        s.r[dst] = b.r[i];
    }
    s.r_inh = b.r_inh;
}

StackState snapshot(const StackPlan& plan, const std::vector<LayerBlock>& blocks, int64_t p, int64_t step) {
    StackState st;
    st.presentation = p;
    st.step = step;
    st.layers.resize(blocks.size());
    for (size_t l = 0; l < blocks.size(); ++l) state_from_block(plan.layers[l], blocks[l], st.layers[l]);
    return st;
}

// The per-presentation input machinery: patterns, per-neuron inputs, z.
class PatternBuilder {
public:
    PatternBuilder(const SimConfig& cfg, const StackPlan& plan, RngKey key)
        : plan_(plan), key_(key), noise_(cfg.input.noise_std) {
        const size_t L = plan.layers.size();
        x_.resize(L);
        pos_.resize(L);
        rows_.resize(L);
        pin_.resize(L);
        z_.resize(L);
        for (size_t l = 0; l < L; ++l) {
            const LcGeometry& g = plan.layers[l].g;
            if (noise_ > 0.0) x_[l].assign(static_cast<size_t>(g.neurons() * g.fan_in()), 0.0);
            pos_[l].assign(static_cast<size_t>(int64_t(g.h_out()) * g.w_out() * g.fan_in()), 0.0);
            rows_[l].assign(static_cast<size_t>(g.neurons()), nullptr);
            pin_[l].assign(static_cast<size_t>(g.c_in) * g.h_in * g.w_in, 0.0);
            z_[l].assign(static_cast<size_t>(g.neurons()), 0.0);
        }
        const LcGeometry& g0 = plan.layers[0].g;
        patch_.assign(static_cast<size_t>(g0.c_in) * plan.pattern_period * plan.pattern_period, 0.0);
    }

    // Layer l's inputs for the integrator: with noise every neuron has its own
    // row in x_; without, neurons point at their position's receptive field.
    InputView inputs(size_t l) const {
        const int64_t fan = plan_.layers[l].g.fan_in();
        if (noise_ > 0.0) return InputView{x_[l].data(), fan, nullptr};
        return InputView{nullptr, fan, rows_[l].data()};
    }

    // The first layer's input: the random patch tiled with period P0.
    void first_pattern(int64_t p) {
        const LcGeometry& g = plan_.layers[0].g;
        const int P = plan_.pattern_period;
        fill_normals(key_, Stream::input, static_cast<uint32_t>(p), static_cast<uint32_t>(p >> 32), patch_.data(),
                     static_cast<int>(patch_.size()));
        std::vector<double>& in = pin_[0];
        for (int c = 0; c < g.c_in; ++c)
            for (int y = 0; y < g.h_in; ++y)
                for (int x = 0; x < g.w_in; ++x)
                    in[(static_cast<size_t>(c) * g.h_in + y) * g.w_in + x] =
                        patch_[(static_cast<size_t>(c) * P + y % P) * P + x % P];
    }

    // Inputs x_i (receptive fields of the layer's input pattern, zero padding,
    // plus noise) and z_i = w_i . x_i for every neuron of layer l, in the
    // block's order; then the pattern for layer l + 1.
    void layer_inputs(int64_t p, size_t l, const LayerBlock& b) {
        const StackLayerPlan& pl = plan_.layers[l];
        const LcGeometry& g = pl.g;
        const int64_t n = b.n, fan = g.fan_in(), hw = int64_t(g.h_out()) * g.w_out();
        const int k = g.k, wo = g.w_out();
        const double* in = pin_[l].data();
        double* X = noise_ > 0.0 ? x_[l].data() : nullptr;
        const double** rows = rows_[l].data();
        double* z = z_[l].data();
        const double noise = noise_;
        const RngKey key = key_;
        const bool periodic = plan_.periodic_border;
        const int P = pl.in_period;
        // Into [0, n) by whole periods (stack.border = periodic; n >= P is validated).
        auto wrap = [P](int i, int n) { return i < 0 ? i + P * ((-i + P - 1) / P) : i >= n ? i - P * ((i - n) / P + 1) : i; };
        double* pos = pos_[l].data();  // per layer: the integrator reads it during the presentation
        // Every output channel at (y, x) sees the same receptive field: gather
        // it once per position, then copy it to each neuron's row.
        // Parallel over neurons only when called outside a parallel region
        // (inside the run loop's task chain the other threads integrate).
        const bool par = n * fan >= (int64_t(1) << 18) && !omp_in_parallel();
#pragma omp parallel if (par)
        {
#pragma omp for schedule(static)
            for (int64_t q = 0; q < hw; ++q) {
                const int y0 = static_cast<int>(q / wo) * g.stride - g.padding;
                const int x0 = static_cast<int>(q % wo) * g.stride - g.padding;
                double* row = pos + q * fan;
                for (int ci = 0; ci < g.c_in; ++ci)
                    for (int ky = 0; ky < k; ++ky) {
                        int iy = y0 + ky;
                        double* dst = row + (int64_t(ci) * k + ky) * k;
                        if (iy < 0 || iy >= g.h_in) {
                            if (!periodic) {
                                std::fill_n(dst, k, 0.0);
                                continue;
                            }
                            iy = wrap(iy, g.h_in);
                        }
                        const double* src = in + (static_cast<int64_t>(ci) * g.h_in + iy) * g.w_in;
                        for (int kx = 0; kx < k; ++kx) {
                            const int ix = x0 + kx;
                            const bool out = ix < 0 || ix >= g.w_in;
                            dst[kx] = !out ? src[ix] : periodic ? src[wrap(ix, g.w_in)] : 0.0;
                        }
                    }
            }
#pragma omp for schedule(static)
            for (int64_t s = 0; s < n; ++s) {
                const int64_t nidx = pl.order[s];
                const double* src = pos + (nidx % hw) * fan;
                if (noise > 0.0) {
                    double* row = X + s * fan;
                    // Noise on the existing inputs only: zero padding stays 0 (periodic: every input is real).
                    const int64_t rem = nidx % hw;
                    const int y0 = static_cast<int>(rem / wo) * g.stride - g.padding;
                    const int x0 = static_cast<int>(rem % wo) * g.stride - g.padding;
                    fill_normals(key, Stream::input_noise, static_cast<uint32_t>(p),
                                 static_cast<uint32_t>((int64_t(l) << 24) | nidx), row, static_cast<int>(fan));
                    for (int ci = 0; ci < g.c_in; ++ci)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                const int64_t j = (int64_t(ci) * k + ky) * k + kx;
                                const int iy = y0 + ky, ix = x0 + kx;
                                const bool inside = periodic || (iy >= 0 && iy < g.h_in && ix >= 0 && ix < g.w_in);
                                row[j] = inside ? src[j] + noise * row[j] : 0.0;
                            }
                    z[s] = dot(&b.w[s * fan], row, fan);
                } else {
                    rows[s] = src;
                    z[s] = dot(&b.w[s * fan], src, fan);
                }
            }
        }
        if (l + 1 < plan_.layers.size()) propagate(l, p);
    }

private:
    // phi(module mean of z), laid out as (c_out, h_out, w_out), optionally at unit RMS.
    // With stack.drive > 0 each module also gets independent spontaneous activity
    // before phi: phi(mean_m / rms + drive * xi_m), xi_m ~ N(0,1) per (presentation,
    // layer, module). Without it, a deep layer's inputs are a function of the first
    // layer's patch only, so their covariance can be near-singular and Eq. 5 keeps
    // part of the initial spread (docs: README "Stacked layers").
    void propagate(size_t l, int64_t presentation) {
        const StackLayerPlan& pl = plan_.layers[l];
        const LcGeometry& g = pl.g;
        const auto& off = pl.module_offsets;
        means_.assign(static_cast<size_t>(pl.modules()), 0.0);
        const double* z = z_[l].data();
        for (int64_t m = 0; m < pl.modules(); ++m) {
            double acc = 0.0;
            for (int64_t s = off[m]; s < off[m + 1]; ++s) acc += z[s];
            means_[m] = acc / static_cast<double>(off[m + 1] - off[m]);
        }
        if (plan_.drive > 0.0) add_drive(l, presentation);
        for (double& v : means_)
            if (pl.phi == Nonlinearity::relu) v = std::max(0.0, v);
        std::vector<double>& out = pin_[l + 1];
        const int p = pl.period, ho = g.h_out(), wo = g.w_out();
        double ss = 0.0;
        for (int c = 0; c < g.c_out; ++c)
            for (int y = 0; y < ho; ++y)
                for (int x = 0; x < wo; ++x) {
                    const int64_t m = pl.module_of_cell[(static_cast<size_t>(c) * p + y % p) * p + x % p];
                    const double v = means_[m];
                    out[(static_cast<size_t>(c) * ho + y) * wo + x] = v;
                    ss += v * v;
                }
        if (plan_.normalize) {
            const double rms = std::sqrt(ss / static_cast<double>(out.size()));
            if (rms > 0.0 && std::isfinite(rms)) {
                const double inv = 1.0 / rms;
                for (double& v : out) v *= inv;
            }
        }
    }

    void add_drive(size_t l, int64_t p) {
        double ss = 0.0;
        for (double v : means_) ss += v * v;
        const double rms = std::sqrt(ss / static_cast<double>(means_.size()));
        const double scale = rms > 0.0 && std::isfinite(rms) ? 1.0 / rms : 1.0;
        drive_.resize(means_.size());
        fill_normals(key_, Stream::module_drive, static_cast<uint32_t>(p), static_cast<uint32_t>(l), drive_.data(),
                     static_cast<int>(drive_.size()));
        for (size_t m = 0; m < means_.size(); ++m) means_[m] = means_[m] * scale + plan_.drive * drive_[m];
    }

    const StackPlan& plan_;
    RngKey key_;
    double noise_;
    std::vector<std::vector<double>> x_, pin_, z_;
    std::vector<std::vector<double>> pos_;          // per layer: receptive field of each output position
    std::vector<std::vector<const double*>> rows_;  // per layer: each neuron's input row (no noise)
    std::vector<double> patch_, means_, drive_;
};

}  // namespace

StackRunResult run_stack_engine(const SimConfig& cfg, const StackPlan& plan, RngKey key,
                                const std::vector<std::vector<double>>& initial_weights, StackObserver& observer,
                                const StackState* resume) {
    const double t_start = omp_get_wtime();
    const int L = static_cast<int>(plan.layers.size());
    const StepParams sp = StepParams::from(cfg);
    StepParams sp_frozen = sp;
    sp_frozen.plastic = false;
    const bool by_layer = cfg.stack.schedule == LayerSchedule::layer_by_layer;
    const int64_t S = sp.steps, P = cfg.run.presentations, R = cfg.run.record_every;
    const double dt_record = cfg.model == ModelKind::ideal ? 1.0 : sp.dt;

    std::vector<LayerBlock> blocks(L);
    for (int l = 0; l < L; ++l) {
        const StackLayerPlan& pl = plan.layers[l];
        const int64_t n = pl.g.neurons(), k = pl.g.fan_in();
        blocks[l].resize(n, k, pl.module_offsets, cfg.dynamics.bias);
        if (resume) {
            const StackLayerState& s = resume->layers.at(l);
            if (s.w.size() != size_t(n * k) || s.w0.size() != size_t(n * k) || s.v.size() != size_t(n * k) ||
                s.r.size() != size_t(n) || s.r_inh.size() != size_t(pl.modules()))
                throw UserError("checkpoint of layer " + std::to_string(l) + " does not match the config's geometry");
            block_from_state(pl, s, blocks[l]);
        } else {
            if (initial_weights.at(l).size() != size_t(n * k))
                throw UserError("initial weights of layer " + std::to_string(l) + ": expected " +
                                std::to_string(n * k) + " values, got " + std::to_string(initial_weights[l].size()));
            StackLayerState s;
            s.w = initial_weights[l];
            s.w0 = s.w;
            s.v.assign(s.w.size(), 0.0);
            s.r.assign(n, cfg.dynamics.bias);
            s.r_inh.assign(pl.modules(), 0.0);
            block_from_state(pl, s, blocks[l]);
        }
    }

    // Largest layers first, so the dynamic schedule balances the threads.
    std::vector<int> sched(L);
    std::iota(sched.begin(), sched.end(), 0);
    std::stable_sort(sched.begin(), sched.end(), [&](int a, int b) {
        return plan.layers[a].g.weight_count() > plan.layers[b].g.weight_count();
    });

    std::vector<PresentationIntegrator> active, frozen;
    active.reserve(L);
    // Per layer: plasticity.lr_scaling = fan_in divides each layer's rate by its own fan-in.
    for (int l = 0; l < L; ++l) active.emplace_back(StepParams::from(cfg, plan.layers[l].g.fan_in()));
    if (by_layer) {
        frozen.reserve(L);
        for (int l = 0; l < L; ++l) frozen.emplace_back(sp_frozen);
    }
    // layer_by_layer: layer l is plastic for presentations [first(l), first(l + 1)),
    // and its plasticity clock (delay, schedule) starts at first(l).
    auto active_layer = [&](int64_t p) { return static_cast<int>(std::min<int64_t>(L - 1, (p * L) / P)); };
    auto first_presentation = [&](int l) { return (int64_t(l) * P + L - 1) / L; };

    // Threads only pay when a presentation has enough work: each parallel
    // region costs a barrier, which on a busy machine can take a time slice.
    int64_t work = 0;
    for (const auto& pl : plan.layers) work += pl.g.weight_count() + pl.g.neurons() * S;
    const bool par = work >= (int64_t(1) << 18);

    PatternBuilder patterns(cfg, plan, key);
    StackRunResult result;
    result.layer_seconds.assign(L, 0.0);
    result.pattern_seconds.assign(L, 0.0);
    std::vector<double> nls(L), mas(L);
    std::vector<std::vector<double>> w_now(L);
    std::vector<char> finite(L, 1);
    std::vector<PresentationIntegrator*> integ(L);
    std::vector<char> tokens(L + 1, 0);

    auto metrics_of = [&](int l, const double* w) {
        const StackLayerPlan& pl = plan.layers[l];
        const LcSnr m = module_metrics(w, pl.g.fan_in(), pl.snr_rows, pl.snr_offsets);
        nls[l] = m.neg_log_snr;
        mas[l] = m.mean_abs_over_std;
    };

    int64_t p = resume ? resume->presentation : 0;
    int64_t step = resume ? resume->step : 0;
    if (!resume) {
        observer.on_begin(snapshot(plan, blocks, 0, 0));
#pragma omp parallel for schedule(dynamic, 1) if (par)
        for (int i = 0; i < L; ++i) metrics_of(sched[i], blocks[sched[i]].w.data());
        observer.on_record(0, 0.0, nls, mas);
    }
    for (; p < P; ++p) {
        if (observer.stop_requested()) {
            result.status = RunStatus::interrupted;
            break;
        }
        const int act = by_layer ? active_layer(p) : -1;
        std::vector<int64_t> s0(L, step);
        for (int l = 0; l < L; ++l) {
            integ[l] = by_layer && l != act ? &frozen[l] : &active[l];
            if (by_layer) s0[l] = std::max<int64_t>(0, step - S * first_presentation(l));
        }
        // Segments: the records inside the presentation, then its end.
        std::vector<int64_t> stops;
        for (int64_t j = R - (step % R); j < S; j += R) stops.push_back(j);
        stops.push_back(S);
        const bool record_at_end = (step + S) % R == 0;
        // One segment of one layer: begin (first), advance, record or end (last).
        auto segment = [&](int l, size_t seg) {
            const double t0 = omp_get_wtime();
            PresentationIntegrator& it = *integ[l];
            const bool last = seg + 1 == stops.size();
            if (seg == 0) it.begin(blocks[l], patterns.inputs(l), s0[l]);
            it.advance_to(stops[seg]);
            if (!last) {
                it.current_weights(w_now[l]);
                metrics_of(l, w_now[l].data());
            } else {
                finite[l] = it.state_finite() ? 1 : 0;
                it.end();
                if (record_at_end && finite[l]) metrics_of(l, blocks[l].w.data());
            }
            result.layer_seconds[l] += omp_get_wtime() - t0;
        };
        // Inputs come layer after layer (each pattern comes from the layer
        // below), and layer l's first segment can start as soon as its inputs
        // exist: one task chain builds the inputs while the other threads
        // integrate the layers already served. Every task computes the same
        // numbers whichever thread runs it.
        patterns.first_pattern(p);
        [[maybe_unused]] char* tok = tokens.data();  // tok[l + 1]: layer l's inputs are built
#pragma omp parallel if (par)
#pragma omp single
        {
            for (int l = 0; l < L; ++l) {
#pragma omp task default(shared) firstprivate(l) depend(in : tok[l]) depend(out : tok[l + 1])
                {
                    const double t0 = omp_get_wtime();
                    patterns.layer_inputs(p, static_cast<size_t>(l), blocks[l]);
                    result.pattern_seconds[l] += omp_get_wtime() - t0;
                    if (observer.wants_inputs()) {
                        // Tests look at every neuron's row, contiguous (n x fan_in).
                        const InputView v = patterns.inputs(l);
                        const int64_t fan = plan.layers[l].g.fan_in();
                        std::vector<double> rows(static_cast<size_t>(blocks[l].n * fan));
                        for (int64_t i = 0; i < blocks[l].n; ++i) std::copy_n(v.row(i), fan, &rows[i * fan]);
                        observer.on_inputs(p, l, rows.data());
                    }
                }
#pragma omp task default(shared) firstprivate(l) depend(in : tok[l + 1])
                segment(l, 0);
            }
        }
        for (size_t seg = 1; seg < stops.size(); ++seg) {
            if (seg == 1) observer.on_record(step + stops[0], static_cast<double>(step + stops[0]) * dt_record, nls, mas);
#pragma omp parallel for schedule(dynamic, 1) if (par)
            for (int i = 0; i < L; ++i) segment(sched[i], seg);
            if (seg + 1 < stops.size())
                observer.on_record(step + stops[seg], static_cast<double>(step + stops[seg]) * dt_record, nls, mas);
        }
        step += S;
        int bad = -1;
        for (int l = 0; l < L && bad < 0; ++l)
            if (!finite[l]) bad = l;
        if (bad >= 0) {
            result.status = RunStatus::diverged;
            result.message = "layer " + std::to_string(bad) +
                             ": rates or weights became non-finite during presentation " + std::to_string(p) +
                             " (steps " + std::to_string(step - S) + " to " + std::to_string(step) +
                             "); reduce plasticity.lr or dynamics.dt";
            break;
        }
        if (step % R == 0) observer.on_record(step, static_cast<double>(step) * dt_record, nls, mas);
        observer.on_progress(p + 1, P);
        if ((p + 1) % cfg.run.checkpoint_every == 0 && p + 1 < P) observer.on_checkpoint(snapshot(plan, blocks, p + 1, step));
    }
    result.state = snapshot(plan, blocks, p, step);
    for (auto& it : active) result.integrator_steps += it.substeps();
    for (auto& it : frozen) result.integrator_steps += it.substeps();
    result.seconds = omp_get_wtime() - t_start;
    return result;
}

}  // namespace dynshare
