#!/usr/bin/env python3
"""Compares two runs of fair-miniature.sh, step by step, and prints the comparison as Markdown.

    compare_runs.py [--search-only] RUN_A RUN_B

For each step it says whether the second run reproduced the first and, where it did not exactly,
by how much: the factor files and search run logs (every evaluation, in order: the same candidates,
the largest relative difference of a fitness), the fine-tuned models (sha256 of the weights), and
the sweep (every cell, every sample: the largest relative difference, and whether the summary
table printed from each run is the same text). Exit status 0 when the tables agree, 1 otherwise.
--search-only stops after the factors and the searches (for runs whose fine-tuning recipes differ,
or a run that has not finished): exit status 0 when every search made the same decisions.
"""

import hashlib
import json
import os
import subprocess
import sys


def rel(a, b):
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def numbers(value):
    """The floats in a JSON value, in order (for a record-by-record comparison)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, list):
        return [x for v in value for x in numbers(v)]
    return [x for k in sorted(value) for x in numbers(value[k])]


def skeleton(value):
    """A JSON value with its numbers blanked: equal skeletons mean the same records and choices."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return 0
    if isinstance(value, list):
        return [skeleton(v) for v in value]
    return {k: skeleton(value[k]) for k in sorted(value)}


def common_fields(la, lb):
    """The records restricted to the top-level fields both runs wrote, and the fields only one wrote.

    A log written by a later version of the code carries fields the earlier one did not (the start
    record's format version, the finish record's space bounds); those say nothing about the
    search's decisions, so they are named in the report and left out of the comparison."""
    only = set()
    ra, rb = [], []
    for x, y in zip(la, lb):
        if x.get("event") == y.get("event"):
            for k in set(x) ^ set(y):
                only.add(f"{k} ({x.get('event')})")
            keep = set(x) & set(y)
            x, y = {k: x[k] for k in keep}, {k: y[k] for k in keep}
        ra.append(x)
        rb.append(y)
    return ra, rb, sorted(only)


def compare_logs(a, b):
    """(same records?, same bytes?, evaluations, largest relative difference of any number, fields in one run only)."""
    la = [json.loads(line) for line in open(a) if line.strip()]
    lb = [json.loads(line) for line in open(b) if line.strip()]
    same_bytes = open(a, "rb").read() == open(b, "rb").read()
    la, lb, only = common_fields(la, lb)
    if len(la) != len(lb) or [skeleton(r) for r in la] != [skeleton(r) for r in lb]:
        return False, same_bytes, len(la), float("nan"), only
    worst = 0.0
    for ra, rb in zip(la, lb):
        na, nb = numbers(ra), numbers(rb)
        if len(na) != len(nb):
            return False, same_bytes, len(la), float("nan"), only
        worst = max([worst] + [rel(x, y) for x, y in zip(na, nb)])
    evaluations = sum(1 for r in la if r.get("event") in ("eval", "validation_eval", "baseline_eval"))
    return True, same_bytes, evaluations, worst, only


def factor_values(path):
    values = []
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            values.extend(float(x) for x in line.replace(",", " ").split())
    return values


def summary_table(run):
    """The report's table (docs/experiments/fair-4x.md) as fair_summary.py prints it from the run's sweep."""
    return subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "fair_summary.py"),
                           os.path.join(run, "sweep.json")], capture_output=True, text=True, check=True).stdout


def main(run_a, run_b, search_only=False):
    out = []
    agree = True
    out.append(f"# Two runs of the fair miniature, compared\n\n`compare_runs.py {run_a} {run_b}`\n")

    out.append("## Factors and searches\n")
    out.append("| file | same bytes | same records (candidates, choices) | evaluations | largest relative difference | fields one run only wrote |")
    out.append("| --- | --- | --- | ---: | ---: | --- |")
    for name in sorted(os.listdir(os.path.join(run_a, "factors"))):
        fa, fb = os.path.join(run_a, "factors", name), os.path.join(run_b, "factors", name)
        va, vb = factor_values(fa), factor_values(fb)
        same = len(va) == len(vb)
        worst = max((rel(x, y) for x, y in zip(va, vb)), default=0.0) if same else float("nan")
        out.append(f"| factors/{name} | {'yes' if sha256(fa) == sha256(fb) else 'no'} | {'yes' if same else 'NO'} | | {worst:.2g} | |")
    for name in sorted(os.listdir(os.path.join(run_a, "logs"))):
        if not name.endswith(".jsonl"):
            continue
        same, same_bytes, evaluations, worst, only = compare_logs(os.path.join(run_a, "logs", name),
                                                                  os.path.join(run_b, "logs", name))
        agree &= same
        out.append(f"| logs/{name} | {'yes' if same_bytes else 'no'} | {'yes' if same else 'NO'} | {evaluations} | {worst:.2g} "
                   f"| {', '.join(only) or 'none'} |")
    if search_only:
        out.append(f"\n**Verdict: {'every search made the same decisions' if agree else 'the searches differ (see above)'}.**")
        print("\n".join(out))
        return 0 if agree else 1

    out.append("\n## Fine-tuned models (sha256 of model.safetensors)\n")
    out.append("| model | run A | run B | same |")
    out.append("| --- | --- | --- | --- |")
    for name in sorted(os.listdir(os.path.join(run_a, "models"))):
        pa = os.path.join(run_a, "models", name, "model.safetensors")
        pb = os.path.join(run_b, "models", name, "model.safetensors")
        if not os.path.isfile(pa):
            continue
        ha, hb = sha256(pa), sha256(pb) if os.path.isfile(pb) else "missing"
        out.append(f"| {name} | `{ha[:16]}…` | `{hb[:16]}…` | {'yes' if ha == hb else 'NO'} |")

    out.append("\n## The sweep\n")
    sa = json.load(open(os.path.join(run_a, "sweep.json")))
    sb = json.load(open(os.path.join(run_b, "sweep.json")))
    key = lambda c: (c["method"], c["measure"], c["length"], c.get("depth"))
    ca = {key(c): c for c in sa["cells"]}
    cb = {key(c): c for c in sb["cells"]}
    worst_value, worst_sample, passkey_same, identical = 0.0, 0.0, True, 0
    for k, c in ca.items():
        d = cb.get(k)
        if d is None:
            agree = False
            out.append(f"- cell {k} is missing from run B")
            continue
        worst_value = max(worst_value, rel(c["value"], d["value"]))
        worst_sample = max([worst_sample] + [rel(x, y) for x, y in zip(c.get("per_sample", []), d.get("per_sample", []))])
        passkey_same &= c.get("per_sample_passkey") == d.get("per_sample_passkey")
        identical += c.get("per_sample") == d.get("per_sample")
    table_a, table_b = summary_table(run_a), summary_table(run_b)
    agree &= table_a == table_b and passkey_same
    out.append(f"- cells: {len(ca)} in run A, {len(cb)} in run B; {identical} with every sample bit-identical")
    out.append(f"- largest relative difference of a cell's figure: {worst_value:.2g}; of one sample's: {worst_sample:.2g}")
    out.append(f"- every passkey answer the same: {'yes' if passkey_same else 'NO'}")
    out.append(f"- the summary table printed from each run: {'the same text' if table_a == table_b else 'DIFFERENT'}")
    out.append(f"\n**Verdict: {'the second run reproduces the table' if agree else 'the runs disagree (see above)'}.**")
    print("\n".join(out))
    return 0 if agree else 1


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--search-only"]
    if len(args) != 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1], search_only="--search-only" in sys.argv[1:]))
