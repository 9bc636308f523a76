// SPDX-License-Identifier: BSD-3-Clause
// `dynshare config`: the generated reference pages. --reference writes every
// config key of both programs (from the schema and the one table of
// meanings, io/key_descriptions.cpp); --layout the HDF5 layout page from the
// layout list. To stdout, or with -o to a file under the usual output rules
// (never replaced without --overwrite, written beside its name and renamed).
#include <cstdio>
#include <fstream>
#include <string>

#include "app/args.hpp"
#include "cli/commands.hpp"
#include "dynshare/errors.hpp"
#include "io/config_reference.hpp"
#include "io/config_yaml.hpp"
#include "io/output_file.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::cli {
namespace {

const char* kHelp =
    "usage: dynshare config --reference [--format markdown] [-o FILE] [--overwrite]\n"
    "       dynshare config --layout [--list LAYOUT.txt] [-o FILE] [--overwrite]\n"
    "\n"
    "Writes a reference page generated from the code, to stdout or to FILE:\n"
    "  --reference         every config key of dynshare simulate/sweep and dynshare train:\n"
    "                      key path, type, default, allowed values or range, meaning\n"
    "  --layout            the HDF5 layout page, from the layout list\n"
    "  --format markdown   the page's format (the only one)\n"
    "  --list FILE         the layout list (default: docs/hdf5_layout.txt of the source tree)\n"
    "  -o FILE             write FILE instead of stdout (refused if it exists, unless --overwrite)\n"
    "  --overwrite         replace an existing FILE\n"
    "docs/reference/ holds both pages (scripts/gen_reference.sh regenerates them).\n"
    "\n"
    "Documentation: docs/reference/config.md\n";

void write_page(const std::string& text, const std::string& out, bool overwrite) {
    if (out.empty()) {
        std::fputs(text.c_str(), stdout);
        return;
    }
    PendingOutput pending(out, overwrite);
    {
        std::ofstream f(pending.write_path());
        f << text;
        f.close();
        if (!f) throw UserError("-o " + out + ": writing the page failed");
    }
    pending.commit();
}

}  // namespace

int cmd_config(int argc, char** argv) {
    const app::Args args = app::parse_args(argc, argv, 2,
                                           {{"--reference", false, false},
                                            {"--layout", false, false},
                                            {"--format", true, false},
                                            {"--list", true, false},
                                            {"-o", true, false},
                                            {"--overwrite", false, false},
                                            {"--help", false, false},
                                            {"-h", false, false}},
                                           "config");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    if (!args.positional.empty())
        throw UserError("unexpected argument '" + args.positional[0] + "' (see dynshare config --help)");
    const bool reference = args.has("--reference"), layout = args.has("--layout");
    if (reference == layout) throw UserError("give exactly one of --reference, --layout (see dynshare config --help)");
    const std::string format = args.get("--format", "markdown");
    if (format != "markdown") throw UserError("--format " + format + ": expected one of markdown");
    if (reference && args.has("--list")) throw UserError("--list goes with --layout, not --reference");
    const std::string out = args.get("-o");
    const bool overwrite = args.has("--overwrite");
    if (!out.empty()) check_output(out, overwrite);  // before any work
    std::string text;
    if (reference) {
        text = config_reference_markdown(describe_sim_config(), trainer::describe_run_config());
    } else {
        const std::string list = args.get("--list", std::string(DYNSHARE_SOURCE_DIR) + "/docs/hdf5_layout.txt");
        text = hdf5_layout_markdown(read_text_file(list, "layout list"), "docs/hdf5_layout.txt");
    }
    write_page(text, out, overwrite);
    return 0;
}

}  // namespace dynshare::cli
