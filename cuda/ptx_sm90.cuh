// Inline PTX of the Hopper (sm_90 / sm_90a) kernels, each instruction in one small named
// wrapper that cites its PTX ISA section (PTX ISA 9.x, docs.nvidia.com/cuda/parallel-
// thread-execution). Kernel bodies call these and contain no asm.
//
//   mbarrier         9.7.13.15  (init, arrive, arrive.expect_tx, try_wait.parity)
//   bulk tensor copy 9.7.9.25   (cp.async.bulk.tensor, the TMA engine) + prefetch.tensormap,
//                               and the plain bulk copy (cp.async.bulk) of contiguous bytes
//   proxy fences     9.7.13.4   (fence.proxy.async, fence.mbarrier_init)
//   wgmma            9.7.15.5.1.2 (shared-memory matrix descriptors), 9.7.15.7 (fence,
//                    commit_group, wait_group), 9.7.15.5 / 9.7.15.6.3 (wgmma.mma_async
//                    dense / .sp: generated wrappers in ptx_sm90_wgmma_{dense,sp}.cuh)
//   setmaxnreg       9.7.19.x   (sm_90a)
//   bar.sync         9.7.13.1   (named barriers)
//   griddepcontrol   9.7.13.13  (programmatic dependent launch; sm_90, not only sm_90a)
//   ld.acquire       9.7.9.8    (the spread split-K's counter poll)
//
// Everything here needs sm_90a; a build for another architecture compiles the wrappers
// to __trap() (CTK_SM90A = 0) so the rest of the library still builds with ARCH=sm_80,
// and the launchers refuse to launch (see sparse24_gemm_sm90.cu).
#pragma once
#include <cstdint>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define CTK_SM90A 1
#else
#define CTK_SM90A 0
#endif

namespace ctk::cuda::ptx {

// Shared-memory (CTA window) address of a generic pointer, what every instruction below takes.
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarrier (9.7.13.15) ------------------------------------------------------------
// A 64-bit shared-memory barrier with an arrival count and a transaction (byte) count;
// a phase completes when both reach zero, and waiters test the parity of the phase.

// mbarrier.init: expected arrivals per phase.
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
#if CTK_SM90A
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}

// fence.mbarrier_init.release.cluster (9.7.13.4): makes the initialised barriers visible
// to the async proxy (the TMA unit that completes transactions on them).
__device__ __forceinline__ void fence_mbarrier_init() {
#if CTK_SM90A
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

// mbarrier.arrive: one arrival (release semantics at CTA scope by default).
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
#if CTK_SM90A
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}

// mbarrier.arrive.expect_tx: one arrival + announce `bytes` that async copies will
// complete on this barrier in the current phase (the producer's "stage is being filled").
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
#if CTK_SM90A
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
#endif
}

// mbarrier.try_wait.parity in a loop: returns once the phase with parity `parity` has
// completed (a freshly initialised barrier counts its "previous" phase, parity 1, as
// completed, which is how the producer's first pass over empty stages does not block).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#if CTK_SM90A
    uint32_t done;
    do {
        asm volatile(
            "{\n.reg .pred p;\n"
            "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            "selp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(bar), "r"(parity)
            : "memory");
    } while (!done);
#endif
}

// mbarrier.test_wait.parity (non-blocking): true when the phase with parity `parity` has
// completed. A thread with other work (a producer that also dequantizes) polls with it
// instead of blocking.
__device__ __forceinline__ bool mbar_test(uint32_t bar, uint32_t parity) {
    uint32_t done = 0;
#if CTK_SM90A
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.test_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
#endif
    return done != 0;
}

// ---- clusters (sm_90) ---------------------------------------------------------------------

// %cluster_ctarank (10.x "Special registers"): this CTA's rank inside its cluster.
__device__ __forceinline__ uint32_t cluster_ctarank() {
    uint32_t r = 0;
#if CTK_SM90A
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
#endif
    return r;
}

