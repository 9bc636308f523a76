// One epoch = one pass over the training split in batches of
// batch_size / repetitions distinct images. Randomness (order, crops) is
// seeded by (seed, epoch), so a resumed run repeats what the uninterrupted
// run would have done.
#include "trainer/trainer.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <sstream>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <functional>

#include "dynshare/errors.hpp"
#include "trainer/batches.hpp"
#include "trainer/sharing.hpp"

namespace dynshare::trainer {
namespace fs = std::filesystem;
namespace {

torch::Device pick_device(const std::string& name) {
    if (name == "cuda") {
        if (!torch::cuda::is_available())
            throw UserError("train.device cuda: no CUDA device available (or this LibTorch has no CUDA support)");
        return torch::Device(torch::kCUDA);
    }
    return torch::Device(torch::kCPU);
}

// SIGINT / SIGTERM while training: the first asks the loop to stop before
// its next iteration, a second ends the process (the default action).
std::atomic<int> g_stop_signals{0};
extern "C" void on_stop_signal(int sig) {
    if (g_stop_signals.fetch_add(1) >= 1) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
    }
}
struct StopSignals {
    void (*old_int)(int), (*old_term)(int);
    StopSignals() {
        g_stop_signals = 0;
        old_int = std::signal(SIGINT, on_stop_signal);
        old_term = std::signal(SIGTERM, on_stop_signal);
    }
    ~StopSignals() {
        std::signal(SIGINT, old_int);
        std::signal(SIGTERM, old_term);
    }
    static bool requested() { return g_stop_signals.load() > 0; }
};

double lr_at(const TrainConfig& t, int epoch) {
    double lr = t.lr;
    for (int e : t.lr_decay_epochs)
        if (epoch >= e) lr *= t.lr_decay;
    return lr;
}

struct EvalResult {
    double loss = NAN, top1 = NAN, top5 = NAN;
};

EvalResult evaluate(Net& net, const ImageSet& set, const BatchMaker& maker, int batch) {
    EvalResult r;
    if (set.size() == 0) return r;
    torch::NoGradGuard no_grad;
    net->eval();
    double loss = 0, top1 = 0, top5 = 0;
    for (int64_t start = 0; start < set.size(); start += batch) {
        std::vector<int64_t> idx;
        for (int64_t i = start; i < std::min(set.size(), start + batch); ++i) idx.push_back(i);
        auto [x, y] = maker.make(set, idx, nullptr);
        auto logits = net->forward(x);
        loss += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
        auto top = std::get<1>(logits.topk(std::min<int64_t>(5, logits.size(1))));
        auto hit = top.eq(y.unsqueeze(1));
        top1 += hit.select(1, 0).sum().item<double>();
        top5 += hit.any(1).sum().item<double>();
    }
    const double n = double(set.size());
    return EvalResult{loss / n, top1 / n, top5 / n};
}

// train.bn_update: the training batches of one re-estimation (augmented as
// in training), drawn from their own generator seeded by (seed, key), so the
// training order is untouched and a resumed run repeats them.
void update_bn_statistics(Net& net, const ImageSet& train, const BatchMaker& maker, const TrainConfig& t,
                          uint64_t key) {
    if (train.size() == 0) return;
    std::mt19937_64 rng(t.seed * 6364136223846793005ULL + key * 1442695040888963407ULL + 17);
    std::uniform_int_distribution<int64_t> pick(0, train.size() - 1);
    reestimate_bn(net, t.bn_update_batches, [&] {
        std::vector<int64_t> idx;
        for (int i = 0; i < t.batch_size; ++i) idx.push_back(pick(rng));
        return maker.make(train, idx, &rng).first;
    });
}

class Progress {
public:
    Progress(bool on, int epoch, size_t total) : on_(on), epoch_(epoch), total_(total) {}
    void update(size_t done, double loss) {
        if (!on_ || (done % 5 != 0 && done != total_)) return;
        const int width = 30, filled = int(width * done / std::max<size_t>(1, total_));
        std::fprintf(stderr, "\repoch %d [%s%s] %zu/%zu loss %.4f", epoch_ + 1, std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), done, total_, loss);
        std::fflush(stderr);
    }
    ~Progress() {
        if (on_) std::fprintf(stderr, "\n");
    }

private:
    bool on_;
    int epoch_;
    size_t total_;
};

bool progress_enabled(const std::string& mode) {
    return mode == "always" || (mode == "auto" && isatty(fileno(stderr)));
}

void prepare_run_dir(const RunOptions& o) {
    std::error_code ec;
    fs::create_directories(o.run_dir, ec);
    if (!fs::is_directory(o.run_dir)) throw UserError("cannot create run directory " + o.run_dir);
    const bool used = fs::exists(fs::path(o.run_dir) / "metrics.h5") || fs::exists(fs::path(o.run_dir) / "checkpoint.pt");
    if (o.resume && !fs::exists(fs::path(o.run_dir) / "checkpoint.pt"))
        throw UserError("--resume: no checkpoint.pt in " + o.run_dir);
    if (!o.resume && used && !o.overwrite)
        throw UserError(o.run_dir + " already holds a run; use --resume to continue it or --overwrite to replace it");
}

