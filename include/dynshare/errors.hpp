// SPDX-License-Identifier: BSD-3-Clause
// Two kinds of failure, kept apart (as arbor does): a UserError is the
// user's to fix (bad config, missing file) and maps to exit status 2 with a
// one-line message; anything else is a bug or a system failure.
#pragma once
#include <stdexcept>
#include <string>

namespace dynshare {

class UserError : public std::runtime_error {
public:
    explicit UserError(const std::string& what) : std::runtime_error(what) {}
};

// A run stopped because the state became non-finite; the output keeps what
// was recorded before.
class DivergenceError : public std::runtime_error {
public:
    explicit DivergenceError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace dynshare
