// Inline PTX, each instruction in one small named wrapper that cites its PTX ISA
// section (PTX ISA 9.x, docs.nvidia.com/cuda/parallel-thread-execution). Kernel bodies
// call these and contain no asm. Fragment layouts of the sparse MMAs are in
// shared/reference/mma-sp-and-wgmma-sp.md 1.4-1.5 (verified on an H100).
//
// Dense fragment naming (mma.m16n8k16 and wgmma .m64nNk16 share it per warp):
// lane = 4 g + t (g = lane / 4 in 0..7, t = lane % 4 in 0..3).
//   A 16x16 (row-major): a0 = (row g, cols 2t, 2t+1), a1 = (row g+8, same cols),
//                        a2 = (row g, cols 2t+8, 2t+9), a3 = (row g+8, cols 2t+8, 2t+9);
//                        the lower column in the low 16 bits of each register.
//   B 16x8 (col-major):  b0 = (rows k = 2t, 2t+1, col g), b1 = (rows 2t+8, 2t+9, col g).
//   C/D 16x8 fp32:       c0, c1 = (row g, cols 2t, 2t+1), c2, c3 = (row g+8, cols 2t, 2t+1).
#pragma once
#include <cstdint>

#include "ptx_sm90.cuh"  // mbarrier, TMA, wgmma (fence/commit/wait and the MMAs), bar.sync

namespace ctk::cuda::ptx {

// Shared-memory address of a generic pointer (what cp.async / ldmatrix take).
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- cp.async (9.7.9.25): 16-byte global -> shared copy, bypassing L1 (.cg). With
// src_size 0 nothing is read and the 16 bytes are zero-filled: how tiles past M / K
// are padded without a branch around the copy.
__device__ __forceinline__ void cp_async_16(uint32_t dst_smem, const void* src_gmem, bool pred) {
    int src_size = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst_smem), "l"(src_gmem), "r"(src_size));
}
// 4-byte cp.async (9.7.9.25; .ca: sizes 4, 8 and 16 are allowed, .cg only 16).
__device__ __forceinline__ void cp_async_4(uint32_t dst_smem, const void* src_gmem) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst_smem), "l"(src_gmem));
}
// cp.async.commit_group / wait_group (9.7.9.26, 9.7.9.27): at most N groups pending.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// ld.shared.u32 (ld_shared_u32): in ptx_sm90.cuh.

// ---- ldmatrix (9.7.14.5.15): four 8x8 b16 matrices; lanes 8j..8j+7 give the 8 row
// addresses (16 bytes each) of matrix j; lane (g, t) receives in r[j] the 4 bytes at
// row g, bytes 4t..4t+3 of matrix j. For 8-bit data the same bytes are 4 int8 values.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// ---- mma.sp::ordered_metadata (9.7.14.6.3): D = A_sparse * B + D, A 16 x K stored
// compressed (16 x K/2), B K x 8, D 16 x 8. `e` is the lane's metadata register (the
// kernel layout stores exactly these words), SEL the sparsity selector (an immediate).
//
// f16/bf16 m16n8k32, fp32 accumulate. a: 16x16 compressed tile (reg r: row g + 8(r&1),
// compressed cols 2t + 8(r>>1), +1); b: reg r holds k = 2t + 8r, +1 of column g;
// d: d0,d1 = row g, cols 2t,2t+1; d2,d3 = row g+8. SEL 0 reads e of lanes t = 0,1;
// SEL 1 of lanes t = 2,3.
template <int SEL>
__device__ __forceinline__ void mma_sp_m16n8k32_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                                     uint32_t e) {
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, %13;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e),
          "n"(SEL));
}
template <int SEL>
__device__ __forceinline__ void mma_sp_m16n8k32_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                                      uint32_t e) {
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, %13;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e),
          "n"(SEL));
}

// s8 m16n8k64, int32 accumulate (exact; no .satfinite: K * 127 * 128 fits int32 for
// any K below 2^17). a: 16x32-byte compressed tile (reg r: row g + 8(r&1), bytes
// 4t + 16(r>>1) .. +3); b: reg r holds k = 4t + 16r .. +3 of column g; selector 0,
// all four lanes of a quad give metadata.
__device__ __forceinline__ void mma_sp_m16n8k64_s8(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                                   uint32_t e) {
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, 0x0;\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

// e4m3 m16n8k64, fp32 accumulate, fragments as s8. On sm_90 ptxas EMULATES this
// (F2FP unpack + two HMMA.SP per instruction, ~70 TFLOP/s): correct, not fast.
// fp8 operands need sm_89 (PTX 8.4); an sm_80 build traps here, and the launcher refuses
// fp8 on devices below sm_89 before it launches (sparse24_gemm: "needs sm_89").
__device__ __forceinline__ void mma_sp_m16n8k64_e4m3(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                                     uint32_t e) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 890
    (void)d, (void)a, (void)b, (void)e;
    __trap();
#else
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.f32.e4m3.e4m3.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, 0x0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
#endif
}

