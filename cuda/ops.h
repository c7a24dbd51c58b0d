// cuda/ops.h: the only header src/ includes from cuda/. Plain host functions; no
// CUDA types leak out, so src/ compiles with g++ alone. Every op has a CPU twin
// in src/ref/ with the same name minus the namespace (ref::quant_fp8_dynamic_per_token
// vs cuda::quant_fp8_dynamic_per_token) and is tested against it.
//
// Device tensors are ordinary ctk::Tensor values with device == Device::CUDA; their
// storage frees itself with cudaFree. Launchers check shapes and dtypes and throw
// ctk::Error naming the argument; CUDA failures throw ctk::Error with file:line.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ctk::cuda {

// ---- device and memory (cuda/device.cu) ----------------------------------------
int device_count();                   // 0 when there is no device or no driver
std::string device_description();     // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)"
int device_capability();              // 90 for sm_90; 0 without a device
int device_sm_count();
Tensor device_empty(DType t, const Shape& s);        // uninitialised device tensor
Tensor device_zeros(DType t, const Shape& s);
Tensor to_device(const Tensor& host);                // copy host -> device
Tensor to_host(const Tensor& dev);                   // copy device -> host
void fill_bytes(Tensor& dev, uint8_t byte);          // memset (tests poison outputs with it)
void synchronize();                                  // cudaDeviceSynchronize + error check
// fp32 device tensor -> bf16 or f16 with the conversions the kernel epilogues use
// (convert16.cuh: act_from_float, or act_from_float_hw when hardware_only), so tests can
// check them bit for bit against formats/fp16.h.
Tensor convert_f32_to_16(const Tensor& dev_f32, DType out, bool hardware_only = false);

// ---- overlapped launches (cuda/launch.cuh explains) --------------------------------
// When on, the decode kernels (MXFP4 v5, 2:4 v3) are launched so that each may start
// while the kernel ahead of it on the stream drains, streaming its weight before it waits
// for that kernel's results. Only for callers that can promise that no kernel still in
// flight on the stream writes the weight of the call: true in a decode loop after loading,
// since the library's weight producers (mxfp4_repack; sparse24_compress and
// sparse24_from_bitmask with their default check) synchronize before they return. Off by
// default; process-wide. On the H100: 1.4-2 us (MXFP4 v5) and 2.6-3.5 us (2:4 v3) less per
// decode call back to back (docs/sparse24_v3.md 4f).
void set_overlapped_launch(bool on);
bool overlapped_launch();
// The switch set for one scope, its previous value restored on every exit.
class OverlappedLaunchScope {
public:
    explicit OverlappedLaunchScope(bool on) : previous_(overlapped_launch()) { set_overlapped_launch(on); }
    ~OverlappedLaunchScope() { set_overlapped_launch(previous_); }
    OverlappedLaunchScope(const OverlappedLaunchScope&) = delete;
    OverlappedLaunchScope& operator=(const OverlappedLaunchScope&) = delete;

private:
    bool previous_;
};

// ---- timing (cuda/device.cu), for benchmarks only -------------------------------
// Median time of fn() in ms over `iters` runs after `warmup` runs, each run between
// its own pair of CUDA events. flush_l2: read a 256 MiB buffer (larger than any L2)
// before each run, outside the events, so weights come from HBM as in a real decode step
// and no dirty lines are left for the timed call to write back.
struct TimingOptions {
    int warmup = 5;
    int iters = 30;
    bool flush_l2 = true;
};
double time_median_ms(const std::function<void()>& fn, const TimingOptions& opt = {});
// Steady-state time of one call, as a model's decode step runs its layers: calls[i] for
// i = 0, 1, ... cycling through the list, `calls_per_trial` of them back to back between
// one pair of CUDA events, no flush (each call should touch its own copy of the weights,
// all copies together several times the L2, so every call still reads from DRAM).
// Returns the median over `trials` of (trial time / calls_per_trial), after one warm-up
// trial. The launch and ramp-down that time_median_ms charges to every call overlap the
// previous call here: the difference between the two is the harness's fixed cost.
double time_steady_ms(const std::vector<std::function<void()>>& calls, int calls_per_trial, int trials = 7);
// The same with overlapped launches on (set_overlapped_launch) for the timed calls only:
// synchronizes first (whatever wrote the calls' weights has finished), turns the switch
// on, and restores its previous value on every exit, exceptions included.
double time_steady_overlapped_ms(const std::vector<std::function<void()>>& calls, int calls_per_trial,
                                 int trials = 7);
// Reads every byte of a device tensor once (the L2 flush's kernel, nbytes % 16 == 0):
// timed like a kernel, it is the floor for streaming that many bytes in this harness.
// `loads_in_flight` 1: the flush kernel itself (one 16-byte load per thread at a time);
// 4: each thread issues four independent loads before using any (more bytes in flight,
// for a lower floor if the simple one is latency-bound). Anything else is an error.
void read_all(const Tensor& dev, int loads_in_flight = 1);

}  // namespace ctk::cuda

// Kernel families add their launchers in these headers (one per family).
#include "ops_quant.h"
#include "ops_sparse24.h"
#include "ops_mxfp4.h"
