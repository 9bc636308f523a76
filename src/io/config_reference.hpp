// SPDX-License-Identifier: BSD-3-Clause
// The generated reference pages (dynshare config --reference | --layout):
// every config key from the schema with its meaning from the one table
// (io/key_descriptions.hpp), and the HDF5 layout page from the layout list
// docs/hdf5_layout.txt. docs/reference/ holds their output, checked against
// the code by ctest Docs.ReferenceIsGenerated.
#pragma once
#include <string>
#include <vector>

#include "io/key_doc.hpp"

namespace dynshare {

// Every key of the simulator's config (SimConfig), in the schema's order.
std::vector<schema::KeyDoc> describe_sim_config();

// The Markdown page of both programs' keys. `train` may be empty (then the
// page says the trainer's keys are not in this build).
std::string config_reference_markdown(const std::vector<schema::KeyDoc>& sim, const std::vector<schema::KeyDoc>& train);

// The Markdown page of the HDF5 layout from the text of docs/hdf5_layout.txt
// (`source` names it on the page). Throws UserError on a malformed line.
std::string hdf5_layout_markdown(const std::string& list_text, const std::string& source);

}  // namespace dynshare
