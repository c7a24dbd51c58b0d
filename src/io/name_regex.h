// NameRegex: the "re:" patterns of compressed-tensors configs (targets, ignore lists) and of
// `ctk compress --ignore`, matched against layer names as vLLM matches them: Python's
// re.match (from the start of the name; the match may end anywhere).
//
// Why not std::regex: it backtracks, so a config pattern such as "(.*)*X" takes
// exponential time (minutes on a 30-character name), six ".*" in a row take seconds per
// name, and ".*X" on a 30000-character tensor name overflows the stack. Both the pattern
// and the names come from files, so ctk matches with a Thompson NFA simulation (what RE2
// does): time linear in the name, times the program size, whatever the pattern.
//
// Syntax: the common subset of Python's re and ECMAScript, with the same meaning in both:
//   literal characters (a lone ']' or '}' too), `.` (any character but '\n'),
//   [abc] [^a-z] classes, \d \w \s \D \W \S (ASCII), \b \B, \n \t \r \f \v, a backslash
//   before any other non-alphanumeric character (\. \( \\ ...), groups (...) and (?:...),
//   |, the quantifiers * + ? {n} {n,} {n,m} (and their lazy forms *? +? ?? {n,m}?),
//   ^ (start) and $ (end, or before a final '\n', as in Python).
// Refused with an error that says what and why: backreferences, lookaround, named groups
// and inline flags, unknown escapes (\A, \x41, ...), possessive or doubled quantifiers
// (a*+, a**), '{' that does not start a count, "[]" and "[^]" (Python and ECMAScript
// read them differently), counts above 1000, groups nested deeper than 100, patterns
// longer than 1000 characters or whose program exceeds 10000 instructions after
// expanding the counts.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ctk::io {

class NameRegex {
  public:
    static constexpr size_t kMaxChars = 1000;     // pattern length, in code points
    static constexpr int kMaxCount = 1000;        // n and m of {n,m}
    static constexpr int kMaxDepth = 100;         // nested groups
    static constexpr size_t kMaxProgram = 10000;  // instructions after expanding counts

    NameRegex() = default;  // matches nothing
    // Throws ctk::Error naming the position and the construct when `pattern` is not accepted.
    explicit NameRegex(const std::string& pattern);

    // Python's re.match(pattern, name) is not None.
    bool match(const std::string& name) const;

    // A set of code points: ranges, maybe negated ('.' is the negated set {'\n'}).
    struct CharSet {
        std::vector<std::pair<char32_t, char32_t>> ranges;
        bool negated = false;
        bool contains(char32_t c) const;
    };
    struct Inst {
        enum Op : uint8_t { Set, Split, Jump, Assert, Match } op = Match;
        int x = 0;  // Set: index into sets_; Split, Jump: target; Assert: '^', '$', 'b' or 'B'
        int y = 0;  // Split: second target
    };

  private:
    std::vector<CharSet> sets_;
    std::vector<Inst> prog_;
};

}  // namespace ctk::io
