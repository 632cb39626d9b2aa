#!/usr/bin/env bash
# The GPU form (issue 30): the paper-sized runs the 2-core CPU cannot do, sized for one H100/H200
# and at most 9 minutes in all, offline (the device machine has no network).
#
#   bash benchmarks/gpu/run.sh [--tiny] [--out DIR] [--work DIR]
#
# Stages (each a recipe derived by benchmarks/gpu/derive.py and run with `lamina run`, under
# `timeout`, within a hard overall deadline):
#   check  lamina and torch importable (else `pip install --no-index --no-deps -e .`), CUDA, bf16,
#          data and models: what is missing is said, nothing hangs
#   pmb    Poor Man's BERT: the 12-layer MPNet (MiniLM-L6 when mpnet-base is not installed) fine-tuned
#          on SST-2, 4 and 6 layers dropped by top/alternate/contribution, each fine-tuned   (240 s)
#   md     seed 004: BERT stand-in → 3-layer student, fine-tuned alone vs KD vs MetaDistil     (200 s)
#   seqkd  Kim & Rush at full size, as far as the time left allows (a rerun continues it)
# then `lamina report` per stage into summary.md, and timings.txt.
#
# Data: $LAMINA_DATA_DIR, else ./shared/data; without GLUE SST-2 there the classification stages
# use the embedded bbc-news, without multi30k Kim & Rush uses the embedded bbc-headline (said in
# the output and in summary.md).
#
# Safe to rerun: a stage whose derived recipe is unchanged and finished is skipped; an unfinished
# one continues (`lamina run` skips finished runs and resumes interrupted training). Models and
# checkpoints live in --work (default gpu-out/, an ignored folder of the repo, so they stay between
# calls on a warm device machine); --out (default $OUT, else the work folder) gets the light part:
# summary.md, timings.txt, env.txt, logs, results JSON and reports.
#
# --tiny: the same stages on a few examples and steps with tiny models, on the CPU, to check this
# script end to end (tests/unit/test_gpu_script.py); its numbers mean nothing.
#
# Settings (environment): PYTHON (default python), DEADLINE_S (total seconds, default 540; tiny 1500),
# BUDGET_PMB, BUDGET_MD, BUDGET_SEQKD (seconds per stage, capped by the time left), STAGES (default
# "pmb md seqkd").
set -uo pipefail # not -e: a stage that fails or runs out of time must not stop the others

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
SIZE=gpu
OUT_DIR=${OUT:-}
WORK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) SIZE=tiny ;;
    --out) OUT_DIR=$2; shift ;;
    --work) WORK=$2; shift ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
WORK=${WORK:-gpu-out}
OUT_DIR=${OUT_DIR:-$WORK}
mkdir -p "$WORK/stages" "$OUT_DIR" || exit 1
WORK=$(cd "$WORK" && pwd)
OUT_DIR=$(cd "$OUT_DIR" && pwd)
PY=${PYTHON:-python}
LAMINA=("$PY" -m lamina.cli)
if [ "$SIZE" = tiny ]; then
  DEADLINE_S=${DEADLINE_S:-1500}; MIN_STAGE=1; RESERVE=0
  BUDGET_PMB=${BUDGET_PMB:-500}; BUDGET_MD=${BUDGET_MD:-500}; BUDGET_SEQKD=${BUDGET_SEQKD:-500}
else
  DEADLINE_S=${DEADLINE_S:-540}; MIN_STAGE=45; RESERVE=25 # RESERVE: the reports and summary
  BUDGET_PMB=${BUDGET_PMB:-240}; BUDGET_MD=${BUDGET_MD:-200}; BUDGET_SEQKD=${BUDGET_SEQKD:-600}
fi
STAGES=${STAGES:-pmb md seqkd}
START=$(date +%s)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
: >"$OUT_DIR/run.log"
NOTES=()
say() { echo "[gpu-form $(($(date +%s) - START))s] $*" | tee -a "$OUT_DIR/run.log"; }
note() { NOTES+=("$*"); say "NOTE: $*"; }
left() { echo $((DEADLINE_S - ($(date +%s) - START))); }

# ---------------------------------------------------------------- check: what this machine has
t0=$(date +%s)
say "size $SIZE, deadline ${DEADLINE_S}s, work $WORK, out $OUT_DIR"
if ! timeout 120 "$PY" -c "import lamina, torch" 2>/dev/null; then
  say "lamina or torch not importable: trying pip install --no-index --no-deps --no-build-isolation -e . (offline)"
  timeout 180 "$PY" -m pip install --no-index --no-deps --no-build-isolation -e . >>"$OUT_DIR/run.log" 2>&1 ||
    say "pip install of lamina failed (see run.log)"
