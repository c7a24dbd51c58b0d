// The ctk program as a user runs it (build/ctk beside this test binary): --help of
// every subcommand, exit codes, errors on stderr, and info/run/compress on tests/data.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/random.h"
#include "io/load_layer.h"
#include "io/safetensors.h"
#include "ref/tensor_math.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace ctk;

namespace {

fs::path build_dir() {
    std::error_code ec;
    return fs::read_symlink("/proc/self/exe", ec).parent_path();
}
std::string data(const std::string& name) {
    fs::path d = build_dir().parent_path() / "tests" / "data";
    return (fs::exists(d) ? d : fs::path("tests/data")).string() + "/" + name;
}

struct Result {
    int code = -1;
    std::string out;  // stdout and stderr together
};

// Runs `ctk ARGS` and returns its exit code and output.
Result ctk_run(const std::string& args) {
    std::string exe = (build_dir() / "ctk").string();
    REQUIRE_MESSAGE(fs::exists(exe), "the ctk program is not built next to the tests: ", exe);
    std::FILE* p = popen((exe + " " + args + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    Result r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace

TEST_CASE("cli: every subcommand has --help; usage errors exit non-zero") {
    for (const char* cmd : {"info", "run", "compress", "demo", "bench"}) {
        CAPTURE(cmd);
        Result r = ctk_run(std::string(cmd) + " --help");
        CHECK(r.code == 0);
        CHECK(r.out.find(std::string("usage: ctk ") + cmd) != std::string::npos);
    }
    CHECK(ctk_run("").code == 2);
    Result unknown = ctk_run("frobnicate");
    CHECK(unknown.code == 2);
    CHECK(unknown.out.find("unknown command 'frobnicate'") != std::string::npos);
    CHECK(ctk_run("info").code == 2);
    CHECK(ctk_run("run " + data("tiny")).code == 2);  // no --layer
    CHECK(ctk_run("compress " + data("tiny")).code == 2);
    Result opt = ctk_run("run " + data("tiny") + " --layer lm_head --tokenz 3");
    CHECK(opt.code == 1);
    CHECK(opt.out.find("ctk run: error: unknown option --tokenz") != std::string::npos);
}

TEST_CASE("cli: ctk info lists the layers and fails on a broken folder") {
    Result r = ctk_run("info " + data("tiny-w8a8-int8"));
    CAPTURE(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.find("model.layers.0.self_attn.qkv_proj") != std::string::npos);
    CHECK(r.out.find("64 (32+16+16)") != std::string::npos);
    CHECK(r.out.find("sparse24 bitmask int8 w:channel x:token") != std::string::npos);

    test::TempDir tmp;
    fs::create_directories(tmp.file("m"));
    fs::copy_file(data("tiny-mxfp4/config.json"), tmp.file("m/config.json"));
    std::string bytes = test::read_bytes(data("tiny-mxfp4/model.safetensors"));
    test::write_bytes(tmp.file("m/model.safetensors"), bytes.substr(0, bytes.size() - 10));  // truncated
    Result bad = ctk_run("info " + tmp.file("m"));
    CHECK(bad.code == 1);
    CHECK(bad.out.find("ctk info: error: " + tmp.file("m/model.safetensors") + ": ") != std::string::npos);
}

TEST_CASE("cli: ctk run on random and on given input; --output holds the layer's result") {
    Result r = ctk_run("run " + data("tiny-mxfp4") + " --layer model.layers.0.mlp.gate_up_proj --tokens 3");
    CAPTURE(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.find("scheme  mxfp4-w4a16") != std::string::npos);
    CHECK(r.out.find("rel err vs x W^T in fp64") != std::string::npos);

    test::TempDir tmp;
    Rng rng(3);
    Tensor xf = Tensor::empty(DType::F32, {5, 32});
    for (int64_t i = 0; i < xf.numel(); ++i) xf.data<float>()[i] = rng.normal();
    Tensor x = ref::from_f32(xf, DType::BF16);
    io::write_safetensors(tmp.file("x.safetensors"), {{"x", x}});
    std::string dir = data("tiny-w8a8-fp8");
    Result g = ctk_run("run " + dir + " --layer model.layers.0.self_attn.qkv_proj --input " + tmp.file("x.safetensors") +
                       " --output " + tmp.file("y.safetensors"));
    CAPTURE(g.out);
    REQUIRE(g.code == 0);
    Tensor y = io::SafetensorsFile::open(tmp.file("y.safetensors")).load("y");
    io::Checkpoint ck = io::open_checkpoint(dir);
    Tensor want = io::apply(io::load_layer(ck, "model.layers.0.self_attn.qkv_proj", Backend::CPU, DType::BF16), x);
    CHECK(y.shape == Shape{5, 64});
    CHECK((y.dtype == want.dtype && std::memcmp(y.raw(), want.raw(), y.nbytes()) == 0));

    Result wrong = ctk_run("run " + dir + " --layer model.layers.0.mlp.down_proj --input " + tmp.file("x.safetensors"));
    CHECK(wrong.code == 1);
    CHECK(wrong.out.find("x.safetensors: tensor 'x': expected shape [M, 64], found [5, 32]") != std::string::npos);

    // A NaN in the file, and a finite f32 that rounds to Inf in the activation dtype (f16 tops
    // out at 65504), are errors naming the element.
    xf.data<float>()[1 * 32 + 3] = NAN;
    io::write_safetensors(tmp.file("nan.safetensors"), {{"x", xf}});
    Result nan = ctk_run("run " + dir + " --layer model.layers.0.self_attn.qkv_proj --input " + tmp.file("nan.safetensors"));
    CAPTURE(nan.out);
    CHECK(nan.code == 1);
    CHECK(nan.out.find("nan.safetensors: tensor 'x': element (row 1, column 3) is nan") != std::string::npos);
    xf.data<float>()[1 * 32 + 3] = 1e5f;
    io::write_safetensors(tmp.file("big.safetensors"), {{"x", xf}});
    Result big = ctk_run("run " + dir + " --layer model.layers.0.self_attn.qkv_proj --dtype f16 --input " +
                         tmp.file("big.safetensors"));
    CAPTURE(big.out);
    CHECK(big.code == 1);
    CHECK(big.out.find("tensor 'x' rounded to f16: element (row 1, column 3) is inf") != std::string::npos);
}

TEST_CASE("cli: ctk compress writes a folder that ctk info reads; bad options fail") {
    test::TempDir tmp;
    Result r = ctk_run("compress " + data("tiny") + " " + tmp.file("out") + " --scheme sparse24-w8a8-int8 --weights tensor");
    CAPTURE(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.find("[1/15] ") == std::string::npos);  // progress only for compressed tensors
    CHECK(r.out.find("model.layers.0.mlp.down_proj.weight bf16[32, 64] -> sparse24-w8a8-int8") != std::string::npos);
    CHECK(ctk_run("info " + tmp.file("out")).code == 0);
    Result s = ctk_run("compress " + data("tiny") + " " + tmp.file("x") + " --scheme mxfp4-a16 --format dense");
    CHECK(s.code == 1);
    CHECK(s.out.find("--format: only the 2:4 schemes") != std::string::npos);
    Result t = ctk_run("compress " + data("tiny") + " " + tmp.file("y") + " --scheme sparse24-w8a8-fp8 --inputs static");
    CHECK(t.code == 1);
    CHECK(t.out.find("--inputs static needs --input-scale") != std::string::npos);
    Result u = ctk_run("compress " + data("tiny") + " " + tmp.file("z") + " --scheme sparse24-w8a8-fp8 --inputs static "
                       "--input-scale -1");
    CHECK(u.code == 1);
    CHECK(u.out.find("positive finite calibration scale") != std::string::npos);
}
