#!/usr/bin/env bash
# make bench: the kernels against hand-written C++ (bench/bench_kernels.cpp),
# the Newton form against the sequential form (bench/bench_newton.cpp), GLA's
# chunked form against its sequential form and a hand-written loop
# (bench/bench_chunk.cpp), chunked attention against its sequential form and
# hand-written loops (bench/bench_attention.cpp), --form auto against
# --form sequential for the matrix-state examples (bench/forms), the backward
# entry points against the forward (bench/bench_backward.cpp), then seqc's
# compile time for every example. Figures go to stdout as
# Markdown; docs/benchmarks.md records a run with the machine named.
set -euo pipefail
build=${1:-build}
ninja -C "$build" seqc seqc-bench seqc-bench-newton seqc-bench-chunk seqc-bench-attention \
  seqc-bench-backward >/dev/null
echo "# seqc benchmarks, $(date -u +%Y-%m-%d)"
echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores online"
echo
"$build/bench/seqc-bench"
echo
"$build/bench/seqc-bench-newton"
echo
"$build/bench/seqc-bench-chunk"
echo
"$build/bench/seqc-bench-attention"
echo
bash bench/forms/bench-forms.sh "$build"
echo
# The issue's models for the backward: FILE FORM B T.
"$build/bench/seqc-bench-backward" \
  examples/mingru.seq scan 8 4096 \
  examples/mamba_s6.seq auto 4 4096 \
  examples/gla.seq chunk 4 4096 \
  examples/deltanet.seq chunk 4 4096 \
  examples/pararnn_gru.seq newton 4 4096 \
  examples/pararnn_gru.seq sequential 4 4096
echo
echo "### seqc compile time per example (--emit obj, best of 3)"
echo
echo "| example | models | seconds |"
echo "| --- | ---: | ---: |"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for file in examples/*.seq; do
  best=0
  for _ in 1 2 3; do
    start=$(date +%s%N)
    "$build/bin/seqc" "$file" --emit obj -o "$tmp/out.o"
    elapsed=$(( $(date +%s%N) - start ))
    if [ "$best" = 0 ] || [ "$elapsed" -lt "$best" ]; then best=$elapsed; fi
  done
  models=$(grep -c '^model ' "$file")
  printf '| %s | %d | %d.%02d |\n' "$(basename "$file")" "$models" \
    $(( best / 1000000000 )) $(( best / 10000000 % 100 ))
done
