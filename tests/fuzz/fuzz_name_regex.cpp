// libFuzzer target: the "re:" matcher of configs and --ignore (io/name_regex.h). The input
// is a pattern and a name separated by the first '\n' (a newline is never part of a layer
// name). A pattern may be refused with ctk::Error; nothing may crash, and matching must
// stay linear in the name (libFuzzer's -timeout catches a slow input). Built and run by
// `make fuzz`.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/name_regex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    const size_t cut = text.find('\n');
    const std::string pattern = text.substr(0, cut), name = cut == std::string::npos ? "" : text.substr(cut + 1);
    try {
        ctk::io::NameRegex re(pattern);
        (void)re.match(name);
        (void)re.match(name + name);  // a longer name through the same program
    } catch (const ctk::Error&) {
    }
    return 0;
}
