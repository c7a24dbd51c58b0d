// GPU activation quantization (cuda/quant.cu) against the CPU reference (ref/quant.h):
// every code, every scale and every azp equal bit for bit, for kernel versions 1 and 2.
// Outputs are poisoned (0xFF) before each launch so unwritten elements show up.
// Shapes and value ranges follow vLLM's tests (sparse24-and-quant.md 4.2-4.3).
#if CTK_HAVE_CUDA
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "ops.h"
#include "ref/quant.h"

using namespace ctk;
using cuda::QuantOp;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

const QuantOp kAllOps[] = {QuantOp::Int8Static,         QuantOp::Int8StaticAzp,      QuantOp::Int8DynamicPerToken,
                           QuantOp::Int8DynamicPerTokenAzp, QuantOp::Fp8Static,      QuantOp::Fp8DynamicPerToken,
                           QuantOp::Fp8DynamicPerTensor};

// Store v into element i of a host tensor of dtype dt (rounded to dt) and return the
// value actually stored, as fp32.
float put(Tensor& t, int64_t i, float v) {
    switch (t.dtype) {
        case DType::F32: t.data<float>()[i] = v; return v;
        case DType::BF16: t.data<bf16_t>()[i].bits = bf16_from_float(v); return bf16_to_float(t.data<bf16_t>()[i].bits);
        case DType::F16: t.data<fp16_t>()[i].bits = fp16_from_float(v); return fp16_to_float(t.data<fp16_t>()[i].bits);
        default: FAIL("bad dtype"); return 0;
    }
}

// An input [M, H] kept twice: `host` compact [M, H] for the reference, and `dev`, a device
// view [M, H] of an [M, stride] allocation whose padding columns hold `pad` (a value that
// would change any max if a kernel read it).
struct Input {
    Tensor host;
    Tensor dev_storage;  // [M, stride]
    Tensor dev;          // view [M, H], rows stride elements apart
    int64_t stride = 0;
};

template <class Gen>
Input make_input(DType dt, int64_t m, int64_t h, int64_t stride, Gen gen, float pad = 3e4f) {
    Input in;
    in.stride = stride;
    in.host = Tensor::empty(dt, {m, h});
    Tensor full = Tensor::empty(dt, {m, stride});
    for (int64_t r = 0; r < m; ++r) {
        for (int64_t c = 0; c < stride; ++c) {
            if (c < h) {
                float v = put(in.host, r * h + c, gen(r, c));
                put(full, r * stride + c, v);
            } else {
                put(full, r * stride + c, pad);
            }
        }
    }
    in.dev_storage = cuda::to_device(full);
    in.dev = in.dev_storage;
    in.dev.shape = {m, h};
    return in;
}

Input random_input(DType dt, int64_t m, int64_t h, float lo, float hi, uint64_t seed, int64_t stride = 0) {
    Rng rng(seed);
    return make_input(dt, m, h, stride ? stride : h, [&](int64_t, int64_t) { return rng.uniform(lo, hi); });
}

ref::QuantResult run_ref(QuantOp op, const Tensor& x, const cuda::QuantOptions& o) {
    switch (op) {
        case QuantOp::Int8Static: return ref::quant_int8_static(x, o.scale);
        case QuantOp::Int8StaticAzp: return ref::quant_int8_static_azp(x, o.scale, o.azp);
        case QuantOp::Int8DynamicPerToken: return ref::quant_int8_dynamic_per_token(x);
        case QuantOp::Int8DynamicPerTokenAzp: return ref::quant_int8_dynamic_per_token_azp(x);
        case QuantOp::Fp8Static: return ref::quant_fp8_static(x, o.scale);
        case QuantOp::Fp8DynamicPerToken: return ref::quant_fp8_dynamic_per_token(x, o.scale_ub);
        case QuantOp::Fp8DynamicPerTensor: return ref::quant_fp8_dynamic_per_tensor(x);
    }
    return {};
}

bool has_azp(QuantOp op) { return op == QuantOp::Int8StaticAzp || op == QuantOp::Int8DynamicPerTokenAzp; }

