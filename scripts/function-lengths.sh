#!/usr/bin/env bash
# The longest functions as universal-ctags measures them (its end: field), and how many exceed a
# limit. Exit status 1 when any does.
#
#   scripts/function-lengths.sh LIMIT FILE…
#
# The search's path (issue 24: no function over 120 lines):
#   scripts/function-lengths.sh 120 core/search/*.cpp core/worker/*.cpp core/distributed/*.cpp \
#       core/job/*.cpp app/cli/search.cpp widgets/searchpanel.cpp widgets/searchruncontroller.cpp \
#       widgets/livescores.cpp widgets/searchsettingsform.cpp
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
limit=$1
shift
command -v ctags > /dev/null || { echo "needs universal-ctags (apt-get install universal-ctags)" >&2; exit 2; }
for f in "$@"; do
    ctags --c++-kinds=f --fields=+ne --output-format=json -o - "$f"
done | python3 -c '
import json, sys
limit = int(sys.argv[1])
functions = sorted(((t["end"] - t["line"] + 1, t["path"], t["name"]) for t in map(json.loads, sys.stdin) if "end" in t),
                   reverse=True)
for lines, path, name in functions[:5]:
    print(f"{lines:5} {path} {name}")
over = [f for f in functions if f[0] > limit]
print(f"{len(functions)} functions, {len(over)} over {limit} lines")
sys.exit(1 if over else 0)
' "$limit"
