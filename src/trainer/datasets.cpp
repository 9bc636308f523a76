// SPDX-License-Identifier: BSD-3-Clause
// Readers for the two on-disk formats and the split into train/validation/
// test. Files are read with zlib's gzread, which also reads uncompressed
// files, so both the Debian package's .gz files and plain IDX files work.
#include "trainer/datasets.hpp"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "dynshare/errors.hpp"

namespace dynshare::trainer {
namespace fs = std::filesystem;
namespace {

const char* kFmnistHint =
    " (Fashion-MNIST: install the Debian package dataset-fashion-mnist, which puts the IDX files in "
    "/usr/share/datasets/fashion-mnist, or set data.path to a directory holding them)";
const char* kCifarHint =
    " (CIFAR: download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and "
    "set data.path to the directory holding the .bin files)";

std::vector<uint8_t> read_all(const std::string& path, const char* hint) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw UserError("cannot open " + path + hint);
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
    const bool bad = n < 0;
    gzclose(f);
    if (bad) throw UserError("cannot read " + path + " (corrupt gzip?)" + hint);
    return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t off) {
    return (uint32_t(b[off]) << 24) | (uint32_t(b[off + 1]) << 16) | (uint32_t(b[off + 2]) << 8) | b[off + 3];
}

// First of `name`, `name.gz` that exists in dir (else `name`, for the error).
std::string find_file(const std::string& dir, const std::string& name) {
    for (const auto& cand : {name, name + ".gz"})
        if (fs::exists(fs::path(dir) / cand)) return (fs::path(dir) / cand).string();
    return (fs::path(dir) / name).string();
}

// The first `n` bytes of a (possibly gzipped) file.
std::vector<uint8_t> read_head(const std::string& path, size_t n, const char* hint) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw UserError("cannot open " + path + hint);
    std::vector<uint8_t> out(n);
    const int got = gzread(f, out.data(), unsigned(n));
    gzclose(f);
    if (got < 0) throw UserError("cannot read " + path + " (corrupt gzip?)" + hint);
    out.resize(size_t(got));
    return out;
}

}  // namespace

ImageSet load_idx(const std::string& images_path, const std::string& labels_path) {
    const auto img = read_all(images_path, kFmnistHint);
    const auto lab = read_all(labels_path, kFmnistHint);
    if (img.size() < 16 || be32(img, 0) != 0x00000803)
        throw UserError("malformed IDX image file " + images_path + " (bad magic number)" + kFmnistHint);
    if (lab.size() < 8 || be32(lab, 0) != 0x00000801)
        throw UserError("malformed IDX label file " + labels_path + " (bad magic number)" + kFmnistHint);
    const int64_t n = be32(img, 4), h = be32(img, 8), w = be32(img, 12);
    if (int64_t(img.size()) != 16 + n * h * w)
        throw UserError("malformed IDX image file " + images_path + ": size does not match its header");
    if (be32(lab, 4) != n || int64_t(lab.size()) != 8 + n)
        throw UserError("IDX label file " + labels_path + " does not match " + images_path);
    ImageSet set;
    set.images = torch::from_blob(const_cast<uint8_t*>(img.data()) + 16, {n, 1, h, w}, torch::kUInt8).clone();
    set.labels = torch::from_blob(const_cast<uint8_t*>(lab.data()) + 8, {n}, torch::kUInt8).to(torch::kLong);
    return set;
}

ImageSet load_cifar(const std::string& dir, bool cifar100, bool train) {
    std::vector<std::string> files;
    if (cifar100) files = {train ? "train.bin" : "test.bin"};
    else if (train) files = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
    else files = {"test_batch.bin"};
    const int64_t label_bytes = cifar100 ? 2 : 1, rec = label_bytes + 3072;
    std::vector<torch::Tensor> images, labels;
    for (const auto& name : files) {
        const std::string path = find_file(dir, name);
        const auto bytes = read_all(path, kCifarHint);
        if (bytes.empty() || bytes.size() % rec != 0)
            throw UserError("malformed CIFAR file " + path + ": size is not a multiple of " + std::to_string(rec) + kCifarHint);
        const int64_t n = int64_t(bytes.size()) / rec;
        auto all = torch::from_blob(const_cast<uint8_t*>(bytes.data()), {n, rec}, torch::kUInt8).clone();
        labels.push_back(all.select(1, label_bytes - 1).to(torch::kLong));  // CIFAR-100: fine label
        images.push_back(all.narrow(1, label_bytes, 3072).reshape({n, 3, 32, 32}).clone());
    }
    ImageSet set{torch::cat(images), torch::cat(labels)};
    const int64_t classes = cifar100 ? 100 : 10;
    if (set.labels.max().item<int64_t>() >= classes)
        throw UserError("malformed CIFAR data in " + dir + ": label >= " + std::to_string(classes));
    return set;
}

