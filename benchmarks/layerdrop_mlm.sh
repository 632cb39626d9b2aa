#!/usr/bin/env bash
# Issue 5: seed 002 ("A Robust Initialization Method for Knowledge Distillation") at CPU scale.
#
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/layerdrop_mlm.sh
#   # → runs/layerdrop_mlm/ (models), benchmarks/results/layerdrop_mlm/ (JSON, table, plot)
#
# 1. Teachers: 4-layer BERT MLMs trained from scratch (MiniLM-L6 tokenizer, hidden 128, 2 heads)
#    with LayerDrop p = 0, 0.1, 0.2, 0.5, same budget (EPOCHS epochs, batch 32, 128-token blocks).
#    WikiText-2's train split is not available here: train on wiki.valid.raw, evaluate on
#    the first EVAL_BLOCKS blocks of wiki.test.raw, masked once (seed 42).
# 2. Each teacher pruned to every other layer (alternate: layers 0 and 2 kept) with no
#    retraining: `lamina eval --depths 4,2` (the robustness claim).
# 3. Students (as in the seed's table: from the LayerDrop 0 and 0.1 teachers): 2 layers
#    initialised from the pruned teacher, distilled from that teacher with seed 002's loss
#    (alpha_ce 5, alpha_mlm 2, alpha_cos 1 → --loss kd=5,mlm=2,cosine=1) on STUDENT_BLOCKS
#    blocks (default 960: 30 steps; KD over 30,522 classes at every token costs ~5 s a step
#    here); last logged loss, average cumulative loss, eval MLM loss, loss-vs-step plot.
# Settings can be changed through the environment (EPOCHS, STUDENT_EPOCHS, RATES, HIDDEN, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR}"
WIKI=$LAMINA_DATA_DIR/wikitext-2-raw
RUNS=${RUNS:-runs/layerdrop_mlm}
RESULTS=benchmarks/results/layerdrop_mlm
EPOCHS=${EPOCHS:-2}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-1}
STUDENT_BLOCKS=${STUDENT_BLOCKS:-960}
RATES=${RATES:-"0 0.1 0.2 0.5"}
STUDENT_RATES=${STUDENT_RATES:-"0 0.1"}
HIDDEN=${HIDDEN:-128}
HEADS=${HEADS:-2}
EVAL_BLOCKS=${EVAL_BLOCKS:-256}
LR=${LR:-5e-4}
mkdir -p "$RUNS" "$RESULTS"
data=(--corpus "$WIKI/wiki.valid.raw" --max-length 128 --batch-size 32 --seed 42 --logging-steps 5)

for p in $RATES; do
  t=$RUNS/teacher-ld$p
  [ -f "$t/lamina_results.json" ] || lamina pretrain "${data[@]}" --eval-corpus "$WIKI/wiki.test.raw" \
    --max-eval-samples "$EVAL_BLOCKS" --num-layers 4 --hidden-size "$HIDDEN" --num-heads "$HEADS" --layerdrop "$p" \
    --epochs "$EPOCHS" --lr "$LR" -o "$t" --overwrite
  cp "$t/lamina_results.json" "$RESULTS/teacher-ld$p.json"
  [ -f "$RESULTS/depths-ld$p.json" ] || lamina eval "$t" --task mlm --corpus "$WIKI/wiki.test.raw" \
    --max-samples "$EVAL_BLOCKS" --depths 4,2 --strategy alternate --no-speed --json "$RESULTS/depths-ld$p.json"
done
for p in $STUDENT_RATES; do
  t=$RUNS/teacher-ld$p
  s=$RUNS/student-ld$p
  [ -f "$s/lamina_results.json" ] || lamina distill --task mlm "${data[@]}" --eval-corpus "$WIKI/wiki.test.raw" \
    --max-eval-samples "$EVAL_BLOCKS" --teacher "$t" --student-from-teacher alternate --keep 2 \
    --loss kd=5,mlm=2,cosine=1 --temperature 2 --epochs "$STUDENT_EPOCHS" --max-train-samples "$STUDENT_BLOCKS" \
    --logging-steps 2 --lr "$LR" -o "$s" --overwrite
  cp "$s/lamina_results.json" "$RESULTS/student-ld$p.json"
done
python benchmarks/layerdrop_mlm_table.py "$RESULTS"
