#!/usr/bin/env python3
"""The search-space ablation's table (issue 25 item 4) from space-ablation.sh's folder.

For each length (L512 × 2, 4, 8) and each LongRoPE2 search (the paper's space and its three
extensions): what the search chose (d_rcd, the NTK-left anchor read back from the factors, the
bounds of its space the answer sits on, from the log's finish record), then the sweep's figures on
fresh samples at every needle depth it measured: needle PPL with its 95 % interval, the paired
ratio to YaRN with its interval, and passkey hits. Every figure is the sweep's own; this script
only picks cells and reads the verdict off the ratio's interval:
  better  the whole interval is below 1,   worse  the whole interval is above 1,   level  otherwise.

    python3 scripts/embedded-model/space_ablation.py results/space-ablation
    python3 scripts/embedded-model/space_ablation.py --brief results/space-ablation

--brief prints only the verdicts: one row per search space, one column per scale, each cell the
ratio to YaRN at needle depths 0 · 0.5 · 1 with its verdict (the README's table).
"""
import json
import math
import os
import sys

VARIANTS = [("paper", "LongRoPE2"), ("anchor", "+ decoupled anchor"), ("above-tcd", "+ d_rcd above d_tcd"),
            ("keep4", "+ first 4 kept at 1")]


def fmt(x):
    return f"{x:.3g}"


def finish_record(path):
    finish = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                if entry.get("event") == "finish":
                    finish = entry
    return finish


def anchor_of(lam, d):
    """The smallest a ≥ d with λ_i = min(λ_a^(i/a), λ_d) for every 0 < i < d that is not kept at 1."""
    for a in range(d, len(lam)):
        if all(lam[i] == 1.0 or abs(lam[i] - min(lam[a] ** (i / a), lam[d])) <= 1e-6 * lam[i] for i in range(1, d)):
            return a
    return None


def verdict(ratio):
    if ratio["upper"] < 1:
        return "better"
    if ratio["lower"] > 1:
        return "worse"
    return "level"


def main(folder, brief=False):
    # The detailed tables go through say(), which --brief silences.
    say = (lambda *args, **kwargs: None) if brief else print
    lengths = sorted(int(name[1:]) for name in os.listdir(folder) if name.startswith("L") and name[1:].isdigit())
    summary = []
    samples = None
    for length in lengths:
        here = os.path.join(folder, f"L{length}")
        if not os.path.exists(os.path.join(here, "sweep.json")):
            print(f"space_ablation.py: {here} has no sweep.json yet; left out", file=sys.stderr)
            continue
        with open(os.path.join(here, "sweep.json"), encoding="utf-8") as f:
            sweep = json.load(f)
        settings = sweep["settings"]
        samples = settings["samples"]
        depths = settings["depths"]
        reference = settings["reference"]
        train = sweep["train_length"]
        cells = [c for c in sweep["cells"] if c["measure"] == "needle" and c["length"] == length]

        def cell(method, depth):
            return next(c for c in cells if c["method"] == method and abs(c.get("depth", 0) - depth) < 1e-9)

        say(f"### {length} tokens ({length // train} × L_train)")
        say()
        say(f"{settings['samples']} fresh needle samples per cell (seed {settings['seed']}); 95 % intervals; "
              f"x: paired ratio to {reference} on the same samples.")
        say()
        header = "| factors | d_rcd | anchor | on a bound of its space |"
        rule = "| --- | ---: | ---: | --- |"
        for depth in depths:
            header += f" needle PPL, depth {depth:g} | x {reference} | passkey |"
            rule += " ---: | ---: | ---: |"
        say(header)
        say(rule)
        ref = [cell(reference, depth) for depth in depths]
        row = f"| {reference} | | | |"
        for c in ref:
            row += f" {fmt(c['interval']['estimate'])} [{fmt(c['interval']['lower'])}, {fmt(c['interval']['upper'])}] |" \
                   f" (reference) | {sum(c['per_sample_passkey'])}/{len(c['per_sample_passkey'])} |"
        say(row)
        for slug, name in VARIANTS:
            finish = finish_record(os.path.join(here, f"{slug}.jsonl"))
            lam, d = finish["best_lambda"], finish["best_d_rcd"]
            a = anchor_of(lam, d)
            bounds = "; ".join(finish.get("space_bounds", [])) or "none"
            row = f"| {name} | {d} | {a if a is not None else '?'} | {bounds} |"
            for depth in depths:
                c = cell(name, depth)
                r = c["comparison"]["ratio"]
                row += f" {fmt(c['interval']['estimate'])} [{fmt(c['interval']['lower'])}, {fmt(c['interval']['upper'])}] |" \
                       f" ×{fmt(r['estimate'])} [{fmt(r['lower'])}, {fmt(r['upper'])}] ({verdict(r)}) |" \
                       f" {sum(c['per_sample_passkey'])}/{len(c['per_sample_passkey'])} |"
                summary.append((length // train, name, depth, verdict(r), r))
            say(row)
        say()
    if brief:
        multiples = sorted({m for m, *_ in summary})
        depths = sorted({d for _, _, d, _, _ in summary})
        print("Needle PPL of each search's answer against YaRN's factors, un-fine-tuned: the paired ratio at "
              "needle depths " + " · ".join(f"{d:g}" for d in depths) + f" (below 1: better), {samples} fresh samples per cell "
              "(the verdict: better or worse when the 95 % interval excludes 1, else level).")
        print()
        print("| search space | " + " | ".join(f"{m}× L_train" for m in multiples) + " |")
        print("| --- |" + " --- |" * len(multiples))
        for _, name in VARIANTS:
            cells = []
            for m in multiples:
                found = [(d, v, r) for mm, n, d, v, r in summary if mm == m and n == name]
                cells.append(" · ".join(f"×{fmt(r['estimate'])} {v}" for _, v, r in sorted(found, key=lambda x: x[0])))
            print(f"| {name} | " + " | ".join(cells) + " |")
        return
    print("### Against YaRN, by depth")
    print()
    for multiple in sorted({m for m, *_ in summary}):
        parts = []
        for _, name in VARIANTS:
            verdicts = [f"{v} at {depth:g}" for m, n, depth, v, _ in summary if m == multiple and n == name]
            parts.append(f"{name}: {', '.join(verdicts)}")
        print(f"- {multiple}×: " + "; ".join(parts) + ".")
    extended = [s for s in summary if s[1] != "LongRoPE2"]
    reach = [s for s in extended if s[3] in ("better", "level")]
    print()
    print(f"Extended searches level with or better than YaRN: {len(reach)} of {len(extended)} (scale, depth) cells; "
          f"better: {sum(1 for s in extended if s[3] == 'better')}.")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--brief"]
    main(args[0] if args else "results/space-ablation", brief="--brief" in sys.argv[1:])