ImageSet translate_to_canvas(const ImageSet& set, int canvas, uint64_t seed) {
    const int64_t n = set.size(), c = set.images.size(1), h = set.images.size(2), w = set.images.size(3);
    if (canvas < h || canvas < w)
        throw UserError("data.canvas " + std::to_string(canvas) + " is smaller than the images (" +
                        std::to_string(h) + "x" + std::to_string(w) + ")");
    auto mean = set.images.to(torch::kFloat).mean({0, 2, 3}).round().to(torch::kUInt8);
    ImageSet out{mean.view({1, c, 1, 1}).expand({n, c, canvas, canvas}).clone(), set.labels};
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int64_t> oy(0, canvas - h), ox(0, canvas - w);
    for (int64_t i = 0; i < n; ++i)
        out.images[i].narrow(1, oy(rng), h).narrow(2, ox(rng), w).copy_(set.images[i]);
    return out;
}

namespace {

ImageSet subset(const ImageSet& s, const torch::Tensor& idx) {
    return ImageSet{s.images.index_select(0, idx), s.labels.index_select(0, idx)};
}

ImageSet head(const ImageSet& s, int limit) {
    if (limit <= 0 || limit >= s.size()) return s;
    return ImageSet{s.images.narrow(0, 0, limit), s.labels.narrow(0, 0, limit)};
}

void load_raw(const DataConfig& cfg, ImageSet& train, ImageSet& test, int& classes) {
    if (!fs::is_directory(cfg.path)) {
        const bool fm = cfg.dataset == Dataset::fashion_mnist;
        throw UserError("data.path " + cfg.path + " is not a directory" + (fm ? kFmnistHint : kCifarHint));
    }
    switch (cfg.dataset) {
    case Dataset::fashion_mnist:
        train = load_idx(find_file(cfg.path, "train-images-idx3-ubyte"), find_file(cfg.path, "train-labels-idx1-ubyte"));
        test = load_idx(find_file(cfg.path, "t10k-images-idx3-ubyte"), find_file(cfg.path, "t10k-labels-idx1-ubyte"));
        classes = 10;
        break;
    case Dataset::cifar10:
    case Dataset::cifar100: {
        const bool c100 = cfg.dataset == Dataset::cifar100;
        std::string dir = cfg.path;
        const char* sub = c100 ? "cifar-100-binary" : "cifar-10-batches-bin";
        if (fs::is_directory(fs::path(dir) / sub)) dir = (fs::path(dir) / sub).string();
        train = load_cifar(dir, c100, true);
        test = load_cifar(dir, c100, false);
        classes = c100 ? 100 : 10;
        break;
    }
    }
    // The files must fit together: labels among the dataset's classes (an
    // out-of-range label would index past the network's outputs), and test
    // images of the training images' size.
    for (const auto& [set, name] : {std::pair<const ImageSet*, const char*>{&train, "training"}, {&test, "test"}}) {
        if (set->labels.numel() == 0) continue;
        const int64_t lo = set->labels.min().item<int64_t>(), hi = set->labels.max().item<int64_t>();
        if (lo < 0 || hi >= classes)
            throw UserError("data.path " + cfg.path + ": the " + name + " labels range over [" + std::to_string(lo) +
                            ", " + std::to_string(hi) + "], outside the dataset's " + std::to_string(classes) +
                            " classes [0, " + std::to_string(classes - 1) + "]");
    }
    if (train.images.dim() == 4 && test.images.dim() == 4 && test.images.size(0) > 0 &&
        train.images.sizes().slice(1) != test.images.sizes().slice(1))
        throw UserError("data.path " + cfg.path + ": the test images are " + std::to_string(test.images.size(2)) + "x" +
                        std::to_string(test.images.size(3)) + ", the training images " +
                        std::to_string(train.images.size(2)) + "x" + std::to_string(train.images.size(3)) +
                        " (both splits must have one image size)");
}

}  // namespace

