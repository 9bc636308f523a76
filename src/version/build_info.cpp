// SPDX-License-Identifier: BSD-3-Clause
// The one translation unit that sees the generated commit header: when HEAD
// changes, only this file recompiles (cmake/BuildInfo.cmake).
#include "dynshare/version.hpp"

#include "dynshare_commit.h"

namespace dynshare {

const char* version() { return DYNSHARE_VERSION_STRING; }

const char* commit() { return DYNSHARE_COMMIT; }

std::string version_line() { return std::string("dynshare ") + version() + " (commit " + commit() + ")"; }

}  // namespace dynshare
