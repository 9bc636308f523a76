// SPDX-License-Identifier: BSD-3-Clause
// One epoch = one pass over the training split in batches of
// batch_size / repetitions distinct images. Randomness (order, crops) is
// seeded by (seed, epoch), so a resumed run repeats what the uninterrupted
// run would have done.
#include "trainer/trainer.hpp"

#include <fcntl.h>
#include <omp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>  // kill
#include <exception>
#include <sstream>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <functional>

#include "app/interrupt.hpp"
#include "app/progress.hpp"
#include "dynshare/errors.hpp"
#include "io/h5.hpp"
#include "trainer/batches.hpp"
#include "trainer/distributed.hpp"
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

double lr_at(const TrainConfig& t, int epoch) {
    double lr = t.lr;
    for (int e : t.lr_decay_epochs)
        if (epoch >= e) lr *= t.lr_decay;
    return lr;
}

struct EvalResult {
    double loss = NAN, top1 = NAN, top5 = NAN;
};

// In a data-parallel run rank r evaluates images r, r + world, ... and the
// sums are added over the ranks (every rank holds the same weights).
EvalResult evaluate(Net& net, const ImageSet& set, const BatchMaker& maker, int batch, Communicator* comm) {
    EvalResult r;
    if (set.size() == 0) return r;
    torch::NoGradGuard no_grad;
    net->eval();
    const int rank = comm ? comm->world().rank : 0, world = comm ? comm->world().world : 1;
    double loss = 0, top1 = 0, top5 = 0;
    for (int64_t start = int64_t(rank) * batch; start < set.size(); start += int64_t(world) * batch) {
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
    if (comm) {
        std::vector<double> sums = {loss, top1, top5};
        comm->sum(sums);
        loss = sums[0], top1 = sums[1], top5 = sums[2];
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

// A run folder belongs to one trainer at a time: RUN_DIR/.lock, held with
// flock while this process runs (the descriptor stays open until it ends,
// so the kernel releases the lock however it ends, kill -9 included).
// `.NAME.TAG-PID` beside the folder NAME.
std::string hidden_dir(const std::string& dir, const std::string& tag) {
    fs::path p = fs::path(dir);
    if (!p.has_filename()) p = p.parent_path();  // "run/" -> "run"
    return (p.parent_path() / ("." + p.filename().string() + "." + tag + "-" + std::to_string(::getpid()))).string();
}

// The lock of an --overwrite's staging folder (`.NAME.new-PID/.lock`), held
// from the folder's creation: after the swap it is the run folder's own lock,
// and a staging folder whose lock is free belongs to no live trainer.
int g_stage_fd = -1;

// True when the hidden folder `folder` of process `pid` belongs to no live
// trainer: its lock file is free (this test does not trust pids, which are
// reused), or, made before it had one, its pid is gone.
bool staging_is_stale(const fs::path& folder, pid_t pid) {
    if (pid == ::getpid()) return false;
    const int fd = ::open((folder / ".lock").c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
        ::close(fd);  // releases the lock this took
        return free;
    }
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes the `.NAME.new-PID` folders (an --overwrite that ended before its
// first checkpoint: kill -9, a crash, a power cut) and `.NAME.old-PID`
// folders (the old run of a swap that ended before removing it) that belong
// to no live trainer. Called by every trainer on the run folder NAME, with
// NAME's lock held. An old run is removed only once NAME holds a run (with
// a file system that cannot exchange two folders in one rename, a swap
// interrupted between its two renames leaves NAME empty: then both hidden
// folders stay, and the note says so).
void remove_stale_staging(const std::string& dir) {
    fs::path p = fs::path(dir);
    if (!p.has_filename()) p = p.parent_path();
    const std::string stem = "." + p.filename().string() + ".";
    std::error_code ec;
    const bool holds_run = fs::exists(p / "checkpoint.pt", ec) || fs::exists(p / "metrics.h5", ec);
    const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::vector<std::pair<fs::path, bool>> stale;  // (folder, is an old run)
    for (const auto& e : fs::directory_iterator(parent, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(stem, 0) != 0) continue;
        const std::string rest = name.substr(stem.size());
        if (rest.rfind("new-", 0) != 0 && rest.rfind("old-", 0) != 0) continue;
        const std::string digits = rest.substr(4);
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        if (!e.is_directory(ec)) continue;
        if (staging_is_stale(e.path(), static_cast<pid_t>(std::stol(digits))))
            stale.emplace_back(e.path(), rest[0] == 'o');
    }
    for (const auto& [folder, old] : stale) {
        if (old && !holds_run) {
            std::fprintf(stderr, "dynshare train: note: %s holds the old run of an --overwrite that ended during "
                                 "its swap (%s is empty); it was left in place\n", folder.c_str(), dir.c_str());
            continue;
        }
        fs::remove_all(folder, ec);
        if (!ec)
            std::fprintf(stderr, "dynshare train: note: removed %s, left by an --overwrite that ended before %s\n",
                         folder.c_str(), old ? "removing the run it replaced" : "its first checkpoint");
    }
}

int g_lock_fd = -1;
void lock_run_dir(const std::string& dir) {
    if (g_lock_fd >= 0) ::close(g_lock_fd);  // an earlier run of this process (tests run several)
    g_lock_fd = -1;
    const std::string path = (fs::path(dir) / ".lock").string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw UserError("cannot create the lock file " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        throw UserError(dir + " is in use by another trainer (it holds " + path +
                        "); wait for it to end, or give another -o");
    }
    g_lock_fd = fd;
}

void prepare_run_dir(const RunOptions& o) {
    std::error_code ec;
    fs::create_directories(o.run_dir, ec);
    if (!fs::is_directory(o.run_dir)) throw UserError("cannot create run directory " + o.run_dir);
    lock_run_dir(o.run_dir);  // before the checks below: two trainers cannot both pass them
    remove_stale_staging(o.run_dir);  // every mode: a killed --overwrite's folder goes with the next trainer
    const bool used = fs::exists(fs::path(o.run_dir) / "metrics.h5") || fs::exists(fs::path(o.run_dir) / "checkpoint.pt");
    if (o.resume && !fs::exists(fs::path(o.run_dir) / "checkpoint.pt"))
        throw UserError("--resume: no checkpoint.pt in " + o.run_dir);
    if (!o.resume && used && !o.overwrite)
        throw UserError(o.run_dir + " already holds a run; use --resume to continue it or --overwrite to replace it");
}

// The config keys a --resume may change: they change how the run is
// computed or reported, not what it computes (docs/nothing_lost.md).
const std::vector<std::string> kResumeChangeable = {"train.threads", "train.progress", "train.eval_batch_size",
                                                    "train.device", "train.checkpoint_every", "train.epochs"};

// Throws UserError naming the first key in which `now` differs from the run's
// own config `was_yaml` (beyond kResumeChangeable): a resumed run is the same run.
void check_same_run(const RunConfig& now, const std::string& was_yaml, const std::string& run_dir) {
    RunConfig was = parse_run_config(was_yaml, {});
    was.train.threads = now.train.threads;
    was.train.progress = now.train.progress;
    was.train.eval_batch_size = now.train.eval_batch_size;
    was.train.device = now.train.device;
    was.train.checkpoint_every = now.train.checkpoint_every;
    was.train.epochs = now.train.epochs;  // a finished run may be extended by more epochs
    if (to_yaml(was) == to_yaml(now)) return;
    const schema::Scalars a = config_scalars(was), b = config_scalars(now);
    std::string key = "a list-valued key";
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        const auto& x = a[i].second;
        const auto& y = b[i].second;
        if (a[i].first != b[i].first || x.kind != y.kind || x.i != y.i || x.u != y.u || x.s != y.s ||
            !(x.d == y.d || (std::isnan(x.d) && std::isnan(y.d)))) {
            key = b[i].first;
            break;
        }
    }
    std::string changeable;
    for (const auto& k : kResumeChangeable) changeable += (changeable.empty() ? "" : ", ") + k;
    throw UserError("--resume: the config differs from the run in " + run_dir + " in " + key +
                    "; a resumed run keeps its config except " + changeable +
                    " (start a new run with another -o, or --overwrite)");
}

// A resumed run's config against the run's own: the one in checkpoint.pt,
// or, for a checkpoint written before checkpoints stored it, the one in
// metrics.h5 (written after every epoch). With neither (a run stopped in its
// first epoch by a version that stored no config) the run resumes with a
// one-line warning: only its network (layers and shapes) could be checked.
void check_resumed_config(const RunConfig& now, const std::string& checkpoint_yaml, const std::string& run_dir) {
    if (!checkpoint_yaml.empty()) return check_same_run(now, checkpoint_yaml, run_dir);
    const std::string metrics = (fs::path(run_dir) / "metrics.h5").string();
    std::string yaml;
    if (fs::exists(metrics)) {
        const h5::Handle f = h5::open_file(metrics, h5::Mode::read_only);
        if (h5::has_attr(f.id(), "config")) yaml = h5::attr_string(f.id(), "config");
    }
    if (!yaml.empty()) return check_same_run(now, yaml, run_dir);
    std::fprintf(stderr,
                 "dynshare train: warning: %s/checkpoint.pt stores no config (written by an older dynshare) and "
                 "there is no metrics.h5 that does: resuming with CONFIG unchecked against the run (only its network "
                 "was checked); the next checkpoint stores CONFIG\n",
                 run_dir.c_str());
}

// Everything one run needs, built once.
struct Session {
    Session(const RunConfig& c, const RunOptions& o)
        : cfg(c), opt(o), device(pick_device(c.train.device)), yaml(to_yaml(c)) {
        if (o.comm && device.is_cuda()) device = torch::Device(torch::kCUDA, o.comm->world().local_rank);  // one GPU per rank
    }

    const RunConfig& cfg;
    RunOptions opt;
    // --overwrite of an existing run: the new run is built in a hidden
    // sibling (opt.run_dir) and swapped in for `replace_dir` once its first
    // checkpoint is written (empty: no swap pending).
    std::string replace_dir;
    torch::Device device;
    DataSplits data;
    Net net{nullptr};
    std::unique_ptr<torch::optim::AdamW> optim;
    std::unique_ptr<BatchMaker> maker;
    TrainState state;
    std::string yaml;
    std::vector<std::string> lc_names;

    std::string path(const char* name) const { return (fs::path(opt.run_dir) / name).string(); }
    int rank() const { return opt.comm ? opt.comm->world().rank : 0; }
    int world() const { return opt.comm ? opt.comm->world().world : 1; }
    bool writer() const { return rank() == 0; }  // rank 0 writes RUN_DIR

    // FNV-1a over every parameter's bytes: equal on every rank when the ranks
    // hold the same weights (checked after every epoch). Batch-norm running
    // statistics are per rank and not part of it.
    uint64_t parameter_hash() const {
        uint64_t h = 1469598103934665603ull;
        const auto mix = [&h](const torch::Tensor& t) {
            const auto c = t.detach().to(torch::kCPU).contiguous();
            const auto* p = static_cast<const unsigned char*>(c.data_ptr());
            for (size_t i = 0; i < size_t(c.nbytes()); ++i) h = (h ^ p[i]) * 1099511628211ull;
        };
        for (const auto& p : net->parameters()) mix(p);
        return h;
    }

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
        // Rank 0 alone draws the epoch's bar (src/app/progress.hpp).
        app::ProgressBar bar("batches", writer() ? app::show_progress(t.progress) : app::ShowProgress::never,
                             "epoch " + std::to_string(epoch + 1) + " ");
        double loss_sum = 0, correct = 0, seen = 0;
        size_t done = 0;
        if (state.epoch_batches > 0) {  // resumed inside this epoch
            std::istringstream(state.epoch_rng) >> rng;
            done = static_cast<size_t>(state.epoch_batches);
            // The checkpoint holds the epoch's sums over every rank (a mean
            // loss per iteration); they are added back once, on rank 0.
            if (writer()) {
                loss_sum = state.epoch_loss * world();
                correct = state.epoch_correct;
                seen = state.epoch_seen;
            }
        }
        // The epoch's sums over the ranks (loss: the mean over the global batch per iteration).
        const auto global_sums = [&]() {
            std::vector<double> v = {loss_sum, correct, seen};
            if (opt.comm) opt.comm->sum(v);
            return std::array<double, 3>{v[0] / world(), v[1], v[2]};
        };
        for (size_t b = done; b < batches.size(); ++b) {
            const auto& idx = batches[b];
            if (t.max_iterations > 0 && state.iteration >= t.max_iterations) break;
            bool stop = app::interrupted() || (opt.stop_at_iteration >= 0 && state.iteration >= opt.stop_at_iteration);
            if (opt.comm) {  // every rank stops at the same iteration when any rank got the signal
                std::vector<double> flag = {stop ? 1.0 : 0.0};
                opt.comm->sum(flag);
                stop = flag[0] > 0;
            }
            if (stop) {
                std::ostringstream r;
                r << rng;
                const auto g = global_sums();
                state.epoch_batches = int64_t(done);
                state.epoch_loss = g[0];
                state.epoch_correct = g[1];
                state.epoch_seen = g[2];
                state.epoch_rng = r.str();
                state.interrupted = true;
                return false;
            }
            auto [x, y] = maker->make(data.train, idx, &rng);
            if (world() > 1) {
                // Every rank draws the whole global batch (same order, same
                // crops) and keeps positions rank, rank + world, ...
                const auto sel = torch::tensor(rank_slice(x.size(0), rank(), world()), torch::kLong).to(x.device());
                x = x.index_select(0, sel);
                y = y.index_select(0, sel);
            }
            optim->zero_grad();
            auto logits = net->forward(x);
            auto loss = torch::nn::functional::cross_entropy(logits, y);
            loss.backward();
            if (opt.comm) opt.comm->average_gradients(net->parameters(), int64_t(25) << 20);
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
            if (bar.enabled()) {
                char loss[48];
                std::snprintf(loss, sizeof loss, "loss %.4f", loss_sum / double(done));
                bar.update(int64_t(done), int64_t(batches.size()), loss);
            }
        }
        state.epoch_batches = 0;
        const auto g = global_sums();
        loss_out = done ? g[0] / double(done) : NAN;
        top1_out = g[2] > 0 ? g[1] / g[2] : NAN;
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
        EvalResult test = eval && cfg.data.final_test ? evaluate(net, data.test, *maker, eb, opt.comm) : EvalResult{};
        EvalResult val = eval ? evaluate(net, data.validation, *maker, eb, opt.comm) : EvalResult{};
        m.test_loss.push_back(test.loss);
        m.test_top1.push_back(test.top1);
        m.test_top5.push_back(test.top5);
        m.val_loss.push_back(val.loss);
        m.val_top1.push_back(val.top1);
        m.val_top5.push_back(val.top5);
        m.lr.push_back(lr_at(cfg.train, epoch));
        m.seconds.push_back(seconds);
        m.iterations.push_back(double(state.iteration));
        m.world_size.resize(m.iterations.size() - 1, 0.0);  // 0: an earlier checkpoint did not record it
        m.world_size.push_back(double(world()));
        m.snr.push_back(network_snr(net, cfg.sharing.modules));
        m.snr_authors.push_back(network_snr_authors(net));
        state.epochs_done = epoch + 1;
        if (opt.comm) opt.comm->check_identical(parameter_hash(), "weights after epoch " + std::to_string(epoch + 1));
        if (!writer()) return;
        std::printf("epoch %d/%d  train loss %.4f top1 %.4f  test top1 %.4f top5 %.4f  val top1 %.4f  %.1f s\n",
                    epoch + 1, cfg.train.epochs, loss, top1, test.top1, test.top5, val.top1, seconds);
        std::fflush(stdout);
        write_metrics_h5(path("metrics.h5"), m, cfg, net->signature(), lc_names, world());
    }

    // Writes checkpoint.pt; the first one of an --overwrite makes the new run
    // folder valid, so only then does it replace the old one, as a whole.
    void checkpoint() {
        save_checkpoint(path("checkpoint.pt"), net, *optim, state);
        if (replace_dir.empty()) return;
        // Exchanged in one rename where the file system can (no moment
        // without a run folder); else moved aside, then in.
        std::string old = opt.run_dir;  // after the exchange, the staging name holds the old run
        std::error_code ec;
        if (::renameat2(AT_FDCWD, opt.run_dir.c_str(), AT_FDCWD, replace_dir.c_str(), RENAME_EXCHANGE) != 0) {
            old = hidden_dir(replace_dir, "old");
            fs::remove_all(old, ec);
            fs::rename(replace_dir, old, ec);
            if (ec) throw UserError("--overwrite: cannot move " + replace_dir + " aside: " + ec.message());
            fs::rename(opt.run_dir, replace_dir, ec);
            if (ec) {
                std::error_code back;
                fs::rename(old, replace_dir, back);
                throw UserError("--overwrite: cannot put the new run in " + replace_dir + ": " + ec.message());
            }
        }
        opt.run_dir = replace_dir;
        replace_dir.clear();
        ::close(g_lock_fd);  // the old folder's lock; the staging lock is now the run folder's
        g_lock_fd = g_stage_fd;
        g_stage_fd = -1;
        fs::remove_all(old, ec);
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
                if (!writer()) return;
                checkpoint();
                std::fprintf(stderr,
                             "dynshare train: interrupted at iteration %lld (epoch %d, batch %lld); checkpoint "
                             "written; continue with: dynshare train CONFIG -o %s --resume\n",
                             static_cast<long long>(state.iteration), epoch + 1,
                             static_cast<long long>(state.epoch_batches), opt.run_dir.c_str());
                return;
            }
            end_epoch(epoch, complete, loss, top1, secs);
            const bool last = !complete || epoch + 1 == t.epochs;
            if (writer() && (last || (t.checkpoint_every > 0 && (epoch + 1) % t.checkpoint_every == 0)))
                checkpoint();
            if (!complete) break;
        }
    }
};

}  // namespace