fi
timeout 120 "$PY" - "$OUT_DIR/env.txt" "$SIZE" <<'PY'
import importlib, importlib.metadata as md, re, sys, tomllib

lines, missing = [], []
with open("pyproject.toml", "rb") as f:  # lamina's own dependencies, as the repo states them
    requirements = tomllib.load(f)["project"].get("dependencies", [])
for req in requirements:
    name = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        missing.append(name)
for module in ("torch", "lamina", "transformers"):
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        missing.append(f"{module} (import failed: {exc})")
if not missing:
    import torch

    import lamina
    from lamina.models.bundled import status

    cuda = torch.cuda.is_available()
    lines += [
        f"lamina {getattr(lamina, '__version__', '?')} from {lamina.__file__}",
        f"torch {torch.__version__}, transformers {importlib.import_module('transformers').__version__}",
        f"cuda {cuda}" + (f": {torch.cuda.get_device_name(0)}" if cuda else ""),
        f"bf16 {bool(cuda and torch.cuda.is_bf16_supported())}",
        f"mpnet-base {status('mpnet-base')}",
    ]
lines += [f"missing {m}" for m in missing]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(2 if missing else 0)
PY
rc=$?
cat "$OUT_DIR/env.txt" >>"$OUT_DIR/run.log" 2>/dev/null
if [ $rc -ne 0 ]; then
  say "STOP: the environment lacks what lamina needs (the 'missing' lines above, also in env.txt; rc $rc)."
  say "The device has no network: install them into the image, or carry a virtual environment to it."
  exit 2
fi
BF16=()
grep -q "^bf16 True" "$OUT_DIR/env.txt" && BF16=(--bf16)
if [ "$SIZE" = gpu ] && ! grep -q "^cuda True" "$OUT_DIR/env.txt"; then
  say "STOP: no CUDA device. The GPU form would only run out of time here; use --tiny to check the script on a CPU."
  exit 3
fi
DATA=${LAMINA_DATA_DIR:-}
[ -z "$DATA" ] && [ -d shared/data ] && DATA=$ROOT/shared/data
export LAMINA_DATA_DIR="$DATA"
if [ -n "$DATA" ] && [ -d "$DATA/glue/SST-2" ]; then
  CLS=sst2
else
  CLS=bbc-news
  note "no GLUE SST-2 under ${DATA:-(no data folder)}: pmb and md run on the embedded bbc-news (5 topics), not SST-2"
fi
if [ -n "$DATA" ] && [ -d "$DATA/multi30k" ]; then
  S2S=multi30k
else
  S2S=bbc-headline
  note "no multi30k under ${DATA:-(no data folder)}: Kim & Rush runs on the embedded bbc-headline, not Multi30k"
fi
MODEL=minilm-l6
if [ "$SIZE" = gpu ]; then
  if grep -q "^mpnet-base \(ready\|installed\)" "$OUT_DIR/env.txt"; then
    MODEL=mpnet-base
  else
    note "mpnet-base is not installed (needs the network: lamina models install mpnet-base): pmb uses MiniLM-L6 (6 layers, drops 2 and 3)"
  fi
fi
echo "check ok $(($(date +%s) - t0))" >"$WORK/stages/check.status"

# ---------------------------------------------------------------- the stages
declare -A TITLE=([pmb]="a. Poor Man's BERT ($MODEL, $CLS)" [md]="b. Seed 004: KD vs MetaDistil ($CLS)"
  [seqkd]="c. Kim & Rush, sequence-level KD ($S2S)")
declare -A BUDGET=([pmb]=$BUDGET_PMB [md]=$BUDGET_MD [seqkd]=$BUDGET_SEQKD)
declare -A TASK=([pmb]=$CLS [md]=$CLS [seqkd]=$S2S)

