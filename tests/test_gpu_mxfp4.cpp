// MXFP4 W4A16 on the GPU (cuda/mxfp4_repack.cu, cuda/mxfp4_gemm*.cu) against the CPU
// reference (ref/mxfp4.h, ref/mxfp4_repack.h):
//  - the repack bit for bit, the scale-code scan and the fold plan;
//  - every rung (v1, v2, v3, v4) on vLLM's test shapes and on awkward M, bf16 and f16,
//    bias on and off, random codes with scale codes 110..129, within kSumOrderUlps (below);
//  - v4 with each x tile (64, 128, 256 rows) and with several tiles per CTA;
//  - bit-exact agreement when the arithmetic is exact (integer activations, narrow
//    scale range), for every rung;
//  - scale codes 0, 254, 255 (NaN blocks), the f16 fold limits, and every error path;
//  - a small "sanitize" case for compute-sanitizer.
// Outputs are poisoned with 0xFF bytes (NaN) before each launch: an unwritten element
// shows up as a NaN where the reference has a number.
#include <doctest/doctest.h>

#if CTK_HAVE_CUDA
#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "ops.h"
#include "ref/mxfp4.h"
#include "ref/mxfp4_repack.h"
#include "test_util.h"
#include "test_mxfp4_util.h"

using namespace ctk;
using ctk::test::random_mxfp4_weight;
using ctk::test::error_of;

