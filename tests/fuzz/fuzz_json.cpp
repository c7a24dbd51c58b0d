// libFuzzer target: the strict JSON parser (io/json.h). Any input must either parse or
// throw ctk::Error; a parsed value must survive write -> parse -> write unchanged.
// Built and run by `make fuzz`.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    ctk::json::Value v;
    try {
        v = ctk::json::parse(text, "fuzz");
    } catch (const ctk::Error&) {
        return 0;
    }
    for (int indent : {-1, 2}) {
        std::string once = ctk::json::write(v, indent);
        std::string twice = ctk::json::write(ctk::json::parse(once, "rewrite"), indent);
        if (once != twice) std::abort();  // the writer and the parser disagree
    }
    return 0;
}
