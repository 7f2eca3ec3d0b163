#!/usr/bin/env python3
"""Independent reference numbers for RopeScope's core tests.

A float64 transcription (standard library `math` only, no torch) of the inverse-frequency
definitions in Hugging Face transformers' `src/transformers/modeling_rope_utils.py`
(transformers 5.x: `_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
`_compute_dynamic_ntk_parameters`, `_compute_yarn_parameters` with `find_correction_dim`,
`find_correction_range` (truncate: floor/ceil), `linear_ramp_factor`, `get_mscale`,
`_compute_longrope_parameters` (attention factor) and `_compute_llama3_parameters`), plus the
LongRoPE2 paper's critical-dimension formulas.

transformers computes in float32; this script evaluates the same formulas in float64, which is what
the C++ tests compare against (relative tolerance ~1e-9).

It prints, for each case, lambda_i = inv_freq_default_i / inv_freq_scaled_i (lambda multiplies the
period) with 17 significant digits, in a form that can be pasted into the C++ tests.

Run:  python3 tests/reference/hf_rope_reference.py
"""
import math


# --- transformers: default RoPE ------------------------------------------------------------
def default_inv_freq(dim, base):
    # inv_freq = 1 / base ** (arange(0, dim, 2) / dim)
    return [1.0 / (base ** (k / dim)) for k in range(0, dim, 2)]


# --- transformers: linear -------------------------------------------------------------------
def linear_inv_freq(dim, base, factor):
    return [f / factor for f in default_inv_freq(dim, base)]


# --- transformers: NTK-aware (fixed) base change b' = b * s^(dim/(dim-2)) ----------------------
def ntk_inv_freq(dim, base, factor):
    new_base = base * factor ** (dim / (dim - 2))
    return default_inv_freq(dim, new_base)


