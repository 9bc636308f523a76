// SPDX-License-Identifier: BSD-3-Clause
// Data loaders on generated files, the translated variant, batches.
#include <gtest/gtest.h>

#include "dynshare/errors.hpp"
#include "test_helpers.hpp"
#include "trainer/batches.hpp"
#include "trainer/datasets.hpp"

using namespace dynshare;
using namespace dynshare::trainer;
namespace t = dynshare::trainer::testing;

TEST(Data, IdxGzAndPlain) {
    for (bool gz : {true, false}) {
        const auto dir = t::temp_dir(gz ? "idxgz" : "idx");
        t::write_fmnist(dir, 30, 10, 28, gz);
        DataConfig cfg;
        cfg.path = dir;
        cfg.validation = 5;
        const auto d = load_data(cfg, 0);
        EXPECT_EQ(d.train.size(), 25);
        EXPECT_EQ(d.validation.size(), 5);
        EXPECT_EQ(d.test.size(), 10);
        EXPECT_EQ(d.shape.channels, 1);
        EXPECT_EQ(d.shape.height, 28);
        EXPECT_EQ(d.shape.classes, 10);
        EXPECT_EQ(d.train.images.scalar_type(), torch::kUInt8);
        EXPECT_LT(d.train.labels.max().item<int64_t>(), 10);
    }
}

TEST(Data, MissingFashionMnistNamesPathAndPackage) {
    DataConfig cfg;
    cfg.path = "/nonexistent/fmnist";
    try {
        load_data(cfg, 0);
        FAIL();
    } catch (const UserError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("/nonexistent/fmnist"), std::string::npos) << m;
        EXPECT_NE(m.find("dataset-fashion-mnist"), std::string::npos) << m;
    }
    const auto dir = t::temp_dir("badidx");
    t::write_bytes(dir + "/train-images-idx3-ubyte", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, false);
    t::write_bytes(dir + "/train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 0}, false);
    cfg.path = dir;
    EXPECT_THROW(load_data(cfg, 0), UserError);
}

TEST(Data, Cifar10And100) {
    const auto dir = t::temp_dir("cifar10");
    for (int b = 1; b <= 5; ++b) t::write_cifar_file(dir + "/data_batch_" + std::to_string(b) + ".bin", 4, false, b);
    t::write_cifar_file(dir + "/test_batch.bin", 6, false, 0);
    DataConfig cfg;
    cfg.dataset = Dataset::cifar10;
    cfg.path = dir;
    cfg.validation = 2;
    auto d = load_data(cfg, 0);
    EXPECT_EQ(d.train.size() + d.validation.size(), 20);
    EXPECT_EQ(d.test.size(), 6);
    EXPECT_EQ(d.shape.channels, 3);
    EXPECT_EQ(d.shape.height, 32);
    // Channel planes hold 50 * channel + record index: check the first test record.
    EXPECT_EQ(d.test.images[0][2][5][5].item<uint8_t>(), 100);
    EXPECT_EQ(d.test.labels[1].item<int64_t>(), 1);

    const auto dir100 = t::temp_dir("cifar100");
    t::write_cifar_file(dir100 + "/train.bin", 12, true, 90);
    t::write_cifar_file(dir100 + "/test.bin", 3, true, 0);
    cfg.dataset = Dataset::cifar100;
    cfg.path = dir100;
    d = load_data(cfg, 0);
    EXPECT_EQ(d.shape.classes, 100);
    EXPECT_EQ(d.test.labels[2].item<int64_t>(), 2);  // fine label, not the coarse one
    t::write_bytes(dir100 + "/test.bin", {1, 2, 3}, false);
    EXPECT_THROW(load_data(cfg, 0), UserError);
}

TEST(Data, CanvasPlacesEachImageOnce) {
    ImageSet s{torch::full({5, 1, 4, 4}, 255, torch::kUInt8), torch::zeros({5}, torch::kLong)};
    s.images[0].fill_(0);  // mean pixel 204, so the canvas background is 204
    auto out = translate_to_canvas(s, 10, 3);
    EXPECT_EQ(out.images.sizes(), (std::vector<int64_t>{5, 1, 10, 10}));
    for (int i = 1; i < 5; ++i) EXPECT_EQ(out.images[i].eq(255).sum().item<int64_t>(), 16);
    EXPECT_EQ(out.images[0].eq(0).sum().item<int64_t>(), 16);
    EXPECT_THROW(translate_to_canvas(s, 3, 0), UserError);
}

TEST(Data, RepetitionsKeepTheBatchSize) {
    auto batches = epoch_batches(10, 8, 4, 0, 0);
    ASSERT_EQ(batches.size(), 5u);  // 2 distinct images per batch
    EXPECT_EQ(batches[0].size(), 8u);
    EXPECT_EQ(batches[0][0], batches[0][3]);
    EXPECT_NE(batches[0][0], batches[0][4]);
    EXPECT_EQ(epoch_batches(10, 8, 4, 0, 0), batches);  // deterministic in (seed, epoch)
    EXPECT_THROW(epoch_batches(10, 8, 3, 0, 0), UserError);
}

TEST(Data, PaddingIsZeroAfterNormalisation) {
    DataSplits d;
    d.train = ImageSet{torch::full({2, 1, 4, 4}, 100, torch::kUInt8), torch::zeros({2}, torch::kLong)};
    d.mean = {50.0f};
    d.std = {10.0f};
    BatchMaker maker(d, 4, false, torch::kCPU);
    std::mt19937_64 rng(1);
    auto [x, y] = maker.make(d.train, {0, 1, 0, 1, 0, 1, 0, 1}, &rng);
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{8, 1, 4, 4}));
    // Values are either the image (5.0) or padding (0.0), nothing else.
    EXPECT_TRUE((x.eq(5.0f) | x.eq(0.0f)).all().item<bool>());
    EXPECT_GT(x.eq(0.0f).sum().item<int64_t>(), 0);  // some crop reached the padding
    auto [x0, y0] = maker.make(d.train, {0}, nullptr);
    EXPECT_TRUE(x0.eq(5.0f).all().item<bool>());  // evaluation: no crop
}
