// SPDX-License-Identifier: BSD-3-Clause
// The HDF5 side of a sweep (`dynshare sweep`, `dynshare merge`).
//
// Layout of a sweep file (docs/guide/outputs.md):
//   root attributes
//     schema_version  1 (h5::kSchemaVersion)
//     sweep         the resolved sweep YAML (SweepSpec::text); --resume and merge require it to match
//     version       dynshare version that wrote the file
//     runs_total    runs in the whole sweep (all shards)
//     shard_index, shard_count, shard ("i/n")   the slice this file holds: runs with index % n == i
//                   (0, 1, "0/1" for a whole sweep or a merged file)
//     runs_done     finished runs in the file; runs_diverged: how many of them diverged
//     complete      1 when every run of the slice is finished, else 0
//   /runs/<index>/  one run, exactly the layout `simulate` writes (RunGroupWriter for a single
//                   layer, StackFileWriter for a stack), plus attributes:
//                   each swept key path that is not a scalar config key (a list: the value's
//                   YAML text; scalar keys are attributes of every run, with their schema
//                   type), seed (uint64), trial, point, index.
//                   Only finished runs (status "complete" or "diverged") are written; a run
//                   stopped by Ctrl-C is not written and runs again on --resume.
//   /sweep/params   float64 (runs, keys): the swept values of the runs in the file, in
//                   increasing index order (NaN where a value is not a number); attribute
//                   `columns`: a 1-D array of variable-length strings, the key paths.
//   /sweep/index    int64 (runs,): the run index of each row of /sweep/params
//   /sweep/seed     uint64 (runs,): each run's seed (run.seed of its config)
//
// HDF5 is not thread-safe here: callers serialise every call into this file.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dynshare/run_observer.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "io/sweep_config.hpp"

namespace dynshare {

struct SweepFileHeader {
    std::string sweep_text;
    int64_t runs_total = 0;
    int64_t shard_index = 0, shard_count = 1;
};

// Parses "i/n" (0 <= i < n); throws UserError naming the flag.
void parse_shard(const std::string& spec, int64_t* index, int64_t* count);
// Runs of a sweep that shard i/n holds.
int64_t shard_size(int64_t runs_total, int64_t shard_index, int64_t shard_count);

// Keeps one run's output in memory until it can be written.
class RunCollector : public RunObserver {
public:
    std::function<bool()> stop;                   // asked between presentations
    std::function<void(int64_t)> progress;        // presentations done since the last call

    void on_begin(const RunState& initial) override { initial_ = initial; }
    void on_record(int64_t step, double time, const std::vector<double>& neg_log_snr,
                   const std::vector<double>& mean_abs_over_std) override;
    void on_progress(int64_t done, int64_t total) override;
    bool stop_requested() override { return stop && stop(); }

    // Replays what was collected into another observer (the file writer):
    // on_begin, then every record when `records` is set.
    void replay(RunObserver& to, bool records = true) const;
    // True when every record holds one value (a single layer).
    bool one_value_per_record() const;
    // Appends all records at once to the (empty, extendible) 1-D datasets
    // snr/step, snr/time and snr/neg_log_snr that RunGroupWriter created in
    // `group`: the same datasets as replaying them one by one, in 3 HDF5
    // writes instead of 3 per record (which costs ~0.1-0.2 s per Fig. 4 run).
    void write_records(hid_t group) const;

private:
    RunState initial_;
    std::vector<int64_t> steps_;
    std::vector<double> times_;
    std::vector<std::vector<double>> values_, mas_;
    int64_t done_ = 0;
};

// Writes the root attributes (complete = 0) of a new or resumed file.
void write_sweep_header(hid_t file, const SweepFileHeader& header);
// Reads the root attributes; throws UserError naming `path` when it is not a sweep file.
SweepFileHeader read_sweep_header(hid_t file, const std::string& path);

// The finished runs in the file: index -> status ("complete" or "diverged").
std::map<int64_t, std::string> finished_runs(hid_t file);
// Deletes /runs/<i> groups that are not finished (left by a crash).
void drop_unfinished_runs(hid_t file);
// The config attribute of /runs/<index>.
std::string run_config_text(hid_t file, int64_t index);

// Writes /runs/<run.index> with the layout `simulate` writes for its plan
// (single-run or stacked) and the sweep attributes.
void write_sweep_run(hid_t file, const SweepRun& run, const RunPlan& plan, const std::string& config_yaml,
                     const RunCollector& data, const RunResult& result);

// Rebuilds /sweep/{params,index,seed} from the finished runs and sets
// runs_done, runs_diverged and complete (every run of the file's shard,
// index % shard_count == shard_index among runs_total, is finished).
struct SweepTally {
    int64_t done = 0, diverged = 0;
    bool complete = false;
};
SweepTally finish_sweep_file(hid_t file, const std::vector<std::string>& keys, const SweepFileHeader& header);

// The key paths of /sweep/params (its `columns` attribute); empty if absent.
std::vector<std::string> sweep_columns(hid_t file);

// Copies /runs/<index> from one open file into another (H5Ocopy).
// Throws UserError naming `path` when finished run `index` lacks a dataset
// or attribute every run has (/snr/step, /snr/time, /snr/neg_log_snr;
// config, seed, complete): merge refuses it rather than copy a damaged run.
void check_run_layout(hid_t file, int64_t index, const std::string& path);
void copy_run(hid_t from, hid_t to, int64_t index);

}  // namespace dynshare