namespace {

// Tolerance. Every rung multiplies the same exact products x[m,k] * w[n,k] (16-bit
// activation times an E2M1 value times a power of two: exact in fp32) and differs from
// the reference only in the order of the fp32 additions. The reference adds k in order
// with round-to-nearest: within (K-1) u S of the exact sum, u = 2^-24, S = sum_k |x w|
// (Higham). The tensor cores' internal additions may truncate instead of round (up to
// 2u each), so a kernel's sum is within 2 K u S. Both then round once to 16 bits, which
// can put them at most one 16-bit ulp apart on top of the fp32 difference. So
//   |out - ref| <= kSumOrderUlps * (K + 1) * u * S + ulp16(|ref|),   kSumOrderUlps = 3
// (the + 1 covers the bias addition). For K = 4096 this is ~7e-4 of S, far tighter than
// vLLM's check (mean |out - ref| / mean |ref| < 0.04).
constexpr double kSumOrderUlps = 3.0;

double ulp16(double v, DType dt) {
    const int mant = dt == DType::BF16 ? 7 : 10;
    const int min_exp = dt == DType::BF16 ? -133 : -24;  // exponent of the smallest subnormal
    int e;
    std::frexp(std::fabs(v), &e);  // |v| in [2^(e-1), 2^e)
    return std::ldexp(1.0, std::max(e - 1 - mant, min_exp));
}

float to_float(const Tensor& t, int64_t i) {
    return t.dtype == DType::BF16 ? bf16_to_float(t.data<bf16_t>()[i].bits) : fp16_to_float(t.data<fp16_t>()[i].bits);
}

Tensor host_16bit(const std::vector<float>& v, const Shape& s, DType dt) {
    Tensor t = Tensor::empty(dt, s);
    for (size_t i = 0; i < v.size(); ++i) {
        if (dt == DType::BF16) t.data<bf16_t>()[i].bits = bf16_from_float(v[i]);
        else t.data<fp16_t>()[i].bits = fp16_from_float(v[i]);
    }
    return t;
}

// S[m, n] = sum_k |x[m, k] * w[n, k]| in fp32 (positive terms: relative error < K u,
// covered by the 1.01 below), for the tolerance.
std::vector<double> abs_sums(const Tensor& x, const ref::Mxfp4Weight& w) {
    Tensor wf = ref::mxfp4_dequantize(w);
    const int64_t M = x.size(0), K = x.size(1), N = wf.size(0);
    std::vector<float> xa(M * K);
    for (int64_t i = 0; i < M * K; ++i) xa[i] = std::fabs(to_float(x, i));
    const float* W = wf.data<float>();
    std::vector<double> s(M * N);
    for (int64_t m = 0; m < M; ++m) {
        int64_t n = 0;
        for (; n + 8 <= N; n += 8) {
            float acc[8] = {};
            for (int64_t k = 0; k < K; ++k)
                for (int j = 0; j < 8; ++j) acc[j] += xa[m * K + k] * std::fabs(W[(n + j) * K + k]);
            for (int j = 0; j < 8; ++j) s[m * N + n + j] = acc[j] * 1.01;
        }
        for (; n < N; ++n) {
            float acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += xa[m * K + k] * std::fabs(W[n * K + k]);
            s[m * N + n] = acc * 1.01;
        }
    }
    return s;
}

struct Problem {
    int64_t M = 0, N = 0, K = 0;
    DType dt = DType::BF16;
    bool bias = false;
    uint64_t seed = 0;
    ref::Mxfp4Weight w;
    Tensor x, b;     // host
    Tensor ref_out;  // host
    std::vector<double> S;
    cuda::Mxfp4KernelWeight w_dev;
    Tensor x_dev, b_dev;
};

// Random problem: scale codes in [lo, hi]; x ~ N(0, 1), or integers in [-4, 4] (exact sums).
Problem make_problem(int64_t M, int64_t N, int64_t K, DType dt, bool bias, uint64_t seed, int lo, int hi,
                     bool integer_x = false) {
    Problem p;
    p.M = M;
    p.N = N;
    p.K = K;
    p.dt = dt;
    p.bias = bias;
    p.seed = seed;
    Rng rng(seed);
    p.w = random_mxfp4_weight(rng, N, K, lo, hi);
    std::vector<float> xv(M * K), bv(N);
    for (auto& v : xv) v = integer_x ? static_cast<float>(static_cast<int>(rng.below(9)) - 4) : rng.normal();
    for (auto& v : bv) v = integer_x ? static_cast<float>(static_cast<int>(rng.below(9)) - 4) : rng.normal();
    p.x = host_16bit(xv, {M, K}, dt);
    if (bias) p.b = host_16bit(bv, {N}, dt);
    return p;
}

void finish_problem(Problem& p, bool need_sums = true) {
    p.ref_out = ref::mxfp4_gemm(p.x, p.w, p.b);
    if (need_sums) p.S = abs_sums(p.x, p.w);
    p.w_dev = cuda::mxfp4_repack(cuda::to_device(p.w.packed), cuda::to_device(p.w.scales), p.dt);
    p.x_dev = cuda::to_device(p.x);
    if (p.bias) p.b_dev = cuda::to_device(p.b);
}

Tensor run_rung(const Problem& p, int version) {
    Tensor out = cuda::device_empty(p.dt, {p.M, p.N});
    cuda::fill_bytes(out, 0xFF);  // poison: NaN in bf16 and f16
    cuda::mxfp4_gemm_out(out, p.x_dev, p.w_dev, p.b_dev, version);
    cuda::synchronize();
    return cuda::to_host(out);
}

// The rung version 0 must pick (cuda/ops_mxfp4.h): v5 where mxfp4_v5_takes(M) and the
// layer folds, v2 for the other decode M and for every M of a layer that does not fold,
// then v6 (the test GPU is sm_90).
int expected_best(int64_t M, const cuda::Mxfp4KernelWeight& w) {
    if (cuda::mxfp4_v5_takes(M) && w.foldable) return 5;
    if (M <= cuda::kMxfp4V2MaxM || !w.foldable) return 2;
    return 6;
}

// The rungs to test: every rung of the ladder (docs/mxfp4.md 6), unless the environment
// variable CTK_TEST_MXFP4_RUNGS names some ("1,2,3"). That is for triage on a device
// session only: a new pipeline that deadlocks would otherwise stop every test that loops
// over the rungs. A restricted run says so on every use.
bool rung_enabled(int v) {
    const char* env = std::getenv("CTK_TEST_MXFP4_RUNGS");
    if (!env || !*env) return true;
    const std::string list = cat(",", env, ",");
    const bool on = list.find(cat(",", v, ",")) != std::string::npos;
    if (!on) MESSAGE("CTK_TEST_MXFP4_RUNGS=", env, ": rung v", v, " not tested in this run");
    return on;
}

std::vector<int> rungs(std::initializer_list<int> wanted) {
    std::vector<int> out;
    for (int v : wanted)
        if (rung_enabled(v)) out.push_back(v);
    return out;
}

std::vector<int> all_rungs() { return rungs({1, 2, 3, 4, 5, 6, 7}); }  // the whole ladder

std::string label(const Problem& p, int version) {
    return cat("mxfp4_gemm v", version, " ", p.M, "x", p.N, "x", p.K, " ", dtype_name(p.dt), p.bias ? " +bias" : "",
               " seed ", p.seed);
}

// exact: bit-for-bit; else within the kSumOrderUlps bound. NaN where and only where the
// reference is NaN; infinities must match.
void check_against_ref(const Problem& p, int version, bool exact) {
    Tensor got = run_rung(p, version);
    int bad = 0;
    double max_err = 0;
    const double u = std::ldexp(1.0, -24);
    for (int64_t i = 0; i < p.M * p.N; ++i) {
        const double r = to_float(p.ref_out, i), o = to_float(got, i);
        bool ok;
        if (exact) {
            const uint16_t rb = p.dt == DType::BF16 ? p.ref_out.data<bf16_t>()[i].bits : p.ref_out.data<fp16_t>()[i].bits;
            const uint16_t ob = p.dt == DType::BF16 ? got.data<bf16_t>()[i].bits : got.data<fp16_t>()[i].bits;
            ok = rb == ob;
        } else if (std::isnan(r) || std::isnan(o) || std::isinf(r) || std::isinf(o)) {
            ok = (std::isnan(r) && std::isnan(o)) || (r == o);
        } else {
            const double tol = kSumOrderUlps * (p.K + 1) * u * p.S[i] + ulp16(r, p.dt);
            const double err = std::fabs(o - r);
            max_err = std::max(max_err, err);
            ok = err <= tol;
        }
        if (!ok && ++bad <= 5)
            FAIL_CHECK(label(p, version), exact ? " (exact)" : "", ": out[", i / p.N, ", ", i % p.N, "] = ", o,
                       ", reference ", r, (exact || p.S.empty()) ? "" : cat(", tol ", kSumOrderUlps * (p.K + 1) * u * p.S[i] + ulp16(r, p.dt)));
    }
    if (bad) FAIL_CHECK(label(p, version), ": ", bad, " mismatches, max |err| ", max_err);
    CHECK(bad == 0);
}

}  // namespace

