// dynshare-train: the trainer as its own program (the only one that links
// LibTorch). `dynshare train ARGS...` runs it from the directory of the
// dynshare binary with the same ARGS, so both spellings behave alike.
#include "cli/heap_policy.hpp"
#include "trainer/train_command.hpp"

int main(int argc, char** argv) {
    dynshare::cli::keep_freed_memory();  // every sleep phase and iteration reuses the last one's pages
    return dynshare::train_main(argc, argv);
}
