// Layer API: the four steps end to end on the CPU backend, and one test per error path
// (each asserts that the message names what is wrong).
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "core/random.h"
#include "layers/mxfp4_linear.h"
#include "layers/sparse24_linear.h"
#include "ref/gemm.h"
#include "ref/mxfp4.h"
#include "ref/quant.h"
#include "ref/sparse24.h"
#include "ref/tensor_math.h"
#include "ref/weight_quant.h"

using namespace ctk;

namespace {

Tensor randn(Rng& rng, DType t, const Shape& s, float stddev = 1.0f) {
    Tensor f = Tensor::empty(DType::F32, s);
    for (int64_t i = 0; i < f.numel(); ++i) f.data<float>()[i] = stddev * rng.normal();
    return ref::from_f32(f, t);
}

Tensor scalar(float v) {
    Tensor t = Tensor::empty(DType::F32, {1});
    t.data<float>()[0] = v;
    return t;
}

// Runs `fn`, expects a ctk::Error whose message contains every fragment.
template <class Fn>
void expect_error(Fn fn, std::initializer_list<const char*> fragments) {
    try {
        fn();
        FAIL("expected ctk::Error");
    } catch (const Error& e) {
        std::string msg = e.what();
        for (const char* f : fragments) {
            CAPTURE(msg);
            CHECK(msg.find(f) != std::string::npos);
        }
    }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.dtype == b.dtype && a.shape == b.shape && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

const QuantArgs kInt8Channel{8, QuantType::Int, QuantStrategy::Channel, false, true, 0};
const QuantArgs kInt8Token{8, QuantType::Int, QuantStrategy::Token, true, true, 0};
const QuantArgs kFp8Tensor{8, QuantType::Float, QuantStrategy::Tensor, false, true, 0};
const QuantArgs kFp8StaticIn{8, QuantType::Float, QuantStrategy::Tensor, false, true, 0};
const QuantArgs kMxfp4{4, QuantType::Float, QuantStrategy::Group, false, true, 32};
const SparsityArgs kBitmask{SparsityFormat::Sparse24Bitmask, "2:4"};
const SparsityArgs kDense{SparsityFormat::Dense, "2:4"};

}  // namespace

TEST_CASE("Sparse24Linear: bitmask and dense formats give the same output as the reference GEMM") {
    Rng rng(11);
    const int64_t M = 7, K = 40;
    const std::vector<int64_t> widths = {8, 4, 5};  // q, k, v; N = 17
    Tensor w = ref::from_f32(ref::prune_24(randn(rng, DType::F32, {17, K}, 0.1f)), DType::BF16);
    Tensor x = randn(rng, DType::BF16, {M, K});
    Tensor bias = randn(rng, DType::BF16, {17}, 0.1f);
    Tensor want = ref::scaled_gemm(x, w, Tensor(), Tensor(), bias, DType::BF16);

    for (SparsityArgs fmt : {kBitmask, kDense}) {
        Sparse24Linear layer = make_sparse24_linear(std::nullopt, std::nullopt, fmt);
        CHECK(min_capability(layer) == 80);
        create_weights(layer, widths, K, DType::BF16);
        int64_t row0 = 0;
        ref::Bitmask24 bm = ref::bitmask_encode(w);
        for (int s = 0; s < 3; ++s) {
            int64_t r1 = row0 + widths[s];
            if (fmt.format == SparsityFormat::Dense) {
                load(layer, "weight", w.rows(row0, r1).clone(), s);
            } else {
                load(layer, "compressed", bm.compressed.rows(row0, r1).clone(), s);
                load(layer, "bitmask", bm.bitmask.rows(row0, r1).clone(), s);
                Tensor shape = Tensor::empty(DType::I64, {2, 1});
                shape.data<int64_t>()[0] = widths[s];
                shape.data<int64_t>()[1] = K;
                load(layer, "shape", shape, s);
            }
            row0 = r1;
        }
        process_weights_after_loading(layer);
        CHECK(same_bytes(apply(layer, x, bias), want));
    }
}

TEST_CASE("Sparse24Linear: W8A8 int8 channel/token and fp8 tensor/static match the quantized reference path") {
    Rng rng(12);
    const int64_t M = 5, K = 64, N = 12;
    Tensor wf = ref::prune_24(randn(rng, DType::F32, {N, K}, 0.05f));
    Tensor x = randn(rng, DType::F16, {M, K});

    SUBCASE("int8, channel weights, dynamic per-token inputs") {
        ref::QuantizedWeight qw = ref::quantize_weight_8bit(wf, DType::I8, true);
        Sparse24Linear layer = make_sparse24_linear(kInt8Channel, kInt8Token, kBitmask);
        create_weights(layer, {N}, K, DType::F16);
        ref::Bitmask24 bm = ref::bitmask_encode(qw.q);
        load(layer, "compressed", bm.compressed);
        load(layer, "bitmask", bm.bitmask);
        load(layer, "shape", bm.shape);
        load(layer, "weight_scale", qw.scale);
        process_weights_after_loading(layer);
        ref::QuantResult q = ref::quant_int8_dynamic_per_token(x);
        CHECK(same_bytes(apply(layer, x), ref::scaled_gemm(q.q, qw.q, q.scale, qw.scale, Tensor(), DType::F16)));
    }
    SUBCASE("fp8, per-tensor weight scales per shard, static input scale (max over shards)") {
        ref::QuantizedWeight a = ref::quantize_weight_8bit(wf.rows(0, 8).clone(), DType::F8E4M3, false);
        ref::QuantizedWeight b = ref::quantize_weight_8bit(wf.rows(8, 12).clone(), DType::F8E4M3, false);
        Sparse24Linear layer = make_sparse24_linear(kFp8Tensor, kFp8StaticIn, kDense);
        CHECK(min_capability(layer) == 90);
        create_weights(layer, {8, 4}, K, DType::F16);
        load(layer, "weight", a.q, 0);
        load(layer, "weight", b.q, 1);
        load(layer, "weight_scale", a.scale, 0);
        load(layer, "weight_scale", b.scale, 1);
        load(layer, "input_scale", scalar(0.02f), 0);
        load(layer, "input_scale", scalar(0.03f), 1);
        process_weights_after_loading(layer);
        // Expected: per-channel scales expanded from the two shard scalars, input scale 0.03.
        Tensor wq = concat_rows({a.q, b.q});
        Tensor ws = Tensor::empty(DType::F32, {N});
        for (int64_t n = 0; n < N; ++n) ws.data<float>()[n] = n < 8 ? a.scale.data<float>()[0] : b.scale.data<float>()[0];
        ref::QuantResult q = ref::quant_fp8_static(x, 0.03f);
        CHECK(same_bytes(apply(layer, x), ref::scaled_gemm(q.q, wq, q.scale, ws, Tensor(), DType::F16)));
    }
}

TEST_CASE("Sparse24Linear: configuration errors name the field") {
    QuantArgs w4 = kInt8Channel;
    w4.num_bits = 4;
    expect_error([&] { make_sparse24_linear(w4, kInt8Token, kBitmask); }, {"num_bits", "8-bit", "4-bit"});
    expect_error([&] { make_sparse24_linear(kInt8Channel, kFp8StaticIn, kBitmask); }, {"type", "int", "float"});
    QuantArgs group = kInt8Channel;
    group.strategy = QuantStrategy::Group;
    expect_error([&] { make_sparse24_linear(group, kInt8Token, kBitmask); }, {"weights.strategy", "group"});
    expect_error([&] { make_sparse24_linear(kInt8Channel, std::nullopt, kBitmask); }, {"weight-only"});
    expect_error([&] { make_sparse24_linear(std::nullopt, kInt8Token, kBitmask); }, {"quantized weights"});
    QuantArgs static_token = kInt8Token;
    static_token.dynamic = false;
    expect_error([&] { make_sparse24_linear(kInt8Channel, static_token, kBitmask); },
                 {"input_activations.strategy", "per tensor", "token"});
    QuantArgs asym = kInt8Token;
    asym.symmetric = false;
    expect_error([&] { make_sparse24_linear(kInt8Channel, asym, kBitmask); }, {"input_activations.symmetric"});
    expect_error([&] { make_sparse24_linear(std::nullopt, std::nullopt, SparsityArgs{SparsityFormat::Dense, "4:8"}); },
                 {"sparsity_structure", "4:8"});
}

TEST_CASE("Sparse24Linear: create/load/process errors name the parameter") {
    Sparse24Linear layer = make_sparse24_linear(kInt8Channel, kInt8Token, kBitmask);
    // The bitmask packs K in bytes: K per partition must be a multiple of 8 (vLLM checks N by mistake).
    expect_error([&] { create_weights(layer, {16}, 36, DType::BF16); }, {"input_size", "K % 8", "36"});
    expect_error([&] { create_weights(layer, {16}, 30, DType::BF16); }, {"input_size", "multiple of 4", "30"});
    expect_error([&] { create_weights(layer, {16}, 32, DType::F32); }, {"params_dtype", "f32"});
    create_weights(layer, {8, 8}, 32, DType::BF16);
    expect_error([&] { load(layer, "compressed", Tensor::zeros(DType::I8, {8, 15}), 0); },
                 {"compressed (shard 0)", "[8, 16]", "[8, 15]"});
    expect_error([&] { load(layer, "compressed", Tensor::zeros(DType::F16, {8, 16}), 0); },
                 {"compressed (shard 0)", "i8", "f16"});
    expect_error([&] { load(layer, "weight", Tensor::zeros(DType::I8, {8, 32}), 0); }, {"unknown parameter 'weight'"});
    expect_error([&] { load(layer, "bitmask", Tensor::zeros(DType::U8, {8, 4}), 2); }, {"shard 2", "2 shards"});
    Tensor bad_scale = Tensor::empty(DType::F32, {8, 1});
    for (int i = 0; i < 8; ++i) bad_scale.data<float>()[i] = i == 3 ? -1.0f : 1.0f;
    expect_error([&] { load(layer, "weight_scale", bad_scale, 0); }, {"weight_scale (shard 0)", "positive and finite", "index 3"});
    bad_scale.data<float>()[3] = NAN;
    expect_error([&] { load(layer, "weight_scale", bad_scale, 0); }, {"positive and finite"});
    Tensor shape = Tensor::empty(DType::I64, {2, 1});
    shape.data<int64_t>()[0] = 16;
    shape.data<int64_t>()[1] = 32;
    expect_error([&] { load(layer, "shape", shape, 1); }, {"shape (shard 1)", "{8, 32}", "{16, 32}"});
    expect_error([&] { process_weights_after_loading(layer); }, {"never loaded"});

    // A static input scale must be a normal fp32 number: the quantizers use 1/s.
    Sparse24Linear st = make_sparse24_linear(kFp8Tensor, kFp8StaticIn, kDense);
    create_weights(st, {8}, 32, DType::F16);
    expect_error([&] { load(st, "input_scale", scalar(1e-40f), 0); }, {"input_scale", "normal fp32 scale"});
    expect_error([&] { load(st, "input_scale", scalar(0.0f), 0); }, {"input_scale", "positive and finite"});
    expect_error([&] { load(st, "input_scale", scalar(INFINITY), 0); }, {"input_scale", "positive and finite"});
    load(st, "input_scale", scalar(FLT_MIN), 0);  // the smallest normal is taken

    // NaN and Inf weights are refused at load, naming shard, row and column: an fp8 NaN code
    // (0x7F or 0xFF; e4m3 has no Inf) in a dense weight, a bf16 Inf in compressed values.
    Tensor w8 = Tensor::zeros(DType::F8E4M3, {8, 32});
    static_cast<uint8_t*>(w8.raw())[2 * 32 + 5] = 0xFF;
    expect_error([&] { load(st, "weight", w8, 0); }, {"weight (shard 0)", "row 2, column 5", "nan"});
    Sparse24Linear sb = make_sparse24_linear(std::nullopt, std::nullopt, kBitmask);
    create_weights(sb, {8, 8}, 32, DType::BF16);
    Tensor c16 = Tensor::zeros(DType::BF16, {8, 16});
    static_cast<uint16_t*>(c16.raw())[7 * 16 + 15] = bf16_from_float(-INFINITY);
    expect_error([&] { load(sb, "compressed", c16, 1); }, {"compressed (shard 1)", "row 7, column 15", "inf"});
}

TEST_CASE("Sparse24Linear: a weight scale whose product with the row's largest weight leaves fp32 is refused") {
    // int8, channel scales: row 3 has scale 3e38 and a weight of 127 (3.8e40 > FLT_MAX); the
    // same scale on a row whose largest weight is 1 is finite and accepted.
    for (int largest : {127, 1}) {
        CAPTURE(largest);
        Sparse24Linear layer = make_sparse24_linear(kInt8Channel, kInt8Token, kDense);
        create_weights(layer, {8}, 16, DType::BF16);
        Tensor w = Tensor::zeros(DType::I8, {8, 16});
        w.data<int8_t>()[3 * 16 + 6] = static_cast<int8_t>(-largest);
        w.data<int8_t>()[3 * 16 + 1] = 1;
        Tensor ws = Tensor::empty(DType::F32, {8, 1});
        for (int i = 0; i < 8; ++i) ws.data<float>()[i] = i == 3 ? 3e38f : 0.5f;
        load(layer, "weight", w);
        load(layer, "weight_scale", ws);
        if (largest == 127) {
            expect_error([&] { process_weights_after_loading(layer); },
                         {"weight_scale: row 3", "magnitude 127", "past the fp32 range"});
        } else {
            process_weights_after_loading(layer);
            CHECK(layer.processed);
        }
    }
}

TEST_CASE("layers: undefined tensors, steps after processing and out-of-range shards are errors, not crashes") {
    Sparse24Linear s = make_sparse24_linear(kFp8Tensor, kFp8StaticIn, kDense);
    create_weights(s, {4, 4}, 16, DType::BF16);
    // A missing parameter handed over as Tensor(): its scale paths used to read a null pointer.
    expect_error([&] { load(s, "input_scale", Tensor()); }, {"input_scale: expected a tensor, found an undefined one"});
    expect_error([&] { load(s, "weight_scale", Tensor(), 1); }, {"weight_scale (shard 1): expected a tensor"});
    expect_error([&] { load(s, "weight", Tensor(), 0); }, {"weight (shard 0): expected a tensor"});
    Mxfp4Linear m = make_mxfp4_linear(kMxfp4);
    create_weights(m, {8}, 32, DType::BF16);
    expect_error([&] { load(m, "weight_packed", Tensor()); }, {"weight_packed: expected a tensor"});

    // Widths whose sum is past int64 (total_rows would overflow).
    Sparse24Linear w = make_sparse24_linear(std::nullopt, std::nullopt, kDense);
    expect_error([&] { create_weights(w, {INT64_MAX, 2}, 16, DType::BF16); }, {"output_partition_sizes", "below 2^63"});

    // After processing: the steps say so (they said "create_weights has not run").
    Sparse24Linear p = make_sparse24_linear(std::nullopt, std::nullopt, kDense);
    create_weights(p, {4}, 16, DType::BF16);
    load(p, "weight", Tensor::zeros(DType::BF16, {4, 16}));
    process_weights_after_loading(p);
    expect_error([&] { process_weights_after_loading(p); }, {"already processed"});
    expect_error([&] { load(p, "weight", Tensor::zeros(DType::BF16, {4, 16})); }, {"load(weight)", "already processed"});

    // ShardedParams is public: its methods check names, shards and tensors themselves.
    ShardedParams sp;
    sp.reset({3, 5});
    sp.add("w", DType::F32, {8, 2});
    CHECK(sp.row_offset(2) == 8);
    expect_error([&] { (void)sp.row_offset(100); }, {"row_offset: shard 100 out of range"});
    expect_error([&] { (void)sp.any_loaded("nope"); }, {"unknown parameter 'nope'"});
    expect_error([&] { sp.mark_loaded("w", 5); }, {"w: shard 5 out of range"});
    expect_error([&] { sp.load_rows("w", Tensor::zeros(DType::F32, {3, 2}), 7); }, {"w: shard 7 out of range"});
    Tensor on_device = Tensor::zeros(DType::F32, {3, 2});
    on_device.device = Device::CUDA;  // a label only: the check must come before any read
    expect_error([&] { sp.load_rows("w", on_device, 0); }, {"w (shard 0): expected a host tensor"});
    sp.add("scalar", DType::F32, {});
    expect_error([&] { sp.load_rows("scalar", Tensor::zeros(DType::F32, {}), -1); }, {"0-d parameter"});
}

TEST_CASE("Sparse24Linear: a weight that is not 2:4 is rejected with row and group") {
    Rng rng(13);
    Tensor w = ref::from_f32(ref::prune_24(randn(rng, DType::F32, {6, 16})), DType::F16);
    // Row 4, group 2 (columns 8..11) gets a third nonzero.
    uint16_t* p = static_cast<uint16_t*>(w.raw());
    for (int c = 8; c < 12; ++c)
        if (p[4 * 16 + c] == 0) {
            p[4 * 16 + c] = fp16_from_float(0.5f);
            break;
        }
    Sparse24Linear layer = make_sparse24_linear(std::nullopt, std::nullopt, kDense);
    create_weights(layer, {6}, 16, DType::F16);
    load(layer, "weight", w);
    expect_error([&] { process_weights_after_loading(layer); }, {"row 4", "group 2"});

    // A bitmask nibble with three bits set.
    Tensor wp = ref::from_f32(ref::prune_24(randn(rng, DType::F32, {6, 16})), DType::F16);
    ref::Bitmask24 bm = ref::bitmask_encode(wp);
    bm.bitmask.data<uint8_t>()[1 * 2 + 1] |= 0xF0;  // row 1, byte 1, high nibble = group 3
    Sparse24Linear lb = make_sparse24_linear(std::nullopt, std::nullopt, kBitmask);
    create_weights(lb, {6}, 16, DType::F16);
    load(lb, "compressed", bm.compressed);
    load(lb, "bitmask", bm.bitmask);
    load(lb, "shape", bm.shape);
    expect_error([&] { process_weights_after_loading(lb); }, {"row 1", "group 3"});
}

TEST_CASE("Sparse24Linear: apply checks its inputs") {
    Sparse24Linear layer = make_sparse24_linear(std::nullopt, std::nullopt, kDense);
    expect_error([&] { apply(layer, Tensor::zeros(DType::BF16, {1, 16})); }, {"process_weights_after_loading"});
    create_weights(layer, {4}, 16, DType::BF16);
    load(layer, "weight", Tensor::zeros(DType::BF16, {4, 16}));
    process_weights_after_loading(layer);
    expect_error([&] { apply(layer, Tensor::zeros(DType::BF16, {1, 12})); }, {"x", "[M, 16]", "[1, 12]"});
    expect_error([&] { apply(layer, Tensor::zeros(DType::F16, {1, 16})); }, {"x", "bf16", "f16"});
    expect_error([&] { apply(layer, Tensor::zeros(DType::BF16, {1, 16}), Tensor::zeros(DType::BF16, {5})); },
                 {"bias", "[4]", "[5]"});
    // An empty batch is not an error: [0, N] out (the CUDA backend too, tests/test_gpu_layers.cpp).
    Tensor empty = apply(layer, Tensor::zeros(DType::BF16, {0, 16}));
    CHECK(empty.shape == Shape{0, 4});
    CHECK(empty.dtype == DType::BF16);
}

TEST_CASE("Mxfp4Linear: sharded load, process, apply equals the reference GEMM; errors name the field") {
    Rng rng(14);
    const int64_t M = 3, K = 64, N = 10;
    ref::Mxfp4Weight q = ref::mxfp4_quantize(randn(rng, DType::F32, {N, K}, 0.05f));
    Tensor x = randn(rng, DType::BF16, {M, K});
    Tensor bias = randn(rng, DType::BF16, {N}, 0.1f);
    Mxfp4Linear layer = make_mxfp4_linear(kMxfp4);
    CHECK(min_capability(layer) == 80);
    create_weights(layer, {6, 4}, K, DType::BF16);
    load(layer, "weight_packed", q.packed.rows(0, 6).clone(), 0);
    load(layer, "weight_packed", q.packed.rows(6, 10).clone(), 1);
    load(layer, "weight_scale", q.scales.rows(0, 6).clone(), 0);
    expect_error([&] { process_weights_after_loading(layer); }, {"weight_scale", "shard 1", "never loaded"});
    load(layer, "weight_scale", q.scales.rows(6, 10).clone(), 1);
    process_weights_after_loading(layer);
    CHECK(same_bytes(apply(layer, x, bias), ref::mxfp4_gemm(x, q, bias)));

    QuantArgs bad = kMxfp4;
    bad.group_size = 16;
    expect_error([&] { make_mxfp4_linear(bad); }, {"group_size", "32", "16"});
    bad = kMxfp4;
    bad.type = QuantType::Int;
    expect_error([&] { make_mxfp4_linear(bad); }, {"weights.type", "int"});
    bad = kMxfp4;
    bad.symmetric = false;
    expect_error([&] { make_mxfp4_linear(bad); }, {"symmetric"});
    Mxfp4Linear l2 = make_mxfp4_linear(kMxfp4);
    expect_error([&] { create_weights(l2, {8}, 48, DType::BF16); }, {"input_size", "multiple of 32", "48"});
    create_weights(l2, {8}, 64, DType::BF16);
    expect_error([&] { load(l2, "weight_packed", Tensor::zeros(DType::U8, {8, 31})); }, {"weight_packed", "[8, 32]", "[8, 31]"});
    expect_error([&] { load(l2, "weight_scale", Tensor::zeros(DType::I8, {8, 2})); }, {"weight_scale", "u8", "i8"});

    // A weight no fp32/bf16/f16 holds (scale code 254 with |e2m1| = 2, i.e. 2^128) is refused at
    // process time on the CPU backend, with the GPU repack's message; code 255 (a NaN block,
    // as the format says) is not an overflow and loads.
    Tensor packed = Tensor::zeros(DType::U8, {8, 32});
    Tensor scales = Tensor::zeros(DType::U8, {8, 2});
    for (int64_t i = 0; i < scales.numel(); ++i) scales.data<uint8_t>()[i] = 127;
    scales.data<uint8_t>()[5 * 2 + 1] = 254;  // row 5, block 1 (columns 32..63)
    scales.data<uint8_t>()[0] = kE8M0Nan;
    packed.data<uint8_t>()[5 * 32 + 16 + 7] = mxfp4_pack(0x1, 0xC);  // -2 at column 47
    load(l2, "weight_packed", packed);
    load(l2, "weight_scale", scales);
    expect_error([&] { process_weights_after_loading(l2); },
                 {"row 5, block 1 (columns 32..63)", "scale code 254", "2^127", ">= 2^128"});
    Mxfp4Linear l3 = make_mxfp4_linear(kMxfp4);
    create_weights(l3, {8}, 64, DType::BF16);
    packed.data<uint8_t>()[5 * 32 + 16 + 7] = mxfp4_pack(0x1, 0xB);  // -1.5 * 2^127: finite
    load(l3, "weight_packed", packed);
    load(l3, "weight_scale", scales);
    process_weights_after_loading(l3);
    Tensor y = apply(l3, Tensor::zeros(DType::BF16, {1, 64}));
    CHECK(std::isnan(bf16_to_float(y.data<bf16_t>()[0].bits)));   // row 0 has the NaN block
    CHECK(bf16_to_float(y.data<bf16_t>()[1].bits) == 0.0f);
}
