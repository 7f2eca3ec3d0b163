#!/usr/bin/env python3
"""The fair miniature's summary table (issue 16) from a `ropescope-cli sweep` result.

Every figure and interval is the sweep's own (95 % BCa over samples; ratios paired over the same
samples); this script only picks the cells the table of docs/experiments/fair-4x.md shows. The one
figure it derives is the passkey share pooled over the heatmap's depths at the target length, with
its Wilson interval.

    python3 scripts/embedded-model/fair_summary.py RESULT.json
"""
import json
import math
import sys


def fmt(x):
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def with_interval(interval):
    return f"{fmt(interval['estimate'])} [{fmt(interval['lower'])}, {fmt(interval['upper'])}]"


def wilson(successes, trials, z=1.959963984540054):
    if trials == 0:
        return float("nan"), float("nan")
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def main(path):
    with open(path, encoding="utf-8") as f:
        result = json.load(f)
    settings = result["settings"]
    lengths = settings["lengths"]
    target, short = max(lengths), min(lengths)
    middle = sorted(lengths)[len(lengths) // 2] if len(lengths) > 2 else target
    reference = settings["reference"]
    cells = result["cells"]

    def cell(measure, method, length, depth=None):
        for c in cells:
            if c["measure"] == measure and c["method"] == method and c["length"] == length and (
                    depth is None or abs(c.get("depth", 0) - depth) < 1e-9):
                return c
        return None

    print(f"{settings['samples']} samples per cell, needle seed {settings['seed']}, held-out seed "
          f"{settings['held_out_seed']}; 95 % intervals; x: ratio to {reference} on the same samples; "
          f"needle depth {settings['curve_depth']} for the PPL columns, passkey pooled over depths "
          f"{', '.join(str(d) for d in settings['depths'])}")
    print()
    print(f"| method | needle PPL at {target} | x {reference} | needle PPL at {middle} | passkey at {target} "
          f"| held-out PPL at {target} | held-out PPL at {short} (short context) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for method in result["methods"]:
        name = method["name"]
        needle = cell("needle", name, target, settings["curve_depth"])
        needle_mid = cell("needle", name, middle, settings["curve_depth"])
        ratio = needle.get("comparison", {}).get("ratio") if needle else None
        keys = [c for c in cells if c["measure"] == "needle" and c["method"] == name and c["length"] == target]
        trials = sum(len(c.get("per_sample_passkey", [])) for c in keys)
        hits = sum(sum(c.get("per_sample_passkey", [])) for c in keys)
        lo, hi = wilson(hits, trials)
        held = cell("held_out", name, target)
        held_short = cell("held_out", name, short)
        print("| " + " | ".join([
            name,
            with_interval(needle["interval"]) if needle else "-",
            with_interval(ratio) if ratio else "(reference)",
            with_interval(needle_mid["interval"]) if needle_mid else "-",
            f"{hits}/{trials} [{lo:.0%}, {hi:.0%}]" if trials else "-",
            with_interval(held["interval"]) if held else "-",
            with_interval(held_short["interval"]) if held_short else "-",
        ]) + " |")
    print()
    print(depth_table(result))


def depth_table(result):
    """Needle PPL, its ratio to the reference and passkey at the target length, depth by depth: a
    verdict that holds at depth 0 only is not a verdict (issue 25)."""
    settings = result["settings"]
    target = max(settings["lengths"])
    reference = settings["reference"]
    depths = sorted(settings["depths"]) or [settings["curve_depth"]]
    cells = result["cells"]

    def cell(method, depth):
        for c in cells:
            if c["measure"] == "needle" and c["method"] == method and c["length"] == target and \
                    abs(c.get("depth", 0) - depth) < 1e-9:
                return c
        return None

    lines = [f"Needle PPL at {target} by needle depth [95 % BCa], x {reference} on the same samples "
             f"[paired 95 % BCa], passkey", "",
             "| method | " + " | ".join(f"depth {d:g}" for d in depths) + " |",
             "| --- |" + " ---: |" * len(depths)]
    for method in result["methods"]:
        name = method["name"]
        row = [name]
        for d in depths:
            c = cell(name, d)
            if not c:
                row.append("-")
                continue
            ratio = c.get("comparison", {}).get("ratio")
            keys = c.get("per_sample_passkey", [])
            text = with_interval(c["interval"])
            text += f"; x {with_interval(ratio)}" if ratio else "; (reference)"
            text += f"; {sum(keys)}/{len(keys)}" if keys else ""
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: fair_summary.py RESULT.json")
    main(sys.argv[1])
