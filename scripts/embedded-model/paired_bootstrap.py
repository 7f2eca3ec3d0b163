#!/usr/bin/env python3
"""Held-out verdicts from verdicts.sh's results: for each factor set, its figure on the search's own
samples, on the search's validation samples (both from the run logs) and on fresh samples (the
eval JSONs), and the paired difference on the fresh samples against the best family there, with a
95 % percentile bootstrap interval over the samples (the same 16 samples score every factor set,
so the per-sample pairs are resampled together: 10,000 resamples, seed 0).

Figures are needle PPL combined over samples as exp(mean NLL) (the search's default fitness) and,
in the last columns, as the paper's mean of per-sample PPL.

  python3 scripts/embedded-model/paired_bootstrap.py results/verdicts/L1024
"""
import json
import math
import os
import random
import sys

FAMILIES = [("none", "original RoPE"), ("pi", "PI"), ("ntk", "NTK"), ("yarn", "YaRN"), ("llama3", "Llama 3.1")]
SEARCHES = [("longrope2", "LongRoPE2"), ("longrope", "LongRoPE v1")]
RESAMPLES = 10000


def geometric(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def arithmetic(values):
    return sum(values) / len(values)


def fresh(folder, name):
    path = os.path.join(folder, "fresh-%s.json" % name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        data = json.load(f)
    return [s["ppl"] for s in data["per_sample"]], [s["seed"] for s in data["per_sample"]]


def log_events(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def interval(a, b, statistic, rng):
    """Paired bootstrap of statistic(a) − statistic(b) over sample indices."""
    n = len(a)
    diffs = []
    for _ in range(RESAMPLES):
        idx = [rng.randrange(n) for _ in range(n)]
        diffs.append(statistic([a[i] for i in idx]) - statistic([b[i] for i in idx]))
    diffs.sort()
    return statistic(a) - statistic(b), diffs[int(0.025 * RESAMPLES)], diffs[int(0.975 * RESAMPLES) - 1]


def fmt(x):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.3g" % x


def main(folder):
    rows = []  # (label, search figure, validation figure, fresh per-sample ppl)
    baselines = {}
    logs = {}
    for method, _ in SEARCHES:
        path = os.path.join(folder, method + ".jsonl")
        if os.path.exists(path):
            events = log_events(path)
            logs[method] = events
            for e in events:
                if e["event"] == "baselines":
                    for b in e["baselines"]:
                        baselines[b["name"]] = b
    seeds = None
    for key, label in FAMILIES:
        got = fresh(folder, key)
        if got is None:
            continue
        b = baselines.get("original" if key == "none" else key, {})
        rows.append((label, b.get("search_fitness"), b.get("validation_fitness"), got[0], True))
        seeds = got[1]
    for method, label in SEARCHES:
        finish = [e for e in logs.get(method, []) if e["event"] == "finish"]
        finish = finish[-1] if finish else {}
        for which, what in (("chosen", "answer (chosen on validation)"), ("searchbest", "best on its search samples")):
            got = fresh(folder, "%s-%s" % (method, which))
            if got is None:
                continue
            if which == "chosen":
                s, v = finish.get("best_fitness"), finish.get("best_validation_fitness")
            else:
                s, v = finish.get("search_best_fitness"), finish.get("search_best_validation_fitness")
            rows.append(("%s %s" % (label, what), s, v, got[0], False))

    families = [r for r in rows if r[4]]
    best_family = min(families, key=lambda r: geometric(r[3]))
    start = [e for e in next(iter(logs.values()), []) if e["event"] == "start"]
    context = start[0]["settings"].get("context", {}) if start else {}
    settings = start[0]["settings"] if start else {}
    print("Needle PPL, exp(mean NLL) over the samples, embedded model at L = %s. Search samples: seeds %s…%s;"
          " validation samples: seeds %s…%s; fresh samples: seeds %s…%s (16, never seen by the search)."
          % (context.get("length", "?"), settings.get("seed", "?"),
             int(settings.get("seed", 0)) + int(context.get("samples", 0)) - 1,
             context.get("validation", {}).get("seed", "?"),
             int(context.get("validation", {}).get("seed", 0)) + int(context.get("validation", {}).get("samples", 0)) - 1,
             seeds[0] if seeds else "?", seeds[-1] if seeds else "?"))
    print("Fresh differences are paired against the best family on the fresh samples (%s), with 95 %% bootstrap"
          " intervals over the 16 samples; ratio = exp(Δ mean NLL)." % best_family[0])
    print()
    print("| factors | search samples | validation samples | fresh | ratio to %s (95 %% CI) | fresh mean PPL | Δ mean PPL (95 %% CI) |"
          % best_family[0])
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rng = random.Random(0)
    for label, s, v, ppl, _ in rows:
        if label == best_family[0]:
            ratio = "—"
            delta = "—"
        else:
            la = [math.log(x) for x in ppl]
            lb = [math.log(x) for x in best_family[3]]
            d, lo, hi = interval(la, lb, arithmetic, rng)
            ratio = "%.3g [%.3g, %.3g]" % (math.exp(d), math.exp(lo), math.exp(hi))
            d, lo, hi = interval(ppl, best_family[3], arithmetic, rng)
            delta = "%+.3g [%+.3g, %+.3g]" % (d, lo, hi)
        print("| %s | %s | %s | %s | %s | %s | %s |" % (label, fmt(s), fmt(v), fmt(geometric(ppl)), ratio,
                                                       fmt(arithmetic(ppl)), delta))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
