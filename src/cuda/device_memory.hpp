// SPDX-License-Identifier: BSD-3-Clause
// Device memory of the CUDA runners, one idiom for all of them: a batch's
// arrays are carved by an Arena from one allocation (DeviceBlock). The same
// carve runs twice, first counting (no device: the bytes that the memory
// check and the batch budget use), then on the allocation, so what is
// checked and what is allocated are one list and cannot disagree. Copies
// between host vectors and device arrays go through the DeviceApi (the GPU or
// the emulator) and throw, naming what was copied, when the runtime fails.
// This header includes no CUDA header.
#pragma once
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/kernels.hpp"

namespace dynshare::cuda {

// A runtime error from the DeviceApi (nullptr: none) as an exception.
inline void device_check(const char* err, const std::string& what) {
    if (err) throw std::runtime_error("cuda backend: " + what + ": " + err);
}

// Carves typed arrays out of one allocation, each rounded up to 256 bytes (the
// runtime's own alignment). base nullptr: counting only (take returns nullptr).
class Arena {
public:
    static constexpr size_t kAlign = 256;
    explicit Arena(char* base = nullptr) : base_(base) {}
    template <class T>
    T* take(size_t count) {
        const size_t at = used_;
        used_ += (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;
        return base_ ? reinterpret_cast<T*>(base_ + at) : nullptr;
    }
    size_t used() const { return used_; }
    bool counting() const { return base_ == nullptr; }

private:
    char* base_;
    size_t used_ = 0;
};

// One owning device allocation; its arena carves it.
class DeviceBlock {
public:
    DeviceBlock(const DeviceApi& dev, size_t bytes) : dev_(&dev) {
        if (bytes) device_check(dev.alloc(&p_, bytes), "cudaMalloc");
    }
    ~DeviceBlock() {
        if (p_) dev_->release(p_);
    }
    DeviceBlock(const DeviceBlock&) = delete;
    DeviceBlock& operator=(const DeviceBlock&) = delete;
    Arena arena() const { return Arena(static_cast<char*>(p_)); }

private:
    const DeviceApi* dev_;
    void* p_ = nullptr;
};

// Carves `carve(arena)` (a callable that takes its arrays from the arena and
// returns them) twice: counting, then from a new allocation of that size held
// by `block`. Returns the carved arrays.
template <class Carve>
auto carve_allocated(const DeviceApi& dev, Carve&& carve, std::unique_ptr<DeviceBlock>& block) {
    Arena counting;
    carve(counting);
    block = std::make_unique<DeviceBlock>(dev, counting.used());
    Arena arena = block->arena();
    return carve(arena);
}

// Host vector -> device array (nothing for an empty vector).
template <class V>
void upload(const DeviceApi& dev, V* dst, const std::vector<V>& src) {
    if (!src.empty()) device_check(dev.to_device(dst, src.data(), src.size() * sizeof(V)), "copy to device");
}

// `count` elements of a device array -> host vector (resized to count).
template <class V>
void download(const DeviceApi& dev, std::vector<V>& dst, const V* src, size_t count) {
    dst.resize(count);
    if (count) device_check(dev.to_host(dst.data(), src, count * sizeof(V)), "copy from device");
}

// The copies of a runner that works on one DeviceApi: a runner derives from it
// (privately) and writes up(dst, host) / down(host, src, count).
class DeviceCopies {
protected:
    explicit DeviceCopies(const DeviceApi& dev) : dev_(dev) {}
    template <class V>
    void up(V* dst, const std::vector<V>& src) const {
        upload(dev_, dst, src);
    }
    template <class V>
    void down(std::vector<V>& dst, const V* src, size_t count) const {
        download(dev_, dst, src, count);
    }
    const DeviceApi& dev_;
};

}  // namespace dynshare::cuda
