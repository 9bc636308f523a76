// SPDX-License-Identifier: BSD-3-Clause
// Small generated datasets for the trainer tests (IDX and CIFAR binary files),
// the trainer program's path and a file reader.
#pragma once
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace dynshare::trainer::testing {

// The dynshare-train program these tests run (CMake passes its path).
#ifdef DYNSHARE_TRAIN_CLI
inline const char* const kTrain = DYNSHARE_TRAIN_CLI;
#else
inline const char* const kTrain = "dynshare-train";
#endif

// The whole text of a file ("" if it cannot be read).
inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The test process's scratch folders, removed when the process exits normally
// (ctest runs each test in its own process, so a run leaves nothing in the
// temporary directory). DYNSHARE_KEEP_TEST_DIRS=1 keeps them for debugging;
// a forked child (which leaves through _exit or exec) never removes them.
inline void remove_at_exit(const std::filesystem::path& dir) {
    static struct Scratch {
        pid_t owner = ::getpid();
        std::vector<std::filesystem::path> dirs;
        ~Scratch() {
            if (::getpid() != owner || std::getenv("DYNSHARE_KEEP_TEST_DIRS")) return;
            for (const auto& d : dirs) {
                std::error_code ec;
                std::filesystem::remove_all(d, ec);
            }
        }
    } scratch;
    scratch.dirs.push_back(dir);
}

inline std::string temp_dir(const std::string& name) {
    auto p = std::filesystem::temp_directory_path() / ("dynshare_trainer_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    remove_at_exit(p);
    return p.string();
}

inline void put32(std::vector<uint8_t>& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gz) {
    if (gz) {
        gzFile f = gzopen(path.c_str(), "wb");
        gzwrite(f, bytes.data(), unsigned(bytes.size()));
        gzclose(f);
    } else {
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
}

// Images whose label is visible: class c brightens row band c (learnable).
inline void write_idx_pair(const std::string& dir, const std::string& prefix, int n, int size, bool gz,
                           uint32_t seed = 1) {
    std::vector<uint8_t> img, lab;
    put32(img, 0x803); put32(img, n); put32(img, size); put32(img, size);
    put32(lab, 0x801); put32(lab, n);
    std::mt19937 rng(seed);
    for (int i = 0; i < n; ++i) {
        const int c = int(rng() % 10);
        lab.push_back(uint8_t(c));
        for (int y = 0; y < size; ++y)
            for (int x = 0; x < size; ++x)
                img.push_back(uint8_t((y * 10 / size == c ? 200 : 20) + rng() % 30));
    }
    const std::string sfx = gz ? ".gz" : "";
    write_bytes(dir + "/" + prefix + "-images-idx3-ubyte" + sfx, img, gz);
    write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte" + sfx, lab, gz);
}

inline void write_fmnist(const std::string& dir, int n_train, int n_test, int size = 28, bool gz = true) {
    write_idx_pair(dir, "train", n_train, size, gz, 1);
    write_idx_pair(dir, "t10k", n_test, size, gz, 2);
}

// CIFAR-10 (1 label byte) or CIFAR-100 (coarse, fine) records.
inline void write_cifar_file(const std::string& path, int n, bool cifar100, int label_offset) {
    std::vector<uint8_t> b;
    for (int i = 0; i < n; ++i) {
        if (cifar100) b.push_back(uint8_t(i % 20));
        b.push_back(uint8_t((i + label_offset) % (cifar100 ? 100 : 10)));
        for (int p = 0; p < 3072; ++p) b.push_back(uint8_t((p / 1024) * 50 + i));
    }
    write_bytes(path, b, false);
}

}  // namespace dynshare::trainer::testing
