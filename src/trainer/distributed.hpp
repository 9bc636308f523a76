// SPDX-License-Identifier: BSD-3-Clause
// Data-parallel training over c10d (issue 17): the process group a launcher
// describes in the environment, gradient all-reduce in buckets, and the
// split of each global batch across ranks.
//
// Launchers: torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)
// and srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and
// MASTER_PORT exported by the job script). Without them the run is one
// process and nothing here connects. Gloo on the CPU, NCCL on CUDA devices
// (when this LibTorch has it).
//
// What stays identical on every rank without communication: the weights
// (every rank applies the same averaged gradient with the same AdamW state),
// the data order and augmentations (every rank draws the whole global batch
// from the same seeded generators and keeps its slice), and every sharing or
// sleep phase (same weights, same seeds). Batch-norm statistics are per rank,
// as in PyTorch's DistributedDataParallel without SyncBatchNorm.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dynshare::trainer {

// A collective failed: a peer rank died, or did not answer within
// dist_timeout(). Not the user's input (exit status 1), but not a bug either.
class PeerFailure : public std::runtime_error {
public:
    explicit PeerFailure(const std::string& what) : std::runtime_error(what) {}
};

struct WorldInfo {
    int rank = 0, world = 1, local_rank = 0;
    int local_world = 1;   // processes of the run on this machine (LOCAL_WORLD_SIZE, SLURM_NTASKS_PER_NODE)
    std::string master_addr;
    int master_port = 0;
    std::string launcher;  // "torchrun", "srun" or "" (one process)
    bool distributed() const { return world > 1; }
};

// Reads the launcher's variables. Throws UserError naming the variable when
// one is malformed, when RANK >= WORLD_SIZE, or when a distributed run lacks
// MASTER_ADDR / MASTER_PORT.
WorldInfo world_from_env();

// Seconds a rank waits for the master's store and for a collective
// (DYNSHARE_DIST_TIMEOUT, default 60): a dead peer or a master that does not
// answer ends the run with an error after at most this long.
std::chrono::milliseconds dist_timeout();

// Positions rank, rank + world, rank + 2 world, ... of a global batch: the
// split DistributedSampler makes of its permutation, applied batch by batch.
std::vector<int64_t> rank_slice(int64_t global_batch, int rank, int world);

class Communicator {
public:
    // Joins the process group of `w` (a no-op group for one process). Throws
    // UserError when the master does not answer within dist_timeout().
    static std::unique_ptr<Communicator> connect(const WorldInfo& w, const torch::Device& device);
    virtual ~Communicator() = default;

    const WorldInfo& world() const { return world_; }
    // Every rank passes the same text (the resolved config); a rank whose text
    // differs from any other's gets UserError naming the ranks, on every rank.
    virtual void check_same_config(const std::string& text) = 0;
    // Averages the parameters' gradients over the ranks, in buckets of about
    // `bucket_bytes` (flattened, one all-reduce per bucket).
    virtual void average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) = 0;
    // Sums values over the ranks (metrics), in place.
    virtual void sum(std::vector<double>& values) = 0;
    // Throws std::runtime_error naming the first rank whose `value` differs
    // from rank 0's (`what` says what was compared): the ranks' weights must
    // stay identical without communication, and this verifies it.
    virtual void check_identical(uint64_t value, const std::string& what) = 0;
    // Seconds spent in collectives so far (for the benchmark).
    double comm_seconds() const { return comm_seconds_; }

protected:
    WorldInfo world_;
    double comm_seconds_ = 0.0;
};

}  // namespace dynshare::trainer
