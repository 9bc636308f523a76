// Picks the backend for a command and checks that it can run the plans,
// before any output file is created or touched (include/dynshare/backend.hpp).
#pragma once
#include <memory>
#include <string>

#include "dynshare/backend.hpp"

namespace dynshare::cli {

// --backend B for `plan`: cpu, cuda (UserError when no device is usable or
// the backend cannot run the plan) or auto (CUDA when usable and able to run
// the plan, else the CPU; the reason goes to stderr unless quiet).
std::unique_ptr<Backend> choose_backend(const std::string& flag_value, const SimConfig& cfg, const RunPlan& plan,
                                        bool quiet, const char* command);

}  // namespace dynshare::cli
