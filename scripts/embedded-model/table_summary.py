#!/usr/bin/env python3
"""The miniature's table (`ropescope-cli table`'s Markdown) printed again from its JSON, with the cells of
later, narrower runs put in place of the old ones.

`table` once scored a factor file with the original RoPE and attention factor 1 within L_train, a
deployment no exported config produces in transformers (issue 25). Its other cells are unchanged by the
fix, so rather than rerun 49 minutes of passkey decoding, `table --multiples 1` rescored the 1× column
and the short-context columns as deployed; this script prints the table with those cells from the later
file, in the CLI's own format, so the docs quote files, not hand-edited numbers.

    python3 scripts/embedded-model/table_summary.py TABLE.json [LATER.json ...]
"""
import json
import sys
from decimal import ROUND_HALF_UP, Decimal


def g(x, digits):
    """Qt's QString::number(x, 'g', digits)."""
    return f"{x:.{digits}g}"


def f(x, decimals):
    """Qt's QString::number(x, 'f', decimals): the exact binary value rounded half away from zero
    (Python's format rounds half to even: 12.5 % would print as 12 %)."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def merged(paths):
    with open(paths[0], encoding="utf-8") as f:
        table = json.load(f)
    for path in paths[1:]:
        with open(path, encoding="utf-8") as f:
            later = json.load(f)
        for new_row in later["rows"]:
            row = next(r for r in table["rows"] if r["method"] == new_row["method"])
            for cell in new_row["cells"]:
                row["cells"] = [cell if c["length"] == cell["length"] else c for c in row["cells"]]
            for key in ("short_ppl", "short_ppl_interval", "short_retention_percent", "short_retention_interval",
                        "short_window_nll"):
                row[key] = new_row[key]
    return table


def main(paths):
    table = merged(paths)
    train = table["train_length"]
    lengths = [c["length"] for c in table["rows"][0]["cells"]]
    header = [f"{L} ({g(L / train, 3)}×)" for L in lengths]
    print("| method | " + " | ".join(header) + " | short PPL | short retention |")
    print("| --- |" + " ---: |" * (len(lengths) + 2))
    for row in table["rows"]:
        cols = [row["method"]]
        for c in row["cells"]:
            cols.append(f"{g(c['needle_ppl'], 4)} / {f(100 * c['passkey_accuracy'], 0)}%")
        cols += [g(row["short_ppl"], 4), f(row["short_retention_percent"], 1) + "%"]
        print("| " + " | ".join(cols) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: table_summary.py TABLE.json [LATER.json ...]")
    main(sys.argv[1:])
