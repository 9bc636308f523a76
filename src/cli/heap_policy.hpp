// How both programs ask glibc's malloc to treat large blocks: keep freed
// memory for the next request instead of handing it back to the kernel.
#pragma once

namespace dynshare::cli {

// Called first thing in main(). A training run frees and reallocates the
// same large buffers over and over: the engine's state in every sleep phase,
// LibTorch's activations in every iteration. glibc serves blocks above its
// mmap threshold (at most 32 MiB) with fresh pages and unmaps them on free,
// so each phase faulted its whole working set in again, zero-filled: 94,000
// minor faults (370 MB) per phase of the Table 1 sleep(10) net, about a
// third of the phase. With mmap off and no trimming, freed blocks stay in
// the heap and are reused. The process's peak is unchanged; what it holds
// after a peak is not returned until it exits.
//
// Left alone when the user set glibc's own knobs (GLIBC_TUNABLES or any
// MALLOC_*_ variable), and where malloc is not glibc's (sanitizer builds
// replace it). Returns whether the policy was applied.
bool keep_freed_memory();

}  // namespace dynshare::cli