TEST_SUITE("gpu") {

TEST_CASE("mxfp4_repack: GPU layout equals the CPU reference bit for bit; scan and fold plan") {
    struct S { int64_t N, K; };
    uint64_t seed = 100;
    for (S s : {S{1, 32}, S{16, 64}, S{17, 96}, S{100, 1408}, S{832, 128}, S{64, 4096}}) {
        CAPTURE(s.N); CAPTURE(s.K);
        Rng rng(++seed);
        ref::Mxfp4Weight w = random_mxfp4_weight(rng, s.N, s.K, 0, 255);
        // No weight may overflow (code 254 with |e2m1| >= 2, 253 with >= 4): use codes <= 252.
        for (int64_t i = 0; i < w.scales.numel(); ++i)
            if (w.scales.data<uint8_t>()[i] > 252 && w.scales.data<uint8_t>()[i] != 255) w.scales.data<uint8_t>()[i] = 252;
        // Every 5th block holds only +0 / -0 codes (0x0, 0x8): repacked as padding, its code
        // left out of the scan unless it is 255 (still a NaN block). One block has a single
        // nonzero code (0x1 in its last byte) and stays an ordinary block.
        const int64_t blocks = s.K / 32;
        std::vector<bool> zero_block(w.scales.numel(), false);
        for (int64_t i = 0; i < w.scales.numel(); i += 5) {
            uint8_t* bytes = w.packed.data<uint8_t>() + (i / blocks) * (s.K / 2) + (i % blocks) * 16;
            for (int j = 0; j < 16; ++j) bytes[j] = static_cast<uint8_t>((rng.below(2) ? 0x08 : 0x00) | (rng.below(2) ? 0x80 : 0x00));
            zero_block[i] = true;
        }
        if (w.scales.numel() > 6) {
            w.packed.data<uint8_t>()[(6 / blocks) * (s.K / 2) + (6 % blocks) * 16 + 15] = 0x10;
            for (int j = 0; j < 15; ++j) w.packed.data<uint8_t>()[(6 / blocks) * (s.K / 2) + (6 % blocks) * 16 + j] = 0x88;
        }
        // Both activation dtypes: bf16 words are bit-sliced, f16 words keep the nibbles.
        cuda::Mxfp4KernelWeight got;
        for (DType dt : {DType::F16, DType::BF16}) {
            CAPTURE(dtype_name(dt));
            ref::Mxfp4Repacked want = ref::mxfp4_repack(w, dt);
            got = cuda::mxfp4_repack(cuda::to_device(w.packed), cuda::to_device(w.scales), dt);
            CHECK(got.n_tiles == want.n_tiles);
            CHECK(got.k_chunks == want.k_chunks);
            Tensor gw = cuda::to_host(got.words), gs = cuda::to_host(got.scale_words);
            REQUIRE(gw.shape == want.words.shape);
            REQUIRE(gs.shape == want.scale_words.shape);
            int bad = 0;
            for (int64_t i = 0; i < gw.numel(); ++i)
                if (gw.data<int32_t>()[i] != want.words.data<int32_t>()[i] && ++bad <= 3)
                    FAIL_CHECK("words[", i, "] = ", gw.data<int32_t>()[i], ", reference ", want.words.data<int32_t>()[i]);
            for (int64_t i = 0; i < gs.numel(); ++i)
                if (gs.data<int32_t>()[i] != want.scale_words.data<int32_t>()[i] && ++bad <= 6)
                    FAIL_CHECK("scale_words[", i, "] = ", gs.data<int32_t>()[i], ", reference ",
                               want.scale_words.data<int32_t>()[i]);
            CHECK(bad == 0);
        }
        int lo = 255, hi = -1;
        int64_t nan_blocks = 0;
        for (int64_t i = 0; i < w.scales.numel(); ++i) {
            int c = w.scales.data<uint8_t>()[i];
            if (c == 255) ++nan_blocks;
            else if (!zero_block[i]) lo = std::min(lo, c), hi = std::max(hi, c);
        }
        CHECK(got.min_code == lo);
        CHECK(got.max_code == hi);
        CHECK(got.nan_blocks == nan_blocks);
    }
}

TEST_CASE("mxfp4_fold_plan: windows e in [-23, 1] (f16) and [-100, 1] (bf16), shift closest to 0") {
    auto plan = [](int lo, int hi, DType dt) { return cuda::mxfp4_fold_plan(lo, hi, dt); };
    CHECK(plan(110, 128, DType::F16).foldable);
    CHECK(plan(110, 128, DType::F16).shift == 0);
    CHECK(plan(104, 128, DType::F16).shift == 0);   // span 24: the widest f16 layer
    CHECK(plan(100, 124, DType::F16).shift == -4);  // e = code - 127 + 4 in [-23, 1]
    CHECK(plan(130, 140, DType::F16).shift == 12);
    CHECK(!plan(104, 129, DType::F16).foldable);    // span 25
    CHECK(plan(104, 129, DType::F16).error.find("scale codes 104..129") != std::string::npos);
    CHECK(plan(0, 100, DType::BF16).shift == -27);  // e = code - 100 in [-100, 0]
    CHECK(plan(0, 254, DType::BF16).foldable == false);
    CHECK(plan(254, 254, DType::BF16).shift == 126);
    CHECK(plan(255, -1, DType::F16).foldable);      // no finite block: nothing to fold
}

TEST_CASE("mxfp4_gemm: every rung on vLLM's shapes (M 1/26/257 x N x K), bf16 and f16, bias on/off") {
    const int64_t Ns[] = {64, 256, 832, 1024, 2368, 3328, 9472};
    const int64_t Ks[] = {128, 1024, 1408, 1664};
    const int64_t Ms[] = {1, 26, 257};
    int i = 0;
    for (int64_t N : Ns) {
        for (int64_t K : Ks) {
            int64_t M = Ms[i % 3];
            if (M * N * K > 600000000) M = 26;  // keeps the CPU reference under a few seconds in all
            const DType dt = i % 2 ? DType::F16 : DType::BF16;
            Problem p = make_problem(M, N, K, dt, (i / 2) % 2 == 0, 1000 + i, 110, 129);
            finish_problem(p);
            for (int v : all_rungs()) check_against_ref(p, v, false);
            ++i;
        }
    }
}

TEST_CASE("mxfp4_gemm: every rung on M in {1, 2, 7, 16, 17, 64, 65, 257, 1024} (N 264 off the tiles, K 1056)") {
    for (int64_t M : {1, 2, 7, 16, 17, 64, 65, 257, 1024}) {
        for (DType dt : {DType::BF16, DType::F16}) {
            Problem p = make_problem(M, 256 + 8, 1024 + 32, dt, M % 2 == 1, 2000 + M, 110, 129);
            finish_problem(p);
            for (int v : all_rungs()) check_against_ref(p, v, false);
            CHECK(cuda::mxfp4_gemm_best_version(M, p.w_dev) == expected_best(M, p.w_dev));
            check_against_ref(p, 0, false);
        }
    }
}

TEST_CASE("mxfp4_gemm v5, v7: every M of a launch (1..16, 8-row halves) on awkward N and K, bf16 and f16") {
    // N off the 16-row tile and the 2-tile CTA (N = 8: one partial tile; 1000: 63 tiles,
    // the last CTA has one), K = 32 (one half chunk), K % 64 == 32 (the last chunk's
    // second block is padding and must be skipped), K = 4160 (65 chunks: uneven K split
    // over the CTA's warps; for v7 three segments, the last of one chunk). Codes 110..129,
    // bias alternating; v2 on the same problems.
    struct S { int64_t N, K; };
    uint64_t seed = 2500;
    int i = 0;
    for (S s : {S{8, 32}, S{1000, 96}, S{40, 4160}, S{264, 1056}}) {
        for (int64_t M = 1; M <= 16; ++M) {
            if (s.N * s.K > 100000 && M % 5 != 1 && M != 8 && M != 16) continue;  // CPU reference time
            const DType dt = i % 2 ? DType::F16 : DType::BF16;
            Problem p = make_problem(M, s.N, s.K, dt, (i / 2) % 2 == 0, ++seed, 110, 129);
            finish_problem(p);
            for (int v : rungs({2, 5, 7})) check_against_ref(p, v, false);
            ++i;
        }
    }
}

TEST_CASE("mxfp4_gemm v5: every work shape (tiles per CTA, chunks per batch, batches in flight, x with the weights)") {
    // Each shape changes the loop's bookkeeping: the last CTA's missing tile (N = 1000: 63
    // tiles), ring batches that run past a warp's last chunk (K = 4160: 65 chunks over the
    // warps), the padded half chunk (K % 64 == 32), one or two 8-row blocks of x (M 1, 5, 8
    // vs 9, 16), and a NaN block (the NANS kernels). v5 differs from the reference only in
    // the order of fp32 additions (check_against_ref's named bound), every shape alike.
    if (rungs({5}).empty()) return;
    struct S { int64_t N, K; };
    uint64_t seed = 2600;
    int i = 0;
    for (int shape = 0; shape < cuda::kMxfp4V5WorkShapes; ++shape) {
        cuda::mxfp4_gemm_v5_work_shape(shape);
        for (S s : {S{1000, 96}, S{40, 4160}, S{264, 1056}}) {
            for (int64_t M : {1, 5, 8, 9, 16}) {
                if (s.N * s.K > 100000 && M != 1 && M != 9) continue;  // CPU reference time
                const DType dt = i % 2 ? DType::F16 : DType::BF16;
                Problem p = make_problem(M, s.N, s.K, dt, (i / 2) % 2 == 0, ++seed, 110, 129);
                if (i % 5 == 0) p.w.scales.data<uint8_t>()[(s.N / 2) * (s.K / 32) + 1] = 255;  // a NaN block
                finish_problem(p);
                INFO("v5 work shape ", shape, ", M ", M, " N ", s.N, " K ", s.K, ", NaN blocks ", p.w_dev.nan_blocks);
                check_against_ref(p, 5, false);
                ++i;
            }
        }
    }
    cuda::mxfp4_gemm_v5_work_shape(-1);
    CHECK_THROWS_WITH_AS(cuda::mxfp4_gemm_v5_work_shape(cuda::kMxfp4V5WorkShapes),
                         doctest::Contains("expected -1 (the default) .. 10"), Error);
}

TEST_CASE("mxfp4_gemm v7: the ring wraps (several tiles per CTA, more segments than slots)") {
    // With the grid capped at 1 and 2 CTAs, whatever the SM count: N = 264 is 17 tiles and
    // K = 2080 is 33 chunks (the last one's second block padding), so 2 segments per tile
    // (32 chunks + the padded tail chunk, which lands in a refilled slot). One CTA passes
    // 34 segments through its 12 slots (every slot refilled, slots 0..9 twice: each
    // barrier's parity comes back to 0); two CTAs pass 18 and 16. M 3 and 8, bf16 and f16.
    uint64_t seed = 2700;
    for (int ctas : {1, 2}) {
        for (int64_t M : {3, 8}) {
            const DType dt = M % 2 ? DType::BF16 : DType::F16;
            Problem p = make_problem(M, 264, 2080, dt, M % 2 == 1, ++seed, 110, 129);
            finish_problem(p);
            cuda::mxfp4_gemm_v7_limit_ctas(ctas);
            for (int v : rungs({7})) check_against_ref(p, v, false);
            // A shorter ring (the tuning knob): 3 slots, so one CTA's 34 segments wrap it
            // 11 times; 1 slot: every segment waits for the previous one to be consumed.
            for (int slots : {3, 1}) {
                cuda::mxfp4_gemm_v7_ring_slots(slots);
                INFO("v7 ring slots ", slots, ", ", ctas, " CTAs");
                for (int v : rungs({7})) check_against_ref(p, v, false);
            }
            cuda::mxfp4_gemm_v7_ring_slots(0);
            cuda::mxfp4_gemm_v7_limit_ctas(0);
        }
    }
    CHECK_THROWS_WITH_AS(cuda::mxfp4_gemm_v7_ring_slots(13), doctest::Contains("expected 0 (all) .. 12"), Error);
    // On the full grid: N = 2200 is 138 tiles, so on 132 SMs CTAs 0..5 run two; K = 14528
    // is 227 chunks, 8 segments per tile (7 x 32 + 3), so those CTAs refill slots 0..3.
    for (int64_t M : {1, 5, 8, 13}) {
        const DType dt = M % 2 ? DType::BF16 : DType::F16;
        Problem p = make_problem(M, 2200, 14528, dt, M % 2 == 1, ++seed, 110, 129);
        finish_problem(p);
        for (int v : rungs({7})) check_against_ref(p, v, false);
    }
}

TEST_CASE("mxfp4_gemm: exact arithmetic gives the reference bit for bit, every rung") {
    // Integer x in [-4, 4], scale codes 122..127: every product is a multiple of 2^-6 and
    // every partial sum stays below 2^24 of those, so any summation order is exact.
    struct S { int64_t M, N, K; };
    uint64_t seed = 3000;
    for (S s : {S{1, 100, 4096}, S{17, 300, 1408}, S{64, 48, 160}, S{300, 130, 96}}) {
        for (DType dt : {DType::BF16, DType::F16}) {
            Problem p = make_problem(s.M, s.N, s.K, dt, true, ++seed, 122, 127, true);
            finish_problem(p, false);
            for (int v : all_rungs()) check_against_ref(p, v, true);
        }
    }
}

TEST_CASE("mxfp4_gemm: NaN blocks (scale 255) give NaN rows, every rung") {
    for (DType dt : {DType::BF16, DType::F16}) {
        Problem p = make_problem(33, 70, 256, dt, true, 4000, 115, 125);
        uint8_t* s = p.w.scales.data<uint8_t>();
        s[3 * 8 + 5] = 255;   // row 3, block 5
        s[69 * 8 + 0] = 255;  // row 69, block 0
        finish_problem(p);
        CHECK(p.w_dev.nan_blocks == 2);
        for (int v : all_rungs()) check_against_ref(p, v, false);
        Tensor got = run_rung(p, 2);
        CHECK(std::isnan(to_float(got, 0 * 70 + 3)));
        CHECK(std::isnan(to_float(got, 32 * 70 + 69)));
        CHECK(!std::isnan(to_float(got, 32 * 70 + 68)));
    }
}

TEST_CASE("mxfp4_gemm: padded blocks (K % 64 == 32) under fold shifts that put code 127 outside the window") {
    // The padded second block of the last chunk is multiplied by v3, v4 and v6 (v5 and v7
    // skip it): its scale code must give a finite folded factor, or 0 x Inf = NaN fills
    // the row (the padding code is the layer's smallest, ref/mxfp4_repack.h). These layers
    // fold with shift -2 (bf16 codes 25..40, f16 102..120), where code 127 would fold to
    // Inf (the positive f16 shifts that would too, e.g. 30, are checked on the CPU, in
    // test_ref_mxfp4_repack.cpp: their outputs overflow f16 here). K 96 and 1056 end on a
    // half chunk; M 40 (x tiles partial), every rung; bias on for f16 only: the bf16 layers'
    // sums are ~1e-25, and a bias of ~1 would leave only a NaN detectable.
    struct L { DType dt; int lo, hi, shift; int64_t K; };
    uint64_t seed = 5100;
    for (L l : {L{DType::BF16, 25, 40, -2, 96}, L{DType::F16, 102, 120, -2, 96}, L{DType::BF16, 25, 40, -2, 1056},
                L{DType::F16, 102, 120, -2, 1056}}) {
        Problem p = make_problem(40, 72, l.K, l.dt, l.dt == DType::F16, ++seed, l.lo, l.hi);
        uint8_t* s = p.w.scales.data<uint8_t>();
        s[0] = static_cast<uint8_t>(l.lo), s[1] = static_cast<uint8_t>(l.hi);  // the range is the layer's
        finish_problem(p);
        CHECK(p.w_dev.fold_shift == l.shift);
        for (int v : all_rungs()) check_against_ref(p, v, false);
    }
}

TEST_CASE("mxfp4_gemm: a block of zeros with scale code 0 leaves the layer foldable, every rung") {
    // Quantizers give an all-zero 32-block scale code 0. Counted in the layer's code range,
    // one such block next to codes 110..125 spans 125 binades: no fold, so version 0 would
    // run v2 for every M (v3/v5 refuse). The repack leaves it out and stores the padding
    // code for it (its products are zeros whatever the scale). Rows 3 and 40 get a zero
    // block with code 0, row 7 a zero block with code 255 (still NaN, as the reference).
    for (DType dt : {DType::BF16, DType::F16}) {
        Problem p = make_problem(40, 72, 1056, dt, true, dt == DType::BF16 ? 5200 : 5201, 110, 125);
        uint8_t* s = p.w.scales.data<uint8_t>();
        uint8_t* packed = p.w.packed.data<uint8_t>();
        const int64_t blocks = 1056 / 32;
        for (int64_t row : {3, 40, 7}) {
            const int64_t b = row % blocks;
            for (int j = 0; j < 16; ++j) packed[row * 528 + b * 16 + j] = static_cast<uint8_t>(j % 2 ? 0x80 : 0x08);
            s[row * blocks + b] = row == 7 ? 255 : 0;
        }
        s[0] = 110, s[1] = 125;
        finish_problem(p);
        CHECK(p.w_dev.min_code == 110);
        CHECK(p.w_dev.max_code == 125);
        CHECK(p.w_dev.nan_blocks == 1);
        CHECK(p.w_dev.foldable);
        CHECK(cuda::mxfp4_gemm_best_version(1, p.w_dev) == 5);
        CHECK(cuda::mxfp4_gemm_best_version(4096, p.w_dev) == expected_best(4096, p.w_dev));
        CHECK(cuda::mxfp4_gemm_best_version(4096, p.w_dev) != 2);
        for (int v : all_rungs()) check_against_ref(p, v, false);
    }
}

TEST_CASE("mxfp4_gemm: scale code 0 (2^-127) and 254 (2^127), every rung that can take them") {
    // bf16, codes 0..6 only: foldable with shift -27; outputs near 2^-120 (normal bf16).
    {
        Problem p = make_problem(65, 40, 128, DType::BF16, false, 5000, 0, 6);
        p.w.scales.data<uint8_t>()[0] = 0;
        finish_problem(p);
        CHECK(p.w_dev.fold_shift == -27);
        for (int v : all_rungs()) check_against_ref(p, v, false);
    }
    // bf16 codes 0..127 in one layer: span 127 > 101, only v2 takes it (and version 0 picks it).
    {
        Problem p = make_problem(80, 48, 256, DType::BF16, true, 5001, 0, 127);
        p.w.scales.data<uint8_t>()[0] = 0;
        p.w.scales.data<uint8_t>()[1] = 127;
        finish_problem(p);
        CHECK(!p.w_dev.foldable);
        check_against_ref(p, 2, false);
        check_against_ref(p, 0, false);
        CHECK(error_of([&] { run_rung(p, 3); }).find("scale codes 0..127") != std::string::npos);
        CHECK(error_of([&] { run_rung(p, 4); }).find("scale codes 0..127") != std::string::npos);
        CHECK(error_of([&] { run_rung(p, 1); }).find("cannot for this layer") != std::string::npos);
        CHECK(error_of([&] { run_rung(p, 5); }).find("cannot for this layer") != std::string::npos);
        CHECK(error_of([&] { run_rung(p, 6); }).find("scale codes 0..127") != std::string::npos);
        CHECK(error_of([&] { run_rung(p, 7); }).find("cannot for this layer") != std::string::npos);
        CHECK(cuda::mxfp4_gemm_best_version(1, p.w_dev) == 2);
    }
    // Code 254 with |e2m1| <= 1.5 (finite in fp32/bf16: 1.5 * 2^127) and small activations
    // (2^-20 x in bf16, 2^-12 x in f16): finite products and sums; bf16 outputs are finite,
    // f16 outputs overflow to Inf in the reference and the kernels alike.
    for (DType dt : {DType::BF16, DType::F16}) {
        Problem p = make_problem(9, 24, 64, dt, false, dt == DType::F16 ? 5003 : 5002, 254, 254);
        Tensor codes = ref::mxfp4_unpack_codes(p.w.packed);
        for (int64_t i = 0; i < codes.numel(); ++i) codes.data<uint8_t>()[i] &= 0xB;  // sign + magnitude codes 0..3
        p.w.packed = ref::mxfp4_pack_codes(codes);
        const float small = std::ldexp(1.0f, dt == DType::BF16 ? -20 : -12);
        for (int64_t i = 0; i < p.x.numel(); ++i) {
            const float v = to_float(p.x, i) * small;
            if (dt == DType::BF16) p.x.data<bf16_t>()[i].bits = bf16_from_float(v);
            else p.x.data<fp16_t>()[i].bits = fp16_from_float(v);
        }
        finish_problem(p);
        for (int v : all_rungs()) check_against_ref(p, v, false);
    }
}

TEST_CASE("mxfp4_gemm: f16 fold limits - span 24 folds exactly, span 25 falls back to v2") {
    {
        // Codes 104..128: e = -23..1 with shift 0; 0.5 * 2^-23 = 2^-24 is f16's smallest subnormal.
        Problem p = make_problem(100, 64, 512, DType::F16, true, 6000, 104, 128);
        p.w.scales.data<uint8_t>()[0] = 104;
        p.w.scales.data<uint8_t>()[1] = 128;
        finish_problem(p);
        CHECK(p.w_dev.foldable);
        CHECK(p.w_dev.fold_shift == 0);
        for (int v : all_rungs()) check_against_ref(p, v, false);
    }
    {
        Problem p = make_problem(100, 64, 512, DType::F16, true, 6001, 104, 129);
        p.w.scales.data<uint8_t>()[0] = 104;
        p.w.scales.data<uint8_t>()[1] = 129;
        finish_problem(p);
        if (p.w_dev.min_code == 104 && p.w_dev.max_code == 129) {
            CHECK(!p.w_dev.foldable);
            CHECK(cuda::mxfp4_gemm_best_version(100, p.w_dev) == 2);
            check_against_ref(p, 0, false);
            CHECK(error_of([&] { run_rung(p, 3); }).find("scale codes 104..129 span 25") != std::string::npos);
            CHECK(error_of([&] { run_rung(p, 4); }).find("scale codes 104..129 span 25") != std::string::npos);
            CHECK(error_of([&] { run_rung(p, 6); }).find("scale codes 104..129 span 25") != std::string::npos);
            CHECK(error_of([&] { run_rung(p, 7); }).find("scale codes 104..129 span 25") != std::string::npos);
            CHECK(cuda::mxfp4_gemm_best_version(1, p.w_dev) == 2);
        } else {
            FAIL_CHECK("seed 6001 did not draw both end codes");
        }
    }
    {
        // High codes (140..150) in f16: shift 22, outputs scaled back in fp32.
        Problem p = make_problem(70, 32, 256, DType::F16, false, 6002, 140, 150);
        p.w.scales.data<uint8_t>()[0] = 140;
        p.w.scales.data<uint8_t>()[1] = 150;
        for (int64_t i = 0; i < p.x.numel(); ++i)
            p.x.data<fp16_t>()[i].bits = fp16_from_float(to_float(p.x, i) * std::ldexp(1.0f, -20));
        finish_problem(p);
        CHECK(p.w_dev.fold_shift == 22);
        for (int v : all_rungs()) check_against_ref(p, v, false);
    }
}

TEST_CASE("mxfp4: errors name the parameter") {
    Rng rng(7000);
    ref::Mxfp4Weight w = random_mxfp4_weight(rng, 20, 64, 120, 127);
    Tensor pd = cuda::to_device(w.packed), sd = cuda::to_device(w.scales);
    // An element that overflows fp32 (code 254 with |e2m1| = 2) is rejected at load time.
    {
        ref::Mxfp4Weight bad = w;
        bad.scales = w.scales.clone();
        bad.packed = w.packed.clone();
        bad.scales.data<uint8_t>()[5 * 2 + 1] = 254;
        bad.packed.data<uint8_t>()[5 * 32 + 16 + 3] = 0x04;  // row 5, column 38: e2m1 code 4 = 2.0
        std::string e = error_of([&] {
            cuda::mxfp4_repack(cuda::to_device(bad.packed), cuda::to_device(bad.scales), DType::BF16);
        });
        CHECK(e.find("row 5, block 1") != std::string::npos);
        CHECK(e.find("scale code 254") != std::string::npos);
    }
    CHECK(error_of([&] { cuda::mxfp4_repack(w.packed, sd, DType::BF16); }).find("packed: expected a device tensor") !=
          std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_repack(pd, cuda::device_empty(DType::U8, {20, 3}), DType::BF16); })
              .find("scales") != std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_repack(cuda::device_empty(DType::U8, {20, 17}), sd, DType::BF16); })
              .find("not a multiple of the MXFP4 block") != std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_repack(pd, sd, DType::F32); }).find("act_dtype") != std::string::npos);
    cuda::Mxfp4KernelWeight k = cuda::mxfp4_repack(pd, sd, DType::BF16);
    Tensor x = cuda::device_zeros(DType::BF16, {3, 64});
    CHECK(error_of([&] { cuda::mxfp4_gemm(cuda::device_zeros(DType::F16, {3, 64}), k, Tensor()); })
              .find("x: expected bf16") != std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_gemm(cuda::device_zeros(DType::BF16, {3, 96}), k, Tensor()); })
              .find("x: expected shape [M, 64]") != std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_gemm(cuda::device_zeros(DType::BF16, {0, 64}), k, Tensor()); })
              .find("M >= 1") != std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_gemm(x, k, cuda::device_zeros(DType::BF16, {21})); }).find("bias") !=
          std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_gemm(x, k, Tensor(), 8); }).find("version") != std::string::npos);
    CHECK(error_of([&] { cuda::mxfp4_gemm(Tensor::zeros(DType::BF16, {3, 64}), k, Tensor()); })
              .find("x: expected a device tensor") != std::string::npos);
    // v3's grid holds at most 65535 x tiles of 128 rows: one row more is refused by name
    // before any launch (1 GB of zeros).
    {
        Tensor big = cuda::device_zeros(DType::BF16, {int64_t{65535} * 128 + 1, 64});
        CHECK(error_of([&] { cuda::mxfp4_gemm(big, k, Tensor(), 3); }).find("too large for v3") != std::string::npos);
    }
}

