// ctk::Error: the one exception type for bad user input and failed checks.
// Messages name the parameter, what was expected and what was found, e.g.
//   throw Error(cat("weight_scale: expected shape [4096, 1], found [4096]"));
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ctk {

struct Error : std::runtime_error {
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// cat(a, b, c...) streams its arguments into one string.
template <class... Args>
std::string cat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

}  // namespace ctk

// CTK_CHECK(cond, parts...): throws ctk::Error(cat(parts...)) when cond is false.
#define CTK_CHECK(cond, ...)                                   \
    do {                                                       \
        if (!(cond)) throw ::ctk::Error(::ctk::cat(__VA_ARGS__)); \
    } while (0)
