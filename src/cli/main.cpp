// ctk: the command-line program. Dispatches to cli/cmd_*.cpp; every ctk::Error
// becomes one line on stderr and exit code 1.
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

namespace ctk::cli {
bool wants_help(const Args& args) {
    for (const auto& a : args)
        if (a == "--help" || a == "-h") return true;
    return false;
}
}  // namespace ctk::cli

static const char* kUsage =
    "usage: ctk <command> [options]\n"
    "\n"
    "commands:\n"
    "  demo       run every layer configuration on built-in data and check it (make run)\n"
    "  bench      time the kernels against library peers (needs a GPU)\n"
    "  info       list the linear layers of a compressed-tensors model folder\n"
    "  run        load one layer of a model folder, run it, compare with the CPU reference\n"
    "  compress   write a compressed-tensors model folder from dense weights\n"
    "\n"
    "ctk <command> --help shows the options of a command.\n";

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string cmd = argv[1];
    ctk::cli::Args args(argv + 2, argv + argc);
    try {
        if (cmd == "demo") return ctk::cli::cmd_demo(args);
        if (cmd == "bench") return ctk::cli::cmd_bench(args);
        if (cmd == "info") return ctk::cli::cmd_info(args);
        if (cmd == "run") return ctk::cli::cmd_run(args);
        if (cmd == "compress") return ctk::cli::cmd_compress(args);
        std::fprintf(stderr, "ctk: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
        return 2;
    } catch (const ctk::Error& e) {
        std::fprintf(stderr, "ctk %s: error: %s\n", cmd.c_str(), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ctk %s: internal error: %s\n", cmd.c_str(), e.what());
        return 3;
    }
}
