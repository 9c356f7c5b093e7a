#!/usr/bin/env bash
# Runs the lit suite and ends with the line CI reads: "N passed, N failed".
# lit's own summary is not one CI understands, so we count from its xunit XML.
set -uo pipefail
build=${1:-build}
lit=/usr/lib/llvm-22/bin/lit
[ -x "$lit" ] || lit=$(command -v lit)
xml="$build/test/results.xml"
rm -f "$xml"
"$lit" -sv --xunit-xml-output "$xml" "$build/test"
status=$?
python3 - "$xml" "$status" <<'PY'
import sys, xml.etree.ElementTree as ET
path, status = sys.argv[1], int(sys.argv[2])
try:
    root = ET.parse(path).getroot()
except Exception:
    print("0 passed, 1 failed")
    sys.exit(1)
cases = root.iter("testcase")
passed = failed = skipped = 0
for c in cases:
    if c.find("failure") is not None or c.find("error") is not None:
        failed += 1
    elif c.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
if status != 0 and failed == 0:
    failed = 1  # lit failed without a failing test (e.g. a config error)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
