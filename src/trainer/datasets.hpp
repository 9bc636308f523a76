// SPDX-License-Identifier: BSD-3-Clause
// Image datasets held in memory as uint8 tensors: Fashion-MNIST (IDX files,
// gzipped or not), CIFAR-10/100 (binary version), the translated variant
// (each image at a fixed random offset in a larger canvas), the
// train/validation split and the normalisation statistics.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "trainer/networks.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {

struct ImageSet {
    torch::Tensor images;  // uint8 (N, C, H, W)
    torch::Tensor labels;  // int64 (N)
    int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// Throw UserError naming the path (and how to get the data) when missing or malformed.
ImageSet load_idx(const std::string& images_path, const std::string& labels_path);
ImageSet load_cifar(const std::string& dir, bool cifar100, bool train);

// Places every image at a random offset (fixed by `seed`) in a canvas x canvas
// image filled with the set's mean pixel value per channel.
ImageSet translate_to_canvas(const ImageSet& set, int canvas, uint64_t seed);

struct DataSplits {
    ImageSet train, validation, test;
    std::vector<float> mean, std;  // per channel, training split, pixel units (0-255)
    InputShape shape;
};

DataSplits load_data(const DataConfig& cfg, uint64_t seed);

// What load_data will hold, from the files' headers and sizes only.
struct DataCensus {
    InputShape shape;                           // the network's input (canvas applied)
    int64_t train_images = 0, test_images = 0;  // after limit_train / limit_test, validation included
    int64_t file_bytes = 0;                     // the decompressed files load_data reads
    int64_t image_bytes = 0;                    // one image as stored (uint8), before the canvas
};

// What load_data would refuse, found from the files' headers and sizes only
// (no images are read): a missing data.path or file, a malformed header, a
// canvas smaller than the images, a validation split that leaves no training
// images. Throws the same UserErrors; run before anything is created.
// Returns the sizes the memory estimate needs (gzipped CIFAR files are
// counted at CIFAR's published sizes: 50000 training, 10000 test images).
DataCensus check_data(const DataConfig& cfg);

}  // namespace dynshare::trainer
