#include <cstdio>

#include "cli/commands.h"

namespace ctk::cli {
int cmd_demo(const Args&) {
    std::fprintf(stderr, "ctk demo: not built yet\n");
    return 2;
}
}  // namespace ctk::cli