// mapa.shared::cluster (9.7.9.x "mapa"): the shared::cluster address of the same
// variable in CTA `rank` of the cluster.
__device__ __forceinline__ uint32_t map_to_cta(uint32_t smem_addr, uint32_t rank) {
    uint32_t r = 0;
#if CTK_SM90A
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(smem_addr), "r"(rank));
#endif
    return r;
}

// mbarrier.arrive on a barrier of another CTA of the cluster (address from map_to_cta):
// a consumer tells the peer's producer that a stage is free. Default (.release.cta)
// semantics, as CUTLASS's ClusterBarrier: the stage was only read, by wgmma, which
// wgmma.wait_group already completed; ".release.cluster" would add a MEMBAR.GPU per call.
__device__ __forceinline__ void mbar_arrive_cluster(uint32_t cluster_bar) {
#if CTK_SM90A
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(cluster_bar) : "memory");
#endif
}

// ld.shared::cluster.v4.u32 (9.7.9.8): 16 bytes from the shared memory of a CTA of the
// cluster (address from map_to_cta; this CTA's own shared memory works too). Used by the
// v3 GEMM's cluster split-K to read the peers' partial tiles (DSMEM) after cluster_sync.
__device__ __forceinline__ uint4 ld_shared_cluster_v4(uint32_t cluster_addr) {
    uint4 v = make_uint4(0, 0, 0, 0);
#if CTK_SM90A
    asm volatile("ld.shared::cluster.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(cluster_addr)
                 : "memory");
#endif
    return v;
}

// barrier.cluster.arrive.release + barrier.cluster.wait.acquire (9.7.13.2): every thread
// of every CTA of the cluster. Used after the barriers are initialised (before any CTA
// touches a peer's) and before exit (no CTA leaves while a peer may still signal it).
__device__ __forceinline__ void cluster_sync() {
#if CTK_SM90A
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#endif
}

// ld.acquire.gpu.global.u32 (9.7.9.8 ld; memory consistency model, section 8): a load that
// orders this thread's later memory accesses after it, at GPU scope. The spread split-K
// polls its tile counter with it, so the partials other CTAs stored before their
// arrival are visible once the count is seen.
__device__ __forceinline__ uint32_t ld_acquire_gpu(const int* p) {
    uint32_t v = 0;
#if CTK_SM90A
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
#endif
    return v;
}

// ---- bulk tensor copy, TMA (9.7.9.25) --------------------------------------------------

// cp.async.bulk.tensor.2d global -> shared, tile mode: copies the box at coordinates
// (c0 = innermost, c1) of the tensor map into dst (contiguous box, swizzled as the map
// says) and completes the box's byte count on `bar`. Elements outside the tensor are
// written as zeros and still counted. `tmap`: generic address of a __grid_constant__
// CUtensorMap kernel parameter.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1) {
#if CTK_SM90A
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(bar)
        : "memory");
#endif
}

// The same copy multicast to every CTA of the cluster in `cta_mask` (.multicast::cluster):
// the box lands at the same shared-memory offset in each of them and completes its bytes
// on the barrier at the same offset in each. Two CTAs that need the same activation tile
// fetch half of it each and share it, halving that tile's L2 -> SM traffic.
__device__ __forceinline__ void tma_load_2d_multicast(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1,
                                                      uint16_t cta_mask) {
#if CTK_SM90A
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"
        " [%0], [%1, {%2, %3}], [%4], %5;\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(bar), "h"(cta_mask)
        : "memory");
#endif
}

// cp.async.bulk global -> shared (9.7.9.25.4.1, the non-tensor bulk copy): `bytes` (a
// multiple of 16; both addresses 16-byte aligned) from global `src` to shared `dst`, done by
// the TMA unit and completed on `bar` (complete_tx). No tensor map: for contiguous runs.
__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
#if CTK_SM90A
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
                 "l"(src), "r"(bytes), "r"(bar)
                 : "memory");
#endif
}

// prefetch.tensormap (9.7.9.15): pulls the 128-byte descriptor into the cache early.
__device__ __forceinline__ void prefetch_tensormap(const void* tmap) {
#if CTK_SM90A
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)) : "memory");
#endif
}

