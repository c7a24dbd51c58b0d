// TempDir: a fresh folder under the system temp dir for one test, removed with
// everything in it when the test ends. Names are unique per process and per call.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <filesystem>
#include <string>

namespace ctk::test {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("ctk_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// Writes `bytes` to `path` exactly.
inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    if (!fp) throw std::runtime_error("cannot create " + path);
    std::fwrite(bytes.data(), 1, bytes.size(), fp);
    std::fclose(fp);
}

// Reads the whole file.
inline std::string read_bytes(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) throw std::runtime_error("cannot open " + path);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) s.append(buf, n);
    std::fclose(fp);
    return s;
}

}  // namespace ctk::test
