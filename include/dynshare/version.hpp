// SPDX-License-Identifier: BSD-3-Clause
#pragma once
// The version of dynshare and the git commit this binary was built from
// (cmake/BuildInfo.cmake): printed by --version and written into every HDF5
// file as the root attributes dynshare_version and dynshare_commit, so that
// files made by different builds can be told apart.
#include <string>

namespace dynshare {

// "0.1.0": the project version of CMakeLists.txt.
const char* version();
// "abcdef1", "abcdef1-dirty" (tracked files differed from that commit), or
// "unknown" (built outside a git checkout).
const char* commit();
// "dynshare 0.1.0 (commit abcdef1)": the line --version prints.
std::string version_line();

}  // namespace dynshare
