#!/usr/bin/env python3
"""Per-request inclusive cost by function: (cg.last - cg.zero) / N, top entries."""
import subprocess, sys, re
n = int(sys.argv[1]); top = int(sys.argv[2]) if len(sys.argv) > 2 else 60
def load(f):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", f], capture_output=True, text=True).stdout
    d = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            name = m.group(2)
            name = re.sub(r"^\S+?:", "", name, count=1) if not name.startswith("???") else name
            name = re.sub(r" \[.*\]$", "", name)
            d[name] = max(d.get(name, 0), int(m.group(1).replace(",", "")))
    return d
a = load("/tmp/cg.zero"); b = load("/tmp/cg.last")
rows = sorted(((b[k] - a.get(k, 0)) / n, k) for k in b)
for cost, k in reversed(rows[-top:]):
    print(f"{cost:10.0f}  {k[:170]}")
