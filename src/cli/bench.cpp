#include "cli/bench.h"

#include <cstdio>

#include "core/error.h"

namespace ctk::cli {

std::string mnk(long long m, long long n, long long k) {
    return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
}

int steady_copies(long long bytes) {
    const long long want = 240LL << 20;
    const long long n = bytes > 0 ? (want + bytes - 1) / bytes : 3;
    return static_cast<int>(n < 3 ? 3 : n);
}

BenchCase overlapped_row(const BenchCase& plain, double overlapped_ms) {
    BenchCase c = plain;
    c.op += " overlapped";
    c.ms = overlapped_ms;
    c.note = cat("programmatic dependent launch; plain steady ", static_cast<int>(plain.ms * 1e4 + 0.5) / 10.0, " us");
    return c;
}

void bench_emit(const BenchCase& c) {
    double s = c.ms * 1e-3;
    std::printf("{\"op\": \"%s\", \"shape\": \"%s\", \"dtype\": \"%s\", \"ms\": %.5f, \"tflops\": %.2f, "
                "\"gbps\": %.1f, \"peer\": \"%s\", \"peer_ms\": %.5f}\n",
                c.op.c_str(), c.shape.c_str(), c.dtype.c_str(), c.ms, s > 0 ? c.flops / s * 1e-12 : 0.0,
                s > 0 ? c.bytes / s * 1e-9 : 0.0, c.peer.c_str(), c.peer_ms);
    std::fflush(stdout);
}

void bench_table(const std::string& title, const std::vector<BenchCase>& cases) {
    std::printf("\n### %s\n\n", title.c_str());
    std::printf("| op | shape | dtype | ms | TFLOP/s | GB/s | peer | peer ms | peer/ours | note |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& c : cases) {
        double s = c.ms * 1e-3;
        std::printf("| %s | %s | %s | %.4f | %.1f | %.0f | %s | %.4f | %.2fx | %s |\n", c.op.c_str(),
                    c.shape.c_str(), c.dtype.c_str(), c.ms, s > 0 ? c.flops / s * 1e-12 : 0.0,
                    s > 0 ? c.bytes / s * 1e-9 : 0.0, c.peer.empty() ? "-" : c.peer.c_str(), c.peer_ms,
                    c.ms > 0 && c.peer_ms > 0 ? c.peer_ms / c.ms : 0.0, c.note.c_str());
    }
    std::fflush(stdout);
}

}  // namespace ctk::cli
