// placeholder until the benchmark lands
#include "cli/commands.hpp"
#include "dynshare/errors.hpp"
namespace dynshare::cli {
int cmd_bench(int, char**) { throw UserError("bench: not built yet"); }
}  // namespace dynshare::cli