// ---- wgmma (9.7.15) -------------------------------------------------------------------

// Shared-memory matrix descriptor (9.7.15.5.1.2, "Matrix Descriptor Format") for a
// K-major operand in a swizzled layout:
//   bits 13..0  start address >> 4
//   bits 29..16 leading-dimension byte offset >> 4 (unused for swizzled K-major: 1)
//   bits 45..32 stride-dimension byte offset >> 4 = distance between 8-row groups
//   bits 63..62 swizzle mode: 1 = 128-byte, 2 = 64-byte, 3 = 32-byte
// The tile must start on the swizzle period (8 rows x swizzle bytes); a start address
// moved by k bytes inside the row selects the K slice [k, k + instruction K) because the
// swizzle XOR is applied to the final address bits.
enum class Swizzle : uint64_t { B128 = 1, B64 = 2, B32 = 3 };
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, Swizzle sw, uint32_t stride_bytes) {
    return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) |
           (static_cast<uint64_t>(stride_bytes >> 4) << 32) | (static_cast<uint64_t>(sw) << 62);
}

// wgmma.fence (9.7.15.7.1): orders this warpgroup's register writes (zeroing, epilogue)
// before the next wgmma that reads or writes the same accumulators.
__device__ __forceinline__ void wgmma_fence() {
#if CTK_SM90A
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

// wgmma.commit_group (9.7.15.7.2): closes the group of wgmmas issued since the last commit.
__device__ __forceinline__ void wgmma_commit() {
#if CTK_SM90A
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

// wgmma.wait_group N (9.7.15.7.3): waits until at most N committed groups are pending;
// their accumulators and shared-memory operands are then safe to touch.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#if CTK_SM90A
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}

// ---- registers and barriers --------------------------------------------------------------

// ld.shared.u32 (9.7.9.8): a 32-bit load from a shared-memory address (an LDS, where a
// generic pointer would become a generic LD).
__device__ __forceinline__ uint32_t ld_shared_u32(uint32_t addr) {
    uint32_t v;
    asm volatile("ld.shared.u32 %0, [%1];\n" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

// An empty asm that "reads" two registers: keeps their values alive in the compiler's view
// up to this point, so it cannot reuse their registers for something else earlier. Used to
// hold a wgmma's register operands until wgmma.wait_group has retired it (the tensor cores
// read them while the MMA runs). It emits nothing; ptxas tracks in-flight wgmma operands
// on its own and serializes (warning C7513) where a register would be rewritten too soon.
__device__ __forceinline__ void keep_alive(uint32_t a, uint32_t b) { asm volatile("" ::"r"(a), "r"(b)); }

// setmaxnreg.{inc,dec}.sync.aligned.u32 (sm_90a): the whole warpgroup moves its per-thread
// register allocation to N, so the producer gives registers to the consumers.
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() {
#if CTK_SM90A
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() {
#if CTK_SM90A
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}

// bar.sync id, count (9.7.13.1): a named barrier among `count` threads (whole warps), so
// the consumer warpgroups can synchronise without the producer.
__device__ __forceinline__ void named_barrier_sync(uint32_t id, uint32_t count) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}

// ---- griddepcontrol (9.7.13.13, sm_90): programmatic dependent launch. A kernel launched
// with the programmatic-stream-serialization attribute (cuda/launch.cuh) may start before
// the kernel ahead of it on the stream has finished:
//   launch_dependents: this CTA lets the NEXT kernel be scheduled (once every CTA of this
//     grid has said so or exited; its CTAs then take SMs as ours retire);
//   wait: block until the kernel ahead has completed and its memory is visible.
// Everything that reads what an earlier kernel may still be writing (activations, their
// scales) or writes global memory must come after wait. Launched without the attribute,
// both are no-ops; on pre-sm_90 builds they compile to nothing.
__device__ __forceinline__ void griddep_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void griddep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

}  // namespace ctk::cuda::ptx

#include "ptx_sm90_wgmma_dense.cuh"
#include "ptx_sm90_wgmma_sp.cuh"
