#!/usr/bin/env bash
# Issue 5, seed 000's note: LayerDrop applied only while fine-tuning (MiniLM-L6 on SST-2),
# then every other layer dropped with no retraining. Does LayerDrop make the pruned model better?
#
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/layerdrop_finetune.sh
#   # → runs/layerdrop_ft/ (models), benchmarks/results/layerdrop_ft/ (JSON, table)
#
# CPU form: a seeded 10,000-example subset of SST-2 train, 1 epoch, lr 5e-5, batch 32, max length
# 128; LayerDrop p = 0 and 0.2 (Fan et al.'s rate for halving depth); scored on the full dev set
# at 6 layers and at 3 (alternate: layers 1, 3, 5 kept, 0-based).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR}"
RUNS=${RUNS:-runs/layerdrop_ft}
RESULTS=benchmarks/results/layerdrop_ft
TRAIN=${TRAIN:-10000}
SEEDS=${SEEDS:-42}
mkdir -p "$RUNS" "$RESULTS"
for seed in $SEEDS; do
  for p in 0 0.2; do
    m=$RUNS/sst2-ld$p-s$seed
    [ -f "$m/lamina_results.json" ] || lamina finetune minilm-l6 --task sst2 --data-dir "$LAMINA_DATA_DIR" \
      --max-train-samples "$TRAIN" --epochs 1 --lr 5e-5 --layerdrop "$p" --seed "$seed" -o "$m" --overwrite
    cp "$m/lamina_results.json" "$RESULTS/finetune-ld$p-s$seed.json"
    [ -f "$RESULTS/depths-ld$p-s$seed.json" ] || lamina eval "$m" --task sst2 --data-dir "$LAMINA_DATA_DIR" \
      --depths 6,3 --strategy alternate --no-speed --json "$RESULTS/depths-ld$p-s$seed.json"
  done
done
python - "$RESULTS" <<'PY'
import json, sys
from pathlib import Path
folder = Path(sys.argv[1])
rows = ["| LayerDrop p (fine-tuning) | seed | 6 layers acc | 3 layers (alternate, no retraining) acc |", "|--:|--:|--:|--:|"]
for f in sorted(folder.glob("depths-ld*.json")):
    r = json.loads(f.read_text())
    d = {x["layers"]: x["metrics"]["accuracy"] for x in r["depths"]}
    p, seed = f.stem.removeprefix("depths-ld").split("-s")
    rows.append(f"| {p} | {seed} | {100 * d[6]:.2f} | {100 * d[3]:.2f} |")
(folder / "table.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
