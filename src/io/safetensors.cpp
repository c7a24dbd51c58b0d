// safetensors reading (mmap + strict validation) and writing. Format and rules: safetensors.h.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "io/json.h"

namespace fs = std::filesystem;

namespace ctk::io {

namespace {
const DType kAllDTypes[] = {DType::F32, DType::F16,  DType::BF16, DType::F8E4M3,
                            DType::I8,  DType::U8,   DType::I32,  DType::I64};
const char* kIndexName = "model.safetensors.index.json";
}  // namespace

const char* safetensors_dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::F8E4M3: return "F8_E4M3";
        case DType::I8: return "I8";
        case DType::U8: return "U8";
        case DType::I32: return "I32";
        case DType::I64: return "I64";
    }
    return "?";
}

bool safetensors_dtype_from_name(const std::string& name, DType* out) {
    for (DType t : kAllDTypes)
        if (name == safetensors_dtype_name(t)) {
            *out = t;
            return true;
        }
    return false;
}

// ----------------------------------------------------------------------------------
// Reading

// A read-only mapping of a whole file; unmapped when the last SafetensorsFile copy goes.
struct SafetensorsFile::Mapping {
    const uint8_t* data = nullptr;
    uint64_t size = 0;
    ~Mapping() {
        if (data) munmap(const_cast<uint8_t*>(data), size);
    }
};

