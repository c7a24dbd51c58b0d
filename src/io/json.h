// A small strict JSON parser and writer (RFC 8259), for config.json and the
// safetensors header. No dependency; everything the files need and nothing more.
//
// Strict means: the whole input is one JSON value (surrounded by optional space, tab,
// CR, LF); the input is valid UTF-8; strings have no raw control characters and only
// the escapes \" \\ \/ \b \f \n \r \t \uXXXX, with \u surrogates in proper pairs;
// numbers follow the JSON grammar exactly (no leading '+', no leading zeros, no '.5',
// no NaN/Infinity) and must be finite as a double; an object may not repeat a key;
// nesting deeper than max_depth is refused. Every error is a ctk::Error that reads
//   "<source>:<line>:<column>: <what was expected>, found <what was there>"
// (line and column 1-based; the column counts bytes).
//
// Objects keep their members in document order, so writing a parsed value back gives
// the same member order.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ctk::json {

enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };
const char* kind_name(Kind k);  // "null", "bool", "number", "string", "array", "object"

// Default nesting limit: config files need fewer than 10 levels; the limit keeps the
// recursive parser's stack use bounded on hostile input.
constexpr int kDefaultMaxDepth = 64;

struct Value {
    Kind kind = Kind::Null;
    bool boolean = false;
    double number = 0.0;      // every number, as the nearest double
    bool is_integer = false;  // the text was an integer (no '.', no exponent) that fits int64
    int64_t integer = 0;      // exact value when is_integer
    std::string string;
    std::vector<Value> array;
    std::vector<std::pair<std::string, Value>> object;  // document order, unique keys
    int line = 0, column = 0;  // where the value starts in its source; 0 when built in code

    Value() = default;
    static Value null() { return Value(); }
    static Value from_bool(bool b);
    static Value from_int(int64_t i);
    static Value from_double(double d);  // throws for NaN / Inf (JSON cannot hold them)
    static Value from_string(std::string s);
    static Value make_array();
    static Value make_object();

    bool is_null() const { return kind == Kind::Null; }
    bool is_bool() const { return kind == Kind::Bool; }
    bool is_number() const { return kind == Kind::Number; }
    bool is_string() const { return kind == Kind::String; }
    bool is_array() const { return kind == Kind::Array; }
    bool is_object() const { return kind == Kind::Object; }

    // Object member by key, or nullptr (also for non-objects).
    const Value* find(const std::string& key) const;
    // Object: replaces the member `key` or appends it (keeps order). Array: appends.
    Value& set(const std::string& key, Value v);
    Value& push(Value v);
};

// Parses `text` as one JSON value. `source` names the input in error messages
// (a file path, "config.json", ...).
Value parse(std::string_view text, const std::string& source = "<json>",
            int max_depth = kDefaultMaxDepth);

// The whole content of a text file (config.json, model.safetensors.index.json); throws
// naming the path when it cannot be opened or read.
std::string read_text_file(const std::string& path);

// Writes `v` as JSON text. indent < 0: compact, one line, no spaces (the safetensors
// header style); indent >= 0: one member per line indented by `indent` spaces per level
// (the config.json style). Integers are written exactly; other numbers with the
// shortest text that reads back to the same double. Non-ASCII text is written as UTF-8,
// control characters as \u00XX (or \n, \t, ...).
std::string write(const Value& v, int indent = -1);

// "line 3, column 7" for a parsed value, "" for one built in code.
std::string position(const Value& v);

}  // namespace ctk::json