TEST_CASE("mxfp4_gemm v4, v6: every x tile (64, 128, 256 rows), 1 and 3 splits of K, several units per CTA") {
    // Each problem runs with the x tile forced to 64, 128 and 256 rows (partial x tiles
    // for every M below), without and with split-K (3 ranges: partial tiles added by the
    // last range to finish), once on the full persistent grid and once on 3 CTAs: then
    // every CTA runs several units back to back, so the ring's phases carry over unit
    // boundaries, the epilogue overlaps the next unit's loads, and with 3 splits on 3 CTAs
    // the splits of one tile may finish in any order. N 1000 = 7 full 128-row
    // W tiles + 104 rows; K 1088 = 17 chunks (not a multiple of any ring depth, and odd:
    // v6's two register buffers end on the first), K 64 and 32 one chunk (the second
    // padded); scale codes 110..129, and 0..6 in bf16 (fold shift -27).
    struct S { int64_t M; DType dt; bool bias; int lo, hi; int64_t K; };
    uint64_t seed = 9000;
    for (S s : {S{40, DType::BF16, true, 110, 129, 1088}, S{100, DType::F16, false, 110, 129, 1088},
                S{600, DType::BF16, false, 110, 129, 1088}, S{600, DType::F16, true, 110, 129, 1088},
                S{257, DType::BF16, true, 0, 6, 1088}, S{300, DType::BF16, true, 110, 129, 64},
                S{70, DType::F16, false, 110, 129, 32}}) {
        Problem p = make_problem(s.M, 1000, s.K, s.dt, s.bias, ++seed, s.lo, s.hi);
        finish_problem(p);
        for (int bx : {64, 128, 256}) {
            cuda::mxfp4_gemm_v4_force_tile(bx);
            for (int splits : {1, 3}) {
                // 3 splits of 17 chunks: ranges of 5, 6 and 6 chunks (1 chunk: 1 split).
                cuda::mxfp4_gemm_v4_force_splits(splits);
                for (int v : rungs({4, 6})) {
                    cuda::mxfp4_gemm_v4_limit_ctas(3);
                    check_against_ref(p, v, false);
                    cuda::mxfp4_gemm_v4_limit_ctas(0);
                    check_against_ref(p, v, false);
                }
            }
        }
        cuda::mxfp4_gemm_v4_force_splits(0);
        cuda::mxfp4_gemm_v4_force_tile(0);
    }
    CHECK(error_of([] { cuda::mxfp4_gemm_v4_force_tile(96); }).find("expected 0, 64, 128 or 256") != std::string::npos);
    CHECK(error_of([] { cuda::mxfp4_gemm_v4_force_splits(-1); }).find("expected 0") != std::string::npos);
}

