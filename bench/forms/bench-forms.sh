#!/usr/bin/env bash
# make bench, last part: what --form auto picks against the sequential form
# for the matrix-state examples (it takes the chunked form for them on the
# CPU), at the examples' head sizes (16) and at heads of 64, and for a
# short call that stays below auto's 8 chunks. Each kernel is timed by a
# driver that bench/forms/driver.py writes from its header (median of 7
# calls after a warm-up, all cores); each pair runs one after the other.
# usage: bench-forms.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
seqc="$build/bin/seqc"
here=$(cd "$(dirname "$0")" && pwd)
cc=$(command -v clang-22 || command -v clang || command -v cc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# time MODEL FORM B T [seqc flags...]: prints the median ms
time_form() {
  local model=$1 form=$2 batch=$3 length=$4
  shift 4
  local name="${model}_${form}"
  sed "s/^model ${model}(/model ${name}(/" "examples/${model}.seq" > "$tmp/$name.seq"
  "$seqc" "$tmp/$name.seq" --form "$form" "$@" --emit obj -o "$tmp/$name.o"
  "$seqc" "$tmp/$name.seq" --form "$form" "$@" --emit header -o "$tmp/$name.h"
  python3 "$here/driver.py" "$tmp/$name.h" "${name}_forward" "$batch" "$length" > "$tmp/$name.c"
  "$cc" -O2 "$tmp/$name.c" "$tmp/$name.o" -lm -lpthread -o "$tmp/$name"
  "$tmp/$name"
}

echo "## --form auto against --form sequential: matrix-state examples (median of 7 calls, $(nproc) cores)"
echo
echo "| model | heads (Dk = Dv) | B | T | auto (ms) | sequential (ms) | auto / sequential |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
row() {
  local model=$1 heads=$2 batch=$3 length=$4
  shift 4
  local auto sequential
  auto=$(time_form "$model" auto "$batch" "$length" "$@")
  sequential=$(time_form "$model" sequential "$batch" "$length" "$@")
  printf '| %s | %s | %s | %s | %s | %s | %.2f |\n' "$model" "$heads" "$batch" "$length" \
    "$auto" "$sequential" "$(echo "$auto / $sequential" | bc -l)"
}
for model in linear_attention retnet mamba2 gla mlstm deltanet gated_deltanet; do
  row "$model" 16 4 4096
done
for model in gla deltanet mlstm; do
  row "$model" 64 4 4096 -DDK=64 -DDV=64 -DD=256
done
# Below 8 chunks of 16: auto runs its copy of the sequential recurrence.
for model in gla mlstm; do
  row "$model" 16 128 96
done
