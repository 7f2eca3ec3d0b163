#!/usr/bin/env python3
"""transformers' side of `ropescope-cli bench`: the same shape (a config.json), random bf16 weights,
random tokens, and the same work per sample -- a forward with logits_to_keep = answers + 1 and the
NLL of the last `answers` tokens, as a needle-PPL evaluation in transformers would do it. Prints one
JSON object per length, with the same keys as `ropescope-cli bench --json`."""
import argparse, json, statistics, sys, time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--lengths", default="8192")
    ap.add_argument("--answers", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    config = AutoConfig.from_pretrained(a.config)
    t0 = time.perf_counter()
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, attn_implementation=a.attn)
    torch.set_default_dtype(torch.float32)
    model = model.to(torch.bfloat16).eval()
    torch.cuda.synchronize()
    print(json.dumps({"side": "transformers", "version": transformers.__version__, "torch": torch.__version__,
                      "attn": a.attn, "gpu": torch.cuda.get_device_name(0),
                      "ready_s": time.perf_counter() - t0}), flush=True)

    for length in [int(x) for x in a.lengths.split(",")]:
        row = {"tokens": length, "answers": a.answers}
        try:
            ids = torch.randint(0, config.vocab_size, (1, length), device="cuda")
            targets = ids[:, length - a.answers:]
            torch.cuda.reset_peak_memory_stats()
            times = []
            with torch.inference_mode():
                for r in range(a.warmup + a.repeats):
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    logits = model(input_ids=ids, logits_to_keep=a.answers + 1).logits
                    nll = torch.nn.functional.cross_entropy(logits[0, :-1].float(), targets[0], reduction="none")
                    nll.cpu()
                    if r >= a.warmup:
                        times.append((time.perf_counter() - t) * 1e3)
                    del logits, nll
            row["ms"] = statistics.median(times)
            row["min_ms"] = min(times)
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        except torch.OutOfMemoryError as e:
            row["error"] = "out of memory"
        torch.cuda.empty_cache()
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
