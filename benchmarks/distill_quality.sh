#!/usr/bin/env bash
# P3 (issue 4): SST-2 dev accuracy of 3-layer students of the fine-tuned MiniLM-L6 teacher
# (runs/teachers/sst2-s42, made by benchmarks/finetune_teachers.sh), 3 seeds each:
#   drop-top + fine-tune, alternate + fine-tune, KD, PKD-skip, PKD-last, KD + hidden_mse;
#   and (issue 12) KD from two teachers (sst2-s42 + sst2-s43, logits averaged) and MetaDistil
#   (kd, exact meta-gradient, a meta round every 4 steps on one quiz batch of 32; the quiz is
#   100 examples held out of the training subset, so MetaDistil trains on TRAIN - 100).
# CPU form: a seeded training subset ($TRAIN examples, default 20000) and $EPOCHS epochs.
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/distill_quality.sh
#   ROWS="kd-2t metadistil" SEEDS=42 LAMINA_DATA_DIR=../shared/data bash benchmarks/distill_quality.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR}"
TEACHER=${TEACHER:-runs/teachers/sst2-s42}
TEACHER2=${TEACHER2:-runs/teachers/sst2-s43}
ROWS=${ROWS:-top-ft alternate-ft kd pkd-skip pkd-last kd-hidden kd-2t metadistil}
SEEDS=${SEEDS:-42 43 44}
TRAIN=${TRAIN:-20000}
EPOCHS=${EPOCHS:-1}
RUNS=${RUNS:-runs/p3}
RESULTS=benchmarks/results/distill_quality
[ -d "$TEACHER" ] || { echo "error: teacher $TEACHER missing: run benchmarks/finetune_teachers.sh" >&2; exit 2; }
mkdir -p "$RUNS" "$RESULTS"
# --overwrite: a run without results (interrupted) starts again from scratch
common=(--task sst2 --data-dir "$LAMINA_DATA_DIR" --max-train-samples "$TRAIN" --epochs "$EPOCHS" --lr 1e-4 --overwrite)

want() { [[ " $ROWS " == *" $1 "* ]]; }
[[ " $ROWS " != *" kd-2t "* ]] || [ -d "$TEACHER2" ] || { echo "error: second teacher $TEACHER2 missing: run ONLY=sst2-s43 benchmarks/finetune_teachers.sh" >&2; exit 2; }
keep() { [ -f "$RUNS/$1/lamina_results.json" ] && cp "$RUNS/$1/lamina_results.json" "$RESULTS/$1.json"; }
for seed in $SEEDS; do
  for strategy in top alternate; do
    want "$strategy-ft" || continue
    name=$strategy-ft-s$seed
    [ -f "$RUNS/$strategy-3/lamina_results.json" ] || lamina prune minilm-l6 -o "$RUNS/$strategy-3" --strategy "$strategy" --keep 3 --no-speed --overwrite
    [ -f "$RUNS/$name/lamina_results.json" ] || lamina finetune "$RUNS/$strategy-3" -o "$RUNS/$name" "${common[@]}" --seed "$seed"
    keep "$name"
  done
  for spec in "kd:kd=1:skip" "pkd-skip:kd=1,pkd=100:skip" "pkd-last:kd=1,pkd=100:last" "kd-hidden:kd=1,hidden_mse=1:skip" \
              "kd-2t:kd=1:skip" "metadistil:kd=1:skip"; do
    IFS=: read -r label loss map <<<"$spec"
    want "$label" || continue
    name=$label-s$seed
    extra=(--teacher "$TEACHER")
    case $label in
      kd-2t) extra+=(--teacher "$TEACHER2") ;;
      metadistil) extra+=(--method metadistil --meta-every 4 --quiz-size 100 --quiz-batch-size 32 --held-batches 1) ;;
    esac
    [ -f "$RUNS/$name/lamina_results.json" ] || lamina distill "${extra[@]}" -o "$RUNS/$name" "${common[@]}" \
      --student-from-teacher top --keep 3 --loss "$loss" --alpha 0.5 --temperature 2 --layer-map "$map" --seed "$seed"
    keep "$name"
  done
done
lamina report "$RESULTS" -o "$RESULTS"
