#!/usr/bin/env python3
# Turns the log of scripts/test-all.sh into ctest's cost-data file for the Release build
# (tests/ctest_cost_release.txt): each test's seconds, so that a clean clone's ctest -j2
# starts the minutes-long real-model peers first instead of in test-number order, last.
# Usage: python3 scripts/ctest-cost-data.py CI.log > tests/ctest_cost_release.txt
import re
import sys

phase = ""
seen = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("=== "):
        phase = line
        continue
    if "release" not in phase:
        continue
    m = re.search(r"Test\s+#\d+: (.+?) \.{3,}\s+Passed\s+([\d.]+) sec", line)
    if m:
        seen[m.group(1)] = float(m.group(2))
# ctest's own format: "name runs seconds" lines, then "---" and the failed tests (none).
for name, sec in seen.items():
    print(f"{name} 1 {sec}")
print("---")