bool run_dir_in_use(const std::string& run_dir) {
    const int fd = ::open((fs::path(run_dir) / ".lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);  // releases the shared lock this took, if it took one
    return busy;
}

void remove_stale_staging_of(const std::string& run_dir) {
    const int fd = ::open((fs::path(run_dir) / ".lock").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return;  // never held by a trainer: prepare_run_dir cleans up once it holds it
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) remove_stale_staging(run_dir);
    ::close(fd);  // releases the lock, if this took it
}

void release_run_dir_lock(const std::string& run_dir) {
    if (g_lock_fd < 0) return;
    ::unlink((fs::path(run_dir) / ".lock").c_str());  // ours: held, so no other trainer uses it
    ::close(g_lock_fd);
    g_lock_fd = -1;
}

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
    if (!options.comm || options.comm->world().rank == 0) prepare_run_dir(options);
    // The lock is released when the run returns (the process may run another).
    struct Unlock {
        ~Unlock() {
            if (g_lock_fd >= 0 && std::uncaught_exceptions() == 0) ::close(g_lock_fd), g_lock_fd = -1;
        }
    } unlock;
    Session s(cfg, options);
    const bool writer = !options.comm || options.comm->world().rank == 0;
    std::error_code ec;
    const fs::path dir(options.run_dir);
    if (writer && options.overwrite &&
        (fs::exists(dir / "metrics.h5", ec) || fs::exists(dir / "checkpoint.pt", ec))) {
        // The old run stays whole until the new one has a valid checkpoint.
        s.replace_dir = options.run_dir;
        s.opt.run_dir = hidden_dir(options.run_dir, "new");
        fs::remove_all(s.opt.run_dir, ec);
        fs::create_directories(s.opt.run_dir, ec);
        if (ec) throw UserError("--overwrite: cannot create " + s.opt.run_dir + ": " + ec.message());
        const std::string lock = (fs::path(s.opt.run_dir) / ".lock").string();
        g_stage_fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (g_stage_fd < 0 || ::flock(g_stage_fd, LOCK_EX | LOCK_NB) != 0)
            throw UserError("--overwrite: cannot lock " + lock + ": " + std::strerror(errno));
    }
    struct DropStaging {
        Session& s;
        ~DropStaging() {
            std::error_code e;
            if (!s.replace_dir.empty()) fs::remove_all(s.opt.run_dir, e);  // never swapped in: the old run stays
            if (g_stage_fd >= 0) ::close(g_stage_fd), g_stage_fd = -1;
        }
    } drop_staging{s};
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
    if (options.resume) {
        s.state = load_checkpoint(s.path("checkpoint.pt"), s.net, *s.optim, s.device);
        check_resumed_config(cfg, s.state.config_yaml, options.run_dir);
        const auto& t = cfg.train;
        if (s.state.epochs_done > t.epochs || (s.state.epoch_batches > 0 && s.state.epochs_done >= t.epochs))
            throw UserError("--resume: checkpoint " + s.path("checkpoint.pt") + " has " +
                            std::to_string(s.state.epochs_done) + " epochs done, past train.epochs = " +
                            std::to_string(t.epochs) + " (give train.epochs >= " +
                            std::to_string(s.state.epochs_done) + ")");
        const bool stopped = t.max_iterations > 0 && s.state.iteration >= t.max_iterations && s.state.epoch_batches == 0;
        if (s.state.epochs_done >= t.epochs || stopped) {
            if (s.writer())
                std::fprintf(stderr, "dynshare train: %s is finished (%d epochs, %lld iterations%s); nothing to do\n",
                             options.run_dir.c_str(), s.state.epochs_done, static_cast<long long>(s.state.iteration),
                             stopped ? ", train.max_iterations reached" : "");
            return s.state;
        }
    }
    s.state.config_yaml = s.yaml;
    // SIGINT / SIGTERM while training: the first asks the loop to stop before
    // its next iteration, a second ends the process (src/app/interrupt.hpp).
    const app::StopSignals signals;
    const auto t0 = std::chrono::steady_clock::now();
    s.run();
    if (options.comm && options.comm->world().distributed() && options.comm->world().rank == 0) {
        const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "dynshare train: %d ranks; collectives (gradient all-reduce, sums) took %.2f s of %.2f s (%.1f %%)\n",
                     options.comm->world().world, options.comm->comm_seconds(), total,
                     100.0 * options.comm->comm_seconds() / std::max(1e-9, total));
    }
    return s.state;
}

}  // namespace dynshare::trainer
