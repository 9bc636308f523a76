// SPDX-License-Identifier: BSD-3-Clause
// A tensor's bytes, contiguous, in a file of their own: how the trainer's
// reference programs (trainer_data_reference.cpp, trainer_sleep_reference.cpp)
// hand tensors to the Python tests, which read them with numpy.fromfile.
#pragma once
#include <torch/torch.h>

#include <fstream>
#include <string>

namespace dynshare::test {

inline void write_raw(const std::string& path, const torch::Tensor& t) {
    const torch::Tensor c = t.detach().contiguous();
    std::ofstream f(path, std::ios::binary);
    f.write(static_cast<const char*>(c.data_ptr()), std::streamsize(c.numel() * c.element_size()));
}

}  // namespace dynshare::test
