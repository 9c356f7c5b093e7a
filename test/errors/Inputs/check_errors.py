"""For every error test in test/errors/: seqc exits with exactly 1, its first
line of stderr is `FILE:LINE:COL: error: ...`, nothing looks like a crash, and
the output file asked for with -o is not left behind.

usage: check_errors.py SEQC ERRORS_DIR TMPDIR
"""
import os
import re
import subprocess
import sys

seqc, errors_dir, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
crash = re.compile(r"Stack dump|Assertion|PLEASE submit|Segmentation|terminate called|UNREACHABLE")
bad = 0
count = 0
for name in sorted(os.listdir(errors_dir)):
    if not name.endswith(".seq"):
        continue
    count += 1
    path = os.path.join(errors_dir, name)
    out = os.path.join(tmp, name + ".out")
    for emit in ("ast", "rec"):
        p = subprocess.run([seqc, path, "--emit", emit, "-o", out], capture_output=True, text=True,
                           timeout=60)
        first = p.stderr.splitlines()[0] if p.stderr else ""
        problems = []
        if p.returncode != 1:
            problems.append(f"exit code {p.returncode}, expected 1")
        if not re.match(re.escape(path) + r":\d+:\d+: error: ", first):
            problems.append(f"first line is not FILE:LINE:COL: error: -> {first!r}")
        if crash.search(p.stderr):
            problems.append("crash text in stderr")
        if os.path.exists(out):
            problems.append("left an output file behind")
        if problems:
            bad += 1
            print(f"{name} (--emit {emit}): " + "; ".join(problems))
print(f"checked {count} error files, {bad} problems")
sys.exit(1 if bad else 0)