DataCensus check_data(const DataConfig& cfg) {
    const bool fm = cfg.dataset == Dataset::fashion_mnist;
    if (!fs::is_directory(cfg.path))
        throw UserError("data.path " + cfg.path + " is not a directory" + (fm ? kFmnistHint : kCifarHint));
    int64_t n_train = 0, n_test = 0, h = 32, w = 32;
    if (fm) {
        for (const char* split : {"train", "t10k"}) {
            const std::string images = find_file(cfg.path, std::string(split) + "-images-idx3-ubyte");
            const std::string labels = find_file(cfg.path, std::string(split) + "-labels-idx1-ubyte");
            const auto img = read_head(images, 16, kFmnistHint);
            const auto lab = read_head(labels, 8, kFmnistHint);
            if (img.size() < 16 || be32(img, 0) != 0x00000803)
                throw UserError("malformed IDX image file " + images + " (bad magic number)" + kFmnistHint);
            if (lab.size() < 8 || be32(lab, 0) != 0x00000801)
                throw UserError("malformed IDX label file " + labels + " (bad magic number)" + kFmnistHint);
            if (be32(lab, 4) != be32(img, 4)) throw UserError("IDX label file " + labels + " does not match " + images);
            if (std::string(split) == "train") {
                n_train = be32(img, 4);
                h = be32(img, 8);
                w = be32(img, 12);
            } else {
                n_test = be32(img, 4);
            }
        }
    } else {
        const bool c100 = cfg.dataset == Dataset::cifar100;
        std::string dir = cfg.path;
        const char* sub = c100 ? "cifar-100-binary" : "cifar-10-batches-bin";
        if (fs::is_directory(fs::path(dir) / sub)) dir = (fs::path(dir) / sub).string();
        std::vector<std::string> files = {"test_batch.bin", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                          "data_batch_4.bin", "data_batch_5.bin"};
        if (c100) files = {"test.bin", "train.bin"};
        const int64_t rec = (c100 ? 2 : 1) + 3072;
        int64_t counted = 0;
        bool gzipped = false;  // then the number of images is unknown here
        for (const auto& name : files) {
            const std::string path = find_file(dir, name);
            if (read_head(path, 1, kCifarHint).empty())
                throw UserError("malformed CIFAR file " + path + ": size is not a multiple of " + std::to_string(rec) + kCifarHint);
            std::error_code ec;
            const auto size = fs::file_size(path, ec);
            if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
                gzipped = true;
                continue;
            }
            if (ec || size % uint64_t(rec) != 0)
                throw UserError("malformed CIFAR file " + path + ": size is not a multiple of " + std::to_string(rec) + kCifarHint);
            if (name != files.front()) counted += int64_t(size / uint64_t(rec));
            else n_test = int64_t(size / uint64_t(rec));
        }
        n_train = gzipped ? -1 : counted;
    }
    if (cfg.canvas > 0 && (cfg.canvas < h || cfg.canvas < w))
        throw UserError("data.canvas " + std::to_string(cfg.canvas) + " is smaller than the images (" + std::to_string(h) +
                        "x" + std::to_string(w) + ")");
    DataCensus census;
    const int64_t channels = fm ? 1 : 3;
    census.image_bytes = channels * h * w;
    if (n_train < 0) n_train = 50000, n_test = 10000;  // gzipped CIFAR: its published sizes
    else if (cfg.validation >= std::min<int64_t>(n_train, cfg.limit_train > 0 ? cfg.limit_train : n_train))
        throw UserError("data.validation " + std::to_string(cfg.validation) + " leaves no training images (the split has " +
                        std::to_string(std::min<int64_t>(n_train, cfg.limit_train > 0 ? cfg.limit_train : n_train)) + ")");
    census.file_bytes = (n_train + n_test) * (census.image_bytes + (fm ? 1 : cfg.dataset == Dataset::cifar100 ? 2 : 1));
    if (cfg.limit_train > 0) n_train = std::min<int64_t>(n_train, cfg.limit_train);
    if (cfg.limit_test > 0) n_test = std::min<int64_t>(n_test, cfg.limit_test);
    census.train_images = n_train;
    census.test_images = n_test;
    const int side_h = cfg.canvas > 0 ? cfg.canvas : int(h), side_w = cfg.canvas > 0 ? cfg.canvas : int(w);
    census.shape = InputShape{int(channels), side_h, side_w, cfg.dataset == Dataset::cifar100 ? 100 : 10};
    return census;
}

DataSplits load_data(const DataConfig& cfg, uint64_t seed) {
    ImageSet train, test;
    int classes = 10;
    load_raw(cfg, train, test, classes);
    train = head(train, cfg.limit_train);
    test = head(test, cfg.limit_test);
    if (cfg.canvas > 0) {
        train = translate_to_canvas(train, cfg.canvas, seed * 2 + 1);
        test = translate_to_canvas(test, cfg.canvas, seed * 2 + 2);
    }
    if (cfg.validation >= train.size())
        throw UserError("data.validation " + std::to_string(cfg.validation) + " leaves no training images (the split has " +
                        std::to_string(train.size()) + ")");
    DataSplits d;
    // The held-out validation images are a random subset fixed by the seed.
    auto perm = torch::randperm(train.size(), at::detail::createCPUGenerator(seed + 7), torch::kLong);
    const int64_t n_train = train.size() - cfg.validation;
    d.train = subset(train, perm.narrow(0, 0, n_train));
    if (cfg.validation > 0) d.validation = subset(train, perm.narrow(0, n_train, cfg.validation));
    d.test = test;
    auto f = d.train.images.to(torch::kFloat);
    auto mean = f.mean({0, 2, 3}), stdv = f.std({0, 2, 3}).clamp_min(1e-3);
    d.mean.assign(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel());
    d.std.assign(stdv.data_ptr<float>(), stdv.data_ptr<float>() + stdv.numel());
    d.shape = InputShape{int(train.images.size(1)), int(train.images.size(2)), int(train.images.size(3)), classes};
    return d;
}

}  // namespace dynshare::trainer
