// Strict JSON: a recursive-descent parser over a string_view and a writer.
// The grammar is RFC 8259 section 2-8; see json.h for what "strict" refuses.
#include "io/json.h"
#include "io/utf8.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "core/error.h"

namespace ctk::json {

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::Null: return "null";
        case Kind::Bool: return "bool";
        case Kind::Number: return "number";
        case Kind::String: return "string";
        case Kind::Array: return "array";
        case Kind::Object: return "object";
    }
    return "?";
}

Value Value::from_bool(bool b) {
    Value v;
    v.kind = Kind::Bool;
    v.boolean = b;
    return v;
}

Value Value::from_int(int64_t i) {
    Value v;
    v.kind = Kind::Number;
    v.number = static_cast<double>(i);
    v.is_integer = true;
    v.integer = i;
    return v;
}

Value Value::from_double(double d) {
    CTK_CHECK(std::isfinite(d), "json: cannot represent the number ", d, " (JSON has no NaN or Inf)");
    Value v;
    v.kind = Kind::Number;
    v.number = d;
    return v;
}

Value Value::from_string(std::string s) {
    Value v;
    v.kind = Kind::String;
    v.string = std::move(s);
    return v;
}

Value Value::make_array() {
    Value v;
    v.kind = Kind::Array;
    return v;
}

Value Value::make_object() {
    Value v;
    v.kind = Kind::Object;
    return v;
}

