// SPDX-License-Identifier: BSD-3-Clause
// Ctrl-C / SIGTERM: the first one asks the run to stop at the next
// presentation boundary (the output stays valid); a second one kills.
#pragma once

namespace dynshare::cli {

void install_interrupt_handlers();
bool interrupted();

}  // namespace dynshare::cli
