// SPDX-License-Identifier: BSD-3-Clause
// Picks the backend for a command and checks that it can run the plans,
// before any output file is created or touched (include/dynshare/backend.hpp).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "dynshare/backend.hpp"

namespace dynshare::cli {

// --backend B for the runs that `check_all` checks (it calls Backend::check
// for each of them): cpu, cuda (UserError when no device is usable or the
// backend cannot run some run) or auto (CUDA when usable and able to run them
// all, else the CPU). With auto, the choice of a device, or a fall-back from a
// usable device that cannot run the plans, is said on stderr unless quiet.
std::unique_ptr<Backend> choose_backend(const std::string& flag_value,
                                        const std::function<void(const Backend&)>& check_all, bool quiet,
                                        const char* command);

// The same for one run.
std::unique_ptr<Backend> choose_backend(const std::string& flag_value, const SimConfig& cfg, const RunPlan& plan,
                                        bool quiet, const char* command);

}  // namespace dynshare::cli