// Everything one run needs, built once.
struct Session {
    Session(const RunConfig& c, const RunOptions& o)
        : cfg(c), opt(o), device(pick_device(c.train.device)), yaml(to_yaml(c)) {}

    const RunConfig& cfg;
    RunOptions opt;
    torch::Device device;
    DataSplits data;
    Net net{nullptr};
    std::unique_ptr<torch::optim::AdamW> optim;
    std::unique_ptr<BatchMaker> maker;
    TrainState state;
    std::string yaml;
    std::vector<std::string> lc_names;

    std::string path(const char* name) const { return (fs::path(opt.run_dir) / name).string(); }

    void record_sharing(const SleepRecord& r) {
        state.metrics.sleep_iteration.push_back(double(state.iteration));
        state.metrics.sleep_seconds.push_back(r.seconds);
        state.metrics.sleep_snr_before.push_back(r.snr_before);
        state.metrics.sleep_snr_after.push_back(r.snr_after);
        ++state.sharing_phases;
    }

    // Returns false when train.max_iterations stopped the epoch early (or a
    // signal did: state.interrupted, with the epoch's position in state).
    bool train_epoch(int epoch, double& loss_out, double& top1_out) {
        net->train();
        const auto& t = cfg.train;
        auto batches = epoch_batches(data.train.size(), t.batch_size, cfg.data.repetitions, t.seed, epoch,
                                     cfg.data.repetition_batch == RepetitionBatch::grow);
        std::mt19937_64 rng(t.seed * 104729 + uint64_t(epoch) + 1);
        Progress bar(progress_enabled(t.progress), epoch, batches.size());
        double loss_sum = 0, correct = 0, seen = 0;
        size_t done = 0;
        if (state.epoch_batches > 0) {  // resumed inside this epoch
            std::istringstream(state.epoch_rng) >> rng;
            done = static_cast<size_t>(state.epoch_batches);
            loss_sum = state.epoch_loss;
            correct = state.epoch_correct;
            seen = state.epoch_seen;
        }
        for (size_t b = done; b < batches.size(); ++b) {
            const auto& idx = batches[b];
            if (t.max_iterations > 0 && state.iteration >= t.max_iterations) break;
            if (StopSignals::requested() || (opt.stop_at_iteration >= 0 && state.iteration >= opt.stop_at_iteration)) {
                std::ostringstream r;
                r << rng;
                state.epoch_batches = int64_t(done);
                state.epoch_loss = loss_sum;
                state.epoch_correct = correct;
                state.epoch_seen = seen;
                state.epoch_rng = r.str();
                state.interrupted = true;
                return false;
            }
            auto [x, y] = maker->make(data.train, idx, &rng);
            optim->zero_grad();
            auto logits = net->forward(x);
            auto loss = torch::nn::functional::cross_entropy(logits, y);
            loss.backward();
            if (cfg.sharing.gradient == SharingGradient::module_mean)
                for (const auto& l : net->lc_layers())
                    share_gradients(*l.layer.ptr(), module_period(l.layer->geometry(), cfg.sharing.modules));
            optim->step();
            ++state.iteration;
            loss_sum += loss.item<double>();
            correct += logits.argmax(1).eq(y).sum().item<double>();
            seen += double(y.size(0));
            ++done;
            // sharing.counter: global counts the run's iterations (shares after
            // iteration every, 2 every, ...); epoch counts the batch index b
            // within the epoch, as the authors' `iteration % frequency == 0`
            // (shares after batches 0, every, 2 every, ... of every epoch).
            const int64_t count = cfg.sharing.counter == SharingCounter::global ? state.iteration : int64_t(b);
            if (cfg.sharing.mode != SharingMode::none && count % cfg.sharing.every == 0) {
                record_sharing(apply_sharing(cfg, net, uint64_t(state.sharing_phases)));
                if (t.bn_update == BnUpdate::after_share)
                    update_bn_statistics(net, data.train, *maker, t, uint64_t(state.sharing_phases));
            }
            bar.update(done, loss_sum / double(done));
        }
        state.epoch_batches = 0;
        loss_out = done ? loss_sum / double(done) : NAN;
        top1_out = seen > 0 ? correct / seen : NAN;
        return done == batches.size();
    }

