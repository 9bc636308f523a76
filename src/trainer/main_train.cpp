// Stand-alone `dynshare-train` for builds without the CLI (and the scratch
// build); the real entry point is `dynshare train`, which calls train_main.
#include <string>
#include <vector>

#include "trainer/train_command.hpp"

int main(int argc, char** argv) {
    std::vector<char*> args{const_cast<char*>("train")};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    return dynshare::train_main(int(args.size()), args.data());
}