run_stage() {
  local name=$1 recipe="$WORK/recipes/$1.yaml" marker="$WORK/stages/$1.done" total=0 status seconds
  mkdir -p "$WORK/recipes"
  if ! "$PY" benchmarks/gpu/derive.py "$name" "$SIZE" "$recipe" --task "${TASK[$name]}" --model "$MODEL" "${BF16[@]}"; then
    say "$name: could not derive its recipe"; echo "failed 0 0" >"$WORK/stages/$name.status"; return
  fi
  local hash
  hash=$(sha1sum <"$recipe" | cut -d' ' -f1)
  [ -f "$WORK/stages/$name.seconds" ] && total=$(cat "$WORK/stages/$name.seconds")
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$hash" ]; then
    say "$name: finished by an earlier run: skipped"
    echo "skipped 0 $total" >"$WORK/stages/$name.status"
    return
  fi
  local budget=${BUDGET[$name]} remaining
  remaining=$(($(left) - RESERVE))
  [ "$remaining" -lt "$budget" ] && budget=$remaining
  if [ "$budget" -lt "$MIN_STAGE" ]; then
    say "$name: ${remaining}s left, not started (a rerun starts it)"
    echo "no-time 0 $total" >"$WORK/stages/$name.status"
    return
  fi
  say "$name: ${TITLE[$name]}, up to ${budget}s (log: logs/$name.log)"
  local t0 rc
  t0=$(date +%s)
  timeout --kill-after=15 "$budget" "${LAMINA[@]}" run "$recipe" -o "$WORK/runs/$name" >"$WORK/stages/$name.log" 2>&1
  rc=$?
  seconds=$(($(date +%s) - t0))
  total=$((total + seconds))
  echo "$total" >"$WORK/stages/$name.seconds"
  case $rc in
    0) status=done; echo "$hash" >"$marker" ;;
    124 | 137) status=timeout; say "$name: out of its ${budget}s; finished runs are kept, a rerun continues" ;;
    *) status=failed; say "$name: failed (rc $rc); the end of its log:"; tail -n 15 "$WORK/stages/$name.log" | tee -a "$OUT_DIR/run.log" ;;
  esac
  echo "$status $seconds $total" >"$WORK/stages/$name.status"
  say "$name: $status in ${seconds}s"
}

for name in $STAGES; do
  case "$name" in pmb | md | seqkd) run_stage "$name" ;; *) say "unknown stage $name (pmb, md, seqkd)" ;; esac
done

# ---------------------------------------------------------------- reports, summary, timings
mkdir -p "$OUT_DIR/logs" "$OUT_DIR/results" "$OUT_DIR/reports" "$OUT_DIR/recipes"
{
  echo "# lamina GPU form (benchmarks/gpu/run.sh$([ "$SIZE" = tiny ] && echo " --tiny"))"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), size $SIZE, deadline ${DEADLINE_S}s."
  [ "$SIZE" = tiny ] && echo "**Tiny check**: a few examples and steps on tiny models; the numbers mean nothing."
  echo
  sed 's/^/    /' "$OUT_DIR/env.txt"
  echo
  for n in "${NOTES[@]}"; do echo "- $n"; done
  echo
  echo "| stage | status | seconds (this run) | seconds (all runs) |"
  echo "|---|---|---:|---:|"
} >"$OUT_DIR/summary.md"
{
  echo -e "stage\tstatus\tseconds_this_run\tseconds_all_runs"
  read -r _ s c <"$WORK/stages/check.status"
  echo -e "check\t$s\t$c\t$c"
} >"$OUT_DIR/timings.txt"
for name in $STAGES; do
  [ -f "$WORK/stages/$name.status" ] || continue
  read -r status seconds total <"$WORK/stages/$name.status"
  echo "| ${TITLE[$name]} | $status | $seconds | $total |" >>"$OUT_DIR/summary.md"
  echo -e "$name\t$status\t$seconds\t$total" >>"$OUT_DIR/timings.txt"
done
for name in $STAGES; do
  runs="$WORK/runs/$name"
  [ -d "$runs/results" ] || continue
  cp "$WORK/recipes/$name.yaml" "$OUT_DIR/recipes/" 2>/dev/null
  [ "$OUT_DIR" = "$WORK" ] || { rm -rf "${OUT_DIR:?}/results/$name" "${OUT_DIR:?}/logs/$name"; cp -r "$runs/results" "$OUT_DIR/results/$name"; cp -r "$runs/logs" "$OUT_DIR/logs/$name" 2>/dev/null; }
  cp "$WORK/stages/$name.log" "$OUT_DIR/logs/$name.log" 2>/dev/null
  {
    echo
    echo "## ${TITLE[$name]}"
    echo
  } >>"$OUT_DIR/summary.md"
  if timeout 120 "${LAMINA[@]}" report "$runs" -o "$OUT_DIR/reports/$name" --no-plots >"$OUT_DIR/reports/$name.log" 2>&1; then
    sed 's/^#/##/' "$OUT_DIR/reports/$name/report.md" >>"$OUT_DIR/summary.md"
  else
    echo "(no report: see reports/$name.log)" >>"$OUT_DIR/summary.md"
  fi
done
say "wrote $OUT_DIR/summary.md and $OUT_DIR/timings.txt in $(($(date +%s) - START))s"
column -t -s $'\t' "$OUT_DIR/timings.txt" 2>/dev/null || cat "$OUT_DIR/timings.txt"
