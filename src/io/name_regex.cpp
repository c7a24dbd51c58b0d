// NameRegex (name_regex.h): a parser to a small NFA program, and a linear-time matcher
// that runs every live thread in lockstep over the name (Thompson's construction; see
// Russ Cox, "Regular Expression Matching Can Be Simple And Fast"). A yes/no answer needs
// no backtracking: greedy and lazy quantifiers, capturing or not, give the same answer.
#include "io/name_regex.h"
#include "io/utf8.h"

#include <algorithm>

#include "core/error.h"

namespace ctk::io {

namespace {

// Names and patterns are UTF-8; Python matches code points, so '.' and classes take one
// code point. A byte that is not valid UTF-8 becomes U+DC80 + byte (Python's
// "surrogateescape"), so it still matches only itself.
std::u32string decode_utf8(const std::string& s) {
    std::u32string out;
    size_t i = 0;
    while (i < s.size()) {
        unsigned char b = static_cast<unsigned char>(s[i]);
        int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
        bool ok = len > 0 && i + len <= s.size();
        for (int k = 1; ok && k < len; ++k) {
            unsigned char n = static_cast<unsigned char>(s[i + k]);
            ok = (n & 0xC0) == 0x80;
            c = (c << 6) | (n & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8 either.
        static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && c >= kMin[len] && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
        if (!ok) {
            out.push_back(0xDC80 + b);
            ++i;
            continue;
        }
        out.push_back(c);
        i += len;
    }
    return out;
}

std::string encode_utf8(char32_t c) {
    std::string s;
    append_utf8(s, static_cast<uint32_t>(c));
    return s;
}

bool is_word(char32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

using CharSet = NameRegex::CharSet;
using Inst = NameRegex::Inst;

// \d \w \s and their complements, ASCII as in ECMAScript (Python's str patterns would also
// take other Unicode digits and letters; layer names are ASCII).
CharSet class_escape(char32_t e) {
    CharSet s;
    char32_t lower = e | 0x20;
    if (lower == 'd') s.ranges = {{'0', '9'}};
    if (lower == 'w') s.ranges = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    if (lower == 's') s.ranges = {{'\t', '\r'}, {' ', ' '}};  // \t \n \v \f \r and space
    s.negated = e != lower;                                      // \D \W \S
    return s;
}

// The ranges of a possibly negated set, as plain ranges (for \D inside [...]).
std::vector<std::pair<char32_t, char32_t>> plain_ranges(const CharSet& s) {
    if (!s.negated) return s.ranges;
    std::vector<std::pair<char32_t, char32_t>> out;
    char32_t next = 0;
    for (const auto& r : s.ranges) {  // class_escape gives sorted, disjoint ranges
        if (r.first > next) out.push_back({next, r.first - 1});
        next = r.second + 1;
    }
    out.push_back({next, 0x10FFFF});
    return out;
}

bool single_char(const CharSet& s) {
    return !s.negated && s.ranges.size() == 1 && s.ranges[0].first == s.ranges[0].second;
}

// A pattern tree. Every character-like atom is a Set.
struct Node {
    enum Kind { Empty, Set, Assert, Concat, Alt, Repeat } kind = Empty;
    int arg = 0;             // Set: index into the set table; Assert: '^', '$', 'b', 'B'
    std::vector<Node> kids;  // Concat, Alt: the parts; Repeat: the repeated atom
    int min = 0, max = 0;    // Repeat; max -1 = unbounded
};

// Recursive descent over the grammar  alt := concat ('|' concat)*,  concat := piece*,
// piece := atom quantifier?.  Recursion depth is bounded by kMaxDepth.
class Parser {
  public:
    Parser(const std::u32string& p, std::vector<CharSet>& sets) : p_(p), sets_(sets) {}

    Node parse() {
        Node n = alternation(0);
        if (pos_ < p_.size()) fail("unbalanced ')'");
        return n;
    }

  private:
    const std::u32string& p_;
    std::vector<CharSet>& sets_;
    size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const { throw Error(cat("at position ", pos_, ": ", what)); }
    bool at(char32_t c) const { return pos_ < p_.size() && p_[pos_] == c; }
    // A quantifier starts at pos_ (which does not move).
    bool at_quantifier() {
        if (at('*') || at('+') || at('?')) return true;
        size_t save = pos_;
        int a, b;
        bool ok = count(&a, &b);
        pos_ = save;
        return ok;
    }

    Node set_node(const CharSet& s) {
        Node n;
        n.kind = Node::Set;
        n.arg = static_cast<int>(sets_.size());
        sets_.push_back(s);
        return n;
    }
    Node literal(char32_t c) {
        CharSet s;
        s.ranges = {{c, c}};
        return set_node(s);
    }

    Node alternation(int depth) {
        Node first = concatenation(depth);
        if (!at('|')) return first;
        Node alt;
        alt.kind = Node::Alt;
        alt.kids.push_back(std::move(first));
        while (at('|')) {
            ++pos_;
            alt.kids.push_back(concatenation(depth));
        }
        return alt;
    }

    Node concatenation(int depth) {
        Node cat_node;
        cat_node.kind = Node::Concat;
        while (pos_ < p_.size() && !at('|') && !at(')')) cat_node.kids.push_back(piece(depth));
        return cat_node;
    }

    Node piece(int depth) {
        if (at_quantifier()) fail(cat("nothing to repeat before '", encode_utf8(p_[pos_]), "'"));
        Node a = atom(depth);
        if (!at_quantifier()) return a;
        if (a.kind == Node::Assert) fail("an anchor (^, $, \\b, \\B) cannot be repeated");
        Node r;
        r.kind = Node::Repeat;
        if (at('*') || at('+') || at('?')) {
            r.min = at('+') ? 1 : 0;
            r.max = at('?') ? 1 : -1;
            ++pos_;
        } else {
            count(&r.min, &r.max);
        }
        if (at('?')) ++pos_;  // lazy: the same yes/no answer
        if (at_quantifier())
            fail("a quantifier after a quantifier (a** or possessive a*+): Python and ECMAScript disagree on it");
        r.kids.push_back(std::move(a));
        return r;
    }

    // {n}, {n,} or {n,m} at pos_: true and past it, or false (pos_ then undefined).
    bool count(int* min, int* max) {
        if (!at('{')) return false;
        ++pos_;
        auto number = [&](int* out) {
            size_t start = pos_;
            long v = 0;  // saturates past kMaxCount, which check_counts refuses
            while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9')
                v = std::min<long>(v * 10 + (p_[pos_++] - '0'), NameRegex::kMaxCount + 1);
            *out = static_cast<int>(v);
            return pos_ > start;
        };
        if (!number(min)) return false;
        *max = *min;
        if (at(',')) {
            ++pos_;
            if (!number(max)) *max = -1;
        }
        if (!at('}')) return false;
        ++pos_;
        return true;
    }

    Node atom(int depth) {
        char32_t c = p_[pos_];
        if (c == '(') return group(depth);
        if (c == '[') return char_class();
        ++pos_;
        if (c == '.') {
            CharSet s;
            s.ranges = {{'\n', '\n'}};
            s.negated = true;
            return set_node(s);
        }
        if (c == '^' || c == '$') {
            Node n;
            n.kind = Node::Assert;
            n.arg = static_cast<int>(c);
            return n;
        }
        if (c == '{') {
            --pos_;
            fail("'{' does not start a count {n}, {n,} or {n,m}; write \\{ for a literal brace");
        }
        if (c != '\\') return literal(c);
        if (pos_ >= p_.size()) fail("the pattern ends with a backslash");
        char32_t e = p_[pos_++];
        if (e == 'b' || e == 'B') {
            Node n;
            n.kind = Node::Assert;
            n.arg = static_cast<int>(e);
            return n;
        }
        return set_node(escape(e));
    }

    // The character or class after a backslash (the backslash and e consumed).
    CharSet escape(char32_t e) {
        char32_t lower = e | 0x20;
        if (lower == 'd' || lower == 'w' || lower == 's') return class_escape(e);
        CharSet s;
        static const std::pair<char32_t, char32_t> kControls[] = {
            {'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'f', '\f'}, {'v', '\v'}};
        for (const auto& kc : kControls)
            if (e == kc.first) {
                s.ranges = {{kc.second, kc.second}};
                return s;
            }
        --pos_;
        if (e >= '0' && e <= '9') fail(cat("\\", encode_utf8(e), ": backreferences and octal escapes are not supported"));
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
            fail(cat("unknown or unsupported escape \\", encode_utf8(e)));
        ++pos_;
        s.ranges = {{e, e}};  // \. \( \\ ...: the character itself
        return s;
    }

    Node group(int depth) {
        if (depth >= NameRegex::kMaxDepth) fail(cat("groups nested more than ", NameRegex::kMaxDepth, " deep"));
        ++pos_;  // '('
        if (at('?')) {
            if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
                pos_ += 2;
            } else {
                fail("only (?:...) of the (?...) groups is supported (no lookaround, named groups or inline flags)");
            }
        }
        Node inner = alternation(depth + 1);
        if (!at(')')) fail("missing ')'");
        ++pos_;
        return inner;
    }

    Node char_class() {
        ++pos_;  // '['
        CharSet s;
        if (at('^')) {
            s.negated = true;
            ++pos_;
        }
        if (at(']'))
            fail("a class starting with ']' (\"[]\" or \"[^]\"): Python reads a literal ']', ECMAScript an "
                 "empty class; write \\] for a literal bracket");
        while (!at(']')) {
            if (pos_ >= p_.size()) fail("missing ']'");
            size_t start = pos_;
            CharSet first = class_atom();
            if (at('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
                // [\d-z]: an error in Python, a literal '-' in ECMAScript.
                if (!single_char(first)) {
                    pos_ = start;
                    fail("a range in a class needs a single character at each end");
                }
                ++pos_;
                CharSet last = class_atom();
                if (!single_char(last)) {
                    pos_ = start;
                    fail("a range in a class needs a single character at each end");
                }
                char32_t lo = first.ranges[0].first, hi = last.ranges[0].first;
                if (lo > hi) {
                    pos_ = start;
                    fail(cat("range ", encode_utf8(lo), "-", encode_utf8(hi), " is out of order"));
                }
                s.ranges.push_back({lo, hi});
                continue;
            }
            for (const auto& r : plain_ranges(first)) s.ranges.push_back(r);
        }
        ++pos_;  // ']'
        return set_node(s);
    }

    // One member of a class: a character, or \d-style set.
    CharSet class_atom() {
        char32_t c = p_[pos_];
        if (c == '[') fail("'[' inside a class; write \\[ for a literal bracket");
        ++pos_;
        CharSet s;
        if (c != '\\') {
            s.ranges = {{c, c}};
            return s;
        }
        if (pos_ >= p_.size()) fail("missing ']'");
        char32_t e = p_[pos_++];
        if (e == 'b') {  // backspace inside a class, in both Python and ECMAScript
            s.ranges = {{'\b', '\b'}};
            return s;
        }
        return escape(e);
    }
};

// Emits the program of a tree (Thompson's construction), counting instructions so an
// expanded count cannot grow it without bound.
class Emitter {
  public:
    explicit Emitter(std::vector<Inst>& prog) : prog_(prog) {}

    void emit(const Node& n) {
        switch (n.kind) {
            case Node::Empty: return;
            case Node::Set: push(Inst::Set, n.arg); return;
            case Node::Assert: push(Inst::Assert, n.arg); return;
            case Node::Concat:
                for (const Node& k : n.kids) emit(k);
                return;
            case Node::Alt: alternation(n); return;
            case Node::Repeat: repeat(n); return;
        }
    }
    size_t push(Inst::Op op, int x = 0, int y = 0) {
        if (prog_.size() >= NameRegex::kMaxProgram)
            throw Error(cat("more than ", NameRegex::kMaxProgram,
                            " instructions after expanding the {n,m} counts; use fewer or smaller counts"));
        prog_.push_back(Inst{op, x, y});
        return prog_.size() - 1;
    }

  private:
    std::vector<Inst>& prog_;
    int here() const { return static_cast<int>(prog_.size()); }

    // split L1, next; L1: kid 0; jump end; next: split L2, ... ; last kid; end:
    void alternation(const Node& n) {
        std::vector<size_t> jumps;
        for (size_t i = 0; i + 1 < n.kids.size(); ++i) {
            size_t split = push(Inst::Split);
            prog_[split].x = here();
            emit(n.kids[i]);
            jumps.push_back(push(Inst::Jump));
            prog_[split].y = here();
        }
        emit(n.kids.back());
        for (size_t j : jumps) prog_[j].x = here();
    }

    // min copies, then either a loop (unbounded) or max - min optional copies.
    void repeat(const Node& n) {
        const Node& kid = n.kids[0];
        for (int i = 0; i < n.min; ++i) emit(kid);
        if (n.max < 0) {
            size_t split = push(Inst::Split);  // loop: split body, end; body; jump loop; end:
            prog_[split].x = here();
            emit(kid);
            push(Inst::Jump, static_cast<int>(split));
            prog_[split].y = here();
            return;
        }
        std::vector<size_t> splits;
        for (int i = n.min; i < n.max; ++i) {
            splits.push_back(push(Inst::Split));
            prog_[splits.back()].x = here();
            emit(kid);
        }
        for (size_t s : splits) prog_[s].y = here();
    }
};

// Rejects counts above kMaxCount and min > max (before the program is built).
void check_counts(const Node& n) {
    if (n.kind == Node::Repeat) {
        if (n.min > NameRegex::kMaxCount || n.max > NameRegex::kMaxCount)
            throw Error(cat("a count above ", NameRegex::kMaxCount, " in {n,m} (ctk's limit)"));
        if (n.max >= 0 && n.min > n.max) throw Error(cat("{", n.min, ",", n.max, "}: min is above max"));
    }
    for (const Node& k : n.kids) check_counts(k);
}

}  // namespace

bool NameRegex::CharSet::contains(char32_t c) const {
    bool in = false;
    for (const auto& r : ranges) in = in || (c >= r.first && c <= r.second);
    return in != negated;
}

NameRegex::NameRegex(const std::string& pattern) {
    std::u32string p = decode_utf8(pattern);
    if (p.size() > kMaxChars)
        throw Error(cat("a pattern of ", p.size(), " characters (ctk accepts up to ", kMaxChars, ")"));
    Node tree = Parser(p, sets_).parse();
    check_counts(tree);
    Emitter e(prog_);
    e.emit(tree);
    e.push(Inst::Match);
}

bool NameRegex::match(const std::string& name) const {
    if (prog_.empty()) return false;
    const std::u32string s = decode_utf8(name);
    const size_t n = s.size();
    auto holds = [&](int kind, size_t pos) {
        if (kind == '^') return pos == 0;
        if (kind == '$') return pos == n || (pos + 1 == n && s[pos] == '\n');  // Python's $
        bool before = pos > 0 && is_word(s[pos - 1]), after = pos < n && is_word(s[pos]);
        return (before != after) == (kind == 'b');
    };
    // Threads at one position: the Set instructions waiting for the next character.
    // `seen[pc] == pos` marks pc as already followed at pos, so each instruction is
    // visited once per position (this also ends empty loops such as (a*)*).
    std::vector<int> current, next, stack;
    std::vector<size_t> seen(prog_.size(), static_cast<size_t>(-1));
    // Follows jumps, splits and assertions from pc at pos; true when Match is reached.
    auto add = [&](std::vector<int>& list, int pc0, size_t pos) {
        stack.assign(1, pc0);
        while (!stack.empty()) {
            int pc = stack.back();
            stack.pop_back();
            if (seen[pc] == pos) continue;
            seen[pc] = pos;
            const Inst& in = prog_[pc];
            switch (in.op) {
                case Inst::Match: return true;
                case Inst::Jump: stack.push_back(in.x); break;
                case Inst::Split:
                    stack.push_back(in.y);
                    stack.push_back(in.x);
                    break;
                case Inst::Assert:
                    if (holds(in.x, pos)) stack.push_back(pc + 1);
                    break;
                case Inst::Set: list.push_back(pc); break;
            }
        }
        return false;
    };
    if (add(current, 0, 0)) return true;  // re.match: an empty prefix may already match
    for (size_t pos = 0; pos < n && !current.empty(); ++pos) {
        next.clear();
        for (int pc : current)
            if (sets_[prog_[pc].x].contains(s[pos]) && add(next, pc + 1, pos + 1)) return true;
        current.swap(next);
    }
    return false;
}

}  // namespace ctk::io
