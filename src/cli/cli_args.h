// A small option reader for the ctk subcommands: positional arguments and
// "--name value" / "--flag" options, with errors that name the option.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace ctk::cli {

struct ParsedArgs {
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> values;  // "--name" -> every value given
    std::set<std::string> flags;                             // "--flag" given

    bool has(const std::string& name) const { return values.count(name) || flags.count(name); }
    // The last value of `name`, or `def` when absent.
    std::string get(const std::string& name, const std::string& def = "") const;
    // An integer/float value; throws naming the option when it does not parse or is out of range.
    long long get_int(const std::string& name, long long def, long long lo, long long hi) const;
    double get_double(const std::string& name, double def) const;
    // One of `choices`; throws listing them.
    std::string get_choice(const std::string& name, const std::string& def,
                           const std::vector<std::string>& choices) const;
};

// Throws ctk::Error ("<cmd>: unknown option --x; see ctk <cmd> --help") on an option
// outside `with_value` / `flags`, and on a value option at the end of the line.
ParsedArgs parse_args(const Args& args, const std::string& cmd, const std::set<std::string>& with_value,
                      const std::set<std::string>& flags);

}  // namespace ctk::cli
