#include "dynshare/single_layer.hpp"

#include <cmath>

#include "core/inputs.hpp"
#include "core/layer_block.hpp"
#include "core/presentation.hpp"
#include "dynshare/snr.hpp"

namespace dynshare {

namespace {

LayerCheckpoint to_checkpoint(const LayerBlock& b, int64_t presentation, int64_t step) {
    LayerCheckpoint c;
    c.presentation = presentation;
    c.step = step;
    c.n = b.n;
    c.k = b.k;
    c.w = b.w;
    c.w0 = b.w0;
    c.v = b.v;
    c.r = b.r;
    c.r_inh = b.r_inh;
    return c;
}

LayerBlock initial_block(const SimConfig& cfg, const SingleLayerInputs& inputs, const LayerCheckpoint* resume) {
    LayerBlock b;
    const int64_t n = cfg.layer.neurons, k = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    b.resize(n, k, {0, n}, cfg.dynamics.bias);
    if (resume) {
        b.w = resume->w;
        b.w0 = resume->w0;
        b.v = resume->v;
        b.r = resume->r;
        b.r_inh = resume->r_inh;
    } else {
        b.w = inputs.initial_weights();
        b.w0 = b.w;
    }
    return b;
}

}  // namespace

SingleLayerResult run_single_layer(const SimConfig& cfg, RunObserver& observer, const LayerCheckpoint* resume) {
    const SingleLayerInputs inputs(cfg);
    const StepParams sp = StepParams::from(cfg);
    LayerBlock block = initial_block(cfg, inputs, resume);
    const int64_t S = sp.steps, P = cfg.run.presentations, R = cfg.run.record_every;
    const double dt_record = cfg.model == ModelKind::ideal ? 1.0 : sp.dt;  // "time" of one step
    int64_t p = resume ? resume->presentation : 0;
    int64_t step = resume ? resume->step : 0;

    SingleLayerResult result;
    if (!resume) {
        observer.on_begin(to_checkpoint(block, 0, 0));
        observer.on_record(0, 0.0, {neg_log_snr(block.w.data(), block.n, block.k)});
    }
    PresentationIntegrator integ(sp);
    std::vector<double> x, w_now;
    for (; p < P; ++p) {
        if (observer.stop_requested()) {
            result.status = RunStatus::interrupted;
            break;
        }
        const int64_t stride = inputs.fill(p, x);
        integ.begin(block, InputView{x.data(), stride}, step);
        // Records that fall inside this presentation, then its end.
        // A record at the presentation's end reads the block's weights after
        // end() instead of materialising them twice.
        for (int64_t j = R - (step % R); j < S; j += R) {
            integ.advance_to(j);
            integ.current_weights(w_now);
            const double nls = neg_log_snr(w_now.data(), block.n, block.k);
            observer.on_record(step + j, static_cast<double>(step + j) * dt_record, {nls});
        }
        integ.advance_to(S);
        const bool finite = integ.state_finite();
        integ.end();
        step += S;
        if (finite && step % R == 0)
            observer.on_record(step, static_cast<double>(step) * dt_record,
                               {neg_log_snr(block.w.data(), block.n, block.k)});
        if (!finite) {
            result.status = RunStatus::diverged;
            result.message = "rates or weights became non-finite during presentation " + std::to_string(p) +
                             " (steps " + std::to_string(step - S) + " to " + std::to_string(step) +
                             "); reduce plasticity.lr or dynamics.dt";
            break;
        }
        observer.on_progress(p + 1, P);
        if ((p + 1) % cfg.run.checkpoint_every == 0 && p + 1 < P)
            observer.on_checkpoint(to_checkpoint(block, p + 1, step));
    }
    // On divergence the state is non-finite: the writer keeps the records and
    // the last checkpoint, and writes no final weights.
    result.state = to_checkpoint(block, p, step);
    result.integrator_steps = integ.substeps();
    result.theory_min = theory_min_neg_log_snr(inputs.covariance(p), block.w0, block.n, block.k,
                                               cfg.plasticity.gamma);
    return result;
}

}  // namespace dynshare