const Value* Value::find(const std::string& key) const {
    if (kind != Kind::Object) return nullptr;
    for (const auto& kv : object)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

Value& Value::set(const std::string& key, Value v) {
    CTK_CHECK(kind == Kind::Object, "json: set(\"", key, "\") on a ", kind_name(kind));
    for (auto& kv : object)
        if (kv.first == key) return kv.second = std::move(v);
    object.emplace_back(key, std::move(v));
    return object.back().second;
}

Value& Value::push(Value v) {
    CTK_CHECK(kind == Kind::Array, "json: push on a ", kind_name(kind));
    array.push_back(std::move(v));
    return array.back();
}

std::string position(const Value& v) {
    if (v.line == 0) return "";
    return cat("line ", v.line, ", column ", v.column);
}

// ----------------------------------------------------------------------------------
// Parser

namespace {

class Parser {
  public:
    Parser(std::string_view text, const std::string& source, int max_depth)
        : s_(text), source_(source), max_depth_(max_depth) {}

    Value parse_document() {
        if (s_.size() >= 3 && s_.substr(0, 3) == "\xEF\xBB\xBF")
            fail(0, "expected a JSON value, found a UTF-8 byte order mark (not allowed)");
        Value v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size()) fail(pos_, cat("expected end of input after the JSON value, found ", here()));
        return v;
    }

  private:
    std::string_view s_;
    const std::string& source_;
    int max_depth_;
    size_t pos_ = 0;
    int line_ = 1;           // line of pos_ (newlines only occur in whitespace)
    size_t line_start_ = 0;  // offset of the first byte of that line

    bool eof() const { return pos_ >= s_.size(); }
    unsigned char peek() const { return static_cast<unsigned char>(s_[pos_]); }

    // Line and column of byte offset `at`, counted from the start (used only for errors).
    [[noreturn]] void fail(size_t at, const std::string& what) const {
        int line = 1;
        size_t start = 0;
        for (size_t i = 0; i < at && i < s_.size(); ++i)
            if (s_[i] == '\n') {
                ++line;
                start = i + 1;
            }
        throw Error(cat(source_, ":", line, ":", at - start + 1, ": ", what));
    }

    // What is at pos_, for "found ..." in messages.
    std::string here() const { return describe_at(pos_); }
    std::string describe_at(size_t at) const {
        if (at >= s_.size()) return "end of input";
        unsigned char c = static_cast<unsigned char>(s_[at]);
        if (c >= 0x20 && c < 0x7F) return cat("'", static_cast<char>(c), "'");
        static const char* hex = "0123456789abcdef";
        return cat("byte 0x", hex[c >> 4], hex[c & 15]);
    }

    void skip_ws() {
        while (!eof()) {
            char c = s_[pos_];
            if (c == '\n') {
                ++line_;
                line_start_ = pos_ + 1;
            } else if (c != ' ' && c != '\t' && c != '\r') {
                return;
            }
            ++pos_;
        }
    }

    Value parse_value(int depth) {
        skip_ws();
        Value v;
        v.line = line_;
        v.column = static_cast<int>(pos_ - line_start_ + 1);
        if (eof()) fail(pos_, "expected a JSON value, found end of input");
        unsigned char c = peek();
        if (c == '{' || c == '[') {
            if (depth + 1 > max_depth_)
                fail(pos_, cat("nesting deeper than ", max_depth_, " levels"));
            if (c == '{') parse_object(v, depth + 1);
            else parse_array(v, depth + 1);
        } else if (c == '"') {
            v.kind = Kind::String;
            v.string = parse_string();
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            parse_number(v);
        } else if (c == 't' || c == 'f' || c == 'n') {
            parse_literal(v);
        } else {
            fail(pos_, cat("expected a JSON value, found ", here()));
        }
        return v;
    }

    void parse_literal(Value& v) {
        static const std::pair<const char*, int> words[] = {{"true", 1}, {"false", 0}, {"null", -1}};
        for (const auto& w : words) {
            std::string_view word(w.first);
            if (s_.substr(pos_, word.size()) == word) {
                pos_ += word.size();
                if (w.second < 0) {
                    v.kind = Kind::Null;
                } else {
                    v.kind = Kind::Bool;
                    v.boolean = w.second == 1;
                }
                return;
            }
        }
        fail(pos_, cat("expected a JSON value (true, false or null?), found ", here()));
    }

    void parse_object(Value& v, int depth) {
        v.kind = Kind::Object;
        ++pos_;  // '{'
        skip_ws();
        if (!eof() && peek() == '}') {
            ++pos_;
            return;
        }
        std::unordered_set<std::string> keys;
        for (;;) {
            skip_ws();
            if (eof() || peek() != '"') fail(pos_, cat("expected a string key, found ", here()));
            size_t key_at = pos_;
            std::string key = parse_string();
            if (!keys.insert(key).second) fail(key_at, cat("duplicate key \"", key, "\" in object"));
            skip_ws();
            if (eof() || peek() != ':') fail(pos_, cat("expected ':' after key \"", key, "\", found ", here()));
            ++pos_;
            v.object.emplace_back(std::move(key), parse_value(depth));
            skip_ws();
            if (eof()) fail(pos_, "expected ',' or '}' in object, found end of input");
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                return;
            }
            fail(pos_, cat("expected ',' or '}' in object, found ", here()));
        }
    }

    void parse_array(Value& v, int depth) {
        v.kind = Kind::Array;
        ++pos_;  // '['
        skip_ws();
        if (!eof() && peek() == ']') {
            ++pos_;
            return;
        }
        for (;;) {
            v.array.push_back(parse_value(depth));
            skip_ws();
            if (eof()) fail(pos_, "expected ',' or ']' in array, found end of input");
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') {
                ++pos_;
                return;
            }
            fail(pos_, cat("expected ',' or ']' in array, found ", here()));
        }
    }

    static int hex_digit(unsigned char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // The 4 hex digits after "\u" at pos_ (pos_ is on the first digit).
    uint32_t parse_hex4() {
        uint32_t u = 0;
        for (int i = 0; i < 4; ++i) {
            int d = eof() ? -1 : hex_digit(peek());
            if (d < 0) fail(pos_, cat("expected 4 hex digits after \\u, found ", here()));
            u = u * 16 + static_cast<uint32_t>(d);
            ++pos_;
        }
        return u;
    }

    // One UTF-8 encoded character starting at pos_ (lead byte >= 0x80), copied to out.
    // Well-formed UTF-8 per Unicode table 3-7: no overlong forms, no surrogates, <= U+10FFFF.
    void copy_utf8(std::string& out) {
        size_t start = pos_;
        unsigned char c = peek();
        int extra;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) extra = 1;
        else if (c == 0xE0) extra = 2, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) extra = 2;
        else if (c == 0xED) extra = 2, hi = 0x9F;
        else if (c == 0xF0) extra = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) extra = 3;
        else if (c == 0xF4) extra = 3, hi = 0x8F;
        else fail(start, cat("invalid UTF-8 in string: ", describe_at(start)));
        for (int i = 1; i <= extra; ++i) {
            size_t at = start + static_cast<size_t>(i);
            unsigned char b = at < s_.size() ? static_cast<unsigned char>(s_[at]) : 0;
            unsigned char bl = i == 1 ? lo : 0x80, bh = i == 1 ? hi : 0xBF;
            if (at >= s_.size() || b < bl || b > bh)
                fail(at, cat("invalid UTF-8 in string: bad continuation ", describe_at(at)));
        }
        out.append(s_.substr(start, static_cast<size_t>(extra) + 1));
        pos_ = start + static_cast<size_t>(extra) + 1;
    }

    std::string parse_string() {
        size_t open = pos_;
        ++pos_;  // '"'
        std::string out;
        for (;;) {
            if (eof())
                fail(pos_, cat("expected '\"' to close the string opened at column ",
                               open - line_start_ + 1, ", found end of input"));
            unsigned char c = peek();
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20) fail(pos_, cat("raw control character ", describe_at(pos_), " in string (must be escaped)"));
            if (c >= 0x80) {
                copy_utf8(out);
                continue;
            }
            if (c != '\\') {
                out += static_cast<char>(c);
                ++pos_;
                continue;
            }
            size_t esc = pos_;
            ++pos_;
            if (eof()) fail(pos_, "expected an escape character after '\\', found end of input");
            char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = parse_hex4();
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        fail(esc, "lone low surrogate \\u escape (expected a high surrogate first)");
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (s_.substr(pos_, 2) != "\\u")
                            fail(pos_, cat("expected \\u low surrogate after the high surrogate, found ", here()));
                        size_t low_at = pos_;
                        pos_ += 2;
                        uint32_t low = parse_hex4();
                        if (low < 0xDC00 || low > 0xDFFF)
                            fail(low_at, "expected a low surrogate (\\uDC00..\\uDFFF) after the high surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    io::append_utf8(out, cp);
                    break;
                }
                default:
                    fail(esc, cat("unknown escape \\", describe_at(esc + 1), " in string"));
            }
        }
    }

    void parse_number(Value& v) {
        size_t start = pos_;
        auto digit = [&] { return !eof() && peek() >= '0' && peek() <= '9'; };
        if (peek() == '-') ++pos_;
        if (!digit()) fail(pos_, cat("expected a digit in number, found ", here()));
        if (peek() == '0') {
            ++pos_;
            if (digit()) fail(pos_ - 1, "leading zero in number");
        } else {
            while (digit()) ++pos_;
        }
        bool integral = true;
        if (!eof() && peek() == '.') {
            integral = false;
            ++pos_;
            if (!digit()) fail(pos_, cat("expected a digit after '.', found ", here()));
            while (digit()) ++pos_;
        }
        if (!eof() && (peek() == 'e' || peek() == 'E')) {
            integral = false;
            ++pos_;
            if (!eof() && (peek() == '+' || peek() == '-')) ++pos_;
            if (!digit()) fail(pos_, cat("expected a digit in exponent, found ", here()));
            while (digit()) ++pos_;
        }
        std::string text(s_.substr(start, pos_ - start));
        v.kind = Kind::Number;
        // strtod is correctly rounded in glibc; the "C" locale is in effect (ctk never
        // calls setlocale), so '.' is the decimal point.
        v.number = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(v.number)) fail(start, cat("number ", text, " is out of range for a double"));
        if (integral) {
            int64_t i = 0;
            auto r = std::from_chars(text.data(), text.data() + text.size(), i);
            if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
                v.is_integer = true;
                v.integer = i;
            }
        }
    }
};

