#!/usr/bin/env bash
# Fine-tune MiniLM-L6 as the teacher on RTE, MRPC (3 seeds each: they are noisy) and SST-2
# (full training set, one epoch, one seed), on CPU. The models land in runs/teachers/
# (not committed); their results JSON, model cards and a report are copied to
# benchmarks/results/teachers/. Regenerate every teacher with one command:
#
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/finetune_teachers.sh
#   ONLY="sst2-s42 sst2-s43" LAMINA_DATA_DIR=../shared/data bash benchmarks/finetune_teachers.sh  # just these
#
# sst2-s43 is the second teacher of P3's two-teacher rows (distill_quality.sh).
#
# Settings: lr 5e-5, batch 32, max length 128, linear decay with 10% warm-up, length-grouped
# batches with dynamic padding; best dev checkpoint kept.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR to the GLUE data folder}"
RUNS=${RUNS:-runs/teachers}
RESULTS=benchmarks/results/teachers
mkdir -p "$RESULTS"

run() {  # name, then lamina finetune arguments
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  if [ -f "$RUNS/$name/lamina_results.json" ]; then echo "= $name done already"; else
    echo "+ lamina finetune minilm-l6 -o $RUNS/$name $*"
    lamina finetune minilm-l6 -o "$RUNS/$name" --data-dir "$LAMINA_DATA_DIR" "$@"
  fi
  cp "$RUNS/$name/lamina_results.json" "$RESULTS/$name.json"
  cp "$RUNS/$name/README.md" "$RESULTS/$name.card.md"
}

for seed in 42 43 44; do
  run "rte-s$seed" --task rte --epochs 3 --seed "$seed"
  run "mrpc-s$seed" --task mrpc --epochs 3 --seed "$seed"
done
run sst2-s42 --task sst2 --epochs 1 --eval-steps 500 --seed 42
run sst2-s43 --task sst2 --epochs 1 --eval-steps 500 --seed 43

lamina report "$RESULTS" -o "$RESULTS"
