// Writes a tiny dense Llama-style model folder (one decoder layer, bf16, seeded
// weights, q/k/v with biases): config.json + model.safetensors, the input that
// `ctk compress` turns into the checkpoints in tests/data/ (tests/data/regen.sh).
// Run: build/examples/tiny_model OUT_DIR
#include <cstdio>
#include <filesystem>

#include "core/random.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "ref/tensor_math.h"

using namespace ctk;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    const int64_t hidden = 32, inter = 64, heads = 4, kv_heads = 2, head_dim = 8, vocab = 16;
    Rng rng(2024);
    auto randn = [&](const Shape& s, float stddev) {
        Tensor f = Tensor::empty(DType::F32, s);
        for (int64_t i = 0; i < f.numel(); ++i) f.data<float>()[i] = stddev * rng.normal();
        return ref::from_f32(f, DType::BF16);
    };
    auto ones = [&](int64_t n) {
        Tensor f = Tensor::empty(DType::F32, {n});
        for (int64_t i = 0; i < n; ++i) f.data<float>()[i] = 1.0f;
        return ref::from_f32(f, DType::BF16);
    };
    const std::string L = "model.layers.0.";
    io::NamedTensors t = {
        {"model.embed_tokens.weight", randn({vocab, hidden}, 0.5f)},
        {L + "input_layernorm.weight", ones(hidden)},
        {L + "self_attn.q_proj.weight", randn({heads * head_dim, hidden}, 0.1f)},
        {L + "self_attn.q_proj.bias", randn({heads * head_dim}, 0.1f)},
        {L + "self_attn.k_proj.weight", randn({kv_heads * head_dim, hidden}, 0.1f)},
        {L + "self_attn.k_proj.bias", randn({kv_heads * head_dim}, 0.1f)},
        {L + "self_attn.v_proj.weight", randn({kv_heads * head_dim, hidden}, 0.1f)},
        {L + "self_attn.v_proj.bias", randn({kv_heads * head_dim}, 0.1f)},
        {L + "self_attn.o_proj.weight", randn({hidden, heads * head_dim}, 0.1f)},
        {L + "post_attention_layernorm.weight", ones(hidden)},
        {L + "mlp.gate_proj.weight", randn({inter, hidden}, 0.1f)},
        {L + "mlp.up_proj.weight", randn({inter, hidden}, 0.1f)},
        {L + "mlp.down_proj.weight", randn({hidden, inter}, 0.1f)},
        {"model.norm.weight", ones(hidden)},
        {"lm_head.weight", randn({vocab, hidden}, 0.1f)},
    };
    std::filesystem::create_directories(argv[1]);
    io::write_safetensors(std::string(argv[1]) + "/model.safetensors", t, {{"format", "pt"}});

    json::Value c = json::Value::make_object();  // keys in sorted order, as transformers writes them
    json::Value arch = json::Value::make_array();
    arch.push(json::Value::from_string("LlamaForCausalLM"));
    c.set("architectures", arch);
    c.set("attention_bias", json::Value::from_bool(true));
    c.set("head_dim", json::Value::from_int(head_dim));
    c.set("hidden_act", json::Value::from_string("silu"));
    c.set("hidden_size", json::Value::from_int(hidden));
    c.set("intermediate_size", json::Value::from_int(inter));
    c.set("max_position_embeddings", json::Value::from_int(64));
    c.set("model_type", json::Value::from_string("llama"));
    c.set("num_attention_heads", json::Value::from_int(heads));
    c.set("num_hidden_layers", json::Value::from_int(1));
    c.set("num_key_value_heads", json::Value::from_int(kv_heads));
    c.set("rms_norm_eps", json::Value::from_double(1e-5));
    c.set("tie_word_embeddings", json::Value::from_bool(false));
    c.set("torch_dtype", json::Value::from_string("bfloat16"));
    c.set("vocab_size", json::Value::from_int(vocab));
    std::string text = json::write(c, 2) + "\n";
    std::FILE* fp = std::fopen((std::string(argv[1]) + "/config.json").c_str(), "wb");
    if (!fp || std::fwrite(text.data(), 1, text.size(), fp) != text.size() || std::fclose(fp) != 0) {
        std::fprintf(stderr, "%s/config.json: write failed\n", argv[1]);
        return 1;
    }
    std::printf("wrote %s (%zu tensors)\n", argv[1], t.size());
    return 0;
}
