// The ctk subcommands. Each lives in its own file (cli/cmd_<name>.cpp) and returns
// the process exit code; main.cpp only dispatches.
#pragma once
#include <string>
#include <vector>

namespace ctk::cli {

using Args = std::vector<std::string>;  // arguments after the subcommand name

int cmd_demo(const Args& args);
int cmd_bench(const Args& args);
int cmd_info(const Args& args);
int cmd_run(const Args& args);
int cmd_compress(const Args& args);

// True when args contains --help or -h.
bool wants_help(const Args& args);

}  // namespace ctk::cli