    void end_epoch(int epoch, bool complete, double loss, double top1, double seconds) {
        auto& m = state.metrics;
        m.train_loss.push_back(loss);
        m.train_top1.push_back(top1);
        const int eb = cfg.train.eval_batch_size;
        // Evaluations are skipped (NaN) between every eval_every-th epoch; the
        // last epoch, or one that max_iterations cut short, is always evaluated.
        const bool last = epoch + 1 == cfg.train.epochs || !complete;
        const bool eval = last || (epoch + 1) % cfg.train.eval_every == 0;
        if (eval && cfg.train.bn_update == BnUpdate::before_eval)
            update_bn_statistics(net, data.train, *maker, cfg.train, uint64_t(1) << 40 | uint64_t(state.iteration));
        EvalResult test = eval && cfg.data.final_test ? evaluate(net, data.test, *maker, eb) : EvalResult{};
        EvalResult val = eval ? evaluate(net, data.validation, *maker, eb) : EvalResult{};
        m.test_loss.push_back(test.loss);
        m.test_top1.push_back(test.top1);
        m.test_top5.push_back(test.top5);
        m.val_loss.push_back(val.loss);
        m.val_top1.push_back(val.top1);
        m.val_top5.push_back(val.top5);
        m.lr.push_back(lr_at(cfg.train, epoch));
        m.seconds.push_back(seconds);
        m.iterations.push_back(double(state.iteration));
        m.snr.push_back(network_snr(net, cfg.sharing.modules));
        m.snr_authors.push_back(network_snr_authors(net));
        state.epochs_done = epoch + 1;
        std::printf("epoch %d/%d  train loss %.4f top1 %.4f  test top1 %.4f top5 %.4f  val top1 %.4f  %.1f s\n",
                    epoch + 1, cfg.train.epochs, loss, top1, test.top1, test.top5, val.top1, seconds);
        std::fflush(stdout);
        write_metrics_h5(path("metrics.h5"), m, yaml, net->signature(), lc_names);
    }

    void run() {
        const auto& t = cfg.train;
        for (int epoch = state.epochs_done; epoch < t.epochs; ++epoch) {
            for (auto& group : optim->param_groups())
                static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_at(t, epoch));
            const auto t0 = std::chrono::steady_clock::now();
            double loss = NAN, top1 = NAN;
            const double earlier = state.epoch_batches > 0 ? state.epoch_seconds : 0.0;
            const bool complete = train_epoch(epoch, loss, top1);
            const double secs = earlier + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (state.interrupted) {
                state.epoch_seconds = secs;
                save_checkpoint(path("checkpoint.pt"), net, *optim, state);
                std::fprintf(stderr,
                             "dynshare train: interrupted at iteration %lld (epoch %d, batch %lld); checkpoint "
                             "written; continue with: dynshare train CONFIG -o %s --resume\n",
                             static_cast<long long>(state.iteration), epoch + 1,
                             static_cast<long long>(state.epoch_batches), opt.run_dir.c_str());
                return;
            }
            end_epoch(epoch, complete, loss, top1, secs);
            const bool last = !complete || epoch + 1 == t.epochs;
            if (last || (t.checkpoint_every > 0 && (epoch + 1) % t.checkpoint_every == 0))
                save_checkpoint(path("checkpoint.pt"), net, *optim, state);
            if (!complete) break;
        }
    }
};

}  // namespace

void reestimate_bn(Net& net, int batches, const std::function<torch::Tensor()>& next_batch) {
    std::vector<torch::nn::BatchNorm2dImpl*> bns;
    for (auto& m : net->modules(/*include_self=*/false))
        if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) bns.push_back(bn);
    if (bns.empty()) return;
    torch::NoGradGuard no_grad;
    const bool was_training = net->is_training();
    std::vector<c10::optional<double>> momentum;
    for (auto* bn : bns) {
        momentum.push_back(bn->options.momentum());
        bn->reset_running_stats();
        bn->options.momentum(c10::nullopt);  // cumulative average over the batches
    }
    net->train();
    for (int b = 0; b < batches; ++b) net->forward(next_batch());
    for (size_t i = 0; i < bns.size(); ++i) bns[i]->options.momentum(momentum[i]);
    net->train(was_training);
}

TrainState run_training(const RunConfig& cfg, const RunOptions& options) {
    prepare_run_dir(options);
    Session s(cfg, options);
    // threads 0 = every CPU this process may run on (LibTorch's own default
    // can be fewer: one thread on a 2-core virtual machine).
    torch::set_num_threads(cfg.train.threads > 0 ? cfg.train.threads : std::max(1, omp_get_num_procs()));
    torch::manual_seed(cfg.train.seed);
    s.data = load_data(cfg.data, cfg.train.seed);
    s.net = build_network(cfg.network, s.data.shape);
    s.net->to(s.device);
    check_sharable(cfg, s.net);
    for (const auto& l : s.net->lc_layers()) s.lc_names.push_back(l.name);
    s.optim = std::make_unique<torch::optim::AdamW>(
        s.net->parameters(), torch::optim::AdamWOptions(cfg.train.lr).weight_decay(cfg.train.weight_decay));
    s.maker = std::make_unique<BatchMaker>(s.data, cfg.data.padding, cfg.data.flip, s.device);
    if (options.resume) s.state = load_checkpoint(s.path("checkpoint.pt"), s.net, *s.optim, s.device);
    const StopSignals signals;
    s.run();
    return s.state;
}

}  // namespace dynshare::trainer
