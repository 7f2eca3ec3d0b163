#!/usr/bin/env python3
"""Checks that two search run logs hold the same records, record for record.

    same-search-log.py A.jsonl B.jsonl

What may differ, and is dropped before the comparison:
  - the start/resume record's "version" (a log written before the run-log format recorded its
    version has none; the format is the same, version 1);
  - the clock: a rank_stats record's "seconds", "busy_seconds", "evaluations_per_second" and
    "idle_percent", and each rank's "pid" (MPI runs only).
Everything else, every key and every number, must be equal. Exit status 0 when the logs agree,
1 (with the first difference on stderr) when not.
"""

import json
import sys

CLOCK = ("seconds", "busy_seconds", "evaluations_per_second", "idle_percent", "pid")


def records(path):
    with open(path, encoding="utf-8") as f:
        out = []
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("event") in ("start", "resume"):
                r.pop("version", None)
            if r.get("event") == "rank_stats":
                for rank in r.get("ranks", []):
                    for key in CLOCK:
                        rank.pop(key, None)
            out.append(r)
        return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = records(sys.argv[1]), records(sys.argv[2])
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            print(f"record {i + 1} differs ({x.get('event')} / {y.get('event')}) in {', '.join(keys)}", file=sys.stderr)
            for k in keys[:3]:
                print(f"  {k}: {json.dumps(x.get(k))[:200]}\n  {' ' * len(k)}  {json.dumps(y.get(k))[:200]}", file=sys.stderr)
            return 1
    if len(a) != len(b):
        print(f"{sys.argv[1]} has {len(a)} records, {sys.argv[2]} {len(b)}", file=sys.stderr)
        return 1
    print(f"same {len(a)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
