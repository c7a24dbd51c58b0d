// libFuzzer target: config.json -> quantization_config parsing and vLLM's scheme
// selection (io/ct_config.h) on a few layer names. Bad configs must throw ctk::Error;
// nothing may crash. Built and run by `make fuzz`.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/ct_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        ctk::io::CtConfig cfg = ctk::io::parse_ct_config(text, "config.json");
        for (const char* name : {"model.layers.0.self_attn.qkv_proj", "model.layers.0.mlp.down_proj", "lm_head"})
            (void)ctk::io::select_scheme(cfg, name, "QKVParallelLinear").describe();
    } catch (const ctk::Error&) {
    }
    return 0;
}
