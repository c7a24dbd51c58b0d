# ctkernels build. `make` builds the library, the ctk program, the examples and the
# test binary; `make test` runs the tests; `make run` runs the demo.
# With nvcc on PATH, cuda/ is compiled for ARCH (default sm_90a); without it the CPU
# path is built alone and the build says so.

ARCH     ?= sm_90a
CXX      ?= g++
NVCC     ?= $(shell command -v nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
BUILD    ?= build

# -ffp-contract=off: no fused multiply-add on the host, so the CPU references round
# every operation as written and bit-exact comparisons mean something.
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -Wall -Wextra -ffp-contract=off -Isrc -Icuda -MMD -MP
# No --use_fast_math: kernels must round like the references. -lineinfo for profilers.
NVCCFLAGS ?= -O3 -lineinfo
NVCCFLAGS += -std=c++17 -Isrc -Icuda -gencode=arch=compute_$(subst sm_,,$(ARCH)),code=$(ARCH) \
             --expt-relaxed-constexpr -Xcompiler -Wall -MMD -MP
# The wgmma rungs exist only in an sm_90a build; launchers check this before using them.
NVCCFLAGS += -DCTK_BUILD_SM90A=$(if $(filter sm_90a,$(ARCH)),1,0)

LIB_SRC  := $(wildcard src/core/*.cpp src/formats/*.cpp src/ref/*.cpp src/layers/*.cpp src/io/*.cpp)
CLI_SRC  := $(wildcard src/cli/*.cpp)
TEST_SRC := $(wildcard tests/*.cpp)
EX_SRC   := $(wildcard examples/*.cpp)
CU_SRC   := $(wildcard cuda/*.cu)

ifeq ($(NVCC),)
  HAVE_CUDA := 0
  CXXFLAGS  += -DCTK_HAVE_CUDA=0
  CU_OBJ    :=
  LDLIBS    :=
  BENCH_LIBS :=
else
  HAVE_CUDA := 1
  CXXFLAGS  += -DCTK_HAVE_CUDA=1 -I$(CUDA_HOME)/include
  CU_OBJ    := $(CU_SRC:%.cu=$(BUILD)/%.o)
  LDLIBS    := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lpthread -lrt
  # cuBLAS only for the peers timed by `ctk bench`; the library never calls it.
  BENCH_LIBS := -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -Wl,-rpath,$(CUDA_HOME)/lib64
endif

# doctest: the system header (Debian doctest-dev), else one unpacked into third_party/.
DOCTEST_SYS   := $(wildcard /usr/include/doctest/doctest.h)
DOCTEST_LOCAL := third_party/doctest/usr/include/doctest/doctest.h
ifeq ($(DOCTEST_SYS),)
  DOCTEST_HDR := $(DOCTEST_LOCAL)
  TEST_INC    := -Ithird_party/doctest/usr/include
else
  DOCTEST_HDR :=
  TEST_INC    :=
endif

LIB      := $(BUILD)/libctk.a
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.cpp=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
EX_BIN   := $(EX_SRC:examples/%.cpp=$(BUILD)/examples/%)

.PHONY: all test run bench ptx sass ptxas sanitize profile gpu-check clean info
all: info $(LIB) $(BUILD)/ctk $(BUILD)/ctk_tests $(EX_BIN)

# Says which path is being built.
info:
	@if [ "$(HAVE_CUDA)" = 1 ]; then echo "ctk: building with CUDA ($(NVCC), $(ARCH))"; \
	 else echo "ctk: nvcc not found: building the CPU path only (no GPU kernels)"; fi

$(LIB): $(LIB_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/cuda/%.o: cuda/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.cpp $(DOCTEST_HDR)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(TEST_INC) -c $< -o $@

# The ctk program (demo, bench, info, run, compress).
$(BUILD)/ctk: $(CLI_OBJ) $(LIB)
	$(CXX) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS) $(BENCH_LIBS)

# One doctest binary for every test; suite "gpu" is skipped without a device.
$(BUILD)/ctk_tests: $(TEST_OBJ) $(LIB)
	$(CXX) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/examples/%: examples/%.cpp $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Fetch doctest-dev without root when the system header is missing.
$(DOCTEST_LOCAL):
	@echo "doctest.h not found in /usr/include: fetching Debian's doctest-dev into third_party/"
	@mkdir -p third_party/doctest
	@cd third_party/doctest && (apt-get download doctest-dev >/dev/null 2>&1 || \
	   (echo "error: could not download doctest-dev; install it with: apt-get install doctest-dev" && false)) && \
	   dpkg -x doctest-dev_*.deb . && rm -f doctest-dev_*.deb
	@test -f $@

# Runs every test (CPU tests always; the gpu suite when a CUDA device is present).
test: all
	$(BUILD)/ctk_tests

# The demo: every configuration on built-in data, on the GPU if present, else the CPU.
run: all
	$(BUILD)/ctk demo

# Benchmarks against the library peers (needs a GPU). CUSPARSELT=<dir> adds cuSPARSELt
# (a dir holding libcusparseLt.so.0) to the Hopper 2:4 rung's table.
bench: all
	$(BUILD)/ctk bench all
	CUSPARSELT=$(CUSPARSELT) $(BUILD)/ctk bench sparse24v3

# Inspect what the compiler did: PTX, SASS, and the register/spill report.
ptx:
	@mkdir -p $(BUILD)/ptx
	for f in $(CU_SRC); do $(NVCC) $(NVCCFLAGS) -ptx $$f -o $(BUILD)/ptx/$$(basename $$f .cu).ptx; done
sass: $(CU_OBJ)
	@command -v cuobjdump >/dev/null || { echo "make sass needs cuobjdump: it ships with the full CUDA toolkit," \
	  "or pip install nvidia-cuda-cuobjdump and put its bin/ on PATH"; exit 1; }
	for o in $(CU_OBJ); do cuobjdump --dump-sass $$o > $${o%.o}.sass; echo "$${o%.o}.sass"; done
ptxas:
	for f in $(CU_SRC); do $(NVCC) $(NVCCFLAGS) -Xptxas -v -c $$f -o /dev/null; done

# Nsight Compute on the MXFP4 decode case that misses its target (1 x 14336 x 4096 bf16): the
# third of three calls of v5 and of v2 (warm), clocks left alone (METHOD.md), the sections
# that say where a memory-bound kernel waits: throughput, scheduler issue, occupancy, memory
# traffic, instruction counts, plus every warp-stall reason in cycles per issued instruction
# (the text form of WarpStateStats names only the largest) and, for v5, the SASS with its
# executed-instruction count and stall samples per line (--page source). Reports in
# $(BUILD)/profile/ (needs a GPU and ncu). First run: H100, 2026-12-07 (docs/mxfp4.md, v5
# fifth round).
NCU = ncu --clock-control none --launch-skip 2 --launch-count 1
NCU_SECTIONS = --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
      --section LaunchStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
      --section InstructionStats --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
PROFILE_MNK ?= 1 14336 4096
profile: all
	@mkdir -p $(BUILD)/profile
	$(NCU) $(NCU_SECTIONS) -k regex:v5_kernel $(BUILD)/ctk bench mxfp4 once $(PROFILE_MNK) 5 > $(BUILD)/profile/mxfp4_v5.txt 2>&1
	$(NCU) $(NCU_SECTIONS) -k regex:v2_kernel $(BUILD)/ctk bench mxfp4 once $(PROFILE_MNK) 2 > $(BUILD)/profile/mxfp4_v2.txt 2>&1
	$(NCU) --section SourceCounters --page source --print-source sass -k regex:v5_kernel \
	    $(BUILD)/ctk bench mxfp4 once $(PROFILE_MNK) 5 > $(BUILD)/profile/mxfp4_v5_sass.txt 2>&1
	@grep -H -E "Duration|DRAM Throughput|Issue Slots Busy|Issued Instructions  |Warp Cycles Per Issued|Achieved Active Warps|Registers Per|stalled_(long_scoreboard|wait|math_pipe|not_selected|barrier)" \
	    $(BUILD)/profile/mxfp4_v5.txt $(BUILD)/profile/mxfp4_v2.txt

# compute-sanitizer memcheck and racecheck on the small gpu tests (needs a GPU).
SANITIZE = compute-sanitizer --error-exitcode 1 --tool
SANITIZE_SET = $(BUILD)/ctk_tests -ts=gpu -tc='*sanitize*'
sanitize: all
	$(SANITIZE) memcheck $(SANITIZE_SET)
	$(SANITIZE) racecheck $(SANITIZE_SET)

# One command for a GPU machine with little time on it: the gpu tests, the sanitizers, the
# demo and the decisive benchmarks, each log kept in $(BUILD)/gpu-check/, a summary printed at
# the end (every step runs even if an earlier one fails; the exit status says whether all
# passed). Each step has a time limit (a new pipeline that deadlocks would otherwise hang the
# whole device session): STEP_LIMIT seconds, 240 by default. Code not yet run on a GPU is
# tested first, alone, under NEW_LIMIT, so that a fault there (a sticky CUDA error) cannot
# spoil the other tests' context: now the 2:4 v3 tiled weight layout (docs/sparse24_v3.md 4i).
# The benchmarks are those that decide the open questions: `sparse24v3 decode variants` and
# `quick` put the tiled layout beside the row-major one at decode and at large M.
STEP_LIMIT ?= 240
NEW_LIMIT ?= 90
STEP = timeout -k 10 $(STEP_LIMIT)
LINEBUF = stdbuf -oL -eL
gpu-check: all
	@mkdir -p $(BUILD)/gpu-check; rc=0; G=$(BUILD)/gpu-check; \
	timeout -k 10 $(NEW_LIMIT) $(LINEBUF) $(BUILD)/ctk_tests -tc='*tiled*' > $$G/tests_new.log 2>&1 || rc=1; \
	$(STEP) $(LINEBUF) $(BUILD)/ctk_tests -tce='*tiled*' > $$G/tests.log 2>&1 || rc=1; \
	$(STEP) $(SANITIZE) memcheck $(SANITIZE_SET) > $$G/memcheck.log 2>&1 || rc=1; \
	$(STEP) $(SANITIZE) racecheck $(SANITIZE_SET) > $$G/racecheck.log 2>&1 || rc=1; \
	$(STEP) $(LINEBUF) $(BUILD)/ctk demo > $$G/demo.log 2>&1 || rc=1; \
	CUSPARSELT=$(CUSPARSELT) $(STEP) $(LINEBUF) $(BUILD)/ctk bench sparse24v3 decode variants > $$G/bench_sparse24v3_variants.log 2>&1 || rc=1; \
	$(STEP) $(LINEBUF) $(BUILD)/ctk bench sparse24v3 steady > $$G/bench_sparse24v3_steady.log 2>&1 || rc=1; \
	CUSPARSELT=$(CUSPARSELT) $(STEP) $(LINEBUF) $(BUILD)/ctk bench sparse24v3 quick > $$G/bench_sparse24v3_quick.log 2>&1 || rc=1; \
	$(STEP) $(LINEBUF) $(BUILD)/ctk bench mxfp4 steady > $$G/bench_mxfp4_steady.log 2>&1 || rc=1; \
	timeout -k 10 $(NEW_LIMIT) $(SANITIZE) memcheck $(BUILD)/ctk_tests -ts=gpu -tc='*tiled*' > $$G/memcheck_new.log 2>&1 || rc=1; \
	grep -H -E "test cases|ERROR SUMMARY|RACECHECK SUMMARY|agree|differ" $$G/*.log; \
	echo "gpu-check: logs in $$G/"; exit $$rc

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CU_OBJ:.o=.d)

# ---- Fuzzing and sanitizers (issue 7: robustness of the readers) ------------------
# make fuzz: libFuzzer (Debian's clang + libclang-rt-dev) with ASan/UBSan on the JSON,
#   safetensors and config.json readers and the "re:" name matcher, FUZZ_SECONDS each
#   (default 60), seeded with tests/data (the matcher with three pattern/name pairs). Any crash, leak, sanitizer report or broken invariant fails the target.
# make asan: the whole test suite (and the ctk program its CLI tests run) built with
#   -fsanitize=address,undefined, CPU path only, in $(BUILD)-asan, then run.
FUZZ_CXX     ?= clang++
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)-fuzz
FUZZ_LIB     := src/core/tensor.cpp src/io/json.cpp src/io/safetensors.cpp src/io/ct_config.cpp src/io/name_regex.cpp \
                src/layers/quant_args.cpp
SAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: fuzz asan
fuzz:
	@command -v $(FUZZ_CXX) >/dev/null || { echo "make fuzz needs clang: apt-get install clang libclang-rt-dev"; exit 1; }
	@for t in json safetensors ct_config name_regex; do \
	  mkdir -p $(FUZZ_DIR)/corpus_$$t && \
	  $(FUZZ_CXX) -std=c++17 -g -O1 -Isrc -fsanitize=fuzzer $(SAN_FLAGS) tests/fuzz/fuzz_$$t.cpp $(FUZZ_LIB) \
	    -o $(FUZZ_DIR)/fuzz_$$t || exit 1; \
	  for f in tests/data/*/*; do \
	    case $$t:$$f in json:*.json|ct_config:*.json|safetensors:*.safetensors) \
	      cp $$f $(FUZZ_DIR)/corpus_$$t/$$(echo $$f | tr / _);; esac; \
	  done; \
	  if [ $$t = name_regex ]; then i=0; for s in 're:.*q_proj\nmodel.layers.0.self_attn.q_proj' \
	      'model\.layers\.\d+\.(self_attn|mlp)\..*\nmodel.layers.12.mlp.down_proj' '(a|b)*?c{2,5}$$\naabcc'; do \
	    i=$$((i+1)); printf "$$s" > $(FUZZ_DIR)/corpus_$$t/seed_$$i; done; fi; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/crash_$$t- $(FUZZ_DIR)/corpus_$$t || exit 1; \
	done

asan:
	$(MAKE) BUILD=$(BUILD)-asan NVCC= CXX="$(CXX) $(SAN_FLAGS)" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)-asan/ctk_tests
