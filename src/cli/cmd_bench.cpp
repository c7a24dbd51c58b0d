#include <cstdio>

#include "cli/commands.h"

namespace ctk::cli {
int cmd_bench(const Args&) {
    std::fprintf(stderr, "ctk bench: not built yet\n");
    return 2;
}
}  // namespace ctk::cli
