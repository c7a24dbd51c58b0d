#include <cstdio>

#include "cli/commands.h"

namespace ctk::cli {
int cmd_run(const Args&) {
    std::fprintf(stderr, "ctk run: not built yet\n");
    return 2;
}
}  // namespace ctk::cli
