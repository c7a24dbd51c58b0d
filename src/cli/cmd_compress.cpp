#include <cstdio>

#include "cli/commands.h"

namespace ctk::cli {
int cmd_compress(const Args&) {
    std::fprintf(stderr, "ctk compress: not built yet\n");
    return 2;
}
}  // namespace ctk::cli
