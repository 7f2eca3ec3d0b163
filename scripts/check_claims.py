#!/usr/bin/env python3
"""Re-derives every marked figure of the README and docs/ from the committed result files, and fails
on a mismatch (issue 25: a claim is only what the files behind it show).

Two marks, invisible when the Markdown is rendered:

  <!--claim SOURCE KEY=VALUE ...-->TEXT<!--/claim-->
      Every number in TEXT must equal, to the digits TEXT shows, the figures the spec derives from
      SOURCE (a path from the repository root):
        sweep JSON (`ropescope-cli sweep -o`):  measure=needle|held_out method=NAME length=L
            [depth=D] field=value|interval|ratio|passkey
            value: the estimate; interval: estimate, lower, upper; ratio: the paired ratio to the
            reference (estimate, lower, upper); passkey: correct, samples
        table JSON (`ropescope-cli table -o`):  method=NAME [length=L] field=needle|needle_interval|ratio|
            passkey|passkey_interval|short_ppl|short_ppl_interval|retention|retention_interval
            (passkey shares and retention in per cent)
        factor file (one λ per line):           field=lambda index=I (or index=I..J: every value)
        search log (JSONL):                     field=best_d_rcd|best_fitness

  <!--generated COMMAND-->TEXT<!--/generated-->
      TEXT must be exactly what COMMAND prints (a script of this repository that reads result
      files only, e.g. scripts/embedded-model/fair_summary.py RESULT.json), blank lines aside.

    python3 scripts/check_claims.py [FILE.md ...]     (default: README.md and docs/**/*.md)
Exit 0 when every mark holds, 1 with one line per mismatch otherwise.
"""
import glob
import json
import math
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
CLAIM = re.compile(r"<!--claim\s+(\S+?)((?:\s+\w+=\S+?)*?)\s*-->(.*?)<!--/claim-->", re.S)
GENERATED = re.compile(r"<!--generated\s+(.+?)-->(.*?)<!--/generated-->", re.S)


class Mismatch(Exception):
    pass


def load(path, cache={}):
    if path not in cache:
        full = os.path.join(ROOT, path)
        if not os.path.exists(full):
            raise Mismatch(f"{path}: no such result file")
        with open(full, encoding="utf-8") as f:
            if path.endswith(".jsonl"):
                cache[path] = [json.loads(line) for line in f if line.strip()]
            elif path.endswith(".json"):
                cache[path] = json.load(f)
            else:
                cache[path] = f.read()
    return cache[path]


def sweep_figures(result, spec):
    depth = float(spec.get("depth", result["settings"].get("curve_depth", 0)))
    for c in result["cells"]:
        if c["measure"] == spec["measure"] and c["method"] == spec["method"] and c["length"] == int(spec["length"]) \
                and (spec["measure"] != "needle" or abs(c.get("depth", 0) - depth) < 1e-9):
            field = spec["field"]
            if field == "value":
                return [c["value"]]
            if field == "interval":
                i = c["interval"]
                return [i["estimate"], i["lower"], i["upper"]]
            if field == "ratio":
                r = c["comparison"]["ratio"]
                return [r["estimate"], r["lower"], r["upper"]]
            if field == "passkey":
                keys = c["per_sample_passkey"]
                return [sum(keys), len(keys)]
            raise Mismatch(f"unknown field {field}")
    raise Mismatch(f"no {spec['measure']} cell for {spec['method']} at {spec['length']} (depth {depth})")


def table_figures(result, spec):
    def three(i, scale=1):
        return [scale * i["estimate"], scale * i["lower"], scale * i["upper"]]

    for row in result["rows"]:
        if row["method"] != spec["method"]:
            continue
        field = spec["field"]
        if field == "retention":
            return [row["short_retention_percent"]]
        if field == "retention_interval":
            return three(row["short_retention_interval"])
        if field == "short_ppl":
            return [row["short_ppl"]]
        if field == "short_ppl_interval":
            return three(row["short_ppl_interval"])
        for cell in row["cells"]:
            if cell["length"] == int(spec["length"]):
                if field == "needle":
                    return [cell["needle_ppl"]]
                if field == "needle_interval":
                    return three(cell["needle_ppl_interval"])
                if field == "ratio":
                    return three(cell["comparison"]["ratio"])
                if field == "passkey":
                    return [100 * cell["passkey_accuracy"]]
                if field == "passkey_interval":
                    return three(cell["passkey_interval"], 100)
                raise Mismatch(f"unknown field {field}")
    raise Mismatch(f"no row {spec['method']} at {spec.get('length')}")


