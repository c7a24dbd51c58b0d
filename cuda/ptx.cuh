// Inline PTX, each instruction in one small named wrapper that cites its PTX ISA
// section (PTX ISA 9.x, docs.nvidia.com/cuda/parallel-thread-execution). Kernel bodies
// call these and contain no asm. Fragment layouts of the sparse MMAs are in
// shared/reference/mma-sp-and-wgmma-sp.md 1.4-1.5 (verified on an H100).
#pragma once
#include <cstdint>

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
// cp.async.commit_group / wait_group (9.7.9.26, 9.7.9.27): at most N groups pending.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

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
__device__ __forceinline__ void mma_sp_m16n8k64_e4m3(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                                     uint32_t e) {
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.f32.e4m3.e4m3.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, {%0, %1, %2, %3}, %12, 0x0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

}  // namespace ctk::cuda::ptx
