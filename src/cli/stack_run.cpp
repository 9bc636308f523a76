// `dynshare simulate` with a `stack` section: the sleep phase over stacked LC
// layers (core/stack_engine), written by io/stack_file.
#include "cli/stack_run.hpp"

#include <cstdio>

#include "cli/interrupt.hpp"
#include "cli/progress.hpp"
#include "core/stack_engine.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/sleep_phase.hpp"
#include "io/stack_file.hpp"

namespace dynshare::cli {

namespace {

std::string summary(const StackRunResult& r, const std::string& path) {
    std::string s = "wrote " + path + ": " + std::to_string(r.state.presentation) + " presentations, " +
                    (r.status == RunStatus::complete ? "complete" : "incomplete (complete = 0)");
    char buf[64];
    std::snprintf(buf, sizeof buf, ", %.2f s", r.seconds);
    return s + buf;
}

int execute(const SimConfig& cfg, const std::string& yaml, const StackPlan& plan,
            const std::vector<std::vector<double>>& initial, h5::Handle& file, const std::string& out,
            const StackState* resume, bool quiet) {
    StackFileWriter writer(file.id(), cfg, yaml, plan, resume != nullptr);
    ProgressBar bar("presentations");
    writer.stop = interrupted;
    writer.progress = [&bar](int64_t d, int64_t t) { bar.update(d, t); };
    const StackRunResult result =
        run_stack_engine(cfg, plan, make_key(cfg.run.seed, cfg.run.stream), initial, writer, resume);
    writer.finish(result);
    bar.finish();
    if (!quiet) std::fprintf(stderr, "%s\n", summary(result, out).c_str());
    if (result.status == RunStatus::diverged) {
        std::fprintf(stderr, "dynshare simulate: error: %s\n", result.message.c_str());
        return 3;
    }
    return result.status == RunStatus::interrupted ? 130 : 0;
}

}  // namespace

StackInputs prepare_stack_run(const SimConfig& cfg, const std::string& weights_path) {
    StackInputs in;
    in.geometry = stack_geometry(cfg.stack);  // kernel sizes, strides, periods (UserError)
    if (!weights_path.empty()) in.weights = read_stack_weights(weights_path, in.geometry);
    return in;
}

int run_stack(const SimConfig& cfg, const std::string& yaml, h5::Handle& file, const std::string& out,
              const StackInputs& inputs, bool quiet) {
    const StackPlan plan = make_stack_plan(cfg.stack, inputs.geometry);
    std::vector<std::vector<double>> weights = inputs.weights;
    if (weights.empty()) {
        const RngKey key = make_key(cfg.run.seed, cfg.run.stream);
        for (size_t l = 0; l < inputs.geometry.size(); ++l)
            weights.push_back(stack_initial_weights(cfg.stack.layers[l], inputs.geometry[l], static_cast<int>(l), key));
    }
    return execute(cfg, yaml, plan, weights, file, out, nullptr, quiet);
}

int resume_stack_run(const SimConfig& cfg, const std::string& yaml, h5::Handle& file, const std::string& out,
                     bool quiet) {
    const std::vector<LcGeometry> geometry = stack_geometry(cfg.stack);
    const StackPlan plan = make_stack_plan(cfg.stack, geometry);
    const StackState ck = read_stack_checkpoint(file.id(), plan, cfg.dynamics.bias);
    truncate_stack_records(file.id(), ck.step);
    return execute(cfg, yaml, plan, {}, file, out, &ck, quiet);
}

}  // namespace dynshare::cli