TEST_CASE("mxfp4_gemm sanitize: small awkward case on every rung") {
    Problem p = make_problem(3, 40, 96, DType::BF16, true, 8000, 118, 126);
    finish_problem(p);
    for (int v : all_rungs()) check_against_ref(p, v, false);
}

}  // TEST_SUITE("gpu")

// Host-only: v5's work-shape rule (ops_mxfp4.h) on an H100's 132 SMs.
TEST_CASE("mxfp4 v5 shape rule: 4 tiles per CTA only for 9..16-row slices whose CTAs cover 3/4 of the SMs") {
    // Up to 8 rows: the default shape whatever the layer.
    for (int64_t rows : {1, 4, 8})
        for (int64_t n_tiles : {1, 256, 896, 100000}) CHECK(cuda::mxfp4_v5_shape_rule(rows, n_tiles, 132) == 0);
    // 9..16 rows: 14336 and 8192 rows (896 / 512 tiles: 224 / 128 CTAs of 4) take shape 2,
    // 4096 rows (256 tiles: 64 CTAs) keep shape 0.
    CHECK(cuda::mxfp4_v5_shape_rule(16, 896, 132) == 2);
    CHECK(cuda::mxfp4_v5_shape_rule(9, 896, 132) == 2);
    CHECK(cuda::mxfp4_v5_shape_rule(16, 512, 132) == 2);
    CHECK(cuda::mxfp4_v5_shape_rule(16, 256, 132) == 0);
    // The boundary on 132 SMs is 99 CTAs: 393 tiles make 99 (the last one short), 392 make 98.
    CHECK(cuda::mxfp4_v5_shape_rule(16, 393, 132) == 2);
    CHECK(cuda::mxfp4_v5_shape_rule(16, 392, 132) == 0);
}

