// SPDX-License-Identifier: BSD-3-Clause
// A write the system refused (a full disk, a quota, an I/O error): the user's
// to fix, so a UserError (one line, exit status 2) naming the output (never a
// hidden working copy) and the system's reason (strerror). The code that
// throws it has left the output as it was before the failed write.
#pragma once
#include <cstring>
#include <string>

#include "dynshare/errors.hpp"

namespace dynshare {

class IoError : public UserError {
public:
    IoError(const std::string& file, int err)
        : UserError("cannot write " + file + ": " + std::strerror(err) + " (" + file +
                    " was left as it was before this write)"),
          err_(err) {}
    int error_number() const { return err_; }

private:
    int err_;
};

}  // namespace dynshare
