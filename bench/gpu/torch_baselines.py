"""PyTorch baselines of the GPU diagonal scan (issue 4), on the same sizes
as bench_gpu.cpp: a step loop (h = a[:, t] * h + b[:, t], T launches) and a
cumsum-based log-space scan (h_t = A_t * cumsum(b / A) with A = exp(cumsum
log a), in float64 for the cumulative sums, as Heinsen's parallel scan).
Prints Markdown rows, or one line saying why it cannot run."""
import sys
import time

try:
    import torch
except ImportError:
    print("PyTorch is not installed here: no PyTorch baselines")
    sys.exit(0)
if not torch.cuda.is_available():
    print("PyTorch sees no CUDA device: no PyTorch baselines")
    sys.exit(0)


def median_ms(fn, repeats=5):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def step_loop(a, b):
    h = torch.zeros_like(a[:, 0])
    out = torch.empty_like(a)
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def log_space(a, b):
    log_a = torch.cumsum(torch.log(a.double()), dim=1)
    return (torch.exp(log_a) * torch.cumsum(b.double() * torch.exp(-log_a), dim=1)).float()


print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}")
print()
print("| baseline | B | H | T | ms | scan GB/s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for B, H, T in ((8, 1024, 65536), (1, 64, 1 << 20)):
    a = torch.full((B, T, H), 0.98, device="cuda")
    b = torch.full((B, T, H), 0.01, device="cuda")
    nbytes = 3 * a.numel() * 4
    # The step loop launches 2 kernels per step; at T = 1M it would take
    # minutes, so it is timed on the first 8192 steps and scaled.
    steps = min(T, 8192)
    ms = median_ms(lambda: step_loop(a[:, :steps], b[:, :steps]), repeats=3) * T / steps
    print(f"| PyTorch step loop{'' if steps == T else ' (scaled from 8192 steps)'} | {B} | {H} | {T} | {ms:.1f} | {nbytes / ms / 1e6:.1f} |")
    ms = median_ms(lambda: log_space(a, b))
    print(f"| PyTorch log-space cumsum scan | {B} | {H} | {T} | {ms:.2f} | {nbytes / ms / 1e6:.0f} |")
