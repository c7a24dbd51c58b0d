// NameRegex (io/name_regex.h): the "re:" patterns of configs and `ctk compress --ignore`.
// It answers like Python's re.match on the patterns real configs use (expected values
// from Python 3.11), runs the patterns that make backtracking matchers hang in linear
// time, and refuses syntax outside the Python / ECMAScript common subset by name.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "core/error.h"
#include "io/name_regex.h"
#include "test_util.h"

using namespace ctk;
using ctk::io::NameRegex;
using ctk::test::error_of;

TEST_CASE("name_regex: answers like Python's re.match") {
    struct Case {
        const char* pattern;
        const char* name;
        bool match;
    };
    const Case cases[] = {
        {R"(.*q_proj)", "model.layers.0.self_attn.q_proj", true},
        {R"(.*q_proj)", "model.layers.0.self_attn.k_proj", false},
        {R"(.*mlp.*)", "model.layers.3.mlp.down_proj", true},
        {R"(.*mlp.*)", "model.layers.3.self_attn.o_proj", false},
        {R"(model.layers.\d+.self_attn.(q|k|v)_proj)", "model.layers.12.self_attn.v_proj", true},
        {R"(model.layers.\d+.self_attn.(q|k|v)_proj)", "model.layers.x.self_attn.v_proj", false},
        {R"(.*self_attn.(k|q|o|v)_proj$)", "model.layers.0.self_attn.o_proj", true},
        {R"(.*self_attn.(k|q|o|v)_proj$)", "model.layers.0.self_attn.o_proj.x", false},
        {R"(lm_head)", "lm_head", true},
        {R"(lm_head)", "model.lm_head", false},
        {R"(self_attn)", "layers.0.self_attn.q_proj", false},  // anchored at the start
        {R"(model.layers.([0-9]|1[0-5]).mlp.*)", "model.layers.15.mlp.up_proj", true},
        {R"(model.layers.([0-9]|1[0-5]).mlp.*)", "model.layers.16.mlp.up_proj", false},
        {R"(^model\.layers\.\d+\.block_sparse_moe\.experts\.\d+\.w[1-3]$)",
         "model.layers.3.block_sparse_moe.experts.7.w2", true},
        {R"(^model\.layers\.\d+\.block_sparse_moe\.experts\.\d+\.w[1-3]$)",
         "model.layers.3.block_sparse_moe.experts.7.w4", false},
        {R"([^.]+\.layers)", "model.layers.0", true},
        {R"([^.]+\.layers)", ".layers.0", false},
        {R"((?:model\.)?layers\.0\b)", "layers.0.mlp", true},
        {R"((?:model\.)?layers\.0\b)", "layers.01.mlp", false},
        {R"(layers\.\d{1,2}\.)", "layers.123.mlp", false},
        {R"(layers\.\d{1,3}\.)", "layers.123.mlp", true},
        {R"(a{2,}?b)", "aaab", true},
        {R"(q_proj$)", "q_proj\n", true},  // Python's $ also matches before a final newline
        {R"()", "anything", true},
        {R"(x|)", "y", true},
        {R"(\w+\s\W)", "ab .c", true},
        {R"([\d.]+\D)", "1.2.3x", true},
        {R"(a}])", "a}]", true},
        {"\xc3\xa9.q", "\xc3\xa9!q", true},  // one code point per '.', as in Python
    };
    for (const Case& c : cases) {
        CAPTURE(c.pattern);
        CAPTURE(c.name);
        CHECK(NameRegex(c.pattern).match(c.name) == c.match);
    }
    CHECK(!NameRegex().match(""));  // a default NameRegex matches nothing
}

TEST_CASE("name_regex: patterns that make backtracking hang run in linear time") {
    const std::string name = "model.language_model.layers.10.mlp.experts.127.gate_up_proj.vision_tower.layers.31";
    auto t0 = std::chrono::steady_clock::now();
    // std::regex: minutes (nested quantifiers), 15 s (six .* in a row), a stack overflow
    // (.*X on a 100000-character name); Python's re hangs on the first ones too.
    CHECK(!NameRegex("(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*X").match(name));
    CHECK(!NameRegex(".*.*.*.*.*.*.*.*X").match(name));
    CHECK(!NameRegex("(.|.)*X").match(name));
    CHECK(!NameRegex("(?:.*){1,9}X").match(name));
    CHECK(!NameRegex("(a|a?)+$").match(std::string(5000, 'a') + "b"));
    CHECK(!NameRegex(".*X").match(std::string(100000, 'a')));
    CHECK(NameRegex("(.*)*(.*)*gate_up_proj").match(name));
    CHECK(NameRegex("(a+)+b").match(std::string(10000, 'a') + "b"));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(s < 2.0);  // microseconds each in practice
}

TEST_CASE("name_regex: syntax outside the common subset is refused, naming the construct") {
    struct Case {
        const char* pattern;
        const char* error;
    };
    const Case cases[] = {
        {"(unclosed", "at position 9: missing ')'"},
        {"a)", "at position 1: unbalanced ')'"},
        {"[a", "missing ']'"},
        {"*a", "at position 0: nothing to repeat before '*'"},
        {"a**", "at position 2: a quantifier after a quantifier"},
        {"a*+", "a quantifier after a quantifier"},
        {"^*", "an anchor (^, $, \\b, \\B) cannot be repeated"},
        {"a{", "'{' does not start a count"},
        {"a{,3}", "'{' does not start a count"},
        {"a{3,2}", "{3,2}: min is above max"},
        {"a{1001}", "a count above 1000"},
        {"a{99999999999999999999}", "a count above 1000"},
        {"(a{1000}){1000}", "more than 10000 instructions"},
        {"(?P<x>lm_head)", "at position 1: only (?:...) of the (?...) groups is supported"},
        {"(?=a)", "no lookaround"},
        {"(a)\\1", "\\1: backreferences and octal escapes are not supported"},
        {"\\A", "unknown or unsupported escape \\A"},
        {"a\\", "the pattern ends with a backslash"},
        {"[]a]", "a class starting with ']'"},
        {"[^]", "a class starting with ']'"},
        {"[[:alpha:]]", "'[' inside a class"},
        {"[z-a]", "range z-a is out of order"},
        {"[\\d-z]", "a range in a class needs a single character at each end"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.pattern);
        std::string e = error_of([&] { NameRegex r(c.pattern); });
        CAPTURE(e);
        CHECK(e.find(c.error) != std::string::npos);
    }
    CHECK(error_of([] { NameRegex r(std::string(101, '(') + std::string(101, ')')); })
              .find("groups nested more than 100 deep") != std::string::npos);
    CHECK(error_of([] { NameRegex r(std::string(1001, 'a')); }).find("a pattern of 1001 characters") !=
          std::string::npos);
}
