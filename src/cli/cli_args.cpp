#include "cli/cli_args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace ctk::cli {

std::string ParsedArgs::get(const std::string& name, const std::string& def) const {
    auto it = values.find(name);
    return it == values.end() ? def : it->second.back();
}

long long ParsedArgs::get_int(const std::string& name, long long def, long long lo, long long hi) const {
    if (!values.count(name)) return def;
    std::string s = get(name);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    CTK_CHECK(!s.empty() && *end == '\0' && errno == 0, name, ": expected an integer, found \"", s, "\"");
    CTK_CHECK(v >= lo && v <= hi, name, ": expected ", lo, "..", hi, ", found ", v);
    return v;
}

double ParsedArgs::get_double(const std::string& name, double def) const {
    if (!values.count(name)) return def;
    std::string s = get(name);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    CTK_CHECK(!s.empty() && *end == '\0' && std::isfinite(v), name, ": expected a finite number, found \"", s, "\"");
    return v;
}

std::string ParsedArgs::get_choice(const std::string& name, const std::string& def,
                                   const std::vector<std::string>& choices) const {
    std::string v = get(name, def);
    std::string list;
    for (const auto& c : choices) {
        if (c == v) return v;
        list += (list.empty() ? "" : ", ") + c;
    }
    throw Error(cat(name, ": expected one of ", list, ", found \"", v, "\""));
}

ParsedArgs parse_args(const Args& args, const std::string& cmd, const std::set<std::string>& with_value,
                      const std::set<std::string>& flags) {
    ParsedArgs p;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.size() > 1 && a[0] == '-') {
            if (flags.count(a)) {
                p.flags.insert(a);
            } else if (with_value.count(a)) {
                CTK_CHECK(i + 1 < args.size(), a, ": expects a value; see ctk ", cmd, " --help");
                p.values[a].push_back(args[++i]);
            } else {
                throw Error(cat("unknown option ", a, "; see ctk ", cmd, " --help"));
            }
        } else {
            p.positional.push_back(a);
        }
    }
    return p;
}

}  // namespace ctk::cli