def factor_figures(text, spec):
    values = [float(x) for x in re.split(r"[,\s]+", text.strip()) if x]
    lo, _, hi = spec["index"].partition("..")
    return values[int(lo):int(hi or lo) + 1]


def log_figures(records, spec):
    finish = [r for r in records if "best_fitness" in r and "best_lambda" in r]
    if not finish:
        raise Mismatch("the search log has no finish record")
    return [finish[-1][spec["field"]]]


def derive(source, spec):
    data = load(source)
    if source.endswith(".jsonl"):
        return log_figures(data, spec)
    if isinstance(data, str):
        return factor_figures(data, spec)
    if "cells" in data:
        return sweep_figures(data, spec)
    if "rows" in data:
        return table_figures(data, spec)
    raise Mismatch(f"{source}: not a result file this checker reads")


def shown_matches(shown, value):
    """`shown` as written (e.g. "0.39", "1.3e-5", "17") is `value` rounded to the digits it shows."""
    if "e" in shown.lower():
        mantissa, exponent = shown.lower().split("e")
        decimals = len(mantissa.partition(".")[2]) - int(exponent)
    else:
        decimals = len(shown.partition(".")[2])
    return abs(float(shown) - value) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-12


def check_claim(source, spec_text, text):
    spec = dict(item.split("=", 1) for item in spec_text.split())
    spec = {k: v.replace("_", " ") if k == "method" else v for k, v in spec.items()}
    figures = derive(source, spec)
    shown = NUMBER.findall(text.replace("−", "-"))
    if len(shown) != len(figures):
        raise Mismatch(f"\"{text.strip()}\" shows {len(shown)} numbers, {source} {spec_text.strip()} gives "
                       f"{len(figures)}: {', '.join(f'{x:.6g}' for x in figures)}")
    for s, v in zip(shown, figures):
        if not (math.isfinite(v) and shown_matches(s, v)):
            raise Mismatch(f"\"{text.strip()}\": {s} is not {v:.6g} ({source} {spec_text.strip()})")


def check_generated(command, text):
    args = shlex.split(command)
    if args[0] in ("python3", "python"):
        args[0] = sys.executable
    printed = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    def lines(t):
        return [line.rstrip() for line in t.strip().splitlines() if line.strip()]
    if lines(printed) != lines(text):
        first = next((a, b) for a, b in zip(lines(printed) + [""] * 999, lines(text) + [""] * 999) if a != b)
        raise Mismatch(f"`{command}` prints \"{first[0]}\" where the text has \"{first[1]}\"")


def check_file(path):
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    failures, count = [], 0
    for m in CLAIM.finditer(doc):
        count += 1
        line = doc.count("\n", 0, m.start()) + 1
        try:
            check_claim(m.group(1), m.group(2), m.group(3))
        except (Mismatch, KeyError, ValueError) as e:
            failures.append(f"{os.path.relpath(path, ROOT)}:{line}: {e}")
    for m in GENERATED.finditer(doc):
        count += 1
        line = doc.count("\n", 0, m.start()) + 1
        try:
            check_generated(m.group(1).strip(), m.group(2))
        except (Mismatch, subprocess.CalledProcessError) as e:
            failures.append(f"{os.path.relpath(path, ROOT)}:{line}: {e}")
    return count, failures


def main(paths):
    if not paths:
        paths = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    total, failures = 0, []
    for path in paths:
        if os.path.exists(path):
            n, f = check_file(path)
            total += n
            failures += f
    for f in failures:
        print(f)
    print(f"check_claims: {total - len(failures)} passed, {len(failures)} failed")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