// Runs op on the device into poisoned outputs and compares codes, scales and azp with
// `want` exactly. Prints op, version, dtype, shape, seed, counts and first mismatches.
void check_gpu(QuantOp op, const Input& in, cuda::QuantOptions o, int version, const ref::QuantResult& want,
               uint64_t seed) {
    const int64_t m = in.host.shape[0], h = in.host.shape[1];
    o.version = version;
    o.row_stride = in.stride;
    cuda::QuantResult got = cuda::quant_alloc(op, m, h);
    cuda::fill_bytes(got.q, 0xFF);
    cuda::fill_bytes(got.scale, 0xFF);
    if (has_azp(op)) cuda::fill_bytes(got.azp, 0xFF);
    cuda::quant_run(op, in.dev, o, got);
    cuda::synchronize();
    Tensor q = cuda::to_host(got.q), s = cuda::to_host(got.scale);

    const std::string where = cat(cuda::quant_op_name(op), " v", version, " ", dtype_name(in.host.dtype), " [", m, ", ",
                                  h, "] stride ", in.stride, " scale ", o.scale, " azp ", o.azp, " ub ", o.scale_ub,
                                  " seed ", seed);
    const uint8_t* qw = static_cast<const uint8_t*>(want.q.raw());
    const uint8_t* qg = static_cast<const uint8_t*>(q.raw());
    int64_t bad = 0;
    std::string first;
    for (int64_t i = 0; i < m * h; ++i) {
        if (qw[i] == qg[i]) continue;
        if (bad++ < 6) first += cat(" (", i / h, ",", i % h, ": ref 0x", std::hex, int(qw[i]), " got 0x", int(qg[i]), std::dec, ")");
    }
    INFO(where, ": ", bad, " code mismatches", first);
    CHECK(bad == 0);

    const int64_t ns = want.scale.numel();
    REQUIRE(s.numel() == ns);
    int64_t bad_s = 0;
    std::string first_s;
    for (int64_t i = 0; i < ns; ++i) {
        uint32_t a = f32_bits(want.scale.data<float>()[i]), b = f32_bits(s.data<float>()[i]);
        if (a == b) continue;
        if (bad_s++ < 4) first_s += cat(" (", i, ": ref ", want.scale.data<float>()[i], " got ", s.data<float>()[i], ")");
    }
    INFO(where, ": ", bad_s, " scale mismatches", first_s);
    CHECK(bad_s == 0);

    if (has_azp(op)) {
        Tensor z = cuda::to_host(got.azp);
        int64_t bad_z = 0;
        std::string first_z;
        for (int64_t i = 0; i < ns; ++i) {
            if (want.azp.data<int32_t>()[i] == z.data<int32_t>()[i]) continue;
            if (bad_z++ < 4) first_z += cat(" (", i, ": ref ", want.azp.data<int32_t>()[i], " got ", z.data<int32_t>()[i], ")");
        }
        INFO(where, ": ", bad_z, " azp mismatches", first_z);
        CHECK(bad_z == 0);
    }
}

// Both versions against the reference.
void check_both(QuantOp op, const Input& in, const cuda::QuantOptions& o, uint64_t seed) {
    const ref::QuantResult want = run_ref(op, in.host, o);
    for (int version : {1, 2}) check_gpu(op, in, o, version, want, seed);
}

// The option sets vLLM's tests use for op: static scales {0.1, 2.1}, azp {-255, 54},
// scale_ub none or a mid-range value.
std::vector<cuda::QuantOptions> vllm_options(QuantOp op) {
    std::vector<cuda::QuantOptions> out;
    cuda::QuantOptions o;
    switch (op) {
        case QuantOp::Int8Static:
        case QuantOp::Fp8Static:
            for (float s : {0.1f, 2.1f}) o.scale = s, out.push_back(o);
            break;
        case QuantOp::Int8StaticAzp:
            for (float s : {0.1f, 2.1f})
                for (int32_t z : {-255, 54}) o.scale = s, o.azp = z, out.push_back(o);
            break;
        case QuantOp::Fp8DynamicPerToken:
            for (float ub : {0.0f, 0.5f}) o.scale_ub = ub, out.push_back(o);
            break;
        default: out.push_back(o);
    }
    return out;
}

// vLLM's value ranges: int8 rand*1000 (azp: rand*1000-300), fp8 rand + 1e-6; we take the
// int8 ones to both signs (more coverage; vLLM's are one-sided).
void vllm_range(QuantOp op, float* lo, float* hi) {
    switch (op) {
        case QuantOp::Int8StaticAzp:
        case QuantOp::Int8DynamicPerTokenAzp: *lo = -300.0f, *hi = 700.0f; return;
        case QuantOp::Int8Static:
        case QuantOp::Int8DynamicPerToken: *lo = -1000.0f, *hi = 1000.0f; return;
        default: *lo = -1.0f, *hi = 1.0f;
    }
}

}  // namespace

