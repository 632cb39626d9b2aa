#!/usr/bin/env bash
# Which layers matter: the `lamina inspect` table of MiniLM-L6 and MPNet-12 on 256 SST-2
# training sentences (sampled with seed 0). Needs the GLUE folder in $LAMINA_DATA_DIR
# (e.g. LAMINA_DATA_DIR=../shared/data) and, for MPNet, `lamina models install mpnet-base`.
#   bash benchmarks/inspect_layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR to the folder holding glue/SST-2}"
mkdir -p benchmarks/results
for model in minilm-l6 mpnet-base; do
  out=benchmarks/results/inspect_${model}_sst2
  {
    echo "\$ lamina inspect $model --calib-data sst2 --calib-samples 256 --json $out.json"
    COLUMNS=140 lamina inspect "$model" --calib-data sst2 --calib-samples 256 --json "$out.json"
  } | tee "$out.txt"
done
