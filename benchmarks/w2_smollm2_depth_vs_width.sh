#!/usr/bin/env bash
# W2 (the width issue; Minitron's comparison at CPU scale): SmolLM2-135M (30 layers, FFN 1536) with about a
# quarter of its parameters removed by DEPTH (10 layers by ShortGPT's Block Influence: contribution over all
# tokens) or by WIDTH (FFN 1536 -> 864 in every layer, ranked by activation importance; heads and hidden
# channels kept whole: Minitron found FFN and embedding pruning cheaper to heal than heads), both calibrated
# on 64 blocks of wiki.valid.raw, each healed by the SAME logit-KD budget from the full model (STEPS steps,
# batch 4 x LEN tokens, lr 5e-5, T 1), against the full model fine-tuned on the same text for the same steps
# (plain LM loss: KD from itself would be a no-op). Train on wiki.valid.raw, evaluate on wiki.test.raw
# (perplexity on EVAL_BLOCKS x 512 tokens) and greedy generation speed (batch 1, KV cache), all stated in the
# records. Identical shapes share one speed figure: each model folder is timed once, in one scoring pass.
#
#   lamina models install smollm2-135m
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/w2_smollm2_depth_vs_width.sh   # → runs/w2/, results/w2/
#
# A finished step is skipped, so the script resumes; SCORE_ONLY=1 redoes the scoring pass alone (delete
# results/w2/*.json first), e.g. to re-time on a quiet machine.
set -euo pipefail
MODEL=${MODEL:-smollm2-135m}
DROP=${DROP:-10}
FFN=${FFN:-864}
STEPS=${STEPS:-150}
LEN=${LEN:-256}
EVAL_BLOCKS=${EVAL_BLOCKS:-16}
OUT=${OUT:-runs/w2}
RES=${RES:-benchmarks/results/w2}
W=${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR}/wikitext-2-raw
mkdir -p "$OUT" "$RES"
echo "$(date -u +%F) $0 MODEL=$MODEL DROP=$DROP FFN=$FFN STEPS=$STEPS LEN=$LEN EVAL_BLOCKS=$EVAL_BLOCKS" >> "$RES/command.txt"
calib=(--calib-data "$W/wiki.valid.raw" --calib-samples 64 --max-length "$LEN" --no-speed)
common=(--task causal-lm --corpus "$W/wiki.valid.raw" --eval-corpus "$W/wiki.test.raw" --max-eval-samples 8
        --max-length "$LEN" --batch-size 4 --max-steps "$STEPS" --lr 5e-5 --eval-steps "$STEPS" --logging-steps 10 --no-progress)
if [ "${SCORE_ONLY:-0}" != 1 ]; then
  [ -d "$OUT/depth" ] || lamina prune "$MODEL" --strategy contribution --strategy-option token=all --drop "$DROP" \
    "${calib[@]}" -o "$OUT/depth"
  [ -d "$OUT/width" ] || lamina prune "$MODEL" --ffn "$FFN" --importance activation "${calib[@]}" -o "$OUT/width"
  for shape in depth width; do
    [ -d "$OUT/$shape-kd-${STEPS}steps" ] || lamina distill "${common[@]}" --teacher "$MODEL" --student "$OUT/$shape" \
      --loss kd=1 -T 1 -o "$OUT/$shape-kd-${STEPS}steps"
  done
  [ -d "$OUT/full-lm-${STEPS}steps" ] || lamina finetune "$MODEL" "${common[@]}" -o "$OUT/full-lm-${STEPS}steps"
fi
score() {  # perplexity on the test text + generation speed (one timing per folder)
  [ -f "$RES/$2.json" ] || lamina eval "$1" --task causal-lm --corpus "$W/wiki.test.raw" --max-length 512 \
    --max-samples "$EVAL_BLOCKS" --batch-size 4 --speed-batch-sizes 1 --speed-seq-len 64 --json "$RES/$2.json" > /dev/null
}
score "$MODEL" full
for name in depth width depth-kd-${STEPS}steps width-kd-${STEPS}steps full-lm-${STEPS}steps; do
  [ -d "$OUT/$name" ] && score "$OUT/$name" "$name"
done
python - "$RES" <<'PY'
import json, statistics, sys
from pathlib import Path
res = Path(sys.argv[1])
records = {f.stem: json.loads(f.read_text()) for f in sorted(res.glob("*.json"))}
def shape(r):
    return (r["sizes"].get("layers"), r["sizes"].get("parameters"))
def tps(r):
    return r["speeds"]["generation"]["tokens_per_second"]
# identical shapes share one speed figure: the median of the timings of that shape
per_shape = {}
for r in records.values():
    per_shape.setdefault(shape(r), []).append(tps(r))
speed = {k: statistics.median(v) for k, v in per_shape.items()}
full = records["full"]
lines = ["| model | layers | parameters | perplexity | x full | generation tokens/s (per shape) | speed-up |",
         "|---|---:|---:|---:|---:|---:|---:|"]
for name, r in records.items():
    ppl, g = r["metrics"]["perplexity"], speed[shape(r)]
    lines.append(f"| {name} | {r['sizes']['layers']} | {r['sizes']['parameters']:,} | {ppl:.2f} | "
                 f"{ppl / full['metrics']['perplexity']:.2f} | {g:.1f} | {g / speed[shape(full)]:.2f}x |")
print("\n".join(lines))
(res / "table.md").write_text("\n".join(lines) + "\n")
PY
