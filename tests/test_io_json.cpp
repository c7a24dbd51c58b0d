// Strict JSON parser and writer: every value kind, escapes, numbers, the error
// position of each kind of bad input, the depth limit, and write -> parse round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "io/json.h"

using ctk::json::Kind;
using ctk::json::Value;

namespace {

// Structural equality (positions ignored).
bool same(const Value& a, const Value& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Kind::Null: return true;
        case Kind::Bool: return a.boolean == b.boolean;
        case Kind::Number:
            return a.is_integer == b.is_integer && (a.is_integer ? a.integer == b.integer
                                                                 : a.number == b.number);
        case Kind::String: return a.string == b.string;
        case Kind::Array:
            if (a.array.size() != b.array.size()) return false;
            for (size_t i = 0; i < a.array.size(); ++i)
                if (!same(a.array[i], b.array[i])) return false;
            return true;
        case Kind::Object:
            if (a.object.size() != b.object.size()) return false;
            for (size_t i = 0; i < a.object.size(); ++i)
                if (a.object[i].first != b.object[i].first || !same(a.object[i].second, b.object[i].second))
                    return false;
            return true;
    }
    return false;
}

// The message of the ctk::Error thrown by parsing `text` ("" if none).
std::string parse_error(const std::string& text, int max_depth = ctk::json::kDefaultMaxDepth) {
    try {
        ctk::json::parse(text, "t.json", max_depth);
    } catch (const ctk::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("json: parses every kind of value, keeps member order and positions") {
    Value v = ctk::json::parse(
        "{\"z\": null, \"a\": [true, false, 1, -2.5, \"s\"],\n \"m\": {\"k\": {}}, \"e\": []}", "t.json");
    REQUIRE(v.is_object());
    REQUIRE(v.object.size() == 4);
    CHECK(v.object[0].first == "z");
    CHECK(v.object[1].first == "a");  // document order, not sorted
    CHECK(v.object[2].first == "m");
    CHECK(v.find("z")->is_null());
    const Value& a = *v.find("a");
    REQUIRE(a.array.size() == 5);
    CHECK((a.array[0].is_bool() && a.array[0].boolean));
    CHECK((a.array[1].is_bool() && !a.array[1].boolean));
    CHECK((a.array[2].is_integer && a.array[2].integer == 1));
    CHECK((!a.array[3].is_integer && a.array[3].number == -2.5));
    CHECK(a.array[4].string == "s");
    CHECK(v.find("m")->find("k")->is_object());
    CHECK(v.find("e")->array.empty());
    CHECK(v.find("missing") == nullptr);
    // "m" value starts on line 2, column 7 (`{` after ` "m": `).
    CHECK(v.find("m")->line == 2);
    CHECK(v.find("m")->column == 7);
    CHECK(ctk::json::position(*v.find("m")) == "line 2, column 7");
}

TEST_CASE("json: top-level scalars and surrounding whitespace") {
    CHECK(ctk::json::parse(" \t\r\n 42 \n").integer == 42);
    CHECK(ctk::json::parse("\"x\"").string == "x");
    CHECK(ctk::json::parse("null").is_null());
}

TEST_CASE("json: string escapes, \\u escapes and surrogate pairs") {
    Value v = ctk::json::parse(R"(["\"\\\/\b\f\n\r\t", "\u0041\u00e9\u20ac", "\ud83d\ude00", "\u0000x"])");
    CHECK(v.array[0].string == "\"\\/\b\f\n\r\t");
    CHECK(v.array[1].string == "A\xC3\xA9\xE2\x82\xAC");  // A, e-acute (2 bytes), euro (3 bytes)
    CHECK(v.array[2].string == "\xF0\x9F\x98\x80");      // U+1F600 (4 bytes)
    CHECK(v.array[3].string == std::string("\0x", 2));
    // Raw UTF-8 passes through unchanged.
    CHECK(ctk::json::parse("\"\xC3\xA9\xF0\x9F\x98\x80\"").string == "\xC3\xA9\xF0\x9F\x98\x80");
}

TEST_CASE("json: numbers: exact int64, doubles, and the integer flag") {
    Value v = ctk::json::parse(
        "[0, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1.5e3, 0.1, 1E-2, 2e0]");
    CHECK((v.array[0].is_integer && v.array[0].integer == 0));
    CHECK((v.array[1].is_integer && v.array[1].integer == 0 && std::signbit(v.array[1].number)));
    CHECK(v.array[2].integer == INT64_MAX);
    CHECK(v.array[3].integer == INT64_MIN);
    CHECK(!v.array[4].is_integer);  // one past int64: a number, but not an exact integer
    CHECK(v.array[4].number == 9223372036854775808.0);
    CHECK((!v.array[5].is_integer && v.array[5].number == 1500.0));
    CHECK(v.array[6].number == 0.1);
    CHECK(v.array[7].number == 0.01);
    CHECK((!v.array[8].is_integer && v.array[8].number == 2.0));  // exponent: not an integer text
    // Underflow is not an error (the nearest double is 0).
    CHECK(ctk::json::parse("1e-400").number == 0.0);
}

TEST_CASE("json: every bad input names line and column") {
    struct Case {
        const char* text;
        const char* want;  // substring of the message
    };
    const Case cases[] = {
        {"", "t.json:1:1: expected a JSON value, found end of input"},
        {"   ", "t.json:1:4: expected a JSON value, found end of input"},
        {"{\n  \"a\": tru\n}", "t.json:2:8: expected a JSON value (true, false or null?)"},
        {"{\"a\" 1}", "t.json:1:6: expected ':' after key \"a\", found '1'"},
        {"{\"a\": 1,}", "t.json:1:9: expected a string key, found '}'"},
        {"{a: 1}", "t.json:1:2: expected a string key, found 'a'"},
        {"{\"a\": 1 \"b\": 2}", "t.json:1:9: expected ',' or '}' in object, found '\"'"},
        {"{\"a\": 1", "t.json:1:8: expected ',' or '}' in object, found end of input"},
        {"[1, 2,]", "t.json:1:7: expected a JSON value, found ']'"},
        {"[1 2]", "t.json:1:4: expected ',' or ']' in array, found '2'"},
        {"[1,\n\n 2", "t.json:3:3: expected ',' or ']' in array, found end of input"},
        {"{\"a\": 1, \"a\": 2}", "t.json:1:10: duplicate key \"a\" in object"},
        {"1 2", "t.json:1:3: expected end of input after the JSON value, found '2'"},
        {"01", "t.json:1:1: leading zero in number"},
        {"-", "t.json:1:2: expected a digit in number, found end of input"},
        {"+1", "t.json:1:1: expected a JSON value, found '+'"},
        {".5", "t.json:1:1: expected a JSON value, found '.'"},
        {"1.", "t.json:1:3: expected a digit after '.', found end of input"},
        {"1e+", "t.json:1:4: expected a digit in exponent, found end of input"},
        {"1e999", "t.json:1:1: number 1e999 is out of range for a double"},
        {"NaN", "t.json:1:1: expected a JSON value, found 'N'"},
        {"\"abc", "t.json:1:5: expected '\"' to close the string opened at column 1, found end of input"},
        {"\"a\tb\"", "t.json:1:3: raw control character byte 0x09 in string"},
        {"\"a\\x\"", "t.json:1:3: unknown escape \\'x' in string"},
        {"\"\\u12g4\"", "t.json:1:6: expected 4 hex digits after \\u, found 'g'"},
        {"\"\\ud83d\"", "t.json:1:8: expected \\u low surrogate after the high surrogate, found '\"'"},
        {"\"\\ud83d\\u0041\"", "t.json:1:8: expected a low surrogate"},
        {"\"\\ude00\"", "t.json:1:2: lone low surrogate"},
        {"\"\xC0\x80\"", "t.json:1:2: invalid UTF-8 in string: byte 0xc0"},          // overlong NUL
        {"\"\xED\xA0\x80\"", "t.json:1:3: invalid UTF-8 in string: bad continuation"},  // encoded surrogate
        {"\"\xF5\x80\x80\x80\"", "t.json:1:2: invalid UTF-8 in string: byte 0xf5"},   // past U+10FFFF
        {"\"\xE2\x82\"", "t.json:1:4: invalid UTF-8 in string: bad continuation '\"'"},  // truncated
        {"\xEF\xBB\xBF{}", "t.json:1:1: expected a JSON value, found a UTF-8 byte order mark"},
        {"\x01", "t.json:1:1: expected a JSON value, found byte 0x01"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        std::string msg = parse_error(c.text);
        CAPTURE(msg);
        CHECK(msg.find(c.want) != std::string::npos);
    }
}

TEST_CASE("json: nesting limit") {
    auto nested = [](int n) { return std::string(static_cast<size_t>(n), '[') + std::string(static_cast<size_t>(n), ']'); };
    CHECK(parse_error(nested(ctk::json::kDefaultMaxDepth)).empty());
    std::string msg = parse_error(nested(ctk::json::kDefaultMaxDepth + 1));
    CHECK(msg.find("t.json:1:65: nesting deeper than 64 levels") != std::string::npos);
    CHECK(parse_error("{\"a\": {\"b\": 1}}", 2).empty());
    CHECK(parse_error("{\"a\": {\"b\": []}}", 2).find("t.json:1:13: nesting deeper than 2 levels") !=
          std::string::npos);
    // Deep input far past the limit fails cleanly (no stack overflow).
    CHECK(!parse_error(std::string(100000, '[')).empty());
}

TEST_CASE("json: writer output, compact and indented") {
    Value v = Value::make_object();
    v.set("b", Value::from_int(-3));
    Value arr = Value::make_array();
    arr.push(Value::from_double(0.1));
    arr.push(Value::from_double(2.0));
    arr.push(Value::from_double(1e300));
    arr.push(Value::from_bool(true));
    arr.push(Value::null());
    v.set("a", arr);
    v.set("s", Value::from_string("q\"\\\n\x01\xC3\xA9"));
    v.set("e", Value::make_object());
    v.set("b", Value::from_int(INT64_MIN));  // replaces in place, keeps position
    CHECK(ctk::json::write(v) ==
          "{\"b\":-9223372036854775808,\"a\":[0.1,2.0,1e+300,true,null],"
          "\"s\":\"q\\\"\\\\\\n\\u0001\xC3\xA9\",\"e\":{}}");
    // The indented form matches Python's json.dumps(v, indent=2).
    Value small = Value::make_object();
    small.set("x", Value::make_array());
    Value list = Value::make_array();
    list.push(Value::from_int(1));
    Value inner = Value::make_object();
    inner.set("k", Value::from_string("v"));
    list.push(inner);
    small.set("y", list);
    CHECK(ctk::json::write(small, 2) ==
          "{\n  \"x\": [],\n  \"y\": [\n    1,\n    {\n      \"k\": \"v\"\n    }\n  ]\n}");
    CHECK_THROWS_AS(Value::from_double(NAN), ctk::Error);
}

TEST_CASE("json: write then parse gives the same value") {
    const char* docs[] = {
        "{\"a\":[1,2.5,-0.0,1e-7,123456789012345678],\"b\":{\"c\":null,\"d\":\"\\u0000\\u001f\\ud83d\\ude00\"}}",
        "[[],{},[[[]]],\"\",0]",
        "\"just a string\"",
    };
    for (const char* d : docs) {
        CAPTURE(d);
        Value v = ctk::json::parse(d);
        for (int indent : {-1, 0, 2, 4}) {
            CAPTURE(indent);
            CHECK(same(ctk::json::parse(ctk::json::write(v, indent)), v));
        }
    }
}
