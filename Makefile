# seqc: the two commands of the README's quick start, and a few more.
#   make run    set up, build, and run the main example end to end
#   make test   set up, build, and run the whole test suite
#   make test-sanitize  the whole suite with seqc built under ASan, LSan and UBSan
#                       (in $(SANITIZE_BUILD)); any report fails its test
#   make fuzz   fuzz the front end for FUZZ_SECONDS (default 300)
#   make docs   regenerate the op and pass docs from ODS into docs/
#   make bench  time the generated kernels against hand-written C++ (docs/benchmarks.md)
#   make bench-gpu  the GPU scan against copy bandwidth and PyTorch, the Newton
#                   form against the sequential one on the GPU (needs a GPU)
BUILD ?= build
FUZZ_BUILD ?= build-fuzz
SANITIZE_BUILD ?= build-sanitize
FUZZ_SECONDS ?= 300
CMAKE_FLAGS = -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DLLVM_USE_LINKER=lld

.PHONY: setup build run test test-sanitize fuzz docs bench bench-gpu clean

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja: | setup
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: setup $(BUILD)/build.ninja
	@cmake -S . -B $(BUILD) >/dev/null
	@ninja -C $(BUILD) seqc seq-opt mlir-doc seqc-gpu-support

run: build
	$(BUILD)/bin/seqc examples/mingru.seq --emit ast
	$(BUILD)/bin/seqc run examples/mingru.seq --B 2 --T 64
	@$(BUILD)/bin/seqc examples/mingru.seq --emit rec | $(BUILD)/bin/seq-opt >/dev/null && \
	  echo "examples/mingru.seq: rec IR verified by seq-opt"
	$(BUILD)/bin/seqc check examples/mingru.seq --B 4 --T 1000
	@mkdir -p $(BUILD)/examples/c
	$(BUILD)/bin/seqc examples/mingru.seq --emit obj -o $(BUILD)/examples/c/mingru.o
	$(BUILD)/bin/seqc examples/mingru.seq --emit header -o $(BUILD)/examples/c/mingru.h
	cc -O2 -std=c11 -I$(BUILD)/examples/c examples/c/mingru_demo.c $(BUILD)/examples/c/mingru.o \
	  -lm -lpthread -o $(BUILD)/examples/c/mingru_demo
	$(BUILD)/examples/c/mingru_demo

test: build
	@bash scripts/run-tests.sh $(BUILD)

test-sanitize: setup
	@cmake -S . -B $(SANITIZE_BUILD) $(CMAKE_FLAGS) -DSEQC_SANITIZE=ON >/dev/null
	@ninja -C $(SANITIZE_BUILD) seqc seq-opt mlir-doc seqc-gpu-support
	@bash scripts/run-tests.sh $(SANITIZE_BUILD)

fuzz: setup
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

docs: build
	@ninja -C $(BUILD) mlir-doc
	@cp $(BUILD)/docs/Dialects/RecDialect.md docs/RecDialect.md
	@cp $(BUILD)/docs/Dialects/RecPasses.md docs/RecPasses.md
	@cp $(BUILD)/docs/Dialects/ConversionPasses.md docs/ConversionPasses.md
	@echo "docs/RecDialect.md, docs/RecPasses.md, docs/ConversionPasses.md updated"

bench: build
	@bash scripts/bench.sh $(BUILD)

bench-gpu: build
	@bash scripts/bench-gpu.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)
