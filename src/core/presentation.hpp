// SPDX-License-Identifier: BSD-3-Clause
// Integrates one layer through one presentation (x held fixed), with any of
// the four integrators, in the reduced coordinates of models/anti_hebbian.hpp.
// Usage: begin(); advance_to(j) for each record point; end() writes w, v back.
// T is the neurons' scalar (double; float for run.precision = fp32); every
// formula is a models/ function, the same ones the CUDA kernels call.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/layer_block.hpp"
#include "core/step_params.hpp"
#include "models/anti_hebbian.hpp"
#include "models/ei_rate.hpp"

namespace dynshare {

// One sub-step of the exponential integrator, planned before it runs: all
// but the neurons' state (PresentationIntegrator::exponential_to).
template <class T>
struct PlannedSubstep {
    ExpSubstep<T> sub;       // m and integral_m are filled per module
    MeanInhPropagator prop;  // of the module mean and r_inh
    double G;                // the shared G at the sub-step's start
};

template <class T>
class PresentationIntegrator {
public:
    explicit PresentationIntegrator(const StepParams& p) : p_(p) {}

    // Starts a presentation at global step s0; `in` must outlive it.
    void begin(LayerBlock<T>& block, InputView<T> in, int64_t s0);
    // Starts a presentation whose dot products the caller supplies (blocked
    // presentations, core/block.hpp): fill dots() before the first
    // advance_to(), and zero its c and e (in the caller's parallel loop, not
    // here serially); read shared(), c(), e() after the last one. Neither
    // current_weights() nor end() may be called: the caller materialises.
    void begin_dots(LayerBlock<T>& block, int64_t s0);
    struct Dots {
        T *sw, *sv, *sd, *xx;  // w.x, v.x, (w - w0).x, x.x per neuron
        T *c, *e;              // the coordinates along x: to be zeroed
    };
    Dots dots() { return Dots{sw_.data(), sv_.data(), sd_.data(), xx_.data(), c_.data(), e_.data()}; }
    // max_i x_i.x_i as the caller knows it (blocked presentations: the
    // largest Gram diagonal of the groups), so the exponential integrator
    // need not take it over the neurons in a parallel loop of its own. It
    // must equal max(0, max_i double(xx_i)).
    void set_xx_max(double xx_max) { xx_max_ = xx_max; }
    const ReducedShared& shared() const { return shared_; }
    const std::vector<T>& c() const { return c_; }
    const std::vector<T>& e() const { return e_; }
    // Advances to step j of the presentation (0 <= j <= steps, non-decreasing).
    // `alongside` (optional) runs once, on one thread, during the advance: the
    // exponential integrator runs it beside its module loop, whose other
    // threads take the modules meanwhile; the others run it first. It must
    // not touch this integrator or its block (blocked presentations build the
    // next layer's patterns there).
    void advance_to(int64_t j, const std::function<void()>& alongside = {});
    // advance_to(j, alongside) in three parts, for a caller that runs the
    // sub-steps inside a parallel region of its own (blocked presentations:
    // one region per presentation for the corrections and the sub-steps,
    // not one each). plan_to(j) plans the exponential sub-steps to step j,
    // serially (after set_xx_max), and returns false for every other form
    // (then call advance_to). run_planned(alongside) is then reached by every
    // thread of the caller's team (or called outside any region): its loops
    // are worksharing constructs of that team, ending in a barrier.
    // end_planned() follows, serially. Same arithmetic as advance_to.
    bool plan_to(int64_t j);
    void run_planned(const std::function<void()>& alongside);
    void end_planned();
    // The current weights (n x k) without ending the presentation.
    void current_weights(std::vector<T>& out) const;
    // Writes the weights and the momentum at the current point into the block.
    void end();
    // False when rates or plasticity coordinates overflowed (call before end()).
    bool state_finite() const;
    int64_t substeps() const { return substeps_; }  // integrator steps taken (cost metric)

private:
    void euler_discrete_step();
    void rk4_discrete_step();
    void ideal_step();
    void continuous_rhs(const T* y, T* dy, double step_real) const;
    void continuous_fixed_step(double h);
    void continuous_dopri5(double t_end);
    // The exponential integrator from t_local_ to t_end. Its sub-steps'
    // lengths, constants and shared G do not depend on the neurons, and
    // modules are independent within a sub-step: so the sub-steps are planned
    // first, then run module by module, every sub-step of a module while its
    // neurons are in cache (one pass over the layer's arrays per call, not
    // one per sub-step). Each module's arithmetic is unchanged: the same bits.
    void exponential_to(double t_end, const std::function<void()>& alongside);
    void plan_exponential(double t_end);  // fills planned_, plan_t_, plan_G_
    std::vector<PlannedSubstep<T>> planned_;
    double plan_t_ = 0.0, plan_G_ = 0.0;  // time and shared G after the planned sub-steps
    int64_t plan_j_ = 0;                  // plan_to's step
    void module_means(const T* r, std::vector<T>& means) const;
    T drive(int64_t i) const { return reduced_drive<T>(shared_, sw_[i], sv_[i], sd_[i], xx_[i], c_[i]); }
    void pack_state(std::vector<T>& y) const;
    void unpack_state(const std::vector<T>& y);

    StepParams p_;
    LayerBlock<T>* b_ = nullptr;
    InputView<T> in_;
    int64_t s0_ = 0, j_ = 0;     // global step at start, steps done in this presentation
    double t_local_ = 0.0;       // time into the presentation (continuous forms)
    double xx_max_ = -1.0;       // max_i x_i.x_i of this presentation (exponential); < 0: not yet taken
    int64_t substeps_ = 0;
    ReducedShared shared_;
    std::vector<T> sw_, sv_, sd_, xx_, c_, e_;
    std::vector<T> means_, rnew_, scratch_;
};

extern template class PresentationIntegrator<double>;
extern template class PresentationIntegrator<float>;

}  // namespace dynshare
