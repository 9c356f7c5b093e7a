"""Writes a C timing driver for one seqc kernel from its generated header.

usage: driver.py HEADER FUNCTION B T > driver.c

The driver fills every array the ABI takes with fixed-seed values in
[-0.1, 0.1) (a param named `gamma`, RetNet's decay, with 0.95: the chunk
form runs its sequential fallback for a negative decay), calls the kernel
once to warm up, then 7 times, and prints the median in milliseconds. Used
by bench/forms/bench-forms.sh, which `make bench` runs.
"""
import re
import sys


def main():
    header, function, batch, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    text = open(header).read()
    start = text.index(f"int {function}(")
    prototype = text[start:text.index(");", start)]
    arrays = re.findall(r"(?:const float|float) \*(\w+) /\* \[([^\]]*)\] \*/", prototype)
    if not arrays:
        sys.exit(f"driver.py: no arrays in the prototype of {function} in {header}")
    lines = [
        "#include <stdio.h>", "#include <stdlib.h>", "#include <time.h>",
        f'#include "{header}"',
        "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);"
        " return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }",
        "static int before(const void *a, const void *b) {"
        " double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }",
        "int main(void) {",
        f"  long B = {batch}, T = {length}; unsigned seed = 1;",
    ]
    for name, dims in arrays:
        size = " * ".join(d.strip() for d in dims.split(","))
        lines.append(f"  float *{name} = malloc(sizeof(float) * ({size}));")
        lines.append(f"  if (!{name}) return 1;")
        if name == "gamma":
            lines.append(f"  for (long i = 0; i < {size}; ++i) {name}[i] = 0.95f;")
        else:
            lines.append(f"  for (long i = 0; i < {size}; ++i) {{ seed = seed * 1664525u + 1013904223u;"
                         f" {name}[i] = ((seed >> 8) / 16777216.0f - 0.5f) * 0.2f; }}")
    call = f"{function}(B, T, {', '.join(name for name, _ in arrays)})"
    lines += [
        f"  if ({call}) {{ fprintf(stderr, \"{function} failed\\n\"); return 1; }}",
        "  double ms[7];",
        f"  for (int r = 0; r < 7; ++r) {{ double t0 = now(); {call}; ms[r] = now() - t0; }}",
        "  qsort(ms, 7, sizeof(double), before);",
        '  printf("%.2f\\n", ms[3]);',
        "  return 0;",
        "}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
