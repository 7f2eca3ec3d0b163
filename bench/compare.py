#!/usr/bin/env python3
"""Joins `ropescope-cli bench --json` and `hf_needle_bench.py` outputs (JSON lines) into one table:
our ms, transformers' ms, the ratio, our model TFLOP/s and % of peak, and both peak memories."""
import json, sys


def rows(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            o = json.loads(line)
            if "tokens" in o:
                out[o["tokens"]] = o
    return out


ours, theirs = rows(sys.argv[1]), rows(sys.argv[2])
print(f"{'tokens':>8} {'ours ms':>9} {'HF ms':>9} {'speedup':>8} {'TFLOP/s':>8} {'% peak':>7} {'our GiB':>8} {'HF GiB':>8}")
for n in sorted(ours):
    o, t = ours[n], theirs.get(n, {})
    om, tm = o.get("ms"), t.get("ms")
    f = lambda v, w, p: f"{v:>{w}.{p}f}" if isinstance(v, (int, float)) else f"{(o.get('error') and 'err') or '-':>{w}}"
    speed = tm / om if om and tm else None
    print(f"{n:>8} {f(om, 9, 1)} {f(tm, 9, 1) if tm else format(t.get('error', '-')[:9], '>9')} {f(speed, 8, 2)} "
          f"{f(o.get('tflops'), 8, 1)} {f(o.get('percent_of_peak'), 7, 1)} {f(o.get('peak_gib'), 8, 2)} "
          f"{f(t.get('peak_gib'), 8, 2) if 'peak_gib' in t else format('-', '>8')}")
