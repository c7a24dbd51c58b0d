// libFuzzer target: the strict safetensors reader (io/safetensors.h). The input is
// written to an in-memory file and opened like a checkpoint; every accepted file must
// let every tensor load with exactly its byte count. Built and run by `make fuzz`.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fd = memfd_create("fuzz.safetensors", 0);
    if (fd < 0) std::abort();
    if (size && write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        ctk::io::SafetensorsFile f = ctk::io::SafetensorsFile::open(path);
        uint64_t total = 0;
        for (const auto& t : f.tensors()) {
            ctk::Tensor x = f.load(t.name);
            if (x.nbytes() != t.nbytes()) std::abort();
            total += t.nbytes();
        }
        if (total > size) std::abort();  // tensors never claim more bytes than the file has
    } catch (const ctk::Error&) {
    }
    close(fd);
    return 0;
}