namespace {

std::string errno_text() { return std::strerror(errno); }

uint64_t read_u64_le(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// A non-negative integer from the header, or an error naming file, tensor and field.
uint64_t header_uint(const json::Value& v, const std::string& where) {
    CTK_CHECK(v.is_number() && v.is_integer && v.integer >= 0, where,
              ": expected a non-negative integer, found ",
              v.is_number() ? json::write(v) : json::kind_name(v.kind));
    return static_cast<uint64_t>(v.integer);
}

TensorInfo parse_tensor_entry(const std::string& name, const json::Value& e, const std::string& path,
                              uint64_t data_size) {
    std::string where = cat(path, ": tensor '", name, "'");
    CTK_CHECK(e.is_object(), where, ": expected an object {dtype, shape, data_offsets}, found ",
              json::kind_name(e.kind));
    for (const auto& kv : e.object)
        CTK_CHECK(kv.first == "dtype" || kv.first == "shape" || kv.first == "data_offsets", where,
                  ": unknown field \"", kv.first, "\" (expected dtype, shape, data_offsets)");
    const json::Value* dt = e.find("dtype");
    const json::Value* sh = e.find("shape");
    const json::Value* off = e.find("data_offsets");
    CTK_CHECK(dt, where, ": missing field \"dtype\"");
    CTK_CHECK(sh, where, ": missing field \"shape\"");
    CTK_CHECK(off, where, ": missing field \"data_offsets\"");

    TensorInfo t;
    t.name = name;
    CTK_CHECK(dt->is_string(), where, ": dtype: expected a string, found ", json::kind_name(dt->kind));
    CTK_CHECK(safetensors_dtype_from_name(dt->string, &t.dtype), where, ": unsupported dtype \"",
              dt->string, "\" (ctk reads F32, F16, BF16, F8_E4M3, I8, U8, I32, I64)");

    CTK_CHECK(sh->is_array(), where, ": shape: expected an array, found ", json::kind_name(sh->kind));
    for (size_t i = 0; i < sh->array.size(); ++i) {
        uint64_t d = header_uint(sh->array[i], cat(where, ": shape[", i, "]"));
        t.shape.push_back(static_cast<int64_t>(d));
    }

    CTK_CHECK(off->is_array() && off->array.size() == 2, where,
              ": data_offsets: expected an array [begin, end], found ",
              off->is_array() ? cat(off->array.size(), " elements") : json::kind_name(off->kind));
    t.begin = header_uint(off->array[0], where + ": data_offsets[0]");
    t.end = header_uint(off->array[1], where + ": data_offsets[1]");
    CTK_CHECK(t.begin <= t.end, where, ": data_offsets [", t.begin, ", ", t.end, "]: begin is past end");
    CTK_CHECK(t.end <= data_size, where, ": data_offsets [", t.begin, ", ", t.end,
              "] run past the end of the data region (", data_size, " bytes)");

    // numel x element size, with overflow checks (a hostile shape can overflow 64 bits).
    uint64_t want = dtype_size(t.dtype);
    bool overflow = false;
    bool empty = std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end();
    if (empty) want = 0;
    else
        for (int64_t d : t.shape) overflow = overflow || __builtin_mul_overflow(want, static_cast<uint64_t>(d), &want);
    CTK_CHECK(!overflow && want == t.nbytes(), where, ": shape ", shape_str(t.shape), " x ",
              dt->string, " (", dtype_size(t.dtype), " bytes) needs ",
              overflow ? std::string("more than 2^64") : std::to_string(want),
              " bytes, but data_offsets [", t.begin, ", ", t.end, "] hold ", t.nbytes());
    return t;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    SafetensorsFile f;
    f.path_ = path;
    f.map_ = std::make_shared<Mapping>();

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    CTK_CHECK(fd >= 0, path, ": cannot open: ", errno_text());
    struct stat st;
    if (fstat(fd, &st) != 0) {
        std::string e = errno_text();
        ::close(fd);
        throw Error(cat(path, ": cannot stat: ", e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(cat(path, ": not a regular file"));
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < 8) {
        ::close(fd);
        throw Error(cat(path, ": truncated: the file has ", size,
                        " bytes; a safetensors file starts with an 8-byte header length"));
    }
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    std::string map_err = p == MAP_FAILED ? errno_text() : "";
    ::close(fd);  // the mapping stays valid after close
    CTK_CHECK(p != MAP_FAILED, path, ": cannot mmap: ", map_err);
    f.map_->data = static_cast<const uint8_t*>(p);
    f.map_->size = size;

    uint64_t n = read_u64_le(f.map_->data);
    CTK_CHECK(n <= kMaxHeaderBytes, path, ": header length ", n, " exceeds the limit of ",
              kMaxHeaderBytes, " bytes (corrupt or not a safetensors file)");
    CTK_CHECK(n <= size - 8, path, ": truncated: header length ", n, " runs past the end of the file (",
              size, " bytes, so at most ", size - 8, " header bytes)");
    f.data_start_ = 8 + n;
    uint64_t data_size = size - f.data_start_;

    std::string_view text(reinterpret_cast<const char*>(f.map_->data + 8), n);
    json::Value header = json::parse(text, path + " (header)");
    CTK_CHECK(header.is_object(), path, ": header: expected a JSON object, found ",
              json::kind_name(header.kind));

    for (const auto& kv : header.object) {
        if (kv.first == "__metadata__") {
            CTK_CHECK(kv.second.is_object(), path, ": __metadata__: expected an object of strings, found ",
                      json::kind_name(kv.second.kind));
            for (const auto& m : kv.second.object) {
                CTK_CHECK(m.second.is_string(), path, ": __metadata__.", m.first,
                          ": expected a string, found ", json::kind_name(m.second.kind));
                f.metadata_[m.first] = m.second.string;
            }
            continue;
        }
        f.tensors_.push_back(parse_tensor_entry(kv.first, kv.second, path, data_size));
    }

    // The tensors must tile the data region: sorted by offset, each starts where the
    // previous ends (an earlier start is an overlap, a later one a hole).
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : f.tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    const TensorInfo* prev = nullptr;
    for (const TensorInfo* t : by_offset) {
        CTK_CHECK(t->begin >= cursor, path, ": tensor '", t->name, "': data_offsets [", t->begin, ", ",
                  t->end, "] overlap tensor '", prev ? prev->name : "", "' [", prev ? prev->begin : 0,
                  ", ", cursor, "]");
        CTK_CHECK(t->begin == cursor, path, ": tensor '", t->name, "': data_offsets [", t->begin, ", ",
                  t->end, "] leave a hole of ", t->begin - cursor, " bytes after ",
                  prev ? cat("tensor '", prev->name, "'") : std::string("the header"));
        cursor = t->end;
        prev = t;
    }
    CTK_CHECK(cursor == data_size, path, ": ", data_size - cursor,
              " bytes after the last tensor are not covered by any tensor (the file is ", size,
              " bytes, the tensors end at ", f.data_start_ + cursor, ")");

    std::sort(f.tensors_.begin(), f.tensors_.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
    return f;
}

uint64_t SafetensorsFile::file_size() const { return map_ ? map_->size : 0; }

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                               [](const TensorInfo& t, const std::string& n) { return t.name < n; });
    return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
    const TensorInfo* t = find(name);
    CTK_CHECK(t, path_, ": no tensor '", name, "'");
    return *t;
}

Tensor SafetensorsFile::load(const std::string& name) const {
    const TensorInfo& t = info(name);
    Tensor out = Tensor::empty(t.dtype, t.shape);
    if (t.nbytes()) std::memcpy(out.raw(), map_->data + data_start_ + t.begin, t.nbytes());
    return out;
}

// ----------------------------------------------------------------------------------
// Writing

namespace {

void write_file_atomically(const std::string& path, const std::string& head, const NamedTensors& ordered) {
    std::string tmp = path + ".tmp";
    std::FILE* fp = std::fopen(tmp.c_str(), "wb");
    CTK_CHECK(fp, path, ": cannot create ", tmp, ": ", errno_text());
    bool ok = std::fwrite(head.data(), 1, head.size(), fp) == head.size();
    for (const auto& nt : ordered) {
        size_t nb = nt.second.nbytes();
        if (ok && nb) ok = std::fwrite(nt.second.raw(), 1, nb, fp) == nb;
    }
    std::string err = ok ? "" : errno_text();
    if (std::fclose(fp) != 0 && ok) {
        ok = false;
        err = errno_text();
    }
    if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
        ok = false;
        err = errno_text();
    }
    if (!ok) {
        std::remove(tmp.c_str());
        throw Error(cat(path, ": write failed: ", err));
    }
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::set<std::string> seen;
    for (const auto& nt : tensors) {
        CTK_CHECK(!nt.first.empty(), path, ": a tensor has an empty name");
        CTK_CHECK(nt.first != "__metadata__", path, ": '__metadata__' is reserved, not a tensor name");
        CTK_CHECK(seen.insert(nt.first).second, path, ": tensor '", nt.first, "' given twice");
        CTK_CHECK(nt.second.defined(), path, ": tensor '", nt.first, "' is undefined");
        CTK_CHECK(nt.second.device == Device::CPU, path, ": tensor '", nt.first,
                  "' is on the device; copy it to the host first");
    }
    NamedTensors ordered = tensors;
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
        size_t sa = dtype_size(a.second.dtype), sb = dtype_size(b.second.dtype);
        return sa != sb ? sa > sb : a.first < b.first;
    });

    json::Value header = json::Value::make_object();
    if (!metadata.empty()) {
        json::Value meta = json::Value::make_object();
        for (const auto& kv : metadata) meta.set(kv.first, json::Value::from_string(kv.second));
        header.set("__metadata__", meta);
    }
    uint64_t offset = 0;
    for (const auto& nt : ordered) {
        json::Value e = json::Value::make_object();
        e.set("dtype", json::Value::from_string(safetensors_dtype_name(nt.second.dtype)));
        json::Value shape = json::Value::make_array();
        for (int64_t d : nt.second.shape) shape.push(json::Value::from_int(d));
        e.set("shape", shape);
        json::Value off = json::Value::make_array();
        off.push(json::Value::from_int(static_cast<int64_t>(offset)));
        offset += nt.second.nbytes();
        off.push(json::Value::from_int(static_cast<int64_t>(offset)));
        e.set("data_offsets", off);
        header.set(nt.first, e);
    }
    std::string text = json::write(header);
    text.append((8 - text.size() % 8) % 8, ' ');  // data region starts 8-byte aligned
    std::string head(8, '\0');
    for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
    write_file_atomically(path, head + text, ordered);
}

void write_safetensors_sharded(const std::string& dir, const NamedTensors& tensors, uint64_t max_shard_bytes,
                               const std::map<std::string, std::string>& metadata) {
    CTK_CHECK(max_shard_bytes > 0, dir, ": max_shard_bytes must be positive");
    std::vector<NamedTensors> shards(1);
    uint64_t in_shard = 0, total = 0;
    for (const auto& nt : tensors) {
        uint64_t nb = nt.second.nbytes();
        if (!shards.back().empty() && in_shard + nb > max_shard_bytes) {
            shards.emplace_back();
            in_shard = 0;
        }
        shards.back().push_back(nt);
        in_shard += nb;
        total += nb;
    }
    json::Value weight_map = json::Value::make_object();
    for (size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        write_safetensors((fs::path(dir) / name).string(), shards[i], metadata);
        for (const auto& nt : shards[i]) weight_map.set(nt.first, json::Value::from_string(name));
    }
    json::Value index = json::Value::make_object();
    json::Value meta = json::Value::make_object();
    meta.set("total_size", json::Value::from_int(static_cast<int64_t>(total)));
    index.set("metadata", meta);
    index.set("weight_map", weight_map);
    std::string path = (fs::path(dir) / kIndexName).string();
    std::string text = json::write(index, 2) + "\n";
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    CTK_CHECK(fp, path, ": cannot create: ", errno_text());
    bool ok = std::fwrite(text.data(), 1, text.size(), fp) == text.size();
    ok = (std::fclose(fp) == 0) && ok;
    CTK_CHECK(ok, path, ": write failed: ", errno_text());
}

// ----------------------------------------------------------------------------------
// Model folders

SafetensorsDir SafetensorsDir::open(const std::string& path) {
    SafetensorsDir d;
    d.path_ = path;
    std::error_code ec;
    auto add_file = [&](const std::string& file) {
        d.files_.push_back(SafetensorsFile::open(file));
        size_t idx = d.files_.size() - 1;
        for (const auto& t : d.files_.back().tensors()) {
            auto ins = d.where_.emplace(t.name, idx);
            CTK_CHECK(ins.second, path, ": tensor '", t.name, "' is in both ",
                      d.files_[ins.first->second].path(), " and ", file);
        }
    };

    if (fs::is_regular_file(path, ec)) {
        add_file(path);
        return d;
    }
    CTK_CHECK(fs::is_directory(path, ec), path, ": no such file or folder");

    fs::path index_path = fs::path(path) / kIndexName;
    if (fs::exists(index_path, ec)) {
        std::string ipath = index_path.string();
        json::Value index = json::parse(json::read_text_file(ipath), ipath);
        CTK_CHECK(index.is_object(), ipath, ": expected a JSON object, found ", json::kind_name(index.kind));
        const json::Value* wm = index.find("weight_map");
        CTK_CHECK(wm && wm->is_object(), ipath, ": weight_map: expected an object {tensor: shard file}, found ",
                  wm ? json::kind_name(wm->kind) : "nothing");
        std::map<std::string, std::string> listed;  // tensor -> shard file name
        std::vector<std::string> shard_order;
        for (const auto& kv : wm->object) {
            CTK_CHECK(kv.second.is_string(), ipath, ": weight_map.", kv.first,
                      ": expected a shard file name, found ", json::kind_name(kv.second.kind));
            const std::string& shard = kv.second.string;
            CTK_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
                      ipath, ": weight_map.", kv.first, ": \"", shard,
                      "\" is not a plain file name in the model folder");
            listed[kv.first] = shard;
            if (std::find(shard_order.begin(), shard_order.end(), shard) == shard_order.end())
                shard_order.push_back(shard);
        }
        // An empty map would give a model of no tensors while its shards sit unread beside
        // the index (vLLM, too, loads only the files the index lists).
        CTK_CHECK(!listed.empty(), ipath, ": weight_map is empty (an index lists every tensor of the model with ",
                  "its shard file)");
        for (const auto& shard : shard_order) add_file((fs::path(path) / shard).string());
        for (const auto& kv : listed) {
            auto it = d.where_.find(kv.first);
            std::string shard_path = (fs::path(path) / kv.second).string();
            CTK_CHECK(it != d.where_.end(), ipath, ": tensor '", kv.first, "' is mapped to ", kv.second,
                      ", which has no such tensor");
            CTK_CHECK(d.files_[it->second].path() == shard_path, ipath, ": tensor '", kv.first,
                      "' is mapped to ", kv.second, " but is in ", d.files_[it->second].path());
        }
        for (const auto& kv : d.where_)
            CTK_CHECK(listed.count(kv.first), d.files_[kv.second].path(), ": tensor '", kv.first,
                      "' is not listed in ", ipath);
        return d;
    }

    fs::path single = fs::path(path) / "model.safetensors";
    if (fs::exists(single, ec)) {
        add_file(single.string());
        return d;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.path().extension() == ".safetensors") found.push_back(entry.path().string());
    CTK_CHECK(!found.empty(), path, ": no model.safetensors, ", kIndexName, " or *.safetensors file");
    CTK_CHECK(found.size() == 1, path, ": ", found.size(), " .safetensors files but no ", kIndexName,
              " saying which tensors they hold");
    add_file(found[0]);
    return d;
}

std::vector<std::string> SafetensorsDir::names() const {
    std::vector<std::string> out;
    for (const auto& kv : where_) out.push_back(kv.first);
    return out;
}

const SafetensorsFile& SafetensorsDir::file_of(const std::string& name) const {
    auto it = where_.find(name);
    CTK_CHECK(it != where_.end(), path_, ": no tensor '", name, "'");
    return files_[it->second];
}

const TensorInfo& SafetensorsDir::info(const std::string& name) const { return file_of(name).info(name); }

Tensor SafetensorsDir::load(const std::string& name) const { return file_of(name).load(name); }

}  // namespace ctk::io