TEST_SUITE("gpu") {

TEST_CASE("quant gpu sanitize: every variant on a small awkward shape, v1 and v2") {
    uint64_t seed = 11;
    for (DType dt : {DType::BF16, DType::F32}) {
        for (QuantOp op : kAllOps) {
            float lo, hi;
            vllm_range(op, &lo, &hi);
            Input in = random_input(dt, 5, 37, lo, hi, ++seed, 41);
            for (const auto& o : vllm_options(op)) check_both(op, in, o, seed);
        }
    }
}

TEST_CASE("quant gpu: vLLM shapes (hidden x tokens), f16/bf16/f32, every variant, v1 and v2") {
    const int64_t hidden[] = {17, 1024, 1025, 1026, 5137, 8193};
    const int64_t tokens[] = {1, 7, 4096};
    uint64_t seed = 1000;
    for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
        for (int64_t t : tokens) {
            for (int64_t h : hidden) {
                for (QuantOp op : kAllOps) {
                    float lo, hi;
                    vllm_range(op, &lo, &hi);
                    Input in = random_input(dt, t, h, lo, hi, ++seed);
                    for (const auto& o : vllm_options(op)) check_both(op, in, o, seed);
                }
            }
        }
    }
}

TEST_CASE("quant gpu: row stride larger than H (aligned and misaligned rows)") {
    // Padding holds 3e4 (or NaN below): read by mistake, it would change the row's max.
    uint64_t seed = 5000;
    const int64_t cases[][3] = {{7, 17, 21}, {33, 1025, 1030}, {3, 4096, 4096 + 64}, {2, 8192, 8195}, {9, 100, 229}};
    for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
        for (auto& c : cases) {
            for (QuantOp op : kAllOps) {
                float lo, hi;
                vllm_range(op, &lo, &hi);
                Input in = random_input(dt, c[0], c[1], lo, hi, ++seed, c[2]);
                for (const auto& o : vllm_options(op)) check_both(op, in, o, seed);
            }
        }
    }
}

TEST_CASE("quant gpu: zeros, ties, saturation, subnormals, NaN and Inf rows") {
    // Each row has a mode: 0 random, 1 random with specials sprinkled, 2 zeros, 3 zeros of
    // both signs, 4 all NaN, 5 constant, 6 one Inf among randoms, 7 ties and e4m3 ties
    // (exact for s = 0.5), 8 int32-limit values, 9 subnormals and tiny values.
    const float specials[] = {0.0f,         -0.0f,        kNaN,        kInf,         -kInf,  1e30f,   -1e30f,
                              65504.0f,     -65504.0f,    1e-40f,      -1e-40f,      6e-8f,  0.25f,   0.75f,
                              1.25f,        -1.25f,       63.75f,      -64.25f,      0.53125f, 0.59375f, 2147483520.0f,
                              -2147483648.0f, 3e9f,       448.0f,      -449.0f};
    const int nspecial = sizeof(specials) / sizeof(specials[0]);
    const float ties[] = {0.25f, 0.75f, 1.25f, -0.75f, 63.75f, -63.75f, 0.53125f, 0.59375f, 0.28125f, 1.5f};
    uint64_t seed = 7000;
    for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
        for (int64_t h : {1, 3, 8, 17, 100, 1027, 4099}) {
            const int64_t m = 20;
            Rng rng(++seed);
            Input in = make_input(dt, m, h, h + (h % 2), [&](int64_t r, int64_t c) -> float {
                switch (r % 10) {
                    case 0: return rng.uniform(-100.0f, 100.0f);
                    case 1: return rng.below(8) == 0 ? specials[rng.below(nspecial)] : rng.uniform(-100.0f, 100.0f);
                    case 2: return 0.0f;
                    case 3: return (c % 3) ? 0.0f : -0.0f;
                    case 4: return kNaN;
                    case 5: return 2.5f;
                    case 6: return c == h / 2 ? (r % 20 < 10 ? kInf : -kInf) : rng.uniform(-1.0f, 1.0f);
                    case 7: return ties[rng.below(10)];
                    case 8: return rng.below(2) ? 2147483520.0f : -2147483648.0f;
                    default: return rng.below(2) ? 1e-40f * rng.uniform(1.0f, 100.0f) : rng.uniform(-1e-3f, 1e-3f);
                }
            }, kNaN);
            for (QuantOp op : kAllOps) {
                std::vector<cuda::QuantOptions> opts = vllm_options(op);
                cuda::QuantOptions o;
                if (op == QuantOp::Int8Static || op == QuantOp::Fp8Static || op == QuantOp::Int8StaticAzp) {
                    o.scale = 0.5f;  // makes x/s exact: real ties
                    opts.push_back(o);
                    o.scale = 1.0f;  // vLLM's saturating-cast case
                    opts.push_back(o);
                }
                if (op == QuantOp::Int8StaticAzp) {
                    // v2 takes a clamp shortcut for |azp| <= 2^23 and the exact int64 path
                    // beyond: both sides of the boundary and the int32 extremes.
                    o.scale = 0.5f;
                    for (int32_t z : {8388608, 8388609, -8388608, -8388609, INT32_MAX, INT32_MIN})
                        o.azp = z, opts.push_back(o);
                }
                if (op == QuantOp::Fp8DynamicPerToken) o.scale_ub = 3.0f, opts.push_back(o);
                for (const auto& op_o : opts) check_both(op, in, op_o, seed);
            }
        }
    }
}

