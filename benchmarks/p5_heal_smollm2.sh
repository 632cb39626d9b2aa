#!/usr/bin/env bash
# P5: SmolLM2-135M (30 layers) with 6 layers removed by top / contribution (last token, and all
# tokens = ShortGPT's Block Influence) / angular, healed by logit KD from the full model versus
# plain LM fine-tuning, on WikiText-2: calibrate and train on wiki.valid.raw, evaluate on
# wiki.test.raw (stated in every record). Target: healed perplexity <= 1.3x the full model's,
# with the generation speed-up (greedy, KV cache) measured by `lamina eval`.
#
#   lamina models install smollm2-135m
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/p5_heal_smollm2.sh      # → runs/p5/, results/p5/
#
# Overrides for a quick check: MODEL (any causal LM folder), DROP, STEPS, LEN, EVAL_BLOCKS, OUT;
# VARIANTS (a subset of "top contribution-last contribution-all angular"), HEAL=0 (score the
# un-healed prunes only, e.g. to choose which one to heal on a slow machine), HEAL_WITH (a subset
# of "kd lm"). Healed runs are named VARIANT-{kd,lm}-{STEPS}steps, so budgets sit side by side.
set -euo pipefail
MODEL=${MODEL:-smollm2-135m}
DROP=${DROP:-6}
STEPS=${STEPS:-300}
LEN=${LEN:-256}
EVAL_BLOCKS=${EVAL_BLOCKS:-16}   # 16 x 512 = 8,192 test tokens, as in the design notes
OUT=${OUT:-runs/p5}
RES=${RES:-benchmarks/results/p5}
W=${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR}/wikitext-2-raw
for how in ${HEAL_WITH:-kd lm}; do
  case $how in kd|lm) ;; *) echo "p5_heal_smollm2.sh: HEAL_WITH takes kd and/or lm, not '$how'" >&2; exit 2;; esac
done
mkdir -p "$OUT" "$RES"
echo "$(date -u +%F) VARIANTS=\"${VARIANTS:-all}\" HEAL=${HEAL:-1} HEAL_WITH=\"${HEAL_WITH:-kd lm}\" $0 MODEL=$MODEL DROP=$DROP STEPS=$STEPS LEN=$LEN EVAL_BLOCKS=$EVAL_BLOCKS" >> "$RES/command.txt"

score() {  # perplexity on the test text + forward and generation speed
  lamina eval "$1" --task causal-lm --corpus "$W/wiki.test.raw" --max-length 512 --max-samples "$EVAL_BLOCKS" \
    --batch-size 4 --speed-batch-sizes 1 --speed-seq-len 64 --json "$RES/$2.json" > /dev/null
}

[ -f "$RES/full.json" ] || score "$MODEL" full
for variant in ${VARIANTS:-top contribution-last contribution-all angular}; do
  strategy=${variant%%-*}
  opts=()
  case $variant in contribution-last) opts=(--strategy-option token=last);; contribution-all) opts=(--strategy-option token=all);; esac
  [ -d "$OUT/$variant" ] || lamina prune "$MODEL" --strategy "$strategy" "${opts[@]}" --drop "$DROP" \
    --calib-data "$W/wiki.valid.raw" --calib-samples 64 --max-length "$LEN" --no-speed -o "$OUT/$variant"
  [ -f "$RES/$variant-unhealed.json" ] || score "$OUT/$variant" "$variant-unhealed"
  [ "${HEAL:-1}" = 1 ] || continue
  common=(--task causal-lm --corpus "$W/wiki.valid.raw" --eval-corpus "$W/wiki.test.raw" --max-eval-samples 8
          --max-length "$LEN" --batch-size 4 --max-steps "$STEPS" --lr 5e-5 --eval-steps "$STEPS" --no-progress)
  for how in ${HEAL_WITH:-kd lm}; do  # healed runs are named by their budget: VARIANT-kd-300steps
    healed="$variant-$how-${STEPS}steps"
    if [ ! -d "$OUT/$healed" ]; then
      if [ "$how" = kd ]; then
        lamina distill "${common[@]}" --teacher "$MODEL" --student "$OUT/$variant" --loss kd=1 -T 1 -o "$OUT/$healed"
      else
        lamina finetune "$OUT/$variant" "${common[@]}" -o "$OUT/$healed"
      fi
    fi
    [ -f "$RES/$healed.json" ] || score "$OUT/$healed" "$healed"
  done
done

python - "$RES" <<'PY'
import json, sys
from pathlib import Path
res = Path(sys.argv[1])
full = json.loads((res / "full.json").read_text())
base_ppl = full["metrics"]["perplexity"]
base_tps = full["speeds"]["generation"]["tokens_per_second"]
rows = ["| model | kept layers | perplexity | x full | generation tokens/s | speed-up |", "|---|---|---:|---:|---:|---:|"]
for f in sorted(res.glob("*.json")):
    r = json.loads(f.read_text())
    ppl, tps = r["metrics"]["perplexity"], r["speeds"]["generation"]["tokens_per_second"]
    rows.append(f"| {f.stem} | {r['sizes']['layers']} | {ppl:.2f} | {ppl / base_ppl:.2f} | {tps:.1f} | {tps / base_tps:.2f}x |")
(res / "table.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
