#include <cstdio>

#include "cli/commands.h"

namespace ctk::cli {
int cmd_info(const Args&) {
    std::fprintf(stderr, "ctk info: not built yet\n");
    return 2;
}
}  // namespace ctk::cli
