#include "core/layer_block.hpp"

namespace dynshare {

void LayerBlock::resize(int64_t neurons, int64_t inputs, const std::vector<int64_t>& offsets, double bias) {
    n = neurons;
    k = inputs;
    module_offsets = offsets;
    w.assign(n * k, 0.0);
    w0.assign(n * k, 0.0);
    v.assign(n * k, 0.0);
    r.assign(n, bias);
    r_inh.assign(modules(), 0.0);
}

}  // namespace dynshare
