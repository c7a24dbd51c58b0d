// doctest main: runs every test; without a CUDA device the "gpu" suite is excluded
// and the number of skipped gpu tests is printed, so it is never passed silently.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#if CTK_HAVE_CUDA
#include "ops.h"
#endif

static int count_gpu_tests() {
    int n = 0;
    for (const auto& tc : doctest::detail::getRegisteredTests())
        if (std::string(tc.m_test_suite) == "gpu") ++n;
    return n;
}

int main(int argc, char** argv) {
    doctest::Context ctx;
    int devices = 0;
#if CTK_HAVE_CUDA
    devices = ctk::cuda::device_count();
#endif
    if (devices == 0) {
        int skipped = count_gpu_tests();
#if CTK_HAVE_CUDA
        std::printf("no CUDA device: %d gpu tests skipped\n", skipped);
#else
        std::printf("built without CUDA (no nvcc): %d gpu tests skipped\n", skipped);
#endif
        ctx.addFilter("test-suite-exclude", "gpu");
    } else {
#if CTK_HAVE_CUDA
        std::printf("CUDA device: %s\n", ctk::cuda::device_description().c_str());
#endif
    }
    ctx.applyCommandLine(argc, argv);
    return ctx.run();
}