// ==== dense MMA, wgmma and helpers used by the MXFP4 kernels ====

// ---- mma.sync m16n8k16 (9.7.14.5.8, fragments 9.7.14.5.8.1): D = A * B + C with
// 16-bit A/B and fp32 C/D, fragments as in the header comment.
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                                                  const float (&c)[4]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                                                 const float (&c)[4]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

// ---- 16-bit pair multiply (9.7.4.3 mul for half/bf16): exact whenever the product is
// representable; subnormal operands and results are kept (no .ftz for 16-bit types).
// Used to move a bit-placed E2M1 value to its true exponent. mul.bf16x2 needs sm_90;
// on sm_80..89 fma.rn.bf16x2 with c = -0 computes the same product (x + -0 = x for every
// x, signed zeros included), so the result is bit-identical.
__device__ __forceinline__ uint32_t mul_bf16x2(uint32_t a, uint32_t b) {
    uint32_t d;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
    asm("fma.rn.bf16x2 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
#else
    asm("mul.rn.bf16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
#endif
    return d;
}
__device__ __forceinline__ uint32_t mul_f16x2(uint32_t a, uint32_t b) {
    uint32_t d;
    asm("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

// ---- async proxy fence (9.7.13.4.19 membar/fence, .proxy.async): makes this thread's
// ordinary (generic-proxy) shared-memory writes, cp.async included, visible to the
// async proxy that wgmma reads shared memory through. Each writer runs it before the
// barrier that precedes the wgmma.
__device__ __forceinline__ void fence_proxy_async_shared() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// ---- wgmma (9.7.15): fence / commit_group / wait_group, bar.sync and the dense wgmma
// wrappers live in ptx_sm90.cuh (included above), shared with the Hopper kernels.

// An empty asm that claims to read and rewrite a register (it emits no instruction).
// Volatile asm statements keep their order, so placed on the accumulators just before
// wgmma_fence and just after wgmma_wait it keeps the compiler from moving other work on
// them into the window where the tensor cores own them (CUTLASS's
// warpgroup_fence_operand).
__device__ __forceinline__ void pin_register(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// Shared-memory matrix descriptor (9.7.15.5.1.2.2) for a K-major operand tile stored as
// rows of 64 16-bit elements (128 bytes) with the 128-byte swizzle (16-byte chunk j of
// row r lives at chunk j ^ (r % 8)); 8-row groups are 1024 bytes apart (stride byte
// offset), the tile starts 1024-byte aligned. Bits: [0,14) address >> 4, [16,30)
// leading byte offset >> 4 (unused for swizzled K-major; 1 by convention),
// [32,46) stride byte offset >> 4, [62,64) swizzle mode (1 = 128B).
__device__ __forceinline__ uint64_t wgmma_desc_k_major_sw128(uint32_t smem_byte_addr) {
    uint64_t desc = 0;
    desc |= static_cast<uint64_t>((smem_byte_addr & 0x3FFFF) >> 4);
    desc |= static_cast<uint64_t>(16 >> 4) << 16;
    desc |= static_cast<uint64_t>(1024 >> 4) << 32;
    desc |= 1ull << 62;
    return desc;
}

// ---- stmatrix (9.7.14.5.16, sm_90): the inverse of ldmatrix_x4. Lane (g, t) gives in
// r[j] the 4 bytes at row g, bytes 4t..4t+3 of 8x8 b16 matrix j; lanes 8j..8j+7 give
// the shared addresses of the 8 rows (16 bytes each) of matrix j. So an mma/wgmma
// A fragment (a0..a3 = rows 0-7 / 8-15 x cols 0-7 / 8-15) is stored as a 16x16 tile.
__device__ __forceinline__ void stmatrix_x4(uint32_t addr, const uint32_t (&r)[4]) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(r[0]),
                 "r"(r[1]), "r"(r[2]), "r"(r[3])
                 : "memory");
}

}  // namespace ctk::cuda::ptx
