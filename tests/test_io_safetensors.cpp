// safetensors reader/writer: byte layout of written files, round trips of every dtype,
// sharded folders, and one test per kind of bad input (each error must name the file
// and, where there is one, the tensor).
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/random.h"
#include "io/safetensors.h"
#include "temp_dir.h"

using ctk::DType;
using ctk::Tensor;
using ctk::io::SafetensorsDir;
using ctk::io::SafetensorsFile;
using ctk::test::TempDir;

namespace {

// A tensor of `dt` and `shape` filled with random bytes (every bit pattern is fine here).
Tensor random_tensor(DType dt, const ctk::Shape& shape, ctk::Rng& rng) {
    Tensor t = Tensor::empty(dt, shape);
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng.next_u32());
    return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.dtype == b.dtype && a.shape == b.shape && a.nbytes() == b.nbytes() &&
           (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

// A safetensors file built by hand: 8-byte LE length, header text, data bytes.
std::string raw_file(const std::string& header, const std::string& data, uint64_t len_override = ~0ull) {
    uint64_t n = len_override != ~0ull ? len_override : header.size();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return out + header + data;
}

std::string open_error(const std::string& path) {
    try {
        SafetensorsFile::open(path);
    } catch (const ctk::Error& e) {
        return e.what();
    }
    return "";
}

std::string dir_error(const std::string& path) {
    try {
        SafetensorsDir::open(path);
    } catch (const ctk::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("safetensors: dtype names") {
    DType t;
    for (const char* n : {"F32", "F16", "BF16", "F8_E4M3", "I8", "U8", "I32", "I64"}) {
        CAPTURE(n);
        REQUIRE(ctk::io::safetensors_dtype_from_name(n, &t));
        CHECK(std::string(ctk::io::safetensors_dtype_name(t)) == n);
    }
    CHECK(!ctk::io::safetensors_dtype_from_name("F64", &t));
    CHECK(!ctk::io::safetensors_dtype_from_name("f32", &t));  // names are case-sensitive
}

TEST_CASE("safetensors: written bytes follow the format exactly") {
    TempDir dir;
    Tensor x = Tensor::empty(DType::F32, {2});
    x.data<float>()[0] = 1.0f;   // 0x3f800000
    x.data<float>()[1] = -2.0f;  // 0xc0000000
    Tensor b = Tensor::empty(DType::U8, {1});
    b.data<uint8_t>()[0] = 0xAB;
    ctk::io::write_safetensors(dir.file("a.safetensors"), {{"b", b}, {"x", x}}, {{"format", "pt"}});
    std::string bytes = ctk::test::read_bytes(dir.file("a.safetensors"));
    // Metadata first; then by element size (F32 before U8); header padded to 8 bytes.
    std::string header =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,9]}}";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string want = raw_file(header, std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0\xab", 9));
    CHECK(bytes == want);
}

TEST_CASE("safetensors: every dtype round-trips through write and mmap read") {
    TempDir dir;
    ctk::Rng rng(7);
    ctk::io::NamedTensors ts = {
        {"f32", random_tensor(DType::F32, {3, 5}, rng)},      {"f16", random_tensor(DType::F16, {7}, rng)},
        {"bf16", random_tensor(DType::BF16, {2, 3, 4}, rng)}, {"fp8", random_tensor(DType::F8E4M3, {17}, rng)},
        {"i8", random_tensor(DType::I8, {1, 1}, rng)},        {"u8", random_tensor(DType::U8, {33}, rng)},
        {"i32", random_tensor(DType::I32, {2}, rng)},         {"i64", random_tensor(DType::I64, {2, 1}, rng)},
        {"scalar", random_tensor(DType::F32, {}, rng)},       {"empty", random_tensor(DType::BF16, {0, 3}, rng)},
    };
    ctk::io::write_safetensors(dir.file("m.safetensors"), ts, {{"format", "pt"}, {"k", "v"}});
    SafetensorsFile f = SafetensorsFile::open(dir.file("m.safetensors"));
    CHECK(f.metadata().at("format") == "pt");
    CHECK(f.metadata().at("k") == "v");
    REQUIRE(f.tensors().size() == ts.size());
    for (size_t i = 1; i < f.tensors().size(); ++i) CHECK(f.tensors()[i - 1].name < f.tensors()[i].name);
    for (const auto& nt : ts) {
        CAPTURE(nt.first);
        const ctk::io::TensorInfo& info = f.info(nt.first);
        CHECK(info.begin % ctk::dtype_size(info.dtype) == 0);  // aligned to its element size
        CHECK(same_bytes(f.load(nt.first), nt.second));
    }
    // The header length is a multiple of 8, so the data region starts aligned.
    std::string bytes = ctk::test::read_bytes(dir.file("m.safetensors"));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
    CHECK(n % 8 == 0);
}

