// SPDX-License-Identifier: BSD-3-Clause
// How both programs ask glibc's malloc to treat large blocks: keep freed
// memory for the next request instead of handing it back to the kernel.
#pragma once

namespace dynshare::app {

// Called first thing in main(). A training run frees and reallocates the
// same buffers over and over: the engine's state in every sleep phase,
// LibTorch's tensors in every iteration. glibc hands the top of its heap back
// to the kernel on free once it exceeds the trim threshold (at most 64 MiB,
// adjusted as it goes), so each phase faulted much of its working set in
// again, zero-filled. With blocks up to 32 MiB always from the heap and the
// heap never trimmed, they are reused: 1.72 million minor faults in 40
// iterations (4 phases) of the Table 1 sleep(10) net before, 0.34 million
// after. Blocks above
// 32 MiB keep glibc's own mappings (no fragmentation of the heap by them).
// The process's peak is unchanged; what it holds after a peak is not
// returned until it exits.
//
// Left alone when the user set glibc's own knobs (GLIBC_TUNABLES or any
// MALLOC_*_ variable), and where malloc is not glibc's (sanitizer builds
// replace it). Returns whether the policy was applied.
bool keep_freed_memory();

// While alive, in a process where keep_freed_memory() took effect: blocks of
// any size come from the heap (M_MMAP_MAX 0), and are put back there when
// freed. For a burst of work that allocates the same large buffers every
// time, e.g. a training sleep phase, whose LC weight copies and block
// buffers exceed 32 MiB in wide layers: each phase reuses the last one's
// pages instead of mapping its buffers anew, faulting them in zero-filled
// and unmapping them. The Table 1 sleep(10) net: 541 thousand minor faults in
// 40 iterations (4 phases) before, about 200 thousand after, and phases of
// 0.27 s became 0.22 s (docs/history.md, "Training"). Outside such
// scopes large blocks keep their own mappings (see above: LibTorch's
// activations would fragment the heap). Not nested; a no-op where the
// policy was not applied.
class LargeBlocksFromHeap {
public:
    LargeBlocksFromHeap();
    ~LargeBlocksFromHeap();
    LargeBlocksFromHeap(const LargeBlocksFromHeap&) = delete;
    LargeBlocksFromHeap& operator=(const LargeBlocksFromHeap&) = delete;

private:
    bool active_ = false;
};

}  // namespace dynshare::app
