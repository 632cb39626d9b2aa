#!/usr/bin/env bash
# W1 on the quickstart's task (a small stand-in for the SST-2 W1 of the width issue): students at about
# 3-4x the teacher's CPU throughput, cut from the fine-tuned MiniLM-L6 bbc-news teacher by depth only,
# width only and depth + width, each healed by the same KD budget (kd 0.5 + ce 0.5, T 2, lr 1e-4,
# EPOCHS epochs on all 1,671 articles, 128 tokens, seed SEED), then scored on the 418 dev articles.
# Speed-ups come from benchmarks/width_shapes.py (same shapes, one measurement each).
#   TEACHER=runs/quickstart/runs/teacher bash benchmarks/w1_bbc_shapes.sh
# The issue's W1 proper, on SST-2 (the teacher from finetune_teachers.sh; 1 epoch of the full train set):
#   ONLY=sst2-s42 LAMINA_DATA_DIR=../shared/data bash benchmarks/finetune_teachers.sh
#   TASK=sst2 EPOCHS=1 MAXLEN=64 TEACHER=runs/teachers/sst2-s42 OUT=runs/w1_sst2 \
#     LAMINA_DATA_DIR=../shared/data bash benchmarks/w1_bbc_shapes.sh
set -euo pipefail
TEACHER=${TEACHER:?set TEACHER to a fine-tuned MiniLM-L6 bbc-news teacher (lamina quickstart makes one)}
OUT=${OUT:-runs/w1_bbc}
EPOCHS=${EPOCHS:-2}
TASK=${TASK:-bbc-news}
MAXLEN=${MAXLEN:-128}
SEED=${SEED:-42}
SHAPES=${SHAPES:-"2:1536:12:384 6:768:6:192 3:384:12:384 4:768:6:192"}
mkdir -p "$OUT"
for shape in $SHAPES; do
  IFS=: read -r layers ffn heads hidden <<< "$shape"
  name="s${layers}-${ffn}-${heads}-${hidden}-seed${SEED}"
  [ -f "$OUT/$name/lamina_results.json" ] && { echo "done: $name"; continue; }
  width=()
  [ "$ffn" != 1536 ] && width+=(--ffn "$ffn")
  [ "$heads" != 12 ] && width+=(--heads "$heads" --hidden "$hidden")
  lamina distill --teacher "$TEACHER" --task "$TASK" -o "$OUT/$name" --overwrite \
    --student-from-teacher contribution --keep "$layers" "${width[@]}" \
    --loss kd=0.5,ce=0.5 -T 2 --lr 1e-4 --epochs "$EPOCHS" --batch-size 32 --max-length "$MAXLEN" --seed "$SEED" \
    --logging-steps 10 --no-progress
done
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
rows = []
for f in sorted(Path(sys.argv[1]).glob("*/lamina_results.json")):
    r = json.loads(f.read_text())
    w = (r["distill"].get("student_width") or {}).get("after") or {}
    rows.append((f.parent.name, r["sizes"].get("parameters"), r["metrics"]["accuracy"], r["wall_seconds"], w))
lines = ["| student | parameters | dev accuracy | wall s |", "|---|---:|---:|---:|"]
lines += [f"| {n} | {p:,} | {100 * a:.2f} | {s:.0f} |" for n, p, a, s, _ in rows]
print("\n".join(lines))
(Path(sys.argv[1]) / "table.md").write_text("\n".join(lines) + "\n")
PY