// Host-only: v5's K-split rule (ops_mxfp4.h) against an H100's occupancy (132 SMs, 64K
// registers and 64 warps per SM, registers given out per warp in units of 256), no device.
TEST_CASE("mxfp4 v5 warp rule: the most warps that keep every CTA resident, any count") {
    auto per_sm_h100 = [](int regs) {
        std::vector<int> per_sm(17, 0);
        const int per_warp = (regs * 32 + 255) / 256 * 256;
        for (int kw = 1; kw <= 16; ++kw) per_sm[kw] = std::min(65536 / (kw * per_warp), 64 / kw);
        return per_sm;
    };
    const std::vector<int> r96 = per_sm_h100(96), r128 = per_sm_h100(128);
    // 1x14336x4096, the default shape (96 registers, 448 CTAs, 64 chunks, rings of 4):
    // 5 warps x 4 CTAs per SM fit 448 CTAs on 132 SMs; 6 would leave a second wave. (A
    // power-of-two rule gives 4.)
    CHECK(cuda::mxfp4_v5_warps_rule(r96.data(), 16, 448, 64, 4, 132) == 5);
    // 4096x4096 (128 CTAs): one CTA of 16 warps per SM.
    CHECK(cuda::mxfp4_v5_warps_rule(r96.data(), 16, 128, 64, 4, 132) == 16);
    // 8192x8192 (256 CTAs, 128 chunks): 2 CTAs of 10 warps per SM; 11 fit only one.
    CHECK(cuda::mxfp4_v5_warps_rule(r96.data(), 16, 256, 128, 4, 132) == 10);
    // M = 9..16 (128 registers): 4 CTAs of 4 warps; 5 warps fit 3 per SM (396 < 448).
    CHECK(cuda::mxfp4_v5_warps_rule(r128.data(), 16, 448, 64, 4, 132) == 4);
    // Short K: 8 chunks leave a ring of 4 for at most 2 warps.
    CHECK(cuda::mxfp4_v5_warps_rule(r96.data(), 16, 100, 8, 4, 132) == 2);
    // More CTAs than any warp count keeps resident, or fewer chunks than one ring: 1.
    CHECK(cuda::mxfp4_v5_warps_rule(r96.data(), 16, 100000, 64, 4, 132) == 1);
    CHECK(cuda::mxfp4_v5_warps_rule(r96.data(), 16, 10, 3, 4, 132) == 1);
    // A warp count the kernel cannot launch at (per_sm 0) is never chosen.
    std::vector<int> holes = r96;
    holes[5] = 0;
    CHECK(cuda::mxfp4_v5_warps_rule(holes.data(), 16, 448, 64, 4, 132) == 4);
}
#endif