// ----------------------------------------------------------------------------------
// Writer

void write_string(std::string& out, const std::string& s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

void write_number(std::string& out, const Value& v) {
    char buf[64];
    if (v.is_integer) {
        auto r = std::to_chars(buf, buf + sizeof buf, v.integer);
        out.append(buf, r.ptr);
        return;
    }
    CTK_CHECK(std::isfinite(v.number), "json: cannot write the number ", v.number,
              " (JSON has no NaN or Inf)");
    auto r = std::to_chars(buf, buf + sizeof buf, v.number);  // shortest round-trip form
    std::string t(buf, r.ptr);
    // Like Python's json: a float keeps a '.0' so it reads back as a float.
    if (t.find_first_of(".eE") == std::string::npos) t += ".0";
    out += t;
}

void write_value(std::string& out, const Value& v, int indent, int level) {
    auto newline = [&](int lvl) {
        if (indent < 0) return;
        out += '\n';
        out.append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
    };
    switch (v.kind) {
        case Kind::Null: out += "null"; break;
        case Kind::Bool: out += v.boolean ? "true" : "false"; break;
        case Kind::Number: write_number(out, v); break;
        case Kind::String: write_string(out, v.string); break;
        case Kind::Array:
            out += '[';
            for (size_t i = 0; i < v.array.size(); ++i) {
                if (i) out += ',';
                newline(level + 1);
                write_value(out, v.array[i], indent, level + 1);
            }
            if (!v.array.empty()) newline(level);
            out += ']';
            break;
        case Kind::Object:
            out += '{';
            for (size_t i = 0; i < v.object.size(); ++i) {
                if (i) out += ',';
                newline(level + 1);
                write_string(out, v.object[i].first);
                out += indent < 0 ? ":" : ": ";
                write_value(out, v.object[i].second, indent, level + 1);
            }
            if (!v.object.empty()) newline(level);
            out += '}';
            break;
    }
}

}  // namespace

Value parse(std::string_view text, const std::string& source, int max_depth) {
    return Parser(text, source, max_depth).parse_document();
}

std::string write(const Value& v, int indent) {
    std::string out;
    write_value(out, v, indent, 0);
    return out;
}

std::string read_text_file(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    CTK_CHECK(fp, path, ": cannot open: ", std::strerror(errno));
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) text.append(buf, n);
    const bool bad = std::ferror(fp);
    std::fclose(fp);
    CTK_CHECK(!bad, path, ": read failed");
    return text;
}

}  // namespace ctk::json