TEST_CASE("quant gpu: named entry points equal quant_run (contiguous input)") {
    Input in = random_input(DType::BF16, 3, 300, -5.0f, 5.0f, 42);
    auto same = [](const cuda::QuantResult& r, const ref::QuantResult& w) {
        Tensor q = cuda::to_host(r.q), s = cuda::to_host(r.scale);
        CHECK(std::memcmp(q.raw(), w.q.raw(), q.nbytes()) == 0);
        CHECK(std::memcmp(s.raw(), w.scale.raw(), s.nbytes()) == 0);
        if (w.azp.defined()) {
            Tensor z = cuda::to_host(r.azp);
            CHECK(std::memcmp(z.raw(), w.azp.raw(), z.nbytes()) == 0);
        }
    };
    same(cuda::quant_int8_static(in.dev, 0.03f), ref::quant_int8_static(in.host, 0.03f));
    same(cuda::quant_int8_static_azp(in.dev, 0.03f, 7), ref::quant_int8_static_azp(in.host, 0.03f, 7));
    same(cuda::quant_int8_dynamic_per_token(in.dev), ref::quant_int8_dynamic_per_token(in.host));
    same(cuda::quant_int8_dynamic_per_token_azp(in.dev), ref::quant_int8_dynamic_per_token_azp(in.host));
    same(cuda::quant_fp8_static(in.dev, 0.01f), ref::quant_fp8_static(in.host, 0.01f));
    same(cuda::quant_fp8_dynamic_per_token(in.dev, 2.0f), ref::quant_fp8_dynamic_per_token(in.host, 2.0f));
    same(cuda::quant_fp8_dynamic_per_tensor(in.dev), ref::quant_fp8_dynamic_per_tensor(in.host));
    // M = 0: no launch, empty codes.
    Tensor empty = cuda::device_empty(DType::BF16, {0, 16});
    CHECK(cuda::quant_int8_dynamic_per_token(empty).q.shape == Shape{0, 16});
    // ... but a per-tensor scale (and zero point) is still written, as the reference does:
    // the static values as given, 0 for the dynamic per-tensor absmax of nothing. The
    // outputs are poisoned first, so an unwritten scale fails.
    Tensor empty_host = Tensor::empty(DType::BF16, {0, 16});
    auto scale_of = [](const cuda::QuantResult& r) { return cuda::to_host(r.scale).data<float>()[0]; };
    {
        cuda::QuantResult r = cuda::quant_alloc(cuda::QuantOp::Fp8DynamicPerTensor, 0, 16);
        cuda::fill_bytes(r.scale, 0xFF);
        cuda::QuantOptions o;
        cuda::quant_run(cuda::QuantOp::Fp8DynamicPerTensor, empty, o, r);
        CHECK(scale_of(r) == ref::quant_fp8_dynamic_per_tensor(empty_host).scale.data<float>()[0]);
        CHECK(scale_of(r) == 0.0f);
    }
    {
        cuda::QuantResult r = cuda::quant_alloc(cuda::QuantOp::Int8StaticAzp, 0, 16);
        cuda::fill_bytes(r.scale, 0xFF);
        cuda::fill_bytes(r.azp, 0xFF);
        cuda::QuantOptions o;
        o.scale = 0.25f, o.azp = 7;
        cuda::quant_run(cuda::QuantOp::Int8StaticAzp, empty, o, r);
        CHECK(scale_of(r) == 0.25f);
        CHECK(cuda::to_host(r.azp).data<int32_t>()[0] == 7);
        CHECK(ref::quant_int8_static_azp(empty_host, 0.25f, 7).azp.data<int32_t>()[0] == 7);
    }
}