TEST_CASE("safetensors: a hand-built file with spaces and any key order reads back") {
    TempDir dir;
    std::string header = "{ \"w\": {\"shape\": [2, 2], \"data_offsets\": [4, 12], \"dtype\": \"BF16\"},\n"
                         "  \"a\": {\"data_offsets\": [0, 4], \"dtype\": \"I32\", \"shape\": []},\n"
                         "  \"__metadata__\": {} }   ";
    std::string data = std::string("\x01\x00\x00\x00", 4) + "abcdefgh";
    ctk::test::write_bytes(dir.file("h.safetensors"), raw_file(header, data));
    SafetensorsFile f = SafetensorsFile::open(dir.file("h.safetensors"));
    CHECK(f.load("a").data<int32_t>()[0] == 1);
    Tensor w = f.load("w");
    CHECK(w.shape == ctk::Shape{2, 2});
    CHECK(std::memcmp(w.raw(), "abcdefgh", 8) == 0);
    CHECK(f.metadata().empty());
}

TEST_CASE("safetensors: every kind of bad file gives one error naming file and tensor") {
    TempDir dir;
    const std::string ok_entry = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    const std::string eight(8, 'x');
    struct Case {
        const char* what;
        std::string bytes;
        std::string want;  // substring of the message, after "<path>: "
    };
    const Case cases[] = {
        {"empty file", "", "truncated: the file has 0 bytes"},
        {"shorter than the length field", std::string("\x08\x00\x00", 3), "truncated: the file has 3 bytes"},
        {"header length past the end", raw_file("{}", "", 100), "truncated: header length 100 runs past the end"},
        {"absurd header length", raw_file("{}", "", 1ull << 40), "header length 1099511627776 exceeds the limit"},
        {"invalid JSON", raw_file("{\"x\":", ""), "(header):1:6: expected a JSON value"},
        {"header not an object", raw_file("[]", ""), "header: expected a JSON object, found array"},
        {"unknown dtype", raw_file("{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", eight),
         "tensor 'x': unsupported dtype \"F64\""},
        {"dtype not a string", raw_file("{\"x\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,8]}}", eight),
         "tensor 'x': dtype: expected a string, found number"},
        {"missing field", raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight),
         "tensor 'x': missing field \"data_offsets\""},
        {"unknown field",
         raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", eight),
         "tensor 'x': unknown field \"extra\""},
        {"entry not an object", raw_file("{\"x\":[1]}", ""), "tensor 'x': expected an object"},
        {"negative dim", raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight),
         "tensor 'x': shape[0]: expected a non-negative integer, found -2"},
        {"fractional dim", raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", eight),
         "tensor 'x': shape[0]: expected a non-negative integer, found 2.0"},
        {"three offsets", raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", eight),
         "tensor 'x': data_offsets: expected an array [begin, end], found 3 elements"},
        {"begin past end", raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", eight),
         "tensor 'x': data_offsets [8, 0]: begin is past end"},
        {"shape does not match bytes",
         raw_file("{\"x\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight),
         "tensor 'x': shape [3] x BF16 (2 bytes) needs 6 bytes, but data_offsets [0, 8] hold 8"},
        {"shape overflowing 64 bits",
         raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", eight),
         "tensor 'x': shape [4611686018427387904, 4] x F32 (4 bytes) needs more than 2^64 bytes"},
        {"offsets out of file", raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", eight),
         "tensor 'x': data_offsets [0, 16] run past the end of the data region (8 bytes)"},
        {"overlapping tensors",
         raw_file("{\"x\":" + ok_entry + ",\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight),
         "tensor 'y': data_offsets [4, 8] overlap tensor 'x' [0, 8]"},
        {"hole between tensors",
         raw_file("{\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight),
         "tensor 'y': data_offsets [4, 8] leave a hole of 4 bytes after the header"},
        {"bytes after the last tensor", raw_file("{\"x\":" + ok_entry + "}", eight + "zz"),
         "2 bytes after the last tensor are not covered"},
        {"duplicate tensor", raw_file("{\"x\":" + ok_entry + ",\"x\":" + ok_entry + "}", eight),
         "duplicate key \"x\""},
        {"metadata value not a string", raw_file("{\"__metadata__\":{\"n\":1}}", ""),
         "__metadata__.n: expected a string, found number"},
        {"truncated data (file cut short)", raw_file("{\"x\":" + ok_entry + "}", "xxxxx"),
         "tensor 'x': data_offsets [0, 8] run past the end of the data region (5 bytes)"},
    };
    int i = 0;
    for (const Case& c : cases) {
        CAPTURE(c.what);
        std::string path = dir.file("bad" + std::to_string(i++) + ".safetensors");
        ctk::test::write_bytes(path, c.bytes);
        std::string msg = open_error(path);
        CAPTURE(msg);
        CHECK(msg.rfind(path, 0) == 0);  // starts with the file name
        CHECK(msg.find(c.want) != std::string::npos);
    }
    CHECK(open_error(dir.file("missing.safetensors")).find("cannot open") != std::string::npos);
    CHECK(open_error(dir.path.string()).find("not a regular file") != std::string::npos);
}

TEST_CASE("safetensors: load of an absent tensor and bad writes") {
    TempDir dir;
    ctk::Rng rng(1);
    Tensor t = random_tensor(DType::F16, {4}, rng);
    ctk::io::write_safetensors(dir.file("a.safetensors"), {{"t", t}});
    SafetensorsFile f = SafetensorsFile::open(dir.file("a.safetensors"));
    CHECK(f.find("u") == nullptr);
    CHECK_THROWS_WITH_AS(f.load("u"), doctest::Contains("a.safetensors: no tensor 'u'"), ctk::Error);
    CHECK_THROWS_WITH_AS(ctk::io::write_safetensors(dir.file("b.safetensors"), {{"t", t}, {"t", t}}),
                         doctest::Contains("tensor 't' given twice"), ctk::Error);
    CHECK_THROWS_WITH_AS(ctk::io::write_safetensors(dir.file("b.safetensors"), {{"__metadata__", t}}),
                         doctest::Contains("reserved"), ctk::Error);
    CHECK_THROWS_WITH_AS(ctk::io::write_safetensors(dir.file("no/such/dir/b.safetensors"), {{"t", t}}),
                         doctest::Contains("cannot create"), ctk::Error);
    CHECK(!std::filesystem::exists(dir.file("b.safetensors")));
}

TEST_CASE("safetensors: sharded folders through model.safetensors.index.json") {
    TempDir dir;
    ctk::Rng rng(3);
    ctk::io::NamedTensors ts;
    for (int i = 0; i < 5; ++i)
        ts.push_back({"layer." + std::to_string(i) + ".weight", random_tensor(DType::BF16, {4, 8}, rng)});
    // 64 bytes each, at most 150 bytes per shard: shards of 2, 2 and 1 tensors.
    ctk::io::write_safetensors_sharded(dir.path.string(), ts, 150);
    CHECK(std::filesystem::exists(dir.file("model-00001-of-00003.safetensors")));
    CHECK(std::filesystem::exists(dir.file("model-00003-of-00003.safetensors")));
    SafetensorsDir d = SafetensorsDir::open(dir.path.string());
    CHECK(d.files().size() == 3);
    CHECK(d.names().size() == 5);
    for (const auto& nt : ts) {
        CAPTURE(nt.first);
        CHECK(same_bytes(d.load(nt.first), nt.second));
    }
    CHECK(d.file_of("layer.4.weight").path() == dir.file("model-00003-of-00003.safetensors"));
    CHECK_THROWS_WITH_AS(d.load("nope"), doctest::Contains("no tensor 'nope'"), ctk::Error);
    std::string index = ctk::test::read_bytes(dir.file("model.safetensors.index.json"));
    CHECK(index.find("\"total_size\": 320") != std::string::npos);
}

TEST_CASE("safetensors: bad model folders") {
    ctk::Rng rng(4);
    Tensor t = random_tensor(DType::F32, {2}, rng);
    const std::string shard = "model-00001-of-00001.safetensors";
    auto with_index = [&](const TempDir& dir, const std::string& index_json) {
        ctk::io::write_safetensors(dir.file(shard), {{"a", t}, {"b", t}});
        ctk::test::write_bytes(dir.file("model.safetensors.index.json"), index_json);
    };
    {
        TempDir dir;
        with_index(dir, "{\"weight_map\": {\"a\": \"" + shard + "\"}}");
        CHECK(dir_error(dir.path.string()).find(shard + ": tensor 'b' is not listed in") != std::string::npos);
    }
    {
        TempDir dir;
        with_index(dir, "{\"weight_map\": {\"a\": \"" + shard + "\", \"b\": \"" + shard + "\", \"c\": \"" + shard + "\"}}");
        CHECK(dir_error(dir.path.string()).find("tensor 'c' is mapped to " + shard + ", which has no such tensor") !=
              std::string::npos);
    }
    {
        TempDir dir;
        with_index(dir, "{\"weight_map\": {\"a\": \"other.safetensors\"}}");
        CHECK(dir_error(dir.path.string()).find("other.safetensors: cannot open") != std::string::npos);
    }
    {
        TempDir dir;
        with_index(dir, "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
        CHECK(dir_error(dir.path.string()).find("is not a plain file name") != std::string::npos);
    }
    {
        TempDir dir;
        with_index(dir, "{\"metadata\": {}}");
        CHECK(dir_error(dir.path.string()).find("weight_map: expected an object") != std::string::npos);
    }
    {
        TempDir dir;
        with_index(dir, "{\"weight_map\": {\"a\": \"" + shard + "\",}}");
        CHECK(dir_error(dir.path.string()).find("model.safetensors.index.json:1:") != std::string::npos);
    }
    {
        TempDir dir;
        ctk::io::write_safetensors(dir.file("one.safetensors"), {{"a", t}});
        ctk::io::write_safetensors(dir.file("two.safetensors"), {{"a", t}});
        CHECK(dir_error(dir.path.string()).find("2 .safetensors files but no model.safetensors.index.json") !=
              std::string::npos);
    }
    {
        TempDir dir;
        CHECK(dir_error(dir.path.string()).find("no model.safetensors") != std::string::npos);
        CHECK(dir_error(dir.file("absent")).find("no such file or folder") != std::string::npos);
        // A lone file under another name, and a file path, both open.
        ctk::io::write_safetensors(dir.file("weights.safetensors"), {{"a", t}});
        CHECK(SafetensorsDir::open(dir.path.string()).contains("a"));
        CHECK(SafetensorsDir::open(dir.file("weights.safetensors")).contains("a"));
    }
}

TEST_CASE("safetensors: an index with an empty weight_map is an error naming the index") {
    // The shards sit beside the index; reading none of them would give a model of no
    // tensors ("0 linear layers") instead of an error.
    ctk::Rng rng(5);
    TempDir dir;
    ctk::io::write_safetensors_sharded(dir.path.string(),
                                       {{"a.weight", random_tensor(DType::BF16, {4, 8}, rng)},
                                        {"b.weight", random_tensor(DType::BF16, {4, 8}, rng)}},
                                       64);
    REQUIRE(SafetensorsDir::open(dir.path.string()).names().size() == 2);
    for (const char* index : {"{\"weight_map\": {}}", "{\"metadata\": {\"total_size\": 128}, \"weight_map\": {}}"}) {
        CAPTURE(index);
        ctk::test::write_bytes(dir.file("model.safetensors.index.json"), index);
        CHECK(dir_error(dir.path.string()) ==
              dir.file("model.safetensors.index.json") +
                  ": weight_map is empty (an index lists every tensor of the model with its shard file)");
    }
}
