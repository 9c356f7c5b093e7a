"""Replays every input kept in test/fuzz/corpus/ through seqc: --emit ast,
--emit rec and `seqc run` must each end with exit code 0 or 1, within the
time limit, with no crash text.

usage: replay.py SEQC CORPUS_DIR
"""
import os
import re
import subprocess
import sys

seqc, corpus = sys.argv[1:3]
crash = re.compile(r"Stack dump|Assertion|PLEASE submit|Segmentation|terminate called|UNREACHABLE")
bad = count = 0
for name in sorted(os.listdir(corpus)):
    path = os.path.join(corpus, name)
    count += 1
    for args in ([path, "--emit", "ast"], [path, "--emit", "rec"], ["run", path, "--T", "3"]):
        try:
            p = subprocess.run([seqc] + args, capture_output=True, text=True, timeout=60,
                               errors="replace")
        except subprocess.TimeoutExpired:
            bad += 1
            print(f"{name} {args[-2:]}: timed out")
            continue
        if p.returncode not in (0, 1) or crash.search(p.stderr):
            bad += 1
            print(f"{name} {args}: exit {p.returncode}\n{p.stderr[-2000:]}")
print(f"replayed {count} inputs, {bad} problems")
sys.exit(1 if bad else 0)