TEST_CASE("quant gpu: int64 offsets, 140000 x 16384 bf16 (input 4.6 GB, codes 2.3 GB)") {
    // Row r of the input is row r % P of a random [P, H] block (P prime), so the reference
    // runs on P rows and a wrapped 32-bit offset would read or write the wrong row.
    const int64_t m = 140000, h = 16384, P = 257;
    REQUIRE(m * h > (int64_t(1) << 31));
    Rng rng(99);
    Tensor block = Tensor::empty(DType::BF16, {P, h});
    for (int64_t i = 0; i < P * h; ++i) put(block, i, rng.uniform(-3.0f, 3.0f));
    Tensor big = Tensor::empty(DType::BF16, {m, h});
    const size_t row_bytes = static_cast<size_t>(h) * 2;
    for (int64_t r = 0; r < m; ++r)
        std::memcpy(static_cast<char*>(big.raw()) + r * row_bytes, static_cast<const char*>(block.raw()) + (r % P) * row_bytes,
                    row_bytes);
    Tensor xd = cuda::to_device(big);
    big = Tensor();

    struct Case {
        QuantOp op;
        int version;
    };
    for (Case c : {Case{QuantOp::Int8DynamicPerToken, 2}, Case{QuantOp::Int8DynamicPerToken, 1},
                   Case{QuantOp::Fp8DynamicPerTensor, 2}}) {
        cuda::QuantOptions o;
        o.version = c.version;
        const ref::QuantResult want = run_ref(c.op, block, o);
        cuda::QuantResult got = cuda::quant_alloc(c.op, m, h);
        cuda::fill_bytes(got.q, 0xFF);
        cuda::fill_bytes(got.scale, 0xFF);
        cuda::quant_run(c.op, xd, o, got);
        cuda::synchronize();
        Tensor q = cuda::to_host(got.q), s = cuda::to_host(got.scale);
        int64_t bad_rows = 0, first_bad = -1;
        for (int64_t r = 0; r < m; ++r) {
            const void* g = static_cast<const char*>(q.raw()) + r * h;
            const void* w = static_cast<const char*>(want.q.raw()) + (r % P) * h;
            const int64_t si = c.op == QuantOp::Fp8DynamicPerTensor ? 0 : r;
            const int64_t wi = c.op == QuantOp::Fp8DynamicPerTensor ? 0 : r % P;
            if (std::memcmp(g, w, h) != 0 ||
                f32_bits(s.data<float>()[si]) != f32_bits(want.scale.data<float>()[wi])) {
                if (first_bad < 0) first_bad = r;
                ++bad_rows;
            }
        }
        INFO(cuda::quant_op_name(c.op), " v", c.version, " [", m, ", ", h, "] seed 99: ", bad_rows,
             " rows differ, first ", first_bad);
        CHECK(bad_rows == 0);
    }
}

