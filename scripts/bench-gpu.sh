#!/usr/bin/env bash
# make bench-gpu: the GPU scan against the device's copy bandwidth and
# PyTorch, in one run (issue 4), and the Newton form against the sequential
# form on the GPU (issue 5); docs/benchmarks.md records a run with the
# device named. Needs the CUDA toolkit to build and a GPU to run; says so and
# stops where either is missing.
set -euo pipefail
build=${1:-build}
if ! ninja -C "$build" -t targets all | grep -q '^seqc-bench-gpu:'; then
  echo "bench-gpu: the CUDA toolkit was not found at configure time; nothing to build" >&2
  exit 1
fi
ninja -C "$build" seqc seqc-bench-gpu seqc-bench-gpu-newton >/dev/null
echo "# seqc GPU benchmarks, $(date -u +%Y-%m-%d)"
echo
echo "### ptxas -v, sm_90: registers and spills of every example's kernels"
echo
echo "| example | kernels | max registers per thread | spill-store bytes (all kernels) | largest stack frame (bytes) |"
echo "| --- | ---: | ---: | ---: | ---: |"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for file in examples/*.seq; do
  "$build/bin/seqc" "$file" --target nvptx --gpu-arch sm_90 -o "$tmp/k.ptx"
  /usr/local/cuda/bin/ptxas -v -arch=sm_90 "$tmp/k.ptx" -o "$tmp/k.cubin" 2>"$tmp/v.txt"
  awk -v name="$(basename "$file")" '
    /Compiling entry/ { kernels++ }
    /Used [0-9]+ registers/ { for (i = 1; i <= NF; i++) if ($i == "Used") { r = $(i + 1); if (r > regs) regs = r } }
    /bytes stack frame/ { if ($1 > stack) stack = $1; spills += $5 }
    END { printf "| %s | %d | %d | %d | %d |\n", name, kernels, regs, spills, stack }' "$tmp/v.txt"
done
echo
status=0
"$build/bench/gpu/seqc-bench-gpu" || status=$?
if [ "$status" = 77 ] || [ "$status" = 127 ]; then
  echo "bench-gpu: no CUDA driver or device on this machine; only the ptxas table above" >&2
  exit 1
fi
[ "$status" = 0 ] || exit "$status"
echo
python3 bench/gpu/torch_baselines.py
echo
"$build/bench/gpu/seqc-bench-gpu-newton"
