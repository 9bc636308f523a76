// SPDX-License-Identifier: BSD-3-Clause
// The committed data/fixtures file stays readable in the documented layout.
#include <gtest/gtest.h>

#include "dynshare/sleep_phase.hpp"
#include "dynshare/errors.hpp"
#include "io/stack_file.hpp"

using namespace dynshare;

TEST(Fixtures, SmallLcWeightFileLoadsWithTheDocumentedShape) {
    StackParams stack;
    stack.enabled = true;
    stack.input = {1, 6, 6};
    StackLayer layer;
    layer.channels = 2;
    layer.kernel = 3;
    layer.stride = 1;
    layer.padding = 1;
    stack.layers = {layer};
    const auto geometry = stack_geometry(stack);
    const auto w = read_stack_weights(std::string(DYNSHARE_SOURCE_DIR) + "/data/fixtures/lc_weights_small.h5", geometry);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(static_cast<int64_t>(w[0].size()), 2 * 6 * 6 * 9);  // (c_out, h_out, w_out, c_in k^2)
    // A wrong geometry is refused with a UserError naming the dataset.
    stack.layers[0].channels = 3;
    EXPECT_THROW(read_stack_weights(std::string(DYNSHARE_SOURCE_DIR) + "/data/fixtures/lc_weights_small.h5",
                                    stack_geometry(stack)),
                 UserError);
}