TEST_CASE("convert16 gpu: fp32 -> bf16 / f16 as the epilogues convert, bit for bit with formats/fp16.h") {
    // The hardware conversion with the reference's code for NaN (cuda/convert16.cuh):
    // random bit patterns (every class: normals, subnormals, Inf, NaN with payloads) plus
    // the edges - ties at both rounding boundaries, the largest finite values and the first
    // that overflow, the smallest subnormals and what rounds to them or to zero, signed
    // zeros, quiet and signalling NaNs of both signs.
    std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
                                  0x7F800001u, 0xFF800001u, 0x7FBFFFFFu, 0x7FFFFFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu,
                                  0x00000001u, 0x80000001u, 0x007FFFFFu, 0x00800000u, 0x3F808000u, 0x3F818000u,
                                  0x3F800001u, 0x3F807FFFu, 0x477FE000u, 0x477FEFFFu, 0x477FF000u, 0x477FF001u,
                                  0x33000000u, 0x33000001u, 0x32FFFFFFu, 0x387FC000u, 0x38800000u, 0x7F7F8000u,
                                  0x7F7F7FFFu, 0x3F801000u, 0x3F803000u, 0xC7800000u, 0x7F812345u, 0xFFD54321u};
    Rng rng(4242);
    for (int i = 0; i < (1 << 20); ++i) bits.push_back(rng.next_u32());
    const int64_t n = static_cast<int64_t>(bits.size());
    Tensor h = Tensor::empty(DType::F32, {n});
    std::memcpy(h.raw(), bits.data(), bits.size() * 4);
    const Tensor d = cuda::to_device(h);
    // hardware_only (act_from_float_hw): the same bits for every number and for the
    // canonical NaN 0x7FFFFFFF (GPU arithmetic's only NaN, in the edge list above); any
    // other NaN must come out as a 16-bit NaN (the hardware picks its payload), never as
    // a number or an infinity.
    for (bool hw : {false, true})
        for (DType out : {DType::BF16, DType::F16}) {
            const Tensor got = cuda::to_host(cuda::convert_f32_to_16(d, out, hw));
            const uint16_t* g = static_cast<const uint16_t*>(got.raw());
            int64_t bad = 0, first = -1;
            for (int64_t i = 0; i < n; ++i) {
                const float v = h.data<float>()[i];
                const uint16_t want = out == DType::BF16 ? bf16_from_float(v) : fp16_from_float(v);
                const bool ok = hw && std::isnan(v) && bits[i] != 0x7FFFFFFFu
                                    ? std::isnan(out == DType::BF16 ? bf16_to_float(g[i]) : fp16_to_float(g[i]))
                                    : g[i] == want;
                if (!ok && bad++ == 0) first = i;
            }
            char first_bits[16];
            std::snprintf(first_bits, sizeof first_bits, "0x%08X", first >= 0 ? bits[first] : 0u);
            INFO(dtype_name(out), hw ? " (hardware only)" : "", ": ", bad, " of ", n, " differ, first at input bits ",
                 first_bits);
            CHECK(bad == 0);
        }
    CHECK_THROWS_WITH_AS(cuda::convert_f32_to_16(d, DType::F32), doctest::Contains("expected bf16 or f16"), Error);
    CHECK_THROWS_WITH_AS(cuda::convert_f32_to_16(cuda::to_device(Tensor::empty(DType::F16, {4})), DType::F16),
                         doctest::Contains("expected an f32 device tensor"), Error);
}

}  // TEST_SUITE("gpu")

// Launcher validation runs without a device: arguments are checked before any CUDA call.
// The fake device tensor below is never dereferenced.
TEST_CASE("quant launchers: bad arguments are errors naming the parameter") {
    Tensor x;
    x.dtype = DType::BF16;
    x.device = Device::CUDA;
    x.shape = {4, 8};
    x.ptr = reinterpret_cast<void*>(uintptr_t(4096));
    cuda::QuantResult out;
    auto expect = [&](QuantOp op, const Tensor& xx, cuda::QuantOptions o, const std::string& needle) {
        bool thrown = false;
        try {
            cuda::quant_run(op, xx, o, out);
        } catch (const Error& e) {
            thrown = true;
            INFO("message: ", e.what());
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
        CHECK(thrown);
    };
    cuda::QuantOptions o;
    o.scale = 1.0f;
    for (float bad : {0.0f, -1.0f, kNaN, kInf, 1e-40f}) {
        cuda::QuantOptions b = o;
        b.scale = bad;
        expect(QuantOp::Int8Static, x, b, "scale");
        expect(QuantOp::Fp8Static, x, b, "scale");
        expect(QuantOp::Int8StaticAzp, x, b, "scale");
    }
    cuda::QuantOptions ub;
    ub.scale_ub = kNaN;
    expect(QuantOp::Fp8DynamicPerToken, x, ub, "scale_ub");
    cuda::QuantOptions st = o;
    st.row_stride = 5;
    expect(QuantOp::Int8Static, x, st, "row_stride: expected 0 or >= H = 8, found 5");
    cuda::QuantOptions ver = o;
    ver.version = 3;
    expect(QuantOp::Int8Static, x, ver, "version");
    Tensor host = Tensor::empty(DType::BF16, {4, 8});
    expect(QuantOp::Int8DynamicPerToken, host, o, "x: expected a CUDA device tensor");
    Tensor i8 = x;
    i8.dtype = DType::I8;
    expect(QuantOp::Int8DynamicPerToken, i8, o, "found i8");
    Tensor r3 = x;
    r3.shape = {2, 2, 8};
    expect(QuantOp::Int8DynamicPerToken, r3, o, "x: expected shape [M, H]");
    Tensor h0 = x;
    h0.shape = {4, 0};
    expect(QuantOp::Int8DynamicPerToken, h0, o, "H >= 1");
    // Outputs of the wrong shape or dtype (out is empty here).
    expect(QuantOp::Int8DynamicPerToken, x, o, "out.q: expected i8[4, 8]");
}

#endif  // CTK_HAVE_CUDA