# --- transformers: dynamic NTK ----------------------------------------------------------------
def dynamic_inv_freq(dim, base, factor, max_position_embeddings, seq_len):
    seq_len = max(seq_len, max_position_embeddings)
    new_base = base * ((factor * seq_len / max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
    return default_inv_freq(dim, new_base)


# --- transformers: YaRN -------------------------------------------------------------------------
def get_mscale(scale, mscale=1):
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def yarn_attention_factor(factor, attention_factor=None, mscale=None, mscale_all_dim=None):
    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else:
            attention_factor = get_mscale(factor)
    return attention_factor


def find_correction_dim(num_rotations, dim, base, max_position_embeddings):
    return (dim * math.log(max_position_embeddings / (num_rotations * 2 * math.pi))) / (2 * math.log(base))


def find_correction_range(low_rot, high_rot, dim, base, max_position_embeddings, truncate):
    low = find_correction_dim(low_rot, dim, base, max_position_embeddings)
    high = find_correction_dim(high_rot, dim, base, max_position_embeddings)
    if truncate:
        low = math.floor(low)
        high = math.ceil(high)
    return max(low, 0), min(high, dim - 1)


def linear_ramp_factor(lo, hi, n):
    if lo == hi:
        hi += 0.001  # Prevent singularity
    return [min(max((k - lo) / (hi - lo), 0.0), 1.0) for k in range(n)]


def yarn_inv_freq(dim, base, factor, original_max_position_embeddings, beta_fast=32, beta_slow=1, truncate=True):
    pos_freqs = [base ** (k / dim) for k in range(0, dim, 2)]
    inv_freq_extrapolation = [1.0 / p for p in pos_freqs]
    inv_freq_interpolation = [1.0 / (factor * p) for p in pos_freqs]
    low, high = find_correction_range(beta_fast, beta_slow, dim, base, original_max_position_embeddings, truncate)
    extrapolation_factor = [1 - r for r in linear_ramp_factor(low, high, dim // 2)]
    inv = [ip * (1 - e) + ex * e
           for ip, ex, e in zip(inv_freq_interpolation, inv_freq_extrapolation, extrapolation_factor)]
    return inv, (low, high)


# --- transformers: longrope attention factor -----------------------------------------------------
def longrope_attention_factor(factor, original_max_position_embeddings):
    if factor <= 1.0:
        return 1.0
    return math.sqrt(1 + math.log(factor) / math.log(original_max_position_embeddings))


# --- transformers: llama3 -------------------------------------------------------------------------
def llama3_inv_freq(dim, base, factor, low_freq_factor, high_freq_factor, old_context_len):
    inv_freq = default_inv_freq(dim, base)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    out = []
    for f in inv_freq:
        wavelen = 2 * math.pi / f
        llama = f / factor if wavelen > low_freq_wavelen else f
        smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed = (1 - smooth) * llama / factor + smooth * llama
        is_medium = (not wavelen < high_freq_wavelen) and (not wavelen > low_freq_wavelen)
        out.append(smoothed if is_medium else llama)
    return out


# --- LongRoPE2 paper ------------------------------------------------------------------------------
def d_tcd(d, b, l_train):
    return math.ceil((d / 2) * math.log(l_train / (2 * math.pi)) / math.log(b))


def d_10(d, b, l_train):
    return math.ceil((d / 2) * math.log(l_train / (2 * math.pi * 10)) / math.log(b))


# --- printing -----------------------------------------------------------------------------------
def lambdas(dim, base, scaled):
    return [d / s for d, s in zip(default_inv_freq(dim, base), scaled)]


def fmt(x):
    return f"{x:.17g}"


def print_vector(name, values, per_line=4):
    print(f"// {name} ({len(values)} values)")
    print("{")
    for k in range(0, len(values), per_line):
        print("    " + ", ".join(fmt(v) for v in values[k:k + per_line]) + ",")
    print("}")


def main():
    print("=== critical dimensions (LongRoPE2 Eq. 7 / Alg. 1) ===")
    for label, d, b, lt in [("LLaMA3-8B", 128, 5e5, 8192), ("Phi3-mini paper", 96, 1e4, 2048),
                            ("Phi-3-mini-4k", 96, 1e4, 4096), ("Mistral-7B", 128, 1e4, 32768),
                            ("Qwen2.5-7B", 128, 1e6, 32768)]:
        x = (d / 2) * math.log(lt / (2 * math.pi)) / math.log(b)
        y = (d / 2) * math.log(lt / (2 * math.pi * 10)) / math.log(b)
        print(f"{label}: d={d} b={b:g} L_train={lt}: (d/2)log_b(L/2pi)={x:.17g} -> d_tcd={d_tcd(d, b, lt)};"
              f" (d/2)log_b(L/20pi)={y:.17g} -> d_10={d_10(d, b, lt)}")

    print()
    print("=== llama3: Llama-3.1-8B, d=128 b=5e5 factor=8 low=1 high=4 L_train=8192 ===")
    inv = llama3_inv_freq(128, 5e5, 8.0, 1.0, 4.0, 8192)
    print_vector("llama3 lambda", lambdas(128, 5e5, inv))

    print()
    print("=== llama3: d=128 b=5e5 factor=4 low=1 high=4 L_train=8192 (llama3 family at s=4) ===")
    inv = llama3_inv_freq(128, 5e5, 4.0, 1.0, 4.0, 8192)
    print_vector("llama3 lambda", lambdas(128, 5e5, inv))

    print()
    print("=== llama3: d=128 b=5e5 factor=16 low=1 high=4 L_train=8192 (llama3 family at s=16) ===")
    inv = llama3_inv_freq(128, 5e5, 16.0, 1.0, 4.0, 8192)
    print_vector("llama3 lambda", lambdas(128, 5e5, inv))

    print()
    print("=== llama3: d=128 b=5e5 factor=16 low=2 high=8 L_train=8192 ===")
    inv = llama3_inv_freq(128, 5e5, 16.0, 2.0, 8.0, 8192)
    print_vector("llama3 lambda", lambdas(128, 5e5, inv))

    print()
    print("=== yarn: Qwen2.5-style, d=128 b=1e6 factor=4 original=32768 beta 32/1 truncate ===")
    inv, (lo, hi) = yarn_inv_freq(128, 1e6, 4.0, 32768, 32, 1, True)
    print(f"correction range (truncate): low={lo} high={hi};"
          f" raw: {find_correction_dim(32, 128, 1e6, 32768):.17g} {find_correction_dim(1, 128, 1e6, 32768):.17g}")
    print_vector("yarn lambda (truncate)", lambdas(128, 1e6, inv))
    print(f"yarn attention factor s=4: {fmt(yarn_attention_factor(4.0))}")
    inv, (lo, hi) = yarn_inv_freq(128, 1e6, 4.0, 32768, 32, 1, False)
    print(f"correction range (no truncate): low={lo!r} high={hi!r}")
    print_vector("yarn lambda (truncate=False)", lambdas(128, 1e6, inv))

    print()
    print("=== yarn: d=128 b=1e6 factor=4 original=32768 beta_fast=16 beta_slow=2 truncate ===")
    inv, (lo, hi) = yarn_inv_freq(128, 1e6, 4.0, 32768, 16, 2, True)
    print(f"correction range: low={lo} high={hi}")
    print_vector("yarn lambda (beta 16/2)", lambdas(128, 1e6, inv))

    print()
    print("=== yarn: LLaMA3-8B-style, d=128 b=5e5 factor=16 original=8192 beta 32/1 truncate ===")
    inv, (lo, hi) = yarn_inv_freq(128, 5e5, 16.0, 8192, 32, 1, True)
    print(f"correction range: low={lo} high={hi}")
    print_vector("yarn lambda", lambdas(128, 5e5, inv))
    print(f"yarn attention factor s=16: {fmt(yarn_attention_factor(16.0))}")
    print(f"yarn attention factor s=16 mscale=1 mscale_all_dim=0.5: {fmt(yarn_attention_factor(16.0, None, 1.0, 0.5))}")
    print(f"yarn attention factor s=40 mscale=0.707 mscale_all_dim=0.707: {fmt(yarn_attention_factor(40.0, None, 0.707, 0.707))}")

    print()
    print("=== ntk: d=128 b=5e5 s=16 (base change b*s^(d/(d-2))) ===")
    print_vector("ntk lambda", lambdas(128, 5e5, ntk_inv_freq(128, 5e5, 16.0)))

    print()
    print("=== dynamic: d=128 b=5e5 factor=2 max_position_embeddings=4096 seq_len=16384 ===")
    print_vector("dynamic lambda", lambdas(128, 5e5, dynamic_inv_freq(128, 5e5, 2.0, 4096, 16384)))
    print("=== dynamic: d=96 b=1e4 factor=4 max_position_embeddings=2048 seq_len=3000 ===")
    print_vector("dynamic lambda", lambdas(96, 1e4, dynamic_inv_freq(96, 1e4, 4.0, 2048, 3000)))
    print("=== dynamic: seq_len 1000 <= max_position_embeddings 2048 -> identity ===")
    print_vector("dynamic lambda", lambdas(96, 1e4, dynamic_inv_freq(96, 1e4, 4.0, 2048, 1000)))

    print()
    print("=== linear: d=96 b=1e4 factor=32 ===")
    print(f"lambda[0], lambda[47]: {fmt(lambdas(96, 1e4, linear_inv_freq(96, 1e4, 32.0))[0])},"
          f" {fmt(lambdas(96, 1e4, linear_inv_freq(96, 1e4, 32.0))[47])}")

    print()
    print("=== longrope attention factor sqrt(1 + ln s / ln L_train) ===")
    for s, lt in [(16.0, 8192), (32.0, 4096), (8.0, 128), (64.0, 2048), (1.0, 4096), (0.5, 4096)]:
        print(f"s={s:g} L_train={lt}: {fmt(longrope_attention_factor(s, lt))}")


if __name__ == "__main__":
    main()
