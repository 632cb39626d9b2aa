#!/usr/bin/env bash
# C1 (issue 28): lamina compress on the quickstart's bbc-news teacher, one budget per run, on a quiet
# 2-core machine. NOT RUN YET: written with the command, to be run when the machine is quiet.
# What it should answer: does the chosen student match or beat the hand-picked W1 shapes at the same speed-up
# (3:384:12:384 94.66 at 3.82x, 2 layers 95.06 at 3.08x: benchmarks/README.md), does the un-healed probe rank the
# healed candidates in the same order (heal every ranked shape with HEAL=8 to see), and is the time estimate honest.
#   TEACHER=runs/quickstart/runs/teacher LAMINA_DATA_DIR=../shared/data bash benchmarks/c1_compress.sh
set -euo pipefail
TEACHER=${TEACHER:?set TEACHER to a fine-tuned MiniLM-L6 bbc-news teacher (lamina quickstart makes one)}
OUT=${OUT:-runs/c1_compress}
HEAL=${HEAL:-2}
SEED=${SEED:-42}
mkdir -p "$OUT"
run() {  # name, budget flags...
  local name=$1; shift
  [ -f "$OUT/$name/lamina_results.json" ] && { echo "done: $name"; return; }
  local resume=()
  [ -d "$OUT/$name.work" ] && resume=(--resume)
  /usr/bin/time -o "$OUT/$name.time" lamina compress "$TEACHER" --task bbc-news -o "$OUT/$name" "$@" \
    --heal "$HEAL" --seed "$SEED" --time-budget 120 "${resume[@]}"
}
run speedup3 --speedup 3
run speedup4 --speedup 4
run speedup3-int8 --speedup 3 --backend onnx-int8
run params10m --max-params 10000000
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
lines = ["| run | budget | chosen | dev | drop | measured | healed | wall min |", "|---|---|---|---:|---:|---|---:|---:|"]
for f in sorted(Path(sys.argv[1]).glob("*/lamina_results.json")):
    r = json.loads(f.read_text()); c = r["compress"]
    s = next(x for x in c["shapes"] if x["name"] == c["chosen"])
    m = s["measured"]
    lines.append(f"| {f.parent.name} | {c['budget']['text']} {c['backend']} | {c['chosen']} | {s['score']:.2f} | "
                 f"{s['drop']:.2f} | {m['speedup']:.2f}x, {m['latency_ms']:.1f} ms, {m['megabytes']:.1f} MB | "
                 f"{sum(x.get('score') is not None for x in c['shapes'])} | {c['seconds_spent'] / 60:.1f} |")
print("\n".join(lines))
(Path(sys.argv[1]) / "table.md").write_text("\n".join(lines) + "\n")
PY
