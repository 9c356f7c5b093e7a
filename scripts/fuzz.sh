#!/usr/bin/env bash
# Builds the front end's libFuzzer target (ASan + UBSan) and fuzzes it for a
# bounded time, seeded from examples/ and the regression inputs kept in
# test/fuzz/corpus/. Prints the number of executions; exits non-zero if the
# fuzzer found a crash, a leak or a hang (the input is left in $build/artifacts).
#   usage: scripts/fuzz.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-300}
root=$(cd "$(dirname "$0")/.." && pwd)

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEQC_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DLLVM_USE_LINKER=lld >/dev/null
ninja -C "$build" seqc-fuzz-frontend

corpus="$build/corpus"
mkdir -p "$corpus" "$build/artifacts"
cp "$root"/examples/*.seq "$root"/test/fuzz/corpus/* "$corpus"/ 2>/dev/null || true
cp "$root"/test/errors/*.seq "$corpus"/ 2>/dev/null || true

log="$build/fuzz.log"
set +e
ASAN_OPTIONS=detect_leaks=1 "$build/bin/seqc-fuzz-frontend" "$corpus" \
  -dict="$root/fuzz/seq.dict" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -max_len=4096 -print_final_stats=1 -artifact_prefix="$build/artifacts/" 2>&1 | tee "$log" | \
  grep -E "^#[0-9]+ +(pulse|DONE)|ERROR|SUMMARY" || true
status=${PIPESTATUS[0]}
set -e
runs=$(grep -Eo "stat::number_of_executed_units: *[0-9]+" "$log" | grep -Eo "[0-9]+$" || echo 0)
echo "fuzz: $runs executions in ${seconds}s, exit status $status"
exit "$status"
